"""`gankit augment`: the whole low-data protocol in one resumable command.

For every labels-per-class level L and seed s: a stratified subset of L images per class (seeded by s) is
written as a class folder; a conditional GAN (`--gan-preset`) trains on that folder alone; `gankit synth`
draws MAX_RATIO x the subset's size from it; the arms of `arms.ARMS` train the same classifier on their
training sets and are scored on the untouched test split; GAN-test scores the synthetic images with a
classifier trained on every real training image (once per protocol). Each finished piece is a file under
the protocol folder (subset and synth folders renamed into place when complete, the GAN's run with a `done`
marker, one JSON per arm), so a killed protocol resumes where it stopped and finished arms are not redone.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import torch

from ..errors import ConfigError
from .arms import ARMS, MAX_RATIO, ArmDiverged, arm_data, classifier_steps, score, train_classifier
from .subsets import Labelled, load_labelled, read_class_folder, stratified, write_class_folder

FORMAT = "gankit-augment/1"
PROTOCOL = "protocol.json"


@dataclass
class Settings:
    """What a protocol folder was started with; a resume must match it."""

    data: str
    data_dir: Optional[str]
    test_dir: Optional[str]
    labels: List[int]
    seeds: int
    gan_preset: str = "mnist-cgan"
    gan_steps: int = 2000
    gan_augment: str = "translation,cutout"  # DiffAugment for the GAN's D: it sees only the small subset
    gan_overrides: List[str] = field(default_factory=list)  # KEY=VALUE for the GAN's config, after the protocol's
    classifier_steps: Optional[int] = None  # None: classifier_steps(n_real) per level
    reference_steps: Optional[int] = None  # GAN-test's classifier; None: 30 epochs of all real images, 500..6000
    arms: List[str] = field(default_factory=lambda: list(ARMS))
    format: str = FORMAT


def parse_labels(text: str) -> List[int]:
    """"10,100" -> [10, 100]; a one-line ConfigError for anything but positive integers."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ConfigError(f"--labels-per-class must be positive integers separated by commas (e.g. 10,100), got "
                          f"{text!r}")
    return sorted(set(values))


def _write_json(path: Path, doc: dict) -> None:
    from ..checkpoint import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def _settings(out: Path, settings: Settings) -> Settings:
    """Record the settings of a new protocol folder, or check that a resumed one was started with the same."""
    path = out / PROTOCOL
    if path.is_file():
        old = json.loads(path.read_text())
        new = asdict(settings)
        differ = [k for k in new if old.get(k) != new[k]]
        if differ:
            raise ConfigError(f"'{out}' holds a protocol started with other settings ({', '.join(differ)}: "
                              f"{', '.join(repr(old.get(k)) for k in differ)}): rerun it with those, or pass a new "
                              "--out")
    else:
        _write_json(path, asdict(settings))
    return settings


class Protocol:
    """The pieces of one protocol folder, each computed once (see the module docstring)."""

    def __init__(self, out, settings: Settings, device="cpu", log: Optional[Callable[[str], None]] = None):
        self.out, self.device = Path(out), device
        self.log = log or (lambda m: None)
        self.out.mkdir(parents=True, exist_ok=True)
        self.s = _settings(self.out, settings)
        self.data: Labelled = load_labelled(settings.data, settings.data_dir, settings.test_dir)
        self.num_classes = len(self.data.classes)

    def tag(self, labels: int, seed: int) -> str:
        return f"l{labels}-s{seed}"

    # ------------------------------------------------------------------ the pieces

    def subset(self, labels: int, seed: int) -> tuple:
        """(images, labels) of the seeded stratified subset, and its class folder (written once)."""
        idx = stratified(self.data.train_y, labels, seed, self.data.classes)
        folder = self.out / "subsets" / self.tag(labels, seed)
        if not folder.is_dir():
            write_class_folder(self.data.train_x[idx], self.data.train_y[idx], self.data.classes, folder)
        return self.data.train_x[idx], self.data.train_y[idx], folder

    def gan(self, folder: Path, labels: int, seed: int) -> Path:
        """A conditional GAN trained on the subset's folder alone (resumed when unfinished)."""
        from .. import api
        from ..config import load_config

        run = self.out / "gans" / self.tag(labels, seed)
        if (run / "done").is_file():
            return run
        start = time.time()
        c, h = self.data.shape[0], self.data.shape[-1]
        if (run / "checkpoints").is_dir():
            self.log(f"{self.tag(labels, seed)}: resuming the GAN in {run}")
            api.train(None, resume=run, overrides=["train.progress=none"])
        else:
            self.log(f"{self.tag(labels, seed)}: training the GAN ({self.s.gan_preset}, {self.s.gan_steps} steps) on "
                     f"{labels * self.num_classes} images")
            n = labels * self.num_classes
            cfg = load_config(preset=self.s.gan_preset, overrides=[
                "data.name=folder", f"data.dir={folder}", f"data.size={h}", f"data.channels={c}",
                "model.conditional=true", f"run.dir={run}", f"seed={seed}", f"train.steps={self.s.gan_steps}",
                f"train.batch_size={min(64, n)}", f"gan.augment={self.s.gan_augment}", "train.progress=none",
                "train.tensorboard=false",
                f"train.device={self.device}", *self.s.gan_overrides])
            api.train(cfg)
        _write_json(run / "done", {"seconds": round(time.time() - start, 1)})  # this call's share of the training
        return run

    def synthetic(self, run: Path, labels: int, seed: int) -> tuple:
        """(images, labels) that `gankit synth` drew from the GAN: MAX_RATIO x the subset, class-balanced."""
        from ..synth import synthesize

        folder = self.out / "synth" / self.tag(labels, seed)
        if not folder.is_dir():
            synthesize(run, math.ceil(MAX_RATIO * labels), folder, seed=seed, device=self.device)
        return read_class_folder(folder, self.data.classes, self.data.shape[-1], self.data.shape[0])

    def reference(self) -> torch.nn.Module:
        """GAN-test's classifier: trained on every real training image, once per protocol (weights kept)."""
        from safetensors.torch import load_file, save_file

        from .arms import make_classifier

        path = self.out / "reference.safetensors"
        steps = self.s.reference_steps or classifier_steps(len(self.data.train_x), ceiling=6000)
        if path.is_file():
            model = make_classifier(self.data.shape, self.num_classes)
            model.load_state_dict(load_file(str(path)))
            return model.to(self.device).eval()
        self.log(f"GAN-test: training the reference classifier on all {len(self.data.train_x)} training images")
        start = time.time()
        model = train_classifier(self.data.train_x, self.data.train_y, self.num_classes, steps, seed=0,
                                 device=self.device)
        result = score(model, self.data.test_x, self.data.test_y, self.num_classes)
        tmp = path.with_suffix(".tmp")
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
        tmp.replace(path)
        _write_json(self.out / "reference.json", {"steps": steps, "n_train": len(self.data.train_x),
                                                  "test_accuracy": result.accuracy,
                                                  "seconds": round(time.time() - start, 1)})
        return model.eval()

    # ------------------------------------------------------------------ arms

    def arm_file(self, labels: int, seed: int, arm: str) -> Path:
        return self.out / "results" / self.tag(labels, seed) / f"{arm}.json"

    def run_arm(self, arm: str, labels: int, seed: int, real: tuple, synth: tuple) -> dict:
        """Train and score one arm (or read its result); a diverged arm is recorded as skipped."""
        path = self.arm_file(labels, seed, arm)
        if path.is_file():
            return json.loads(path.read_text())
        steps = self.s.classifier_steps or classifier_steps(len(real[0]))
        x, y, classic = arm_data(arm, *real, *synth)
        start = time.time()
        doc = {"arm": arm, "labels": labels, "seed": seed, "n_train": len(x), "classic": classic, "steps": steps}
        try:
            model = train_classifier(x, y, self.num_classes, steps, seed=seed, classic=classic, device=self.device)
            doc.update(score(model, self.data.test_x, self.data.test_y, self.num_classes).as_dict())
        except ArmDiverged as err:
            doc.update(skipped=str(err))
            print(f"gankit augment: arm {arm} ({self.tag(labels, seed)}) skipped: {err}", file=sys.stderr)
        doc["seconds"] = round(time.time() - start, 1)
        _write_json(path, doc)
        what = "skipped" if "skipped" in doc else f"accuracy {100 * doc['accuracy']:.2f}%"
        self.log(f"{self.tag(labels, seed)} {arm}: {what} ({doc['seconds']} s)")
        return doc

    def gan_test(self, labels: int, seed: int, synth: tuple) -> dict:
        path = self.arm_file(labels, seed, "gan-test")
        if path.is_file():
            return json.loads(path.read_text())
        result = score(self.reference(), synth[0], synth[1], self.num_classes)
        doc = {"arm": "gan-test", "labels": labels, "seed": seed, "n_train": 0, "n_scored": len(synth[0]),
               **result.as_dict()}
        _write_json(path, doc)
        return doc

    def run(self) -> List[dict]:
        """Every piece of every (level, seed), in order; the arms' results."""
        rows = []
        for labels in self.s.labels:
            for seed in range(self.s.seeds):
                x, y, folder = self.subset(labels, seed)
                synth = self.synthetic(self.gan(folder, labels, seed), labels, seed)
                for arm in self.s.arms:
                    rows.append(self.run_arm(arm, labels, seed, (x, y), synth))
                rows.append(self.gan_test(labels, seed, synth))
        return rows


def run_protocol(out, settings: Settings, device="cpu", log: Optional[Callable[[str], None]] = None) -> Path:
    """Run (or resume) a protocol into `out` and write its report; returns the report's path."""
    from .report import write_report

    protocol = Protocol(out, settings, device, log)
    rows = protocol.run()
    return write_report(protocol, rows)


__all__ = ["FORMAT", "Protocol", "Settings", "parse_labels", "run_protocol"]
