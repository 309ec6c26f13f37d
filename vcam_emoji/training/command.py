"""The ``vcam-emoji train`` subcommand. Imports torch only inside ``run()`` so the CLI works without the extra.

Also runnable on its own: ``python -m vcam_emoji.training.command --data ... [options]``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from vcam_emoji.cli_types import MAX_SEED, float_range, int_range, positive_float, positive_int, seed

INSTALL_HINT = 'pip install "vcam-emoji[train]" torch==2.13.0'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="training data: .npz (x, y), fer2013.csv or a Kaggle image folder")
    parser.add_argument("--val", type=Path, default=None,
                        help="validation data for model selection (default: hold out 5%% of --data)")
    parser.add_argument("--soft-labels", type=Path, default=None,
                        help="FER+ votes row-aligned to --data (ferplus_labels_aligned_to_fer2013.npz)")
    parser.add_argument("--ferplus-val", type=Path, default=None,
                        help="FER+ PublicTest .npz, for the FER+ accuracy in the manifest")
    parser.add_argument("--soft-weight", type=float_range(0, 1), default=0.3, metavar="W",
                        help="weight of the FER+ distribution in the target, 0..1 (default 0.3)")
    parser.add_argument("--label-smoothing", type=float_range(0, 1), default=0.1, metavar="S",
                        help="label smoothing of targets without FER+ votes, 0..1 (default 0.1)")
    parser.add_argument("--mixup", type=float_range(0, None, note="0 = off"), default=0.0, metavar="ALPHA",
                        help="mixup: blend each batch with a shuffled copy of itself (images and targets), weight "
                             "drawn from Beta(ALPHA, ALPHA), e.g. 0.2 (default 0: off)")
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune: start from this model, its architecture and normalisation kept: a "
                             "checkpoint (best.pt of an earlier run) or a float32 EmoCNN .onnx exported by train with "
                             "its .json beside it, or the name of a bundled one: emocnn_fer2013")
    parser.add_argument("--teacher", type=Path, action="append", default=[], metavar="MODEL",
                        help="distil: blend this trained model's prediction on each augmented batch into the target; "
                             "a checkpoint of train (best.pt) or an exported .onnx with its .json manifest beside it, "
                             "or a bundled model's name, e.g. emocnn_d2233_fer2013 (repeat for several; their mean is used)")
    parser.add_argument("--distill-weight", type=float_range(0, 1), default=0.5, metavar="W",
                        help="weight of the teachers' prediction in the target, 0..1 (default 0.5)")
    parser.add_argument("--ema", type=float_range(0, 1, high_open=True, note="0 = off"), default=0.0, metavar="DECAY",
                        help="validate, keep and export an exponential moving average of the weights with this decay "
                             "(0 to below 1, e.g. 0.999; default 0: off)")
    parser.add_argument("--epochs", type=positive_int, default=120, metavar="N",
                        help="training epochs, 1 or more (default 120)")
    parser.add_argument("--batch-size", type=positive_int, default=128, metavar="N",
                        help="images per optimiser step, 1 or more (default 128)")
    parser.add_argument("--lr", type=positive_float, default=0.05, metavar="LR",
                        help="peak SGD learning rate, above 0 (default 0.05)")
    parser.add_argument("--out", type=Path, default=Path("runs/emocnn"), help="run directory (default runs/emocnn)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--seed", type=seed, default=0, metavar="N",
                        help=f"random seed, 0..{MAX_SEED} (default 0)")
    parser.add_argument("--threads", type=int_range(1, 1024), default=2, metavar="N",
                        help="torch CPU threads, 1..1024 (default 2)")
    parser.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                        help="stop after N optimiser steps, 1 or more (smoke test)")
    parser.add_argument("--no-export", action="store_true", help="do not export ONNX at the end")
    parser.add_argument("--export-only", action="store_true",
                        help="skip training: export OUT/best.pt to ONNX + manifest (see --export-to)")
    parser.add_argument("--export-to", type=Path, default=None,
                        help="folder for <name>.onnx and <name>.json (default: OUT)")
    parser.add_argument("--model-card", action="store_true",
                        help="with --export-only: also print a MODELS.md section (model card) for the exported model")
    parser.add_argument("--name", default="emocnn_fer2013", help="model name (default emocnn_fer2013)")
    parser.add_argument("--int8", action="store_true",
                        help="export the int8-quantized model (static, calibrated on training images): about 3x "
                             "faster on CPUs with VNNI; the manifest records its agreement with float32")
    parser.add_argument("--widths", type=_ints, default=None,
                        help="channels per stage, comma-separated (default 16,48,96,160)")
    parser.add_argument("--depths", type=_ints, default=None,
                        help="conv blocks per stage, comma-separated (default 1,2,2,2)")


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as 16,48,96,160, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print(f"vcam-emoji train needs PyTorch, which is not installed. Install the train extra: {INSTALL_HINT}",
              file=sys.stderr)
        return 2
    from vcam_emoji.errors import EmojiCamError
    from vcam_emoji.training.train import TrainConfig, export_checkpoint, train

    try:
        if args.export_only:
            onnx_path, manifest = export_checkpoint(args.out / "best.pt", args.export_to or args.out, name=args.name,
                                                    publictest=args.val, ferplus_publictest=args.ferplus_val,
                                                    int8=args.int8)
            print(f"wrote {onnx_path} and {manifest}")
            if args.model_card:
                import json

                from vcam_emoji.training.export import model_card

                print("\n" + model_card(json.loads(manifest.read_text())))
            return 0
        if args.data is None:
            print("vcam-emoji train: --data is required (an .npz, fer2013.csv or image folder)", file=sys.stderr)
            return 2
        command = "vcam-emoji train " + " ".join(shlex.quote(a) for a in sys.argv[1:]
                                              if a not in ("train", "--resume"))  # resuming keeps the recipe
        config = TrainConfig(
            data=args.data, val=args.val, soft_labels=args.soft_labels, ferplus_val=args.ferplus_val,
            soft_weight=args.soft_weight, label_smoothing=args.label_smoothing, mixup=args.mixup,
            init=args.init, ema=args.ema,
            teachers=tuple(args.teacher), distill_weight=args.distill_weight,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, out=args.out,
            resume=args.resume, seed=args.seed, threads=args.threads, max_steps=args.max_steps,
            export=not args.no_export and args.export_to is None, name=args.name, command=command, int8=args.int8,
            **{k: v for k, v in (("widths", args.widths), ("depths", args.depths)) if v is not None})
        result = train(config)
        if args.export_to is not None and not args.no_export:
            export_checkpoint(result.best_checkpoint, args.export_to, name=args.name, int8=args.int8)
    except EmojiCamError as exc:
        print(f"vcam-emoji train: {exc}", file=sys.stderr)
        return 1
    print(f"best validation accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch} "
          f"({result.epochs_run} epochs, {result.wall_clock_s / 60:.1f} min); checkpoints in {args.out}")
    if result.onnx_path is not None:
        print(f"exported {result.onnx_path} and {result.manifest_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vcam-emoji train", description="Train the EmoCNN expression classifier")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
