"""Wiring: turn a Config into a ready Pipeline (models, packs, stages). Used by the CLI and the live engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .classify import ExpressionClassifier
from .classify_schedule import ClassifySchedule
from .compose import EmojiCompositor
from .config import Config, SmoothingConfig
from .detect import create_detector
from .errors import ModelError
from .models import ModelSpec, list_models, load_model_spec
from .onnx_session import create_session
from .packs import discover_packs, select_pack  # select_pack: re-exported for engine.py
from .pipeline import Pipeline
from .smooth import ExpressionSmoother, SmoothingParams
from .track import Tracker

log = logging.getLogger(__name__)

# detector.model = "auto" picks by purpose, from measurements (benchmarks/bench_detect.py, models/MODELS.md): the
# first bundled one present wins. Rendering a recorded video favours recall (small faces, crowds: CenterFace finds
# faces down to ~33 px); live, BlazeFace full-range finds every face down to ~60 px in a 1280x720 frame in ~6 ms,
# where short-range misses faces under ~180 px (a person more than ~0.8 m from the webcam).
DETECTOR_PREFERENCE = {
    "video": ("centerface", "blazeface_full", "blazeface_short"),
    "live": ("blazeface_full", "blazeface_short", "centerface"),
}
# Our own model first (issue: own expression model), the mini-Xception baseline otherwise.
CLASSIFIER_PREFERENCE = ("emocnn_fer2013", "mini_xception_fer2013")


@dataclass(frozen=True)
class PipelineInfo:
    detector: str
    classifier: str
    pack: str
    providers: tuple[str, ...]  # what onnxruntime actually uses for the classifier session
    pack_errors: tuple[str, ...]


def smoothing_params(smoothing: SmoothingConfig) -> SmoothingParams:
    return SmoothingParams(smoothing.time_constant_ms, smoothing.switch_margin, smoothing.min_hold_ms,
                           smoothing.neutral_margin, smoothing.neutral_hold_ms)


def classify_rate_hz(config: Config, purpose: str) -> float:
    """How often each face is classified: ``classifier.rate_hz`` live; every frame (0) for a recorded video."""
    return config.classifier.rate_hz if purpose == "live" else 0.0


def _pick(requested: str, auto_word: str, preference: tuple[str, ...], task: str) -> ModelSpec:
    if requested != auto_word:
        return load_model_spec(requested, task=task)
    present = set(list_models(task=task))
    for name in preference:
        if name in present:
            return load_model_spec(name, task=task)
    raise ModelError(f"no bundled {task} model found (looked for {', '.join(preference)}); reinstall vcam-emoji")


def classifier_spec(requested: str) -> ModelSpec:
    """The expression model for ``classifier.model`` (or ``eval --model``): "default", a bundled name, or a path."""
    return _pick(requested, "default", CLASSIFIER_PREFERENCE, "expression_classification")


def detector_spec(requested: str, purpose: str = "video") -> ModelSpec:
    """The face detector for ``detector.model``: "auto" (by ``purpose``, "video" or "live"), a bundled name or a
    path."""
    return _pick(requested, "auto", DETECTOR_PREFERENCE[purpose], "face_detection")


@dataclass(frozen=True)
class LoadedModels:
    """The detector and classifier named by a config, loaded once and reusable for many pipelines."""

    detector: object  # a pipeline.Detector
    classifier: ExpressionClassifier
    detector_name: str
    classifier_name: str
    providers: tuple[str, ...]  # what onnxruntime actually uses for the classifier session


def load_models(config: Config, purpose: str = "video") -> LoadedModels:
    """Load the detector and classifier named by ``config``. Raises ModelError.

    ``purpose`` ("video" or "live") decides what ``detector.model = "auto"`` means.
    """
    providers, threads = config.runtime.execution_provider, config.runtime.threads
    det_spec = detector_spec(config.detector.model, purpose)
    detector = create_detector(det_spec, providers=providers, threads=threads, min_score=config.detector.min_score)
    cls_spec = classifier_spec(config.classifier.model)
    session, used = create_session(cls_spec.path, providers=providers, threads=threads)
    classifier = ExpressionClassifier(session, cls_spec.manifest, source=str(cls_spec.path))
    return LoadedModels(detector, classifier, det_spec.name, cls_spec.name, tuple(used))


def build_pipeline(config: Config, pack_name: str | None = None, purpose: str = "video",
                   rate_hz: float | None = None) -> tuple[Pipeline, PipelineInfo]:
    """Load models and packs named by ``config`` and wire the stages. Raises ModelError / PackError.

    ``purpose`` ("video" or "live") decides what ``detector.model = "auto"`` means and how often faces are
    classified: live at ``classifier.rate_hz``, a recorded video on every frame unless ``rate_hz`` is given.
    """
    models = load_models(config, purpose)
    packs, errors = discover_packs()
    pack = select_pack(packs, pack_name or config.pack.name)
    pipeline = Pipeline(
        detector=models.detector,
        classifier=models.classifier,
        compositor=EmojiCompositor(),
        pack=pack,
        tracker=Tracker(),
        smoother=ExpressionSmoother(smoothing_params(config.smoothing)),
        detect_every=config.detector.every_n_frames,
        schedule=ClassifySchedule(classify_rate_hz(config, purpose) if rate_hz is None else rate_hz),
    )
    info = PipelineInfo(models.detector_name, models.classifier_name, pack.name, models.providers,
                        tuple(str(e) for e in errors))
    log.info("pipeline: detector %s, classifier %s, pack %s, providers %s", info.detector, info.classifier,
             info.pack, ", ".join(info.providers))
    return pipeline, info
