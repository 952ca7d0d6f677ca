"""Loss-curve and D-output plots from metrics.jsonl."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Dict, List

from ..checkpoint import atomic_write_bytes, atomic_write_text

PANELS = (("losses", ("loss_d", "loss_g")), ("discriminator outputs", ("d_real", "d_fake")),
          ("gradient norms", ("grad_norm_d", "grad_norm_g")))


def roll_back_log(path, step: int) -> None:
    """Drop the records of a JSON-lines log after `step` (and a torn last line), atomically."""
    path = Path(path)
    if not path.is_file():
        return
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path) -> List[dict]:
    """All records of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    records = []
    path = Path(path)
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_curves(metrics_path, out_path) -> Path:
    """Three panels: D and G losses, D(x) and D(G(z)), gradient norms (log scale), against step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), dpi=100)
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            series: Dict[int, float] = {r["step"]: r[key] for r in records if key in r}
            if series:
                ax.plot(list(series), list(series.values()), label=key, lw=1)
        if title == "gradient norms" and ax.lines:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(Path(out_path), buf.getvalue())
    return Path(out_path)
