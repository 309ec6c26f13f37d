"""EmoCNN: a small VGG-style expression classifier for 48x48 grey faces (FER-2013 classes, FER order)."""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class EmoCNN(nn.Module):
    """Stages of 3x3 conv-BN-ReLU blocks, each followed by 2x2 max-pooling, then a small MLP head.

    ``widths[i]`` channels and ``depths[i]`` conv blocks in stage ``i``; the input side is ``input_size`` (a multiple
    of ``2 ** len(widths)``). Returns logits; the exported ONNX graph appends a softmax.
    """

    def __init__(
        self,
        num_classes: int = 7,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        depths: tuple[int, ...] = (1, 2, 2, 2),
        input_size: int = 48,
        hidden: int = 256,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError(f"widths and depths must have the same non-zero length, got {widths} and {depths}")
        if input_size % (2 ** len(widths)):
            raise ValueError(f"input_size must be a multiple of {2 ** len(widths)}, got {input_size}")
        layers: list[nn.Module] = []
        c_in = 1
        for width, depth in zip(widths, depths):
            for _ in range(depth):
                layers.append(_conv_bn(c_in, width))
                c_in = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = input_size // (2 ** len(widths))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * side * side, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class WithSoftmax(nn.Module):
    """Wraps a logits model so that its output is class probabilities (used for export)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_macs(model: nn.Module, input_size: int) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (conv and linear layers)."""
    total = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            total += int(out.numel() // out.shape[0]) * k
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, input_size, input_size))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total


def summary(model: nn.Module, input_size: int) -> str:
    """A readable summary: the layers, the parameter count, the float32 size and the MACs per face."""
    n = count_parameters(model)
    lines = [str(model), f"parameters: {n:,}  (float32 {n * 4 / 1e6:.2f} MB)",
             f"multiply-accumulates per face: {conv_macs(model, input_size) / 1e6:.1f} M at {input_size}x{input_size}"]
    return "\n".join(lines)
