"""`gankit eval` and `gankit classifier train`: the evaluation subcommands."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import ConfigError


EVAL_DESCRIPTION = (
    "Score generated images against real ones. Image metrics use Inception 2015-12-05 features through "
    "torch-fidelity (fid, kid, pr = precision/recall, dc = density/coverage, prdc = both, is); cfid, class_acc "
    "and Stacked-MNIST modes use the digit classifier of `gankit classifier train`; modes on ring/grid runs "
    "follows PacGAN. Image-to-image runs (pix2pix, CycleGAN) are scored on their test split: l1, psnr, ssim, psnr_y, "
    "ssim_y against the ground truth, fid and kid of the outputs against the real targets, cycle_psnr (CycleGAN). "
    "Super-resolution runs are scored on whole images of their data.test_dir (--data-dir replaces it): psnr_y, "
    "ssim_y, psnr, ssim with a scale-pixel border, fid and kid on 96-px patches. Text-to-image runs are scored on "
    "their test captions, seen and held-out compositions apart: caption_acc (captioned-mnist: the digit classifier "
    "reads each digit in its cell), r_precision (the model of `gankit classifier text`), fid. "
    "Every line states its protocol (n, split, feature network, weights sha256).")


def _log(message: str) -> None:
    print(f"gankit eval: {message}", file=sys.stderr, flush=True)


def _cmd_eval(args) -> int:
    from .api import select_device
    from .checkpoint import atomic_write_text
    from .cli import check_writable, writing
    from .metrics.evaluate import ALIASES, SPECS, evaluate

    if args.list:
        for name, spec in SPECS.items():
            print(f"{name:<10} {spec.help}")
        for name, parts in ALIASES.items():
            print(f"{name:<10} = {' + '.join(parts)}")
        return 0
    folders = (args.real, args.fake)
    if any(folders) and not all(folders):
        raise ConfigError("--real and --fake go together: pass both image folders")
    if all(folders) == bool(args.source):
        raise ConfigError("pass either a RUN_DIR|CHECKPOINT or --real DIR --fake DIR (not both)")
    device = select_device(args.device, "--device")
    if args.out:
        check_writable(Path(args.out))
    task = _task(args.source) if args.source else None
    if task == "sample_text":
        from .api import evaluate_text

        results = evaluate_text(args.source, args.metrics, args.n, data_dir=args.data_dir, split=args.split,
                                inception_weights=args.inception_weights, classifier=args.classifier,
                                text_model=args.text_model, seed=args.seed, device=device,
                                log=None if args.quiet else _log)
    elif task in ("translate", "upscale", "predict"):
        from .api import evaluate_sr, evaluate_translation, evaluate_video

        score = {"translate": evaluate_translation, "upscale": evaluate_sr, "predict": evaluate_video}[task]
        results = score(args.source, args.metrics, args.n, data_dir=args.data_dir, split=args.split,
                        inception_weights=args.inception_weights, device=device, log=None if args.quiet else _log)
    else:
        results = evaluate(folders if args.real else args.source, args.metrics, args.n,
                           inception_weights=args.inception_weights, classifier=args.classifier,
                           data_dir=args.data_dir, split=args.split, seed=args.seed, device=device,
                           batch_size=args.batch_size, cache=not args.no_cache, log=None if args.quiet else _log)
    for r in results:
        print(json.dumps(r.as_dict()) if args.json else r.line(), flush=True)
    if args.out:
        out = Path(args.out)
        with writing(out):
            old = out.read_text() if out.is_file() else ""
            atomic_write_text(out, old + "".join(json.dumps(r.as_dict()) + "\n" for r in results))
    return 0


def _task(source):
    """"translate" (pix2pix, CycleGAN), "upscale" (SR), "predict" (video), "sample_text" (text-to-image) or None (a
    GAN run, or not a checkpoint)."""
    from .generator import read_checkpoint

    tasks = read_checkpoint(source)[0].meta.get("tasks") or {}
    return next((t for t in ("translate", "upscale", "predict", "sample_text") if t in tasks), None)


def _cmd_classifier_train(args) -> int:
    from .api import select_device
    from .metrics.classifier import train_classifier

    path, info = train_classifier(args.data, args.data_dir, epochs=args.epochs, out=args.out,
                                  batch_size=args.batch_size, width=args.width, seed=args.seed,
                                  device=select_device(args.device, "--device"))
    print(f"saved {path} ({info['data']}, test accuracy {100 * info['test_accuracy']:.2f}% "
          f"on {info['n_test']} {info['test_split']} images, {info['train_seconds']} s)")
    return 0


def _cmd_classifier_text(args) -> int:
    from .api import select_device
    from .metrics.text_model import train_text_model

    path, info = train_text_model(args.data, args.data_dir, args.captions, steps=args.steps,
                                  batch_size=args.batch_size, size=args.size, width=args.width, out=args.out,
                                  seed=args.seed, device=select_device(args.device, "--device"),
                                  eval_n=args.eval_n)
    print(f"saved {path} ({info['trained_on']}; R-precision of real images {100 * info['r_precision_real']:.1f}% "
          f"on {info['r_precision_n']} {info['r_precision_split']} items, {info['train_seconds']} s)")
    return 0


def add_commands(sub) -> None:
    """Add `eval` and `classifier` to the argparse subparsers of `gankit`."""
    e = sub.add_parser("eval", help="score a run/checkpoint, or two image folders (FID, KID, PR, DC, IS, modes, ...)",
                       description=EVAL_DESCRIPTION)
    e.add_argument("source", nargs="?", metavar="RUN_DIR|CHECKPOINT")
    e.add_argument("--real", metavar="DIR", help="folder of real images (with --fake)")
    e.add_argument("--fake", metavar="DIR", help="folder of generated images (with --real)")
    e.add_argument("--metrics", help="comma-separated, e.g. fid,kid,prdc,is,cfid,class_acc,modes "
                                     "(default: fid,kid,prdc for images, modes for ring/grid/stacked-mnist)")
    e.add_argument("--n", type=int, help="samples per metric (default 10000; modes 2500 2-D / 26000 stacked; "
                                         "folders: all images)")
    e.add_argument("--inception-weights", metavar="PATH",
                   help="weights-inception-2015-12-05-6726825d.pth (default: the torch hub cache)")
    e.add_argument("--classifier", metavar="PATH", help="digit classifier .safetensors (default: the gankit cache)")
    e.add_argument("--text-model", metavar="PATH",
                   help="R-precision's image-text model .safetensors (default: the gankit cache)")
    e.add_argument("--data-dir", metavar="DIR", help="data folder, when the run's data.dir does not apply here")
    e.add_argument("--split", default="test", choices=["train", "test"], help="real split (default test)")
    e.add_argument("--seed", type=int, default=0, help="seed of the generated samples (as in `gankit sample`)")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--device", default="auto")
    e.add_argument("--no-cache", action="store_true", help="recompute real-image features")
    e.add_argument("--json", action="store_true", help="print one JSON object per metric")
    e.add_argument("--out", metavar="FILE", help="also append the results as JSON lines to FILE")
    e.add_argument("--quiet", action="store_true", help="no progress messages")
    e.add_argument("--list", action="store_true", help="list the metrics and exit")
    e.set_defaults(func=_cmd_eval)

    c = sub.add_parser("classifier", help="the digit classifier behind cFID, class accuracy and Stacked-MNIST modes")
    csub = c.add_subparsers(dest="classifier_command", required=True)
    t = csub.add_parser("train", help="train it and save safetensors + JSON")
    t.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist", "digits"])
    t.add_argument("--data-dir", metavar="DIR", help="folder of the MNIST-format files")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--width", type=int, default=16, help="channels of the first conv (16 reaches >= 99%% on MNIST)")
    t.add_argument("--out", metavar="PATH",
                   help="output .safetensors (default: $GANKIT_CACHE/classifiers/DATA.safetensors)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.set_defaults(func=_cmd_classifier_train)
    x = csub.add_parser("text", help="train the image-text model behind R-precision (text-to-image runs)")
    x.add_argument("--data", default="captioned-mnist", choices=["captioned-mnist", "captions"])
    x.add_argument("--data-dir", metavar="DIR", help="MNIST files (captioned-mnist) or captioned images (captions)")
    x.add_argument("--captions", metavar="FILE", help="captions file of --data captions (default: DIR/captions.*)")
    x.add_argument("--steps", type=int, default=3000)
    x.add_argument("--batch-size", type=int, default=128)
    x.add_argument("--size", type=int, help="image side (default: the data's, 64 for captioned-mnist)")
    x.add_argument("--width", type=int, default=32, help="image encoder base width")
    x.add_argument("--eval-n", type=int, default=1000, help="test items for the real-image R-precision (ceiling)")
    x.add_argument("--out", metavar="PATH", help="output .safetensors (default: $GANKIT_CACHE/text_models/...)")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--device", default="auto")
    x.set_defaults(func=_cmd_classifier_text)
