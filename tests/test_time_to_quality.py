"""The time-to-quality benchmark's goal verdicts (benchmarks/time_to_quality.py), on hand-made curves."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_quality.py"


@pytest.fixture(scope="module")
def ttq():
    spec = importlib.util.spec_from_file_location("time_to_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def run(final_minutes: float, value: float, points=(), modes: float = 0.0) -> dict:
    return {"points": [list(p) for p in points],
            "final": {"minutes": final_minutes, "step": 10, "total_steps": 10, "value": value, "subset": value + 1,
                      "modes": modes}}


def test_a_run_that_ended_within_the_budget_is_judged_on_its_final_protocol_score(ttq):
    t = ttq.TARGETS["mnist"]
    results = {"fast": [run(13.0, 9.0, [(5, 5.1, 30.0)])], "slow": [run(14.0, 11.0)]}
    v = {(x.recipe, x.minutes): x for x in ttq.verdicts(t, results)}
    assert v["fast", 15].value == 9.0 and v["fast", 15].ok
    assert v["slow", 15].value == 11.0 and not v["slow", 15].ok
    assert v["fast", 60].value == 9.0 and not v["fast", 60].ok  # against <= 5


def test_a_snapshot_counts_only_where_it_was_scored_on_the_final_sample_count(ttq):
    mnist = ttq.TARGETS["mnist"]  # snapshots on 2,000 samples, the final on 10,000
    (v15, v60) = ttq.verdicts(mnist, {"long": [run(40.0, 4.0, [(15, 15.2, 8.0)])]})
    assert v15.value is None and not v15.ok and v60.value == 4.0 and v60.ok
    stacked = ttq.TARGETS["stacked"]  # every score on 26,000 samples
    (v60,) = ttq.verdicts(stacked, {"long": [run(90.0, 0.2, [(60, 60.1, 0.04)], modes=1000.0)]})
    assert v60.value == 0.04 and v60.ok


def test_modes_goal_needs_every_mode_in_every_seed(ttq):
    t = ttq.TARGETS["grid"]
    full = {"r": [run(1.5, 0.96, modes=25.0), run(1.6, 0.97, modes=25.0)]}
    short = {"r": [run(1.5, 0.99, modes=25.0), run(1.6, 0.99, modes=24.0)]}
    assert ttq.verdicts(t, full)[0].ok and ttq.verdicts(t, full)[0].value == pytest.approx(0.965)
    assert not ttq.verdicts(t, short)[0].ok


def test_summary_judges_only_the_goal_protocol(ttq, tmp_path, monkeypatch):
    monkeypatch.setattr(ttq, "RESULTS", tmp_path)
    t = ttq.TARGETS["mnist"]
    for name, final_n in (("mnist", 2000), ("grid", 2500)):
        data = {"command": "cmd", "marks": [5, 15], "n": 2000, "final_n": final_n,
                "results": {"best": [run(14.0, 9.0, modes=25.0) if name == "mnist" else run(1.5, 0.96, modes=25.0)]}}
        (tmp_path / f"time_to_quality_{name}.json").write_text(json.dumps(data))
    text = ttq.summary()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "not judged: 2000 samples, the goal's protocol has 10000" in rows["mnist"]
    assert "**met**" in rows["grid"] and "not run" in rows["stacked"]
    assert t.final_n == 10000


def test_a_goal_without_a_protocol_score_in_its_budget_is_not_judged(ttq):
    t = ttq.TARGETS["mnist"]  # a 60-minute run: at 15 minutes only its 2,000-sample snapshot exists
    v15, v60 = ttq.verdicts(t, {"long": [run(55.0, 4.5, [(15, 15.1, 12.0)])]})
    assert ttq.judged(t, v15, t.final_n).startswith("not judged: no checkpoint within the budget")
    assert ttq.judged(t, v60, t.final_n) == "**met**"
