"""The generic training loop: steps, logging, sample grids, checkpoints, resume, interrupts.

It knows nothing about GANs beyond `Method`: it draws named batches from the data's batch source
(never looking inside), runs `method.train_step`, gathers the returned scalars every
`train.log_every` steps (the only host sync), asks the method for its preview picture, evaluation
and alarms, and saves/restores everything the method declares. A NaN/inf loss stops the run with
the last good checkpoint kept.
"""
from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

from . import checkpoint as ckpt_io
from .config import Config, config_changes, dump_yaml, load_yaml
from .data.batches import ChannelsLast
from .distributed import DistInfo, any_rank
from .errors import CheckpointError, ConfigError, TrainingDiverged
from .methods import DataSpec, Method
from .methods.base import amp_name
from .methods.optim import load_keeping_hyperparameters, match_state_layout
from .monitor.plots import plot_curves, roll_back_log
from .monitor.progress import Progress
from .rng import capture_rng, restore_rng

LOG_FILES = ("metrics.jsonl", "alarms.jsonl")  # JSON lines with a "step", rolled back on resume
PREVIEW_N = 64
PREVIEW_SEED = 1234
EVAL_SEED = 4321


def total_steps(cfg: Config, n_items: int, batches_per_step: int) -> int:
    """`train.steps`, or `train.epochs` converted to G steps (each step consumes `batches_per_step` batches)."""
    if cfg.train.steps is not None:
        return cfg.train.steps
    epochs = cfg.train.epochs if cfg.train.epochs is not None else 1.0
    per_epoch = max(1, n_items // cfg.train.batch_size)
    return max(1, math.ceil(epochs * per_epoch / batches_per_step))


class Trainer:
    """Runs a method's steps with logging, previews, checkpoints and exact resume."""

    def __init__(self, cfg: Config, method: Method, dataset, run_dir: Path, dist: DistInfo = DistInfo()):
        self.cfg, self.method, self.run_dir, self.dist = cfg, method, Path(run_dir), dist
        self.main = dist.is_main
        self.spec = DataSpec.from_dataset(dataset)
        self.batches = dataset.batches(cfg.train.batch_size, cfg.seed, dist.rank, dist.world)
        if cfg.train.channels_last:
            self.batches = ChannelsLast(self.batches)
        self.total = total_steps(cfg, len(dataset), method.batches_per_step)
        method.setup(self.total)
        method.attach(dataset)
        self.step = 0
        self.train_seconds = 0.0  # wall time of training so far, earlier parts of a resumed run included
        self.preview_in = method.preview_inputs(PREVIEW_N, PREVIEW_SEED)
        self.pending: List[Dict[str, torch.Tensor]] = []
        self.last_good: Optional[Path] = None
        self.tb = None
        self.diagnostics = method.diagnostics(self.run_dir, dataset)

    # ------------------------------------------------------------------ paths

    @property
    def ckpt_root(self) -> Path:
        return self.run_dir / "checkpoints"

    def _prepare_dir(self, resumed: bool) -> None:
        """Create the run's folders, roll its logs back to the resumed step, record the config."""
        if not self.main:
            return
        for sub in ("samples", "plots", "checkpoints"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        if resumed:  # a crash after the last checkpoint left records of steps that are trained again
            for name in LOG_FILES:
                roll_back_log(self.run_dir / name, self.step)
        self._record_config()
        if self.cfg.train.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self.step + 1)
            except ImportError:  # tensorboard not installed: jsonl and plots still work
                self.tb = None

    def _record_config(self) -> None:
        """config.yaml is the config in force; configs/step-N.yaml keeps each one the run trained with
        from step N on (the first line lists what a resume changed)."""
        current, text = self.run_dir / "config.yaml", dump_yaml(self.cfg)
        header = ""
        if current.is_file():
            changes = config_changes(load_yaml(current.read_text()) or {}, self.cfg.to_dict())
            header = f"# resumed at step {self.step}; changed: {'; '.join(changes) or 'nothing'}\n"
        ckpt_io.atomic_write_text(self.run_dir / "configs" / f"step-{self.step:08d}.yaml", header + text)
        ckpt_io.atomic_write_text(current, text)

    # ------------------------------------------------------------------ state

    def state(self, rng: dict) -> dict:
        """The trainer state of a checkpoint; `rng` from `capture_rng` (see `save`)."""
        return {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.method.optimizers.items()},
            "optimizer_types": {k: type(o).__name__ for k, o in self.method.optimizers.items()},
            "rng": rng,
            "sampler": self.batches.state_dict(),
            "preview": self.preview_in,
            "method": self.method.extra_state(),
        }

    def meta(self) -> dict:
        return {"step": self.step, "total_steps": self.total, "train_seconds": self.train_seconds,
                "config": self.cfg.to_dict(),
                "data": self.spec.to_dict(), "method": self.cfg.method, "networks": self.method.network_specs(),
                "tasks": self.method.tasks(), "protocol": self.method.protocol, "torch": torch.__version__,
                "amp": amp_name(self.method.amp_dtype), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def save(self, name: Optional[str] = None, alone: bool = False) -> Path:
        """A periodic checkpoint (`step-N`, becomes `latest`), or a named one such as `best` (rank 0 writes).

        Every rank reaches the periodic saves and takes part in gathering the RNG states; `best` and
        `alone=True` (the alarm stop) come from rank 0 alone and record its RNG state only."""
        everyone = name is None and not alone
        rng = capture_rng(self.dist if everyone else DistInfo(), self.method.device)
        if not self.main:
            return self.ckpt_root / (name or f"step-{self.step:08d}")
        weights = {k: n.state_dict() for k, n in self.method.networks.items()}
        weights.update(self.method.extra_weights())
        path = ckpt_io.save_checkpoint(self.ckpt_root, name or f"step-{self.step:08d}", weights, self.state(rng),
                                       self.meta(), keep=self.cfg.train.keep_checkpoints, latest=name is None)
        if name is None:
            self.last_good = path
        return path

    def load(self, path) -> None:
        """Restore a checkpoint; the optimizers keep the current config's hyperparameters."""
        ck = ckpt_io.load_checkpoint(path, map_location=str(self.method.device))
        try:
            for name, net in self.method.networks.items():
                net.load_state_dict(ck.weights[name])
            self.method.load_extra_weights(ck.weights)
            saved_types = ck.state.get("optimizer_types", {})  # absent in older checkpoints
            for name, opt in self.method.optimizers.items():
                if saved_types.get(name, type(opt).__name__) != type(opt).__name__:
                    raise CheckpointError(f"optimizer {name} was saved as {saved_types[name]} but this config builds "
                                          f"{type(opt).__name__} (optim.name={self.cfg.optim.name}); resume with the "
                                          "optimizer the run was trained with")
                load_keeping_hyperparameters(opt, ck.state["optimizers"][name])
                match_state_layout(opt)
            self.method.load_extra_state(ck.state.get("method"))
            self.batches.load_state_dict(ck.state["sampler"])
            restore_rng(ck.state["rng"], self.dist, self.method.device)
            self.preview_in = ck.state["preview"]
            self.train_seconds = float(ck.meta.get("train_seconds", 0.0))  # wall time: meta, not the exact state
        except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as err:
            msg = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise CheckpointError(f"checkpoint '{ck.path}' does not fit this config ({type(err).__name__}: {msg}); "
                                  "resume with the run's own config.yaml") from None
        self.step = ck.step
        self.last_good = ck.path

    # ------------------------------------------------------------------ logging

    def _flush(self) -> Optional[dict]:
        """Gather pending scalars (one host sync), check them, log the mean of the window."""
        if not self.pending:
            return None
        pending, self.pending = self.pending, []
        first_step = self.step - len(pending) + 1
        keys = sorted(set().union(*pending), key=lambda k: (not k.startswith("loss_"), k))  # losses named first
        rows = {k: [i for i, p in enumerate(pending) if k in p] for k in keys}  # the steps that logged k
        stacked = {k: torch.stack([pending[i][k].float() for i in rows[k]]).cpu() for k in keys}
        bad = min(((rows[k][int(j)], order, k) for order, k in enumerate(keys)
                   for j in (~torch.isfinite(stacked[k])).nonzero()[:1, 0]), default=None)
        if bad is not None:
            i, _, key = bad
            value = float(stacked[key][rows[key].index(i)])
            kept = f"the last good checkpoint is {self.last_good}" if self.last_good else "no checkpoint was written yet"
            raise TrainingDiverged(f"training diverged at step {first_step + i}: {key} = {value}; {kept}; "
                                   f"{self.method.divergence_advice()}")
        record = {"step": self.step, **{k: float(v.mean()) for k, v in stacked.items()}}
        if not self.main:
            return record
        self._log(record, "train")
        self._act(self.diagnostics.on_record(record))
        return record

    def _log(self, record: dict, group: str) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step":
                    self.tb.add_scalar(f"{group}/{k}", v, self.step)

    def _act(self, alarms) -> None:
        """With monitor.stop_on_alarm, the first alarm checkpoints and stops the run."""
        if alarms and self.cfg.monitor.stop_on_alarm:
            raise AlarmStop(alarms[0].message())

    def evaluate(self) -> dict:
        """Periodic evaluation on fresh samples; keeps checkpoints/best by the tracked metric."""
        if not self.main:
            return {}
        metrics, alarms, improved = self.diagnostics.evaluate(self.step)
        if metrics:
            self._log({"step": self.step, **{f"eval/{k}": v for k, v in metrics.items()}}, "eval")
        if improved:
            self.save("best")
        self._act(alarms)
        return metrics

    def write_preview(self) -> Optional[Path]:
        if not self.main:
            return None
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        shown = self.method.visualize(self.preview_in, path, self.step)
        if shown is not None:
            if self.tb is not None:
                self.tb.add_images("samples", (shown.clamp(-1, 1) + 1) / 2, self.step)
            self._act(self.diagnostics.on_preview(self.step, shown))
        return path

    def write_plot(self) -> None:
        if self.main and (self.run_dir / "metrics.jsonl").is_file():
            plot_curves(self.run_dir / "metrics.jsonl", self.run_dir / "plots" / "losses.png")

    def snapshot(self, marks: List[float]) -> List[float]:
        """Save checkpoints/minute-M for each mark the training time has passed; the marks still to come.
        The seconds spent writing them are taken off the clock."""
        while marks and self.train_seconds >= 60 * marks[0]:
            started = time.monotonic()
            self.save(f"minute-{marks.pop(0):g}")
            self._clock -= time.monotonic() - started
        return marks

    def _tick(self) -> None:
        """Add the wall time since the last tick to `train_seconds`."""
        now = time.monotonic()
        self.train_seconds += now - self._clock
        self._clock = now

    # ------------------------------------------------------------------ loop

    def fit(self, resume_from=None) -> Path:
        if resume_from is not None:
            self.load(resume_from)
            if self.step >= self.total:
                raise ConfigError(f"the run in '{self.run_dir}' already finished ({self.step} of {self.total} steps); "
                                  f"to train on, resume with a larger budget, e.g. train.steps={2 * self.step}")
        else:
            self.method.initialize()
        self._prepare_dir(resumed=resume_from is not None)
        t = self.cfg.train
        progress = Progress(self.total, start=self.step, mode=t.progress if self.main else "none")
        self.method.train(True)
        with _StopOnSignal() as stop:
            try:
                stopping, out_of_time = False, False
                deadline = time.monotonic() + 60 * t.max_minutes if t.max_minutes is not None else None
                marks = sorted(m for m in t.snapshot_minutes if 60 * m > self.train_seconds)
                self._clock = time.monotonic()
                while self.step < self.total and not stopping and not out_of_time:
                    self.pending.append(self.method.train_step(self.batches, self.step))
                    self.step += 1
                    due_ckpt = self.step % t.checkpoint_every == 0 or self.step == self.total
                    due_log = self.step % t.log_every == 0 or due_ckpt
                    record = self._flush() if due_log else None
                    self._tick()
                    if marks and due_log:  # at log points, where the host has waited for the queued GPU work
                        marks = self.snapshot(marks)
                    # ranks agree on stopping at log points; a single process stops after any step
                    stopping = any_rank(stop.requested, self.dist, self.method.device) if due_log else (
                        stop.requested and not self.dist.enabled)
                    if self.main:
                        progress.update(self.step, record)
                    if self.step % t.sample_every == 0 or self.step == self.total:
                        self.write_preview()
                    if self.cfg.monitor.eval_every and (self.step % self.cfg.monitor.eval_every == 0 or self.step == self.total):
                        self.evaluate()
                    if due_ckpt:
                        self.save()
                    if deadline is not None and due_log:  # at log points, where ranks agree anyway
                        out_of_time = any_rank(time.monotonic() >= deadline, self.dist, self.method.device)
                if out_of_time and self.step < self.total:
                    self._flush()
                    path = self.save()
                    print(f"\ngankit: train.max_minutes={t.max_minutes:g} reached at step {self.step} of {self.total}; "
                          f"checkpoint {path}; continue with: gankit train --resume {self.run_dir}", file=sys.stderr)
                if stopping:
                    self._flush()
                    path = self.save()
                    raise TrainingInterrupted(f"interrupted at step {self.step}; checkpoint {path}; "
                                              f"continue with: gankit train --resume {self.run_dir}")
            except AlarmStop as alarm:
                path = self.save(alone=True)
                raise TrainingInterrupted(f"stopped on alarm (monitor.stop_on_alarm): {alarm}; checkpoint {path}") from None
            finally:
                progress.close()
                self.write_plot()
                if self.tb is not None:
                    self.tb.close()
        return self.run_dir


class AlarmStop(Exception):
    """Internal: an alarm fired with monitor.stop_on_alarm set."""


class TrainingInterrupted(CheckpointError):
    """Ctrl-C / SIGTERM: a checkpoint was written and the run can be resumed."""


class _StopOnSignal:
    """The first Ctrl-C / SIGTERM asks the loop to stop after the current step (then it checkpoints);
    a second one interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.previous = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        for sig in self.SIGNALS:
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False
