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


def training_footer(facts: dict, lines: list, training: str, wall, machine_text: str = "") -> str:
    """The closing sections of a results file of trained runs: facts per run, metric lines, commands, machine
    (`machine_text`: a saved description, when the file is rebuilt from saved results)."""
    import json

    listed = "".join(f"- {name}: {json.dumps(f)}\n" for name, f in facts.items() if name not in ("peak", "curves"))
    output = "\n".join(lines)
    return f"""Training facts:

{listed}
Metric lines:

```
{output}
```

## Commands, machine, time

- benchmark: `{command()}`
- training: `{training}`
- date: {today()}
- machine: {machine_text or machine()}
- evaluation wall time: {wall}
"""


def write_result(name: str, text: str) -> Path:
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")
    log(f"wrote {path}")
    return path


# --------------------------------------------------------------------------- trained runs

def training_facts(run: Path, preset: str, overrides: list, times: dict) -> dict:
    """Steps, batch, wall seconds, images/s, FLOPs per step and MFU of one benchmark run."""
    from speed import count_flops  # the speed benchmark's counting and peak

    import torch

    cfg = yaml_config(run)
    steps, batch, amp = cfg["train"]["steps"], cfg["train"]["batch_size"], cfg["train"].get("amp") or "off"
    if (run / "checkpoints" / "latest").is_file():  # the step reached (train.max_minutes may stop a run early)
        from gankit.checkpoint import load_checkpoint  # and what autocast ran as (train.amp=auto: per machine)

        meta = load_checkpoint(run, trainer_state=False).meta
        steps, amp = meta["step"], meta.get("amp", amp)
    seconds = times.get(run.name)
    data = [f"data.{k}={cfg['data'][k]}" for k in ("dir", "test_dir") if cfg["data"].get(k)]
    flops = count_flops(preset, overrides + data, torch.device("cpu"))
    facts = {"steps": steps, "batch": batch, "seconds": seconds, "flops_per_step": flops, "amp": amp}
    if seconds:
        facts["images_per_s"] = steps * batch / seconds
        facts["gflops"] = flops * steps / seconds / 1e9
    return facts


def peaks(args, measure=None) -> dict:
    """{"fp32": GFLOP/s, "bf16": GFLOP/s} from --peak-gflops / --peak-bf16-gflops; without --peak-gflops the fp32
    peak is measured now with `measure` (speed.matmul_peak)."""
    import torch

    out = {"bf16": args.peak_bf16_gflops} if getattr(args, "peak_bf16_gflops", None) else {}
    if args.peak_gflops or measure is None:
        out["fp32"] = args.peak_gflops
    else:
        out["fp32"] = measure(torch.device("cpu"), torch.float32, 2048, 3, 1.0)["median"]
    return out


def speed_cells(f: dict) -> str:
    """'wall | images/s | MFU' table cells of one run's training facts ('—' where unknown)."""
    wall = f"{f['seconds'] / 60:.1f} min" if f.get("seconds") else "—"
    ips = f"{f['images_per_s']:.1f}" if f.get("images_per_s") else "—"
    mfu = f"{100 * f['mfu']:.1f} %" if f.get("mfu") else "—"
    return f"{wall} | {ips} | {mfu}"


def add_mfu(facts: dict, peaks: dict) -> None:
    """MFU of every run in `facts` against the matmul peak of the dtype it trained in (`peaks`: {"fp32": GFLOP/s,
    "bf16": GFLOP/s}); a run's MFU is left out when the peak of its dtype is unknown."""
    for f in facts.values():
        peak = peaks.get("bf16" if f.get("amp") == "bf16" else "fp32") if isinstance(f, dict) else None
        if peak and f.get("gflops"):
            f["mfu"], f["peak"] = f["gflops"] / peak, peak


def yaml_config(run: Path) -> dict:
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())


def read_times(path: Path) -> dict:
    """name -> seconds from the training script's times.txt (`name rc=CODE seconds=S` lines): a finished run's
    (rc=0) seconds plus those of its stopped parts just before it (rc != 0: interrupted, then resumed); of
    several finished lines of one name the last wins."""
    out, parts_before = {}, {}
    if path.is_file():
        for line in path.read_text().splitlines():
            name, parts = line.split()[0], dict(p.split("=") for p in line.split()[1:])
            if parts.get("rc") == "0":
                out[name] = float(parts["seconds"]) + parts_before.pop(name, 0.0)
            else:
                parts_before[name] = parts_before.get(name, 0.0) + float(parts["seconds"])
    return out
