"""The generic training loop: steps, logging, sample grids, checkpoints, resume, interrupts.

It knows nothing about GANs beyond `Method`: it runs `method.train_step`, gathers the returned
scalars every `train.log_every` steps (the only host sync), and saves/restores everything the
method declares. A NaN/inf loss stops the run with the last good checkpoint kept.
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
from .config import Config, dump_yaml
from .data.sampler import BatchSampler, ShardedSampler
from .distributed import DistInfo, any_rank
from .errors import CheckpointError, TrainingDiverged
from .methods import BatchSource, DataSpec, Method
from .methods.optim import match_state_layout
from .monitor.diagnostics import Diagnostics
from .monitor.images import save_grid, save_scatter
from .monitor.plots import plot_curves
from .monitor.progress import Progress
from .rng import capture_rng, restore_rng

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
        self.sampler = BatchSampler(len(dataset), cfg.train.batch_size, seed=cfg.seed)
        if dist.enabled:
            self.sampler = ShardedSampler(self.sampler, dist.rank, dist.world)
        self.batches = BatchSource(dataset.x, dataset.y, self.sampler, cfg.train.channels_last)
        self.total = total_steps(cfg, len(dataset), method.batches_per_step)
        method.setup(self.total)
        self.step = 0
        self.preview_in = method.preview_inputs(PREVIEW_N, PREVIEW_SEED)
        self.pending: List[Dict[str, torch.Tensor]] = []
        self.last_good: Optional[Path] = None
        self.tb = None
        self.means = dataset.info.get("means")
        probabilities = cfg.loss.name in ("minimax", "ns")
        self.diagnostics = Diagnostics(cfg, self.spec, dataset.x, self.run_dir, probabilities, method.device)

    # ------------------------------------------------------------------ paths

    @property
    def ckpt_root(self) -> Path:
        return self.run_dir / "checkpoints"

    def _prepare_dir(self) -> None:
        if not self.main:
            return
        for sub in ("samples", "plots", "checkpoints"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        ckpt_io.atomic_write_text(self.run_dir / "config.yaml", dump_yaml(self.cfg))
        if self.cfg.train.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self.step + 1)
            except ImportError:  # tensorboard not installed: jsonl and plots still work
                self.tb = None

    # ------------------------------------------------------------------ state

    def state(self) -> dict:
        return {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.method.optimizers.items()},
            "rng": capture_rng(),
            "sampler": self.sampler.state_dict(),
            "preview": self.preview_in,
            "method": self.method.extra_state(),
        }

    def meta(self) -> dict:
        return {"step": self.step, "total_steps": self.total, "config": self.cfg.to_dict(),
                "data": self.spec.to_dict(), "method": self.cfg.method, "torch": torch.__version__,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def save(self, name: Optional[str] = None) -> Path:
        """A periodic checkpoint (`step-N`, becomes `latest`), or a named one such as `best` (rank 0 only)."""
        if not self.main:
            return self.ckpt_root / (name or f"step-{self.step:08d}")
        weights = {k: n.state_dict() for k, n in self.method.networks.items()}
        weights.update(self.method.extra_weights())
        path = ckpt_io.save_checkpoint(self.ckpt_root, name or f"step-{self.step:08d}", weights, self.state(),
                                       self.meta(), keep=self.cfg.train.keep_checkpoints, latest=name is None)
        if name is None:
            self.last_good = path
        return path

    def load(self, path) -> None:
        ck = ckpt_io.load_checkpoint(path, map_location=str(self.method.device))
        try:
            for name, net in self.method.networks.items():
                net.load_state_dict(ck.weights[name])
            self.method.load_extra_weights(ck.weights)
            for name, opt in self.method.optimizers.items():
                opt.load_state_dict(ck.state["optimizers"][name])
                match_state_layout(opt)
        except (KeyError, RuntimeError) as err:
            msg = str(err).splitlines()[0]
            raise CheckpointError(f"checkpoint '{ck.path}' does not fit this config ({msg}); resume with the run's own config.yaml") from None
        self.method.load_extra_state(ck.state.get("method"))
        self.sampler.load_state_dict(ck.state["sampler"])
        restore_rng(ck.state["rng"])
        self.preview_in = ck.state["preview"]
        self.step = ck.step
        self.last_good = ck.path

    # ------------------------------------------------------------------ logging

    def _flush(self) -> Optional[dict]:
        """Gather pending scalars (one host sync), check them, log the mean of the window."""
        if not self.pending:
            return None
        keys = sorted(set().union(*self.pending))
        stacked = {k: torch.stack([p[k].float() for p in self.pending if k in p]).cpu() for k in keys}
        first_step = self.step - len(self.pending) + 1
        self.pending = []
        for key, values in stacked.items():
            bad = (~torch.isfinite(values)).nonzero()
            if len(bad):
                where = first_step + int(bad[0])
                kept = f"the last good checkpoint is {self.last_good}" if self.last_good else "no checkpoint was written yet"
                raise TrainingDiverged(f"training diverged at step {where}: {key} = {float(values[bad[0]])}; {kept}; "
                                       "try a lower learning rate, loss.gp=10 or model.d.spectral_norm=true")
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
        inputs = self.method.preview_inputs(self.cfg.monitor.eval_n, EVAL_SEED)
        samples = self.method.preview(inputs)
        metrics, alarms, improved = self.diagnostics.evaluate(self.step, samples, inputs.get("y"))
        if metrics:
            self._log({"step": self.step, **{f"eval/{k}": v for k, v in metrics.items()}}, "eval")
        if improved:
            self.save("best")
        self._act(alarms)
        return metrics

    def write_preview(self) -> Optional[Path]:
        if not self.main:
            return None
        out = self.method.preview(self.preview_in)
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        if self.spec.kind == "image":
            save_grid(out, path, nrow=getattr(self.method, "num_classes", 0) or 8)
            if self.tb is not None:
                self.tb.add_images("samples", (out.clamp(-1, 1) + 1) / 2, self.step)
            self._act(self.diagnostics.on_preview(self.step, out))
        else:
            big = self.method.preview(self.method.preview_inputs(2500, PREVIEW_SEED))
            save_scatter(big, path, means=self.means, title=f"step {self.step}")
        return path

    def write_plot(self) -> None:
        if self.main and (self.run_dir / "metrics.jsonl").is_file():
            plot_curves(self.run_dir / "metrics.jsonl", self.run_dir / "plots" / "losses.png")

    # ------------------------------------------------------------------ loop

    def fit(self, resume_from=None) -> Path:
        if resume_from is not None:
            self.load(resume_from)
        self._prepare_dir()
        t = self.cfg.train
        progress = Progress(self.total, start=self.step, mode=t.progress if self.main else "none")
        self.method.train(True)
        with _StopOnSignal() as stop:
            try:
                stopping, out_of_time = False, False
                deadline = time.monotonic() + 60 * t.max_minutes if t.max_minutes is not None else None
                while self.step < self.total and not stopping and not out_of_time:
                    self.pending.append(self.method.train_step(self.batches, self.step))
                    self.step += 1
                    due_ckpt = self.step % t.checkpoint_every == 0 or self.step == self.total
                    due_log = self.step % t.log_every == 0 or due_ckpt
                    record = self._flush() if due_log else None
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
                path = self.save()
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
