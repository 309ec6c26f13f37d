"""Training EmoCNN on FER-2013 (optionally with FER+ soft targets), on CPU.

``train(TrainConfig(...))`` seeds everything, prints a model summary, trains with SGD + Nesterov and a warm-up +
cosine learning rate, checkpoints every epoch (``last.pt``, resumable), keeps the best epoch on the validation set
(``best.pt``), draws ``curves.png`` and exports the best model to ONNX with its manifest.
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from vcam_emoji.classify import ExpressionClassifier
from vcam_emoji.errors import EmojiCamError, InputError
from vcam_emoji.models import load_model_spec
from vcam_emoji.onnx_session import create_session
from vcam_emoji.training import export as export_mod
from vcam_emoji.training.augment import AugmentConfig, augment
from vcam_emoji.training.data import FaceDataset, drop_overlap, load_dataset, load_soft_labels
from vcam_emoji.training.model import EmoCNN, count_parameters, summary
from vcam_emoji.training.onnx_import import read_emocnn_onnx, unfold_into
from vcam_emoji.types import EXPRESSION_LABELS, NUM_EXPRESSIONS

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    val: Path | None = None  # None: hold out 5% of the training data
    soft_labels: Path | None = None  # FER+ votes row-aligned to ``data`` (ferplus_labels_aligned_to_fer2013.npz)
    ferplus_val: Path | None = None  # FER+ PublicTest (.npz) for the second reported metric
    soft_weight: float = 0.3  # target = (1 - w) * one-hot(FER label) + w * FER+ distribution
    label_smoothing: float = 0.1  # for rows without FER+ votes (or without a soft-label file)
    mixup: float = 0.0  # > 0: blend each batch with a shuffled copy of itself, weight ~ Beta(mixup, mixup)
    epochs: int = 120
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 2.0
    ema: float = 0.0  # > 0: validate, select and export an exponential moving average of the weights with this decay
    seed: int = 0
    threads: int = 2
    max_steps: int | None = None  # stop after this many optimiser steps (smoke tests)
    resume: bool = False
    init: Path | None = None  # start from this checkpoint's weights (fine-tuning); its architecture and normalisation
    teachers: tuple[Path, ...] = ()  # distillation: checkpoints or exported .onnx whose mean prediction on a batch ...
    distill_weight: float = 0.5  # ... is blended into the target: (1 - w) * target + w * teacher probabilities
    input_size: int = 48
    widths: tuple[int, ...] = (16, 48, 96, 160)
    depths: tuple[int, ...] = (1, 2, 2, 2)
    hidden: int = 256
    dropout: float = 0.3
    bf16: bool | None = None  # None: use bfloat16 autocast when the CPU supports it natively
    drop_val_duplicates: bool = True  # remove training images that are exact copies of validation images
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    export: bool = True
    int8: bool = False  # export the int8-quantized model
    name: str = "emocnn_fer2013"
    command: str = ""  # how this run was started, recorded in the manifest


@dataclass(frozen=True)
class TrainResult:
    best_epoch: int
    best_val_accuracy: float
    epochs_run: int
    wall_clock_s: float
    history: list[dict]
    best_checkpoint: Path
    onnx_path: Path | None = None
    manifest_path: Path | None = None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _bf16_supported() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_model(cfg: TrainConfig) -> EmoCNN:
    return EmoCNN(NUM_EXPRESSIONS, cfg.widths, cfg.depths, cfg.input_size, cfg.hidden, cfg.dropout)


def _read_checkpoint(path: Path, flag: str) -> tuple[dict, float, float, dict]:
    """Architecture, normalisation mean and std, and weights of a checkpoint of ``train``; ``flag`` names the option."""
    if not path.is_file():
        raise InputError(f"{flag}: checkpoint not found: {path} (use best.pt or last.pt of an earlier run)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        arch = {k: ck["config"][k] for k in ("widths", "depths", "input_size", "hidden")}
        return arch, float(ck["mean"]), float(ck["std"]), dict(ck["model"])
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint gets the same message
        raise InputError(f"{flag}: {path} is not a checkpoint written by vcam-emoji train ({exc})") from None


def _is_exported_model(path: Path) -> bool:
    """An exported model (an ``.onnx``, or the name of a bundled model such as ``emocnn_fer2013``) rather than a
    checkpoint of ``train``."""
    return path.suffix == ".onnx" or (not path.suffix and len(path.parts) == 1 and not path.exists())


def _load_init(cfg: TrainConfig) -> tuple[TrainConfig, dict]:
    """What to fine-tune from, and ``cfg`` with its architecture (the weights must fit).

    A checkpoint gives its weights (``"model"``); an exported float32 ``.onnx`` gives its folded weights
    (``"folded"``), whose BatchNorms are measured on training images once the data is loaded (``_init_weights``)."""
    path = Path(cfg.init)
    if _is_exported_model(path):
        folded = read_emocnn_onnx(path)
        arch = {"widths": folded.widths, "depths": folded.depths, "input_size": folded.input_size,
                "hidden": folded.hidden}
        init = {"folded": folded, "mean": folded.mean, "std": folded.std}
    else:
        arch, mean, std, weights = _read_checkpoint(path, "--init")
        init = {"model": weights, "mean": mean, "std": std}
    cfg = replace(cfg, widths=tuple(arch["widths"]), depths=tuple(arch["depths"]), input_size=int(arch["input_size"]),
                  hidden=int(arch["hidden"]))
    return cfg, init


def _init_weights(init: dict, cfg: TrainConfig, train_x: np.ndarray) -> dict:
    """The state dict to start fine-tuning from: a checkpoint's weights, or an export's with its BatchNorms measured on
    up to 1024 training images (picked with the run's seed)."""
    if "model" in init:
        return init["model"]
    pick = np.random.default_rng(cfg.seed).choice(len(train_x), size=min(1024, len(train_x)), replace=False)
    return unfold_into(build_model(cfg), init["folded"], _to_input(train_x[np.sort(pick)], init["mean"], init["std"]))


@dataclass(frozen=True)
class Teacher:
    """A trained model kept frozen for distillation, with the normalisation it was trained with."""

    model: EmoCNN
    mean: float
    std: float

    def probs(self, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        """Class probabilities for a batch already normalised in this teacher's units."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return torch.softmax(self.model(x).float(), dim=1)


@dataclass(frozen=True)
class OnnxTeacher:
    """An exported expression model (.onnx with its manifest, e.g. one in models/) run by onnxruntime as a teacher."""

    classifier: ExpressionClassifier

    @property
    def mean(self) -> float:
        return self.classifier.input.mean

    @property
    def std(self) -> float:
        return self.classifier.input.std

    def probs(self, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        return torch.from_numpy(self.classifier.predict_batch(x.float().numpy()))


def _load_onnx_teacher(path: Path, cfg: TrainConfig) -> OnnxTeacher:
    try:
        spec = load_model_spec(path, task="expression_classification")
        session, _ = create_session(spec.path, providers="cpu", threads=max(1, cfg.threads))
        clf = ExpressionClassifier(session, spec.manifest, source=str(path))
    except EmojiCamError as exc:
        raise InputError(f"--teacher: {exc}") from None
    if clf.input.size_hw != (cfg.input_size, cfg.input_size):
        raise InputError(f"--teacher: {path} takes {clf.input.size_hw[0]}x{clf.input.size_hw[1]} px faces, "
                         f"this run {cfg.input_size} px")
    return OnnxTeacher(clf)


def _load_teachers(cfg: TrainConfig) -> list[Teacher | OnnxTeacher]:
    if cfg.teachers and not 0 <= cfg.distill_weight <= 1:
        raise InputError(f"--distill-weight must be between 0 and 1, got {cfg.distill_weight}")
    teachers: list[Teacher | OnnxTeacher] = []
    for path in cfg.teachers:
        if _is_exported_model(Path(path)):
            teachers.append(_load_onnx_teacher(Path(path), cfg))
            continue
        arch, mean, std, weights = _read_checkpoint(Path(path), "--teacher")
        if int(arch["input_size"]) != cfg.input_size:
            raise InputError(f"--teacher: {path} takes {arch['input_size']} px faces, this run {cfg.input_size} px")
        net = EmoCNN(NUM_EXPRESSIONS, tuple(arch["widths"]), tuple(arch["depths"]), int(arch["input_size"]),
                     int(arch["hidden"]))
        net.load_state_dict(weights)
        teachers.append(Teacher(net.eval().requires_grad_(False).to(memory_format=torch.channels_last), mean, std))
    return teachers


@torch.no_grad()
def _teacher_probs(teachers: list[Teacher | OnnxTeacher], xb: torch.Tensor, mean: float, std: float,
                   bf16: bool) -> torch.Tensor:
    """The teachers' mean class probabilities on a batch normalised with (mean, std), in each one's own units."""
    total = None
    for t in teachers:
        x = xb if (t.mean, t.std) == (mean, std) else xb * (std / t.std) + (mean - t.mean) / t.std
        p = t.probs(x, bf16)
        total = p if total is None else total + p
    return total / len(teachers)


def _config_json(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def _targets(ds: FaceDataset, cfg: TrainConfig) -> np.ndarray:
    onehot = np.eye(NUM_EXPRESSIONS, dtype=np.float32)[ds.y]
    smooth = onehot * (1 - cfg.label_smoothing) + cfg.label_smoothing / NUM_EXPRESSIONS
    if ds.soft is None:
        return smooth
    has = ds.soft.sum(1, keepdims=True) > 0
    mixed = onehot * (1 - cfg.soft_weight) + cfg.soft_weight * ds.soft
    return np.where(has, mixed, smooth).astype(np.float32)


def _mixup(x: torch.Tensor, t: torch.Tensor, alpha: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018): the batch blended with a shuffled copy of itself, targets alike, one weight per batch.

    The weight is drawn from Beta(alpha, alpha) seeded from the run's generator, so a resumed run draws the same ones.
    """
    lam = float(np.random.default_rng(int(torch.randint(2 ** 31, (1,), generator=gen))).beta(alpha, alpha))
    perm = torch.randperm(x.shape[0], generator=gen)
    return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]


def _lr_at(step: int, total: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def _to_input(x: np.ndarray | torch.Tensor, mean: float, std: float) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    return ((t - mean) / std).unsqueeze(1)


@torch.no_grad()
def predict_probs(model: torch.nn.Module, x: np.ndarray, mean: float, std: float, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [torch.softmax(model(_to_input(x[i:i + batch], mean, std).contiguous(memory_format=torch.channels_last)),
                         1).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out)


def load_data(cfg: TrainConfig) -> tuple[FaceDataset, FaceDataset, dict]:
    """The training and validation sets (FER+ soft targets attached to training), plus notes for the record."""
    train = load_dataset(cfg.data, role="train", size=cfg.input_size)
    notes: dict = {"train_source": train.source}
    if cfg.soft_labels is not None:
        train = FaceDataset(train.x, train.y, train.source, load_soft_labels(cfg.soft_labels, len(train)))
        notes["soft_rows"] = int((train.soft.sum(1) > 0).sum())
    if cfg.val is not None:
        val = load_dataset(cfg.val, role="val", size=cfg.input_size)
        if cfg.drop_val_duplicates:
            train, dropped = drop_overlap(train, val)
            notes["dropped_train_duplicates_of_val"] = dropped
    else:
        rng = np.random.default_rng(cfg.seed)
        order = rng.permutation(len(train))
        n_val = max(1, len(train) // 20)
        val, train = train.subset(order[:n_val]), train.subset(order[n_val:])
        notes["val"] = f"5% of the training data held out (seed {cfg.seed})"
    notes["train_n"], notes["val_n"], notes["val_source"] = len(train), len(val), val.source
    return train, val, notes


def _draw_curves(history: list[dict], path: Path) -> None:
    """Learning curves with Pillow: training loss (left axis scale) and train/val accuracy per epoch."""
    from PIL import Image, ImageDraw

    w, h, pad = 900, 500, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    n = len(history)
    if n == 0:
        img.save(path)
        return
    d.rectangle([pad, pad, w - pad, h - pad], outline="black")
    for i in range(11):  # accuracy grid 0..1
        y = h - pad - i * (h - 2 * pad) / 10
        d.line([pad, y, w - pad, y], fill=(225, 225, 225))
        d.text((10, y - 6), f"{i / 10:.1f}", fill="black")
    max_loss = max(r["train_loss"] for r in history) or 1.0

    def px(i: int, v: float, vmax: float = 1.0) -> tuple[float, float]:
        x = pad + (i / max(1, n - 1)) * (w - 2 * pad)
        return x, h - pad - (v / vmax) * (h - 2 * pad)

    series = [("train_loss", (200, 60, 60), max_loss), ("train_acc", (60, 60, 200), 1.0), ("val_acc", (20, 150, 20), 1.0)]
    for key, colour, vmax in series:
        pts = [px(i, r[key], vmax) for i, r in enumerate(history)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for p in pts:
            d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=colour)
    best = max(history, key=lambda r: r["val_acc"])
    d.text((pad, 20), f"epochs {n}  best val acc {best['val_acc']:.4f} @ epoch {best['epoch']}   "
                      f"red: train loss (max {max_loss:.2f})  blue: train acc  green: val acc", fill="black")
    d.text((w // 2 - 20, h - pad + 20), "epoch", fill="black")
    img.save(path)


def train(config: TrainConfig) -> TrainResult:
    cfg = config
    if cfg.mixup < 0:
        raise InputError(f"--mixup must be 0 (off) or a positive Beta parameter such as 0.2, got {cfg.mixup}")
    t_start = time.time()
    torch.set_num_threads(max(1, cfg.threads))
    _seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    bf16 = _bf16_supported() if cfg.bf16 is None else cfg.bf16
    cfg = replace(cfg, bf16=bf16)  # recorded in the checkpoints and the manifest as used

    init = None
    if cfg.init is not None:
        cfg, init = _load_init(cfg)
    train_ds, val_ds, notes = load_data(cfg)
    # fine-tuning keeps the normalisation the weights were trained with
    mean = init["mean"] if init else float(train_ds.x.mean())
    std = init["std"] if init else float(train_ds.x.std())
    targets = torch.from_numpy(_targets(train_ds, cfg))
    teachers = _load_teachers(cfg)
    x_train = torch.from_numpy(train_ds.x)

    model = build_model(cfg).to(memory_format=torch.channels_last)
    text = summary(model, cfg.input_size)
    log.info("model summary\n%s", text)
    print(text, flush=True)
    print(f"data: {notes}\nclass counts (train): {dict(zip(EXPRESSION_LABELS, train_ds.class_counts()))}\n"
          f"normalisation: mean {mean:.3f} std {std:.3f}; bf16 autocast: {bf16}", flush=True)
    if teachers:
        print(f"distilling from {len(teachers)} teacher(s), weight {cfg.distill_weight}: "
              + ", ".join(str(p) for p in cfg.teachers), flush=True)

    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    steps_per_epoch = max(1, len(train_ds) // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    gen = torch.Generator().manual_seed(cfg.seed)

    start_epoch, history, best_acc, best_epoch, elapsed_before = 0, [], -1.0, -1, 0.0
    last_path, best_path = out / "last.pt", out / "best.pt"
    ck: dict = {}  # the checkpoint resumed from
    if cfg.resume and last_path.is_file():
        ck = torch.load(last_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck.get("train_model", ck["model"]))
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])
        start_epoch, history = ck["epoch"] + 1, ck["history"]
        best_acc, best_epoch, elapsed_before = ck["best_acc"], ck["best_epoch"], ck.get("elapsed_s", 0.0)
        print(f"resumed from {last_path} after epoch {ck['epoch']} (best val acc {best_acc:.4f})", flush=True)
    else:
        if cfg.resume:
            print(f"--resume: no checkpoint at {last_path}; starting from scratch", flush=True)
        if init is not None:
            model.load_state_dict(_init_weights(init, cfg, train_ds.x))
            print(f"fine-tuning from {cfg.init}", flush=True)

    step = start_epoch * steps_per_epoch
    stopped = False
    ema_model = None
    if cfg.ema > 0:
        ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if "ema_model" in ck:
            ema_model.load_state_dict(ck["ema_model"])
    selected = ema_model.module if ema_model is not None else model  # the weights validated, kept and exported

    def val_accuracy(net: torch.nn.Module) -> float:
        return float((predict_probs(net, val_ds.x, mean, std).argmax(1) == val_ds.y).mean())

    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.time()
        model.train()
        perm = torch.randperm(len(train_ds), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr)
        for i in bar:
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            xb = augment(_to_input(x_train[idx], mean, std), cfg.augment, gen).contiguous(memory_format=torch.channels_last)
            tb = targets[idx]
            if cfg.mixup > 0:
                xb, tb = _mixup(xb, tb, cfg.mixup, gen)
            if teachers:
                tb = (1 - cfg.distill_weight) * tb + cfg.distill_weight * _teacher_probs(teachers, xb, mean, std, bf16)
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, total_steps, steps_per_epoch, cfg)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(xb)
            loss = torch.sum(-tb * F.log_softmax(logits.float(), dim=1), dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema_model is not None:
                ema_model.update_parameters(model)
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == tb.argmax(1)).sum())
            seen += len(idx)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
            if cfg.max_steps is not None and step >= cfg.max_steps:
                stopped = True
                break
        bar.close()
        val_acc = val_accuracy(selected)
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "train_acc": correct / max(1, seen),
                  "val_acc": val_acc, "lr": opt.param_groups[0]["lr"], "epoch_s": round(time.time() - t_epoch, 1),
                  "steps": step}
        if ema_model is not None:  # the raw weights too, to see what the average adds
            record["val_acc_raw"] = val_accuracy(model)
        history.append(record)
        elapsed = elapsed_before + time.time() - t_start
        state = {"model": selected.state_dict(), "config": _config_json(cfg), "mean": mean, "std": std,
                 "epoch": epoch, "val_acc": val_acc, "notes": notes}
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            torch.save(state, best_path)
        extra = {"train_model": model.state_dict(), "ema_model": ema_model.state_dict()} if ema_model is not None else {}
        torch.save({**state, **extra, "optimizer": opt.state_dict(), "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "history": history, "best_acc": best_acc,
                    "best_epoch": best_epoch, "elapsed_s": elapsed}, last_path)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        _draw_curves(history, out / "curves.png")
        print(f"epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.4f} train acc {record['train_acc']:.4f} "
              f"val acc {val_acc:.4f} (best {best_acc:.4f} @ {best_epoch}) lr {record['lr']:.4g} "
              f"{record['epoch_s']:.0f} s", flush=True)
        if stopped:
            break

    wall = elapsed_before + time.time() - t_start
    result = TrainResult(best_epoch, best_acc, len(history), round(wall, 1), history, best_path)
    if cfg.export:
        onnx_path, manifest_path = export_checkpoint(best_path, out, name=cfg.name, history=history, wall_clock_s=wall,
                                                     int8=cfg.int8)
        result = replace(result, onnx_path=onnx_path, manifest_path=manifest_path)
    return result


def export_checkpoint(checkpoint: Path, dest: Path, name: str = "emocnn_fer2013", history: list[dict] | None = None,
                      wall_clock_s: float | None = None, publictest: Path | None = None,
                      ferplus_publictest: Path | None = None, int8: bool = False) -> tuple[Path, Path]:
    """Export ``best.pt`` (or any checkpoint of ``train``) to ``dest/<name>.onnx`` + ``dest/<name>.json``.

    ``int8``: ship the int8-quantized model (calibrated on training images); the float32 export is still checked
    against PyTorch, and the manifest records how closely the int8 model follows it.

    The metrics are measured on the exported file: the run's validation set (or ``publictest``) and the run's FER+
    validation file (or ``ferplus_publictest``).
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise InputError(f"checkpoint not found: {checkpoint}")
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    c = dict(ck["config"])
    cfg_fields = {k: v for k, v in c.items() if k in TrainConfig.__dataclass_fields__}
    for k in ("data", "out", "val", "soft_labels", "ferplus_val", "init"):
        if cfg_fields.get(k) not in (None, "None"):
            cfg_fields[k] = Path(cfg_fields[k])
        else:
            cfg_fields[k] = None
    cfg_fields["teachers"] = tuple(Path(p) for p in c.get("teachers", ()))
    cfg_fields["widths"], cfg_fields["depths"] = tuple(c["widths"]), tuple(c["depths"])
    cfg_fields["augment"] = AugmentConfig(**{k: (tuple(v) if isinstance(v, list) else v)
                                             for k, v in c["augment"].items()})
    cfg = TrainConfig(**cfg_fields)
    model = build_model(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    mean, std = float(ck["mean"]), float(ck["std"])
    if history is None:
        last = checkpoint.with_name("last.pt")
        if last.is_file():
            lk = torch.load(last, map_location="cpu", weights_only=False)
            history, wall_clock_s = lk["history"], lk.get("elapsed_s")
        else:
            history = []
    publictest = publictest or cfg.val
    ferplus_publictest = ferplus_publictest or cfg.ferplus_val

    rng = np.random.default_rng(0)
    val = load_dataset(publictest, role="val", size=cfg.input_size) if publictest is not None else None
    vx = val.x[:192] if val is not None else load_dataset(cfg.data, role="train", size=cfg.input_size).x[:192]
    samples = np.concatenate([_to_input(vx, mean, std).numpy(),
                              rng.normal(0, 1, (64, 1, cfg.input_size, cfg.input_size)).astype(np.float32)])
    dest = Path(dest)
    onnx_path, manifest_path = dest / f"{name}.onnx", dest / f"{name}.json"
    quantization = None
    if int8:
        fp32_path = dest / f"{name}.float32.onnx"
        verification = export_mod.export_onnx(model, fp32_path, cfg.input_size, samples)
        train_x = load_dataset(cfg.data, role="train", size=cfg.input_size).x
        pick = np.random.default_rng(cfg.seed).choice(len(train_x), size=min(1000, len(train_x)), replace=False)
        quantization = export_mod.quantize_int8(fp32_path, onnx_path, _to_input(train_x[pick], mean, std).numpy())
        if val is not None:
            quantization.update(export_mod.compare_int8(fp32_path, onnx_path, val.x, val.y, cfg.input_size, mean, std))
        fp32_path.unlink()
    else:
        verification = export_mod.export_onnx(model, onnx_path, cfg.input_size, samples)
    metrics = export_mod.measure(onnx_path, cfg.input_size, mean, std, publictest, ferplus_publictest)
    best = max(history, key=lambda r: r["val_acc"]) if history else None
    epoch_s = [r["epoch_s"] for r in history]
    training = {
        "architecture": f"EmoCNN VGG-style: widths {list(cfg.widths)}, conv blocks {list(cfg.depths)}, "
                        f"3x3 conv-BN-ReLU + 2x2 max-pool per stage, FC {cfg.hidden} + dropout {cfg.dropout}",
        "parameters": count_parameters(model),
        "optimizer": f"SGD nesterov momentum {cfg.momentum}, weight decay {cfg.weight_decay}, lr {cfg.lr} "
                     f"with {cfg.warmup_epochs} warm-up epochs then cosine to 0, batch {cfg.batch_size}"
                     + (f"; exponential moving average of the weights (decay {cfg.ema}) validated and exported"
                        if cfg.ema > 0 else ""),
        "targets": ((f"(1-{cfg.soft_weight}) one-hot FER-2013 label + {cfg.soft_weight} FER+ vote distribution; "
                     f"label smoothing {cfg.label_smoothing} where FER+ has no votes") if cfg.soft_labels else
                    f"FER-2013 labels with label smoothing {cfg.label_smoothing}")
                   + (f"; mixup with weights from Beta({cfg.mixup}, {cfg.mixup})" if cfg.mixup > 0 else "")
                   + (f"; blended (weight {cfg.distill_weight}) with the mean prediction of {len(cfg.teachers)} "
                      f"teacher model(s) on each augmented batch" if cfg.teachers else ""),
        "augmentation": asdict(cfg.augment),
        "precision": {True: "bfloat16 autocast (CPU) for training", False: "float32 training",
                      None: "bfloat16 autocast (CPU) for training where the CPU has it"}[cfg.bf16]
                     + ("; int8 export" if int8 else "; float32 export"),
        "epochs_planned": cfg.epochs,
        "epochs_run": len(history),
        "best_epoch": best["epoch"] if best else None,
        "best_val_accuracy_pytorch": round(best["val_acc"], 4) if best else None,
        "mean_epoch_s": round(float(np.mean(epoch_s)), 1) if epoch_s else None,
        "wall_clock_s": round(float(wall_clock_s), 1) if wall_clock_s is not None else None,
        "threads": cfg.threads,
        "seed": cfg.seed,
        **({"fine_tuned_from": str(cfg.init)} if cfg.init else {}),
        **({"teachers": [str(p) for p in cfg.teachers]} if cfg.teachers else {}),
        "data_notes": ck.get("notes", {}),
    }
    origin = {
        "data": "FER-2013 Training split (Goodfellow et al. 2013, Kaggle, research use)"
                + ("; FER+ vote distributions (microsoft/FERPlus, MIT) as soft targets" if cfg.soft_labels else ""),
        "model_selection": f"best epoch on {publictest}" if publictest else "best epoch on 5% held-out training data",
        "recipe": "vcam_emoji/training/train.py (EmoCNN)",
        "command": (cfg.command or "vcam-emoji train (see models/MODELS.md)").replace(" --resume", ""),
        "git_commit": export_mod.git_commit(REPO),
    }
    manifest = export_mod.build_manifest(name=name, onnx_path=onnx_path, input_size=cfg.input_size, mean=mean, std=std,
                                         verification=verification, metrics=metrics, training=training, origin=origin)
    if quantization is not None:
        manifest["quantization"] = quantization
    export_mod.write_manifest(manifest, manifest_path)
    print(f"exported {onnx_path} ({metrics['model_size_mb']} MB) and {manifest_path}: "
          f"{json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)})}", flush=True)
    return onnx_path, manifest_path
