"""`gankit augment`: the low-data augmentation protocol (gankit.augmentation) in one resumable command."""
from __future__ import annotations

import sys

from .augmentation.subsets import LABELLED


def _cmd_augment(args) -> int:
    from pathlib import Path

    from .api import select_device
    from .augmentation.protocol import Settings, parse_labels, run_protocol
    from .cli import check_writable
    from .errors import ConfigError

    counts = {"--seeds": args.seeds, "--gan-steps": args.gan_steps, "--classifier-steps": args.classifier_steps,
              "--reference-steps": args.reference_steps}
    bad = [f"{flag} {value}" for flag, value in counts.items() if value is not None and value < 1]
    if bad:
        raise ConfigError(f"{', '.join(bad)}: must be >= 1")
    check_writable(Path(args.out), folder=True)
    settings = Settings(data=args.data, data_dir=args.data_dir, test_dir=args.test_dir,
                        labels=parse_labels(args.labels_per_class), seeds=args.seeds, gan_preset=args.gan_preset,
                        gan_steps=args.gan_steps, gan_augment=args.gan_augment,
                        gan_overrides=list(args.gan_set or []),
                        classifier_steps=args.classifier_steps, reference_steps=args.reference_steps)
    report = run_protocol(args.out, settings, device=select_device(args.device, "--device"),
                          log=None if args.quiet else lambda m: print(f"gankit augment: {m}", file=sys.stderr,
                                                                      flush=True))
    print(f"report: {report}")
    return 0


def add_command(sub) -> None:
    a = sub.add_parser("augment", help="does GAN data help a classifier with few labels? the whole protocol",
                       description="For each labels-per-class level and seed: draw a stratified labelled subset, "
                                   "train a conditional GAN on it alone, draw synthetic images, train the same "
                                   "classifier in every arm (real only; + classic augmentation; + synthetic at "
                                   "0.5x, 1x, 4x; + classic + synthetic; synthetic only = CAS) and score it on the "
                                   "untouched test split; GAN-test scores the samples with a classifier trained on "
                                   "all real data. Writes report.md/.json and plots into --out; re-running the "
                                   "same command resumes (finished arms are kept).")
    a.add_argument("--data", required=True, choices=list(LABELLED),
                   help="mnist, fashion-mnist, or folder (DIR/<class>/images)")
    a.add_argument("--data-dir", metavar="DIR", help="the IDX files, or the folder of class subfolders")
    a.add_argument("--test-dir", metavar="DIR", help="folder data: a test folder with the same class subfolders "
                                                     "(default: a fixed stratified 20 %% of --data-dir)")
    a.add_argument("--labels-per-class", default="10,100", metavar="L1,L2", help="levels (default 10,100)")
    a.add_argument("--seeds", type=int, default=5, help="seeds per level (default 5)")
    a.add_argument("--gan-preset", default="mnist-cgan", help="conditional GAN preset (data and conditioning are "
                                                               "set by the protocol; default mnist-cgan)")
    a.add_argument("--gan-steps", type=int, default=2000, help="GAN training steps per subset (default 2000)")
    a.add_argument("--gan-augment", default="translation,cutout", metavar="POLICY",
                   help="DiffAugment policy of the GAN's discriminator, which sees only the labelled subset "
                        "(default translation,cutout; '' for none)")
    a.add_argument("--gan-set", action="append", metavar="KEY=VALUE",
                   help="a config override for the GAN (repeatable), e.g. --gan-set model.g.width=32")
    a.add_argument("--classifier-steps", type=int, help="classifier steps per arm (default: 30 epochs of the "
                                                         "real subset, 500..4000)")
    a.add_argument("--reference-steps", type=int, help="steps of GAN-test's reference classifier (default: 30 "
                                                        "epochs of all real training images, 500..6000)")
    a.add_argument("--out", required=True, metavar="DIR", help="the protocol folder (re-run to resume)")
    a.add_argument("--device", default="auto")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=_cmd_augment)
