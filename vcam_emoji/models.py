"""Model files and their manifests: ``<name>.onnx`` with ``<name>.json`` beside it (see models/MODELS.md).

A manifest says what a model is (task, architecture, input size, normalisation, class order, ...) so that no code
has to guess it from tensor shapes; its ``sha256`` is checked before the model is used. Before it is parsed it must
hold :data:`MAX_MANIFEST_BYTES` bytes at most, nest :data:`MAX_JSON_DEPTH` levels at most and contain no NaN or
Infinity; then the JSON Schema ``model.schema.json`` beside this module limits every value the code reads (input
sizes, normalisation, decoding parameters). The stages check the loaded session against it (classify.py, detect.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError
from .packs import json_depth
from .resources import model_card
from .resources import models_dir as _bundled_models_dir
from .types import EXPRESSION_LABELS

log = logging.getLogger(__name__)

TASKS = ("face_detection", "expression_classification")
# Chosen by benchmarks/bench_detect.py (recall first, then speed); the figures are in models/MODELS.md.
DEFAULT_DETECTOR = "blazeface_full"
_COMMON_KEYS = ("name", "file", "task", "sha256", "license", "origin", "verification")
_CLASSIFIER_KEYS = ("input", "preprocess", "crop", "classes", "output")
_DETECTOR_KEYS = ("architecture", "input", "score_threshold", "landmarks")
MAX_MANIFEST_BYTES = 256 * 1024  # the bundled manifests are 2-4 KB
MAX_JSON_DEPTH = 16  # the bundled manifests nest 4 levels
SCHEMA_PATH = Path(__file__).with_name("model.schema.json")


@dataclass(frozen=True)
class ModelSpec:
    """A verified model file and its manifest."""

    name: str
    path: Path  # the .onnx file
    task: str  # "face_detection" | "expression_classification"
    manifest: dict[str, Any] = field(repr=False, compare=False, hash=False)
    sha256: str = ""
    license: str = ""

    @property
    def manifest_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def architecture(self) -> str:
        return str(self.manifest.get("architecture", ""))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve_dir(models_dir: str | Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else _bundled_models_dir()


def list_models(models_dir: str | Path | None = None, task: str | None = None) -> list[str]:
    """Names of the models in ``models_dir`` (default: the bundled ones) that have an .onnx and a .json manifest."""
    folder = _resolve_dir(models_dir)
    if not folder.is_dir():
        raise ModelError(f"models folder {folder} does not exist; pass an existing folder or reinstall vcam-emoji")
    names = []
    for manifest in sorted(folder.glob("*.json")):
        if not manifest.with_suffix(".onnx").is_file():
            continue
        if task is not None:
            try:
                if _read_manifest(manifest).get("task") != task:
                    continue
            except ModelError:
                continue
        names.append(manifest.stem)
    return names


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(
            f"{path}: the model manifest is missing; every .onnx model needs a .json manifest beside it "
            f"(schema in {model_card()}) — copy it together with the model"
        )
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model manifest ({exc.strerror or exc}); check the file's "
                         "permissions") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ModelError(f"{path}: the model manifest is larger than {MAX_MANIFEST_BYTES // 1024} KB; it is not a "
                         "model manifest — restore the original file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{path}: the model manifest is not UTF-8 text; restore the original file") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelError(f"{path}: the model manifest nests {depth} levels deep, more than {MAX_JSON_DEPTH}; it is "
                         "not a model manifest — restore the original file")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"{path}: the model manifest is not valid JSON ({exc}); restore the original file") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: the model manifest must be a JSON object, got {type(data).__name__}")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


@functools.cache
def _validator():
    """The manifest's JSON Schema validator (the schema file ships beside this module; read once)."""
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _schema_problem(path: Path, m: dict[str, Any]) -> str | None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(m))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "the manifest"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return (f"{path}: {where}: {message}; fix the manifest (its schema: {SCHEMA_PATH.name} beside the vcam_emoji "
            f"code, described in {model_card()})")


def _check_manifest(path: Path, m: dict[str, Any]) -> None:
    missing = [k for k in _COMMON_KEYS if k not in m]
    task = m.get("task")
    if task not in TASKS:
        raise ModelError(f"{path}: 'task' is {task!r}, expected one of {', '.join(TASKS)}; fix the manifest")
    missing += [k for k in (_CLASSIFIER_KEYS if task == "expression_classification" else _DETECTOR_KEYS)
                if k not in m]
    if missing:
        raise ModelError(f"{path}: the model manifest lacks {', '.join(missing)}; see the schema in "
                         f"{model_card()}")
    if task == "expression_classification":
        classes = m["classes"]
        if not isinstance(classes, list) or classes != list(EXPRESSION_LABELS):
            raise ModelError(
                f"{path}: 'classes' is {classes}, expected the FER-2013 order {list(EXPRESSION_LABELS)}; "
                f"re-export the model with its outputs in that order"
            )
        if m["output"] not in ("probabilities", "logits"):
            raise ModelError(f"{path}: 'output' is {m['output']!r}, expected 'probabilities' or 'logits'")
        inp = m["input"]
        if not (isinstance(inp, dict) and inp.get("layout") == "NCHW" and inp.get("channels") in (1, 3)
                and isinstance(inp.get("size_hw"), list) and len(inp["size_hw"]) == 2):
            raise ModelError(
                f"{path}: 'input' is {inp}, expected {{'size_hw': [H, W], 'channels': 1 or 3, 'layout': 'NCHW'}}"
            )
        pre = m["preprocess"]
        if not (isinstance(pre, dict) and pre.get("color") in ("gray", "rgb", "bgr")
                and isinstance(pre.get("mean"), (int, float)) and isinstance(pre.get("std"), (int, float))
                and pre["std"] != 0):
            raise ModelError(
                f"{path}: 'preprocess' is {pre}, expected {{'color': 'gray'|'rgb'|'bgr', 'mean': number, "
                f"'std': non-zero number}}"
            )
        if not (isinstance(m["crop"], dict) and isinstance(m["crop"].get("margin"), (int, float))):
            raise ModelError(f"{path}: 'crop' is {m['crop']}, expected {{'margin': number}}")
    elif m["architecture"] not in ("blazeface", "centerface"):
        raise ModelError(
            f"{path}: 'architecture' is {m['architecture']!r}; this version supports 'blazeface' and 'centerface'"
        )
    problem = _schema_problem(path, m)
    if problem is not None:
        raise ModelError(problem)


def load_model_spec(
    path_or_name: str | Path,
    models_dir: str | Path | None = None,
    task: str | None = None,
    verify: bool = True,
) -> ModelSpec:
    """Load a model by bundled name (e.g. ``"blazeface_short"``) or by path to an .onnx with its .json beside it.

    ``task`` (optional) must match the manifest's task. With ``verify`` the file's sha256 is compared to the manifest.
    Every problem raises ModelError naming the file, what is wrong and how to fix it.
    """
    text = str(path_or_name)
    looks_like_path = text.endswith((".onnx", ".json")) or "/" in text or "\\" in text
    if looks_like_path:
        onnx_path = Path(text).with_suffix(".onnx").expanduser()
        if not onnx_path.is_file():
            raise ModelError(f"{onnx_path}: model file not found; check the path (it must be an .onnx file)")
    else:
        folder = _resolve_dir(models_dir)
        onnx_path = folder / f"{text}.onnx"
        if not onnx_path.is_file():
            known = list_models(folder) if folder.is_dir() else []
            raise ModelError(
                f"unknown model {text!r} in {folder}; known models: {', '.join(known) or '(none)'}; "
                f"or give the path to an .onnx file with its .json manifest beside it"
            )
    manifest_path = onnx_path.with_suffix(".json")
    manifest = _read_manifest(manifest_path)
    _check_manifest(manifest_path, manifest)
    if manifest["file"] != onnx_path.name:
        raise ModelError(
            f"{manifest_path}: 'file' is {manifest['file']!r} but the manifest sits beside {onnx_path.name}; "
            f"rename the files so they match or fix 'file'"
        )
    if task is not None and manifest["task"] != task:
        raise ModelError(
            f"{onnx_path}: this is a {manifest['task']} model, but {'an' if task[0] in 'aeiou' else 'a'} {task} model "
            f"is needed here; "
            f"choose one of: {', '.join(list_models(onnx_path.parent, task=task)) or '(none)'}"
        )
    if verify:
        actual = sha256_of(onnx_path)
        if actual != manifest["sha256"]:
            raise ModelError(
                f"{onnx_path}: sha256 {actual} does not match the manifest ({manifest['sha256']}): the file is "
                f"corrupt or was modified; reinstall vcam-emoji (pip install --force-reinstall --no-deps vcam-emoji)"
            )
    spec = ModelSpec(
        name=str(manifest["name"]),
        path=onnx_path,
        task=str(manifest["task"]),
        manifest=manifest,
        sha256=str(manifest["sha256"]),
        license=str(manifest["license"]),
    )
    log.debug("model %s (%s) from %s", spec.name, spec.task, spec.path)
    return spec
