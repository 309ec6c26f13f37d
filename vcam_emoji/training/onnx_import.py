"""Fine-tuning from an exported EmoCNN: read a float32 ``.onnx`` written by ``vcam-emoji train`` back into PyTorch.

The export folds each conv's BatchNorm into the conv (weight and bias), so the graph no longer holds the statistics
that training needs. ``read_emocnn_onnx`` recovers the architecture and the folded weights; ``unfold_into`` gives each
conv its BatchNorm back from data: for a conv whose folded form is ``W x + b`` it keeps ``W``, measures the mean ``mu``
and variance ``var`` of ``W x`` on calibration images and sets the BatchNorm to running mean ``mu``, running variance
``var``, scale ``sqrt(var + eps)`` and shift ``mu + b``. In eval mode that is exactly ``W x + b`` again; in training
mode (batch statistics close to ``mu`` and ``var``) nearly so, so fine-tuning starts where the exported model is.

This lets a user adapt the bundled model (``models/emocnn_fer2013.onnx``) to their own photos without first training
on FER-2013.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vcam_emoji.errors import EmojiCamError, InputError
from vcam_emoji.models import load_model_spec
from vcam_emoji.training.model import EmoCNN

_QUANTIZED_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger", "QLinearMatMul"}


@dataclass(frozen=True)
class FoldedEmoCNN:
    """An exported EmoCNN: its architecture, normalisation and weights as the ONNX graph holds them."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    input_size: int
    hidden: int
    mean: float
    std: float
    convs: tuple[tuple[np.ndarray, np.ndarray], ...]  # per conv: folded weight (out, in, 3, 3) and bias (out,)
    head: dict[str, np.ndarray]  # EmoCNN state-dict names of the head (Linear, BatchNorm1d, Linear)


def _not_emocnn(path: Path, why: str) -> InputError:
    return InputError(f"--init: {path} is not an EmoCNN exported by vcam-emoji train ({why}); --init takes such an "
                      f".onnx (e.g. runs/mine/emocnn_fer2013.onnx), a bundled model's name (emocnn_fer2013) or a "
                      "checkpoint (best.pt) of an earlier run")


def read_emocnn_onnx(path: Path) -> FoldedEmoCNN:
    """The architecture and weights of a float32 EmoCNN export (a path to its ``.onnx``, or a bundled model's name);
    an ``InputError`` naming the problem otherwise."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    try:
        spec = load_model_spec(path, task="expression_classification")
    except EmojiCamError as exc:
        raise InputError(f"--init: {exc}") from None
    path = spec.path
    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise InputError(f"--init: {path} cannot be read as ONNX ({exc})") from None
    ops = [n.op_type for n in graph.node]
    if _QUANTIZED_OPS & set(ops):
        raise InputError(f"--init: {path} is int8-quantized; fine-tune from its float32 export or its best.pt "
                         f"(export the float32 model with vcam-emoji train --export-only, without --int8)")
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def attr(node, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    nodes = list(graph.node)
    convs: list[tuple[np.ndarray, np.ndarray]] = []
    widths: list[int] = []
    depths: list[int] = []
    in_stage = 0
    i = 0
    while i < len(nodes) and nodes[i].op_type in ("Conv", "Relu", "MaxPool"):
        node = nodes[i]
        if node.op_type == "Conv":
            if len(node.input) != 3 or node.input[1] not in weights or node.input[2] not in weights:
                raise _not_emocnn(path, f"conv {len(convs) + 1} has no constant weight and bias")
            w, b = weights[node.input[1]], weights[node.input[2]]
            c_in = convs[-1][0].shape[0] if convs else 1
            if (w.ndim != 4 or w.shape[1:] != (c_in, 3, 3) or list(attr(node, "pads", [0] * 4)) != [1, 1, 1, 1]
                    or list(attr(node, "strides", [1, 1])) != [1, 1] or attr(node, "group", 1) != 1):
                raise _not_emocnn(path, f"conv {len(convs) + 1} is not a 3x3, stride 1, padding 1 conv on "
                                        f"{c_in} channels")
            convs.append((w.astype(np.float32), b.astype(np.float32)))
            in_stage += 1
        elif node.op_type == "MaxPool":
            if list(attr(node, "kernel_shape", [])) != [2, 2] or in_stage == 0:
                raise _not_emocnn(path, "a max-pool is not 2x2 after a conv stage")
            widths.append(convs[-1][0].shape[0])
            depths.append(in_stage)
            in_stage = 0
        i += 1
    tail = [n.op_type for n in nodes[i:]]
    if not convs or in_stage or tail[:1] != ["Flatten"] or tail[-1:] != ["Softmax"]:
        raise _not_emocnn(path, f"layers {' '.join(ops[:12])}{' ...' if len(ops) > 12 else ''}")
    head_nodes = nodes[i + 1:-1]
    if [n.op_type for n in head_nodes] not in (["MatMul", "BatchNormalization", "Relu", "Gemm"],
                                               ["Gemm", "BatchNormalization", "Relu", "Gemm"]):
        raise _not_emocnn(path, f"head {' '.join(tail)}")
    fc1, bn, _, fc2 = head_nodes
    w1 = weights.get(fc1.input[1])
    if w1 is None or (fc1.op_type == "Gemm" and len(fc1.input) > 2):
        raise _not_emocnn(path, "the first head layer has no constant weight or has a bias")
    w1 = w1 if fc1.op_type == "Gemm" and attr(fc1, "transB", 0) else w1.T  # -> (hidden, in)
    try:
        scale, shift, r_mean, r_var = (weights[name] for name in bn.input[1:5])
        w2, b2 = weights[fc2.input[1]], weights[fc2.input[2]]
    except (KeyError, IndexError, ValueError):
        raise _not_emocnn(path, "the head's batch norm or output layer has no constant weights") from None
    w2 = w2 if attr(fc2, "transB", 0) else w2.T  # -> (classes, hidden)

    size_hw = tuple(spec.manifest["input"]["size_hw"])
    pre = spec.manifest["preprocess"]
    if size_hw[0] != size_hw[1]:
        raise _not_emocnn(path, f"its input is {size_hw[0]}x{size_hw[1]}, not square")
    side = size_hw[0] // 2 ** len(widths)
    if w1.shape[1] != widths[-1] * side * side:
        raise _not_emocnn(path, f"the head takes {w1.shape[1]} features, the convs give {widths[-1] * side * side}")
    head = {"head.2.weight": w1, "head.3.weight": scale, "head.3.bias": shift, "head.3.running_mean": r_mean,
            "head.3.running_var": r_var, "head.6.weight": w2, "head.6.bias": b2}
    return FoldedEmoCNN(tuple(widths), tuple(depths), int(size_hw[0]), int(w1.shape[0]), float(pre["mean"]),
                        float(pre["std"]), tuple(convs), {k: np.ascontiguousarray(v, np.float32) for k, v in head.items()})


@torch.no_grad()
def unfold_into(model: EmoCNN, folded: FoldedEmoCNN, calibration: torch.Tensor) -> dict[str, torch.Tensor]:
    """Load ``folded`` into ``model`` (built with its architecture), BatchNorms measured on ``calibration``
    (N, 1, H, W network inputs, already normalised), and return the model's state dict."""
    blocks = [m for m in model.features if isinstance(m, nn.Sequential)]
    if len(blocks) != len(folded.convs):
        raise ValueError(f"model has {len(blocks)} convs, the export {len(folded.convs)}")
    stats: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = []
    for (conv, bn, _), (w, b) in zip(blocks, folded.convs):
        conv.weight.copy_(torch.from_numpy(w))
        # first the identity BatchNorm (eval output = W x + b exactly), to measure W x on the way through
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(torch.from_numpy(b))
        hooks.append(conv.register_forward_hook(
            lambda _m, _i, out: stats.append((out.mean(dim=(0, 2, 3)), out.var(dim=(0, 2, 3), unbiased=False)))))
    head = dict(model.named_parameters()) | dict(model.named_buffers())
    for name, value in folded.head.items():
        head[name].copy_(torch.tensor(value))
    was_training = model.training
    model.eval()
    try:
        model(calibration)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    for (_, bn, _), (_, b), (mu, var) in zip(blocks, folded.convs, stats):
        bn.running_mean.copy_(mu)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mu + torch.from_numpy(b))
    return {k: v.clone() for k, v in model.state_dict().items()}
