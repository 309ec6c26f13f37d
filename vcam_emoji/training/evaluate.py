"""Measuring an exported classifier with onnxruntime (no torch needed): accuracy, per-class recall, ms per face.

Preprocessing is the manifest's: uint8 grey crop -> resize to ``size_hw`` with INTER_AREA -> (pixel - mean) / std.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from vcam_emoji.onnx_session import import_onnxruntime
from vcam_emoji.types import EXPRESSION_LABELS, NUM_EXPRESSIONS

ort = import_onnxruntime()


def cpu_session(onnx_path: str | Path, threads: int = 1) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])


def preprocess(grey: np.ndarray, size_hw: tuple[int, int], mean: float, std: float) -> np.ndarray:
    """One uint8 grey crop (H, W) -> the (1, 1, h, w) float32 network input."""
    if grey.shape != tuple(size_hw):
        grey = cv2.resize(grey, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)
    return ((grey.astype(np.float32) - mean) / std)[None, None]


def predict(session: ort.InferenceSession, x: np.ndarray, size_hw: tuple[int, int], mean: float, std: float,
            batch: int = 256) -> np.ndarray:
    """Class probabilities (N, 7) for uint8 grey images (N, H, W)."""
    name = session.get_inputs()[0].name
    out = []
    for i in range(0, len(x), batch):
        chunk = np.concatenate([preprocess(im, size_hw, mean, std) for im in x[i:i + batch]])
        out.append(session.run(None, {name: chunk})[0])
    return np.concatenate(out)


def accuracy_report(probs: np.ndarray, y: np.ndarray) -> dict:
    pred = probs.argmax(1)
    recall = {}
    for c in range(NUM_EXPRESSIONS):
        mask = y == c
        recall[EXPRESSION_LABELS[c]] = round(float((pred[mask] == c).mean()), 4) if mask.any() else None
    return {"accuracy": round(float((pred == y).mean()), 4), "per_class_recall": recall, "n": int(len(y))}


def ms_per_face(session: ort.InferenceSession, size_hw: tuple[int, int], mean: float, std: float,
                crop_side: int = 112, runs: int = 500) -> float:
    """Median ms for one face at batch 1: resize a crop_side^2 grey crop, normalise, run the network."""
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (crop_side, crop_side), dtype=np.uint8)
    name = session.get_inputs()[0].name
    for _ in range(50):
        session.run(None, {name: preprocess(crop, size_hw, mean, std)})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, {name: preprocess(crop, size_hw, mean, std)})
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times) * 1000), 4)
