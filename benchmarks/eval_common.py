"""Shared bits of the evaluation benchmarks: the exact command, the machine, timing, result files."""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path("/work/shared/data")
MNIST_DIR = SHARED / "mnist"
INCEPTION = SHARED / "inception" / "pt_inception-2015-12-05-6726825d.pth"


def command() -> str:
    """The command line that ran this script, as typed from the repository root."""
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()}-core CPU ({cpu}), no GPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"load average {load:.1f} at the end (above 2 means other jobs shared the cores)")


def today() -> str:
    return datetime.date.today().isoformat()


class Timer:
    """Wall-clock seconds since creation (`.s`) and a short `str` like '12.3 min'."""

    def __init__(self):
        self.start = time.time()

    @property
    def s(self) -> float:
        return time.time() - self.start

    def __str__(self) -> str:
        return f"{self.s:.0f} s" if self.s < 120 else f"{self.s / 60:.1f} min"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def eval_footer(lines: list, trained: dict, wall: str) -> str:
    """The closing sections of an evaluation results file: `gankit eval` lines, commands, machine, time."""
    how = "".join(f"- {name} trained with: {text}\n" for name, text in trained.items())
    output = "\n".join(lines)
    return f"""`gankit eval` output lines:

```
{output}
```

## Commands, machine, time

- benchmark: `{command()}`
{how}- date: {today()}
- evaluation machine: {machine()}
- wall time: {wall}
"""


def write_result(name: str, text: str) -> Path:
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")
    log(f"wrote {path}")
    return path
