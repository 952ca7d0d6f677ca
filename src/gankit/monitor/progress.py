"""A dependency-free progress display: a live bar on a terminal, plain lines elsewhere."""
from __future__ import annotations

import sys
import time
from typing import Dict, Optional, TextIO

SHOWN = ("loss_d", "loss_g", "d_real", "d_fake")
LABELS = {"loss_d": "D", "loss_g": "G", "d_real": "D(x)", "d_fake": "D(G(z))"}


def _fmt_time(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Shows step, steps/s, ETA and the latest D/G losses, D(x) and D(G(z))."""

    def __init__(self, total: int, start: int = 0, mode: str = "auto", stream: Optional[TextIO] = None,
                 min_interval: float = 0.25):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode, self.total, self.start_step = mode, total, start
        self.t0 = time.perf_counter()
        self.last_draw = 0.0
        self.min_interval = min_interval
        self.values: Dict[str, float] = {}

    def rate(self, step: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return (step - self.start_step) / elapsed if elapsed > 0 else 0.0

    def line(self, step: int) -> str:
        rate = self.rate(step)
        eta = (self.total - step) / rate if rate > 0 else 0.0
        stats = " ".join(f"{LABELS[k]} {self.values[k]:.3f}" for k in SHOWN if k in self.values)
        frac = step / max(1, self.total)
        bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
        return f"[{bar}] {step}/{self.total} {rate:.1f} it/s ETA {_fmt_time(eta)} | {stats}"

    def update(self, step: int, values: Optional[Dict[str, float]] = None) -> None:
        """Record new values; with `values` (a logging step) lines mode prints, bar mode redraws."""
        if self.mode == "none":
            return
        if values:
            self.values.update(values)
        now = time.perf_counter()
        if self.mode == "bar" and (now - self.last_draw >= self.min_interval or step == self.total):
            self.stream.write("\r" + self.line(step) + "\x1b[K")
            self.stream.flush()
            self.last_draw = now
        elif self.mode == "lines" and values:
            self.stream.write(self.line(step) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.mode == "bar":
            self.stream.write("\n")
            self.stream.flush()
