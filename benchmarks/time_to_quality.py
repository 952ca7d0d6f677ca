#!/usr/bin/env python
"""Time-to-quality: each recipe's tracked metric against its minutes of training on this machine.

Every recipe trains (or resumes) into RUNS/<target>/<recipe>-s<seed> with `train.snapshot_minutes` at the
marks, so `checkpoints/minute-M` holds the run as it was after M minutes of training (evaluation is off the
clock: nothing is scored while it trains). Then each snapshot is scored on a subset (`--n`) and the last
checkpoint with the full protocol (`--final-n`); the subset's bias is the difference of the two on that
checkpoint. Scores are kept in each run's `time_to_quality.json`, so a re-run only scores what is new.

    .venv/bin/python benchmarks/time_to_quality.py --target grid --recipe baseline=grid-pacgan \\
        --recipe best=grid-best --seeds 10 --set train.threads=1
    .venv/bin/python benchmarks/time_to_quality.py --target mnist --recipe baseline=mnist-dcgan@gan.ema=0.999 \\
        --recipe best=mnist-best --set data.dir=data/mnist

Targets (issue 16): grid = PacGAN grid HQ % (2,500 samples, mean over seeds; goal 25 modes and >= 95 %
within 2 minutes), stacked = Stacked-MNIST KL over 26,000 samples (goal 1000 modes and <= 0.05 within 60
minutes), mnist = FID, Lucic et al. protocol at the end (10k test vs 10k generated, Inception 2015-12-05, TF
resize; goal <= 10 within 15 minutes and <= 5 within 60).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import INCEPTION, RESULTS, Timer, command, log, machine, today, write_result  # noqa: E402

from gankit import api  # noqa: E402
from gankit.checkpoint import load_checkpoint  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.metrics.evaluate import evaluate, flat_values  # noqa: E402


@dataclass(frozen=True)
class Target:
    metric: str  # the gankit eval metric
    key: str  # the value of it that is tracked
    label: str
    lower_is_better: bool
    marks: tuple  # minutes
    n: int  # samples per snapshot
    final_n: int  # samples of the final score
    goals: tuple  # (minutes, value) pairs: reach value within minutes
    scale: float = 1.0  # shown as value * scale
    modes: int = 0  # the modes every run must cover (its "modes" value at the end), 0: not tracked
    anchors: str = ""  # published figures to stand beside ours (../shared/REFERENCES.md)


TARGETS = {
    "grid": Target("modes", "hq_fraction", "HQ %", False, (0.25, 0.5, 0.75, 1.0, 1.5, 2.0), 2500, 2500,
                   ((2.0, 95.0),), scale=100.0, modes=25,
                   anchors="PacGAN (Lin et al. 2018) Table 1, grid, 2,500 samples: GAN 17.3 modes / 94.8 % HQ, ALI "
                           "24.1 / 95.7 %, PacGAN2 23.8 / 91.3 %, PacGAN4 24.8 / 93.6 % (their training: 400k "
                           "steps on a GPU)"),
    "stacked": Target("modes", "kl", "KL", True, (2, 5, 10, 15, 20, 30, 45, 60), 26000, 26000, ((60, 0.05),),
                       modes=1000, anchors="PacGAN Table 3 (VEEGAN protocol, 26,000 samples): DCGAN 78.9 modes / KL "
                                           "4.50 (their DCGAN), PacDCGAN2 1000 / 0.06, PacDCGAN4 1000 / 0.07"),
    "mnist": Target("fid", "fid", "FID", True, (1, 2, 5, 10, 15, 20, 30, 45, 60), 2000, 10000,
                    ((15, 10.0), (60, 5.0)),
                    anchors="Lucic et al. 2018, MNIST FID (10k test vs 10k generated, Inception 2015-12-05), the "
                            "best hyperparameters of a large search, mean over seeds: NS GAN 6.8, WGAN 6.7, LSGAN "
                            "7.8, WGAN-GP 20.3"),
}


def parse_recipe(text: str) -> tuple:
    """NAME=PRESET[@key=value@...] -> (name, preset, overrides)."""
    if "=" not in text.split("@")[0]:
        raise SystemExit(f"--recipe {text!r}: write NAME=PRESET[@key=value@...]")
    name, rest = text.split("=", 1)
    preset, *overrides = rest.split("@")
    return name, preset, overrides


def train_run(run: Path, preset: str, overrides: List[str], seed: int, marks) -> None:
    """Train (or finish) one run with snapshots at `marks` minutes and a budget of the last mark."""
    budget = [f"train.snapshot_minutes=[{', '.join(f'{m:g}' for m in marks)}]", f"train.max_minutes={max(marks):g}"]
    if (run / "checkpoints" / "latest").is_file():
        ck = load_checkpoint(run, trainer_state=False)
        left = max(marks) - ck.meta.get("train_seconds", 0.0) / 60
        if ck.step >= ck.meta["total_steps"] or left <= 0.01:
            return
        log(f"{run.name}: resuming at step {ck.step} with {left:.1f} min left")
        api.train(resume=run, overrides=[budget[0], f"train.max_minutes={left:g}"])
        return
    cfg = load_config(preset=preset, overrides=[f"seed={seed}", f"run.dir={run}", "train.progress=none",
                                                 "train.tensorboard=false", *overrides, *budget])
    log(f"{run.name}: training {preset} {' '.join(overrides)} for up to {max(marks):g} min")
    api.train(cfg)


def score(checkpoint: Path, t: Target, n: int, args, cache: dict, key: str = "") -> float:
    """The tracked value (or the value `key`) of one checkpoint on n samples (cached in the run's json)."""
    entry = f"{checkpoint.name}:{t.metric}:{n}"
    if entry not in cache:
        result = evaluate(checkpoint, t.metric, n, inception_weights=args.inception_weights, seed=0)[0]
        if result.unavailable:
            raise SystemExit(f"{checkpoint}: {result.unavailable}")
        cache[entry] = flat_values(result)
    return cache[entry][key or t.key]


def curve(run: Path, t: Target, args) -> dict:
    """(mark, minutes, value) of every snapshot on --n samples, and the final checkpoint on --final-n (and on
    --n, for the subset's bias)."""
    cache_file = run / "time_to_quality.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    points = []
    for snap in sorted((run / "checkpoints").glob("minute-*"), key=lambda p: float(p.name.split("-", 1)[1])):
        minutes = load_checkpoint(snap, trainer_state=False).meta["train_seconds"] / 60
        points.append((float(snap.name.split("-", 1)[1]), minutes, score(snap, t, args.n, args, cache)))
        cache_file.write_text(json.dumps(cache, indent=1))
    last = load_checkpoint(run, trainer_state=False)
    final = {"minutes": last.meta["train_seconds"] / 60, "step": last.step, "total_steps": last.meta["total_steps"],
             "value": score(last.path, t, args.final_n, args, cache),
             "subset": score(last.path, t, args.n, args, cache)}
    if t.modes:
        final["modes"] = score(last.path, t, args.final_n, args, cache, "modes")
    cache_file.write_text(json.dumps(cache, indent=1))
    return {"points": points, "final": final}


def at(c: dict, mark: float, final_key: str = "subset", snapshots: bool = True) -> Optional[float]:
    """A run's value at `mark` minutes: its snapshot for that mark (unless `snapshots` is false), or its final
    checkpoint where the run ended before the mark (None where it has neither)."""
    for m, _, value in c["points"] if snapshots else ():
        if abs(m - mark) < 1e-9:
            return value
    return c["final"][final_key] if c["final"]["minutes"] <= mark + 1e-9 else None


def fmt(value: Optional[float], t: Target) -> str:
    if value is None:
        return "—"
    v = value * t.scale
    return f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}"


def mean_or_none(values: list) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


@dataclass(frozen=True)
class Verdict:
    recipe: str
    minutes: float  # the budget
    goal: float
    value: Optional[float]  # the recipe's mean within the budget (None: some run had not ended by then)
    ok: bool


def protocol_at(c: dict, minutes: float, t: Target) -> Optional[float]:
    """A run's value within `minutes` on the final sample count: its snapshot where snapshots were scored on
    that count too, else its final checkpoint where the run had ended by then (None otherwise)."""
    return at(c, minutes, "value", snapshots=t.n == t.final_n)


def verdicts(t: Target, results: Dict[str, list]) -> List[Verdict]:
    """Each recipe against each goal of `t`, from its runs' scores on the final sample count within the budget."""
    out = []
    for name, curves in results.items():
        for minutes, goal in t.goals:
            values = [protocol_at(c, minutes, t) for c in curves]
            within = mean_or_none(values) if None not in values else None
            ok = within is not None and (within <= goal if t.lower_is_better else within * t.scale >= goal)
            if t.modes and minutes >= max(c["final"]["minutes"] for c in curves):
                ok = ok and all(c["final"]["modes"] == t.modes for c in curves)
            out.append(Verdict(name, minutes, goal, within, ok))
    return out


def goal_text(t: Target, v: Verdict) -> str:
    return (f"{'<=' if t.lower_is_better else '>='} {v.goal:g}"
            f"{f', and all {t.modes} modes in every run' if t.modes else ''}")


def judged(t: Target, v: Verdict, protocol_n: int) -> str:
    if t.final_n != protocol_n:
        return f"not judged: {t.final_n} samples, the goal's protocol has {protocol_n}"
    if v.value is None:
        return "not judged: no checkpoint within the budget was scored on the protocol's count"
    return f"**{'met' if v.ok else 'not met'}**"


def verdict_line(t: Target, v: Verdict, protocol_n: int) -> str:
    return (f"- {v.recipe}: {t.label} {fmt(v.value, t)} within {v.minutes:g} min (goal {goal_text(t, v)}) -> "
            + judged(t, v, protocol_n))


def report(t: Target, target: str, results: Dict[str, list], recipes: dict, args, timer: Timer) -> str:
    marks = t.marks
    head = "| recipe | seeds | " + " | ".join(f"{m:g} min" for m in marks) + f" | final ({t.final_n} samples) | " \
        "minutes (max) | steps |\n|---|---|" + "---|" * (len(marks) + 3) + "\n"
    rows = ""
    for name, curves in results.items():
        cells = [fmt(mean_or_none([at(c, m) for c in curves]), t) for m in marks]
        finals = [c["final"] for c in curves]
        final = mean_or_none([f["value"] for f in finals])
        modes = f" ({statistics.mean(f['modes'] for f in finals):g} / {t.modes} modes)" if t.modes else ""
        rows += (f"| {name} | {len(curves)} | " + " | ".join(cells) + f" | **{fmt(final, t)}**{modes} | "
                 f"{max(f['minutes'] for f in finals):.2f} | {finals[0]['step']} of {finals[0]['total_steps']} |\n")
    goals = [verdict_line(t, v, args.protocol_n) for v in verdicts(t, results)]
    bias = [f"  - {name}: {t.label} on {args.n} samples {fmt(mean_or_none([c['final']['subset'] for c in cs]), t)} "
            f"vs {fmt(mean_or_none([c['final']['value'] for c in cs]), t)} on {t.final_n}"
            for name, cs in results.items()] if args.n != args.final_n else []
    seed_lines = "\n".join(f"- {name}: " + ", ".join(fmt(c["final"]["value"], t) for c in curves)
                           for name, curves in results.items())
    recipe_lines = "\n".join(f"  - {name}: preset `{p}` {' '.join(f'`{o}`' for o in o_)}" for name, (p, o_) in
                             recipes.items())
    return f"""# Time to quality: {target} ({t.label} against minutes of training)

{head}{rows}
{chr(10).join(goals)}

Published, for scale: {t.anchors}.

Per seed (final checkpoint, {t.final_n} samples):

{seed_lines}

![{t.label} against minutes]({args.name}.png)

- Each cell: the snapshot `checkpoints/minute-M` taken at the first log point past M minutes of training
  (`train.snapshot_minutes`; writing snapshots is off the clock, nothing is evaluated during training),
  scored on {args.n} samples, mean over seeds; for a run that ended before M, its last checkpoint. "final": the
  run's last checkpoint on {t.final_n} samples; the goals use it where every run had ended by then.
- Recipes:
{recipe_lines}
{('- Subset bias (the final checkpoint scored both ways):' + chr(10) + chr(10).join(bias)) if bias else ''}

## Commands, machine, time

- benchmark: `{command()}`
- date: {today()}
- machine: {machine()}
- runs trained at once: {args.jobs} (each run's minutes are its own wall clock while it shared the machine)
- wall time of this command (training not already done, and scoring): {timer}
"""


def plot(t: Target, results: Dict[str, list], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, curves in results.items():
        pairs = []
        for m in t.marks:  # x: the mean actual minutes of the snapshots (or final checkpoints) averaged
            got = [(at(c, m), next((x for k, x, _ in c["points"] if abs(k - m) < 1e-9), c["final"]["minutes"]))
                   for c in curves]
            if all(v is not None for v, _ in got):
                pairs.append((statistics.mean(x for _, x in got), statistics.mean(v for v, _ in got) * t.scale))
        line, = ax.plot(*zip(*pairs), marker="o", label=name) if pairs else (None,)
        if line is not None:
            finals = [c["final"] for c in curves]
            ax.scatter([max(f["minutes"] for f in finals)], [mean_or_none([f["value"] for f in finals]) * t.scale],
                       marker="*", s=120, color=line.get_color(), zorder=3)
    for minutes, goal in t.goals:
        ax.axhline(goal, color="grey", ls=":", lw=1)
        ax.axvline(minutes, color="grey", ls=":", lw=1)
    ax.set_xlabel("minutes of training (wall clock, this machine)")
    ax.set_ylabel(t.label + (" (log)" if t.lower_is_better else ""))
    if t.lower_is_better:
        ax.set_yscale("log")
    ax.set_title(f"time to quality; star = final checkpoint, {t.final_n} samples")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary() -> str:
    """time_to_quality.md: every target's goals against its recipes, from the targets' result files."""
    rows, sections = [], []
    for target, t in TARGETS.items():
        path = RESULTS / f"time_to_quality_{target}.json"
        if not path.is_file():
            rows.append(f"| {target} | — | {t.label} | — | — | not run |")
            continue
        data = json.loads(path.read_text())
        scored = Target(**{**t.__dict__, "marks": tuple(data["marks"]), "n": data["n"], "final_n": data["final_n"]})
        for v in verdicts(scored, data["results"]):
            rows.append(f"| {target} | {v.recipe} | {t.label} | within {v.minutes:g} min: {goal_text(t, v)} | "
                        f"{fmt(v.value, scored)} | {judged(scored, v, t.final_n)} |")
        sections.append(f"## {target}\n\n![{t.label} against minutes](time_to_quality_{target}.png)\n\n"
                        f"- table, per-seed figures and the recipes: [time_to_quality_{target}.md]"
                        f"(time_to_quality_{target}.md)\n- command: `{data['command']}`\n"
                        f"- date: {data.get('date', 'see the target file')}; machine: "
                        f"{data.get('machine', 'see the target file')}\n\nPublished, for scale: {t.anchors}.\n")
    return ("# Time to quality on 2 CPU cores (issue 16): the goals\n\n"
            "| target | recipe | metric | goal | ours | verdict |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
            + "\n\n\"ours\": the mean over seeds of each run's score within the budget on its target's final sample "
              "count (its snapshot at that minute where snapshots were scored on that count too, else its final "
              "checkpoint where every run had ended by then); a verdict only where that count is the goal's "
              "protocol.\n\n" + "\n".join(sections)
            + f"\n## This file\n\n- made by: `{command()}` (from the targets' json files)\n- date: {today()}\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=sorted(TARGETS))
    p.add_argument("--recipe", action="append", help="NAME=PRESET[@key=value@...], repeatable")
    p.add_argument("--summary", action="store_true",
                   help="write time_to_quality.md (every target's goals) from the targets' result files, and stop")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per recipe")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once (each with its own train.threads); scoring follows, one at a time")
    p.add_argument("--set", action="append", default=[], help="key=value for every recipe (e.g. data.dir=...)")
    p.add_argument("--marks", default=None, help="comma-separated minutes (default: the target's)")
    p.add_argument("--n", type=int, default=None, help="samples per snapshot (default: the target's)")
    p.add_argument("--final-n", type=int, default=None, help="samples of the final score (default: the protocol's)")
    p.add_argument("--runs", type=Path, default=Path("runs/time_to_quality"))
    p.add_argument("--inception-weights", default=str(INCEPTION) if INCEPTION.is_file() else None)
    p.add_argument("--name", default=None, help="result file name (default: time_to_quality_<target>)")
    args = p.parse_args(argv)
    if args.summary:
        write_result("time_to_quality.md", summary())
        return 0
    if not args.target or not args.recipe:
        p.error("--target and at least one --recipe are needed (or --summary)")
    t = TARGETS[args.target]
    if args.marks:
        t = Target(**{**t.__dict__, "marks": tuple(float(m) for m in args.marks.split(","))})
    args.n, args.final_n = args.n or t.n, args.final_n or t.final_n
    args.protocol_n = t.final_n
    t = Target(**{**t.__dict__, "n": args.n, "final_n": args.final_n})  # the tables and plot say what was scored
    args.name = args.name or f"time_to_quality_{args.target}"
    timer, recipes, results = Timer(), {}, {}
    for text in args.recipe:
        name, preset, overrides = parse_recipe(text)
        recipes[name] = (preset, overrides + args.set)
    jobs = [(args.runs / args.target / f"{name}-s{seed}", preset, overrides, seed, t.marks)
            for name, (preset, overrides) in recipes.items() for seed in range(args.seeds)]
    if args.jobs > 1:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            pool.starmap(train_run, jobs, chunksize=1)
    else:
        for job in jobs:
            train_run(*job)
    for run, *_ in jobs:
        name = run.name.rsplit("-s", 1)[0]
        results.setdefault(name, []).append(curve(run, t, args))
        log(f"{run.name}: {results[name][-1]}")
    plot(t, results, RESULTS / f"{args.name}.png")
    (RESULTS / f"{args.name}.json").write_text(json.dumps({
        "command": command(), "date": today(), "machine": machine(), "marks": list(t.marks), "n": t.n,
        "final_n": t.final_n, "results": results}, indent=1))
    write_result(f"{args.name}.md", report(t, args.target, results, recipes, args, timer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
