"""Batched data augmentation on normalised (B, 1, H, W) float tensors; cheap enough for CPU training."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 15.0
    scale: float = 0.15  # zoom in/out by up to this fraction
    shift: float = 0.10  # of the image side
    flip: bool = True
    brightness: float = 0.25  # in normalised units (about 16 grey levels)
    contrast: float = 0.25
    erase_p: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.15)


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Random flip, rotation, scale and shift (one affine warp), brightness/contrast, random erasing."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=gen) * (hi - lo) + lo

    angle = u(-cfg.rotate_deg, cfg.rotate_deg) * (math.pi / 180)
    zoom = u(1 - cfg.scale, 1 + cfg.scale)
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(b)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos * flip, -sin, u(-2 * cfg.shift, 2 * cfg.shift)], 1),
        torch.stack([sin * flip, cos, u(-2 * cfg.shift, 2 * cfg.shift)], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * u(1 - cfg.contrast, 1 + cfg.contrast).view(b, 1, 1, 1) + u(-cfg.brightness, cfg.brightness).view(b, 1, 1, 1)
    if cfg.erase_p > 0:
        h, w = x.shape[-2:]
        area = u(*cfg.erase_area) * h * w
        aspect = torch.exp(u(math.log(0.3), math.log(3.3)))
        eh = torch.sqrt(area * aspect).clamp(1, h).long()
        ew = torch.sqrt(area / aspect).clamp(1, w).long()
        y0 = (torch.rand(b, generator=gen) * (h - eh + 1)).long()
        x0 = (torch.rand(b, generator=gen) * (w - ew + 1)).long()
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        box = ((rows >= y0.view(b, 1, 1)) & (rows < (y0 + eh).view(b, 1, 1))
               & (cols >= x0.view(b, 1, 1)) & (cols < (x0 + ew).view(b, 1, 1)))
        box &= (torch.rand(b, generator=gen) < cfg.erase_p).view(b, 1, 1)
        noise = torch.randn(x.shape, generator=gen)
        x = torch.where(box.unsqueeze(1), noise, x)
    return x
