"""The one table that turns each of the seven expressions into the avatar's eyes, eyebrows and mouth.

Chosen by looking at every candidate drawn (``docs/avatars.png`` shows the result for three avatars):

* angry: squinting eyes, angry (inner ends down) eyebrows, down-turned mouth;
* disgust: squinting eyes, one eyebrow up and one down, the "vomit" mouth (a grimace with the tongue out);
* fear: wide-open eyes, worried (inner ends up) eyebrows, a screaming open mouth;
* happy: smiling closed eyes, raised eyebrows, open smile;
* sad: eyes with a tear, worried eyebrows, down-turned mouth;
* surprise: wide-open eyes, raised eyebrows, a round "oh" mouth;
* neutral: plain eyes and eyebrows, a straight closed mouth.

Fear and surprise share the wide eyes and differ in the eyebrows (worried / raised) and the mouth (a scream / an
"oh"); angry and sad share the mouth and differ in the eyes and eyebrows. Eyebrow names are the base drawing: the
avatar's ``eyebrows`` attribute picks its natural (``<name>_natural``) or classic variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..types import Expression


@dataclass(frozen=True)
class FaceParts:
    eyes: str  # python_avatars EyeType name, lower case
    eyebrows: str  # EyebrowType base name: "<name>" (classic) or "<name>_natural"
    mouth: str  # MouthType name


EXPRESSION_FACES: Mapping[Expression, FaceParts] = {
    Expression.ANGRY: FaceParts(eyes="squint", eyebrows="angry", mouth="sad"),
    Expression.DISGUST: FaceParts(eyes="squint", eyebrows="up_down", mouth="vomit"),
    Expression.FEAR: FaceParts(eyes="surprised", eyebrows="sad_concerned", mouth="scream_open"),
    Expression.HAPPY: FaceParts(eyes="happy", eyebrows="raised_excited", mouth="smile"),
    Expression.SAD: FaceParts(eyes="cry", eyebrows="sad_concerned", mouth="sad"),
    Expression.SURPRISE: FaceParts(eyes="surprised", eyebrows="raised_excited", mouth="disbelief"),
    Expression.NEUTRAL: FaceParts(eyes="default", eyebrows="default", mouth="serious"),
}
