"""Shared bits of the benchmark scripts: the exact command, the machine, timing, result files."""
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


def cpu_name() -> str:
    """The CPU model named in /proc/cpuinfo (else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg(digits: int = 1) -> str:
    """The 1-minute load average, formatted ('n/a' where the OS has none)."""
    try:
        return f"{os.getloadavg()[0]:.{digits}f}"
    except (OSError, AttributeError):
        return "n/a"


def machine() -> str:
    import torch

    return (f"{os.cpu_count()}-core CPU ({cpu_name()}), no GPU, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; load average {loadavg()} at the end (above 2 means other jobs "
            "shared the cores)")


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
