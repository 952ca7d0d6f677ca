"""The report of an augmentation protocol: report.md, report.json, accuracy.png (accuracy vs labelled set size,
95 % bands) and confusion.png (the synthetic arm that adds most vs the same arm without synthetic images, per
level, summed over seeds).

Intervals are Student-t 95 % intervals over the seeds: of each arm's test accuracy, and of its gain over
real only paired by seed (the same subset). A gain whose interval lies above 0 is reported as a gain, one
below 0 as a loss, else as no clear difference.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Optional

T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
SYNTHETIC = ("real+synth0.5x", "real+synth1x", "real+synth4x", "real+classic+synth1x")
BASELINE = {"real+synth0.5x": "real", "real+synth1x": "real", "real+synth4x": "real",
            "real+classic+synth1x": "real+classic"}  # each synthetic arm without its synthetic images


def interval(values: List[float]) -> Dict[str, Optional[float]]:
    """{"mean", "low", "high", "n"}: the mean and its Student-t 95 % interval (no interval from one value)."""
    n = len(values)
    if not n:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = (T975[n - 2] if n - 2 < len(T975) else 1.96) * sd / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def summarise(rows: List[dict]) -> Dict[int, Dict[str, dict]]:
    """Per level and arm: accuracy and gain-over-real intervals, for synthetic arms the gain over the same arm
    without synthetic images ("synth_gain", see BASELINE), seeds scored and skipped, mean seconds."""
    levels: Dict[int, Dict[str, dict]] = {}
    acc = {(r["labels"], r["seed"], r["arm"]): r["accuracy"] for r in rows if "accuracy" in r}

    def paired(done: List[dict], base: str) -> Dict[str, Optional[float]]:
        return interval([r["accuracy"] - acc[(r["labels"], r["seed"], base)] for r in done
                         if (r["labels"], r["seed"], base) in acc])

    for labels in sorted({r["labels"] for r in rows}):
        arms: Dict[str, dict] = {}
        for arm in dict.fromkeys(r["arm"] for r in rows if r["labels"] == labels):
            mine = [r for r in rows if r["labels"] == labels and r["arm"] == arm]
            done = [r for r in mine if "accuracy" in r]
            arms[arm] = {"accuracy": interval([r["accuracy"] for r in done]),
                         "gain": paired(done, "real") if arm not in ("real", "gan-test") else None,
                         "synth_gain": paired(done, BASELINE[arm]) if arm in BASELINE else None,
                         "skipped": [r["skipped"] for r in mine if "skipped" in r],
                         "seconds": sum(r.get("seconds", 0) for r in mine) / max(1, len(mine)),
                         "n_train": mine[0].get("n_train")}
        levels[labels] = arms
    return levels


def verdict(gain: Optional[dict]) -> str:
    if not gain or gain["low"] is None:
        return "—"
    if gain["low"] > 0:
        return "gain"
    if gain["high"] < 0:
        return "loss"
    return "no clear difference"


def _pct(iv: Optional[dict], signed: bool = False) -> str:
    if not iv or iv["mean"] is None:
        return "—"
    sign = "+" if signed else ""
    if iv["low"] is None:
        return f"{100 * iv['mean']:{sign}.2f}"
    return f"{100 * iv['mean']:{sign}.2f} [{100 * iv['low']:{sign}.2f}, {100 * iv['high']:{sign}.2f}]"


def best_synthetic(arms: Dict[str, dict]) -> Optional[str]:
    """The synthetic arm whose synthetic images add the most: the highest mean gain over its BASELINE arm."""
    scored = [(a["synth_gain"]["mean"], name) for name, a in arms.items() if name in SYNTHETIC and a.get("synth_gain")
              and a["synth_gain"]["mean"] is not None]
    return max(scored)[1] if scored else None


def write_report(protocol, rows: List[dict]) -> Path:
    """report.md, report.json, accuracy.png and confusion.png in the protocol folder; returns report.md."""
    from ..checkpoint import atomic_write_text
    from .arms import describe

    out, s, data = protocol.out, protocol.s, protocol.data
    levels = summarise(rows)
    _accuracy_plot(levels, out / "accuracy.png")
    best = {labels: best_synthetic(arms) for labels, arms in levels.items()}
    _confusions(rows, best, data.classes, out / "confusion.png")
    reference = json.loads((out / "reference.json").read_text()) if (out / "reference.json").is_file() else {}
    tables = ""
    for labels, arms in levels.items():
        tables += (f"\n### {labels} labelled images per class ({labels * len(data.classes)} in all)\n\n"
                   "| arm | training images | test accuracy % [95 % CI] | gain over real only, points [95 % CI] | "
                   "verdict | what the synthetic images add, points [95 % CI] | verdict | seeds | s per seed |\n"
                   "|---|---|---|---|---|---|---|---|---|\n")
        for name, a in arms.items():
            skipped = f" ({len(a['skipped'])} skipped)" if a["skipped"] else ""
            n_train = "— (scores the synthetic set)" if name == "gan-test" else a["n_train"]
            own = (f"{_pct(a['synth_gain'], True)} (vs {BASELINE[name]}) | {verdict(a['synth_gain'])}"
                   if a.get("synth_gain") else "— | —")
            tables += (f"| {name} | {n_train} | {_pct(a['accuracy'])} | {_pct(a['gain'], True)} | "
                       f"{verdict(a['gain'])} | {own} | {a['accuracy']['n']}{skipped} | {a['seconds']:.0f} |\n")
        if best[labels]:
            tables += _recall_table(rows, labels, best[labels], data.classes)
    text = f"""# Does synthetic data help? {s.data} with {', '.join(map(str, s.labels))} labelled images per class

Each level and seed draws its own labelled subset (stratified, seeded). A conditional GAN (`{s.gan_preset}`,
{s.gan_steps} steps, DiffAugment `{s.gan_augment or 'off'}`) trains on that subset only, and {describe(data.shape)} trains in every arm with the same
budget; all arms are scored on the untouched test split ({len(data.test_x)} images: {data.info.get('test')}).
Numbers are the mean over {s.seeds} seeds with a Student-t 95 % interval; "gain" is the arm's accuracy minus
real only's on the same subset (paired), and its verdict says whether that interval excludes 0; "what the
synthetic images add" compares a synthetic arm with the same arm without them (real+classic+synth1x with
real+classic), paired the same way.

How to read it: **real** is the baseline. **real+classic** adds classic augmentation (shifts and rotations,
or crops and flips). **real+synthNx** adds N times as many GAN images as there are real ones (class-balanced).
**synth-only** trains on GAN images alone and scores on real ones (the Classification Accuracy Score, Ravuri &
Vinyals 2019): close to real only means the GAN captured what the classifier needs. **gan-test** is the
accuracy of a classifier trained on all {len(data.train_x)} real training images (its own test accuracy
{_pct({'mean': reference.get('test_accuracy'), 'low': None})} %) on the GAN's images (Shmelkov et al. 2018):
how recognisable the samples are. Where synthetic data does not help, the verdict says so.
{tables}
![accuracy vs labelled images per class](accuracy.png)

![confusion matrices, the synthetic arm that adds most vs the same arm without synthetic images](confusion.png)

Files: `results/<level>-<seed>/<arm>.json` (per arm: accuracy, per-class recall, confusion matrix),
`subsets/`, `gans/`, `synth/` (each subset, its GAN run and its samples), `report.json`.
"""
    atomic_write_text(out / "report.json", json.dumps({"settings": vars(s), "levels": levels, "best": best,
                                                       "reference": reference}, indent=1, default=str) + "\n")
    atomic_write_text(out / "report.md", text)
    return out / "report.md"


def _recall_table(rows: List[dict], labels: int, best: str, classes: List[str]) -> str:
    def recall(arm: str) -> List[float]:
        mine = [r["recall"] for r in rows if r["labels"] == labels and r["arm"] == arm and "recall" in r]
        return [sum(col) / len(mine) for col in zip(*mine)] if mine else []
    base = BASELINE[best]
    a, b = recall(base), recall(best)
    if not a or not b:
        return ""
    head = (f"\nPer-class recall %, {base} vs {best}, the synthetic arm that adds most (mean over seeds):\n\n"
            "| class | " + " | ".join(classes) + " |\n")
    head += "|---|" + "---|" * len(classes) + "\n"
    return (head + f"| {base} | " + " | ".join(f"{100 * v:.1f}" for v in a) + " |\n"
            + f"| {best} | " + " | ".join(f"{100 * v:.1f}" for v in b) + " |\n")


def _accuracy_plot(levels: Dict[int, Dict[str, dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    xs = list(levels)
    for arm in dict.fromkeys(a for arms in levels.values() for a in arms if a != "gan-test"):
        pts = [(x, levels[x][arm]["accuracy"]) for x in xs if arm in levels[x] and levels[x][arm]["accuracy"]["mean"]
               is not None]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [100 * p[1]["mean"] for p in pts], marker="o", ms=3, label=arm)
        band = [(x, iv) for x, iv in pts if iv["low"] is not None]
        if band:
            ax.fill_between([b[0] for b in band], [100 * b[1]["low"] for b in band], [100 * b[1]["high"] for b in band],
                            alpha=0.15)
    if len(xs) > 1:
        ax.set_xscale("log")
    ax.set_xlabel("labelled images per class"), ax.set_ylabel("test accuracy %"), ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _confusions(rows: List[dict], best: Dict[int, Optional[str]], classes: List[str], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    levels = [lv for lv, arm in best.items() if arm]
    if not levels:
        return
    fig, axes = plt.subplots(len(levels), 2, figsize=(7, 3.3 * len(levels)), squeeze=False)
    for i, labels in enumerate(levels):
        for j, arm in enumerate((BASELINE[best[labels]], best[labels])):
            mats = [np.array(r["confusion"]) for r in rows if r["labels"] == labels and r["arm"] == arm
                    and "confusion" in r]
            ax = axes[i][j]
            if mats:
                m = sum(mats)
                ax.imshow(m / m.sum(1, keepdims=True).clip(min=1), cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"{arm}, {labels}/class", fontsize=8)
            ax.set_xticks(range(len(classes)), classes, fontsize=6, rotation=90)
            ax.set_yticks(range(len(classes)), classes, fontsize=6)
            ax.set_xlabel("predicted", fontsize=7), ax.set_ylabel("true", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["BASELINE", "SYNTHETIC", "best_synthetic", "interval", "summarise", "verdict", "write_report"]
