"""The runs a server serves: found once at start-up, named by id, described from their state.json alone, and
loaded lazily through `gankit.load` into a bounded least-recently-used cache.

Only these runs are reachable: a request names a run by its id, never by a path, so `../` cannot escape.
"""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..checkpoint import STATE_JSON, resolve_checkpoint
from ..data.toy import MIXTURES, mixture_means
from ..errors import CheckpointError, ConfigError, GankitError

# views per family, in the order the page shows them; "training" belongs to every run
VIEWS = {
    "gan": ["generate", "explore", "interpolate", "sketch", "training"],
    "conditional": ["generate", "explore", "interpolate", "sketch", "training"],
    "points": ["generate", "training"],
    "translation": ["translate", "training"],
    "sr": ["upscale", "training"],
    "video": ["predict", "training"],
    "text": ["text", "interpolate", "training"],
}


@dataclass
class RunInfo:
    """What the page needs to know of a run before loading it."""

    id: str
    path: Path
    family: str
    method: str
    data: str
    shape: List[int]
    step: int
    classes: List[str] = field(default_factory=list)
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def views(self) -> List[str]:
        return VIEWS[self.family]

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.path.name, "family": self.family, "method": self.method,
                "data": self.data, "shape": self.shape, "step": self.step, "classes": self.classes,
                "views": self.views, **self.extra}


def family_of(meta: dict) -> str:
    """gan, conditional, points, translation, sr, video or text, from a checkpoint's state.json meta."""
    tasks = meta.get("tasks") or {}
    for task, family in (("sample_text", "text"), ("predict", "video"), ("upscale", "sr"),
                         ("translate", "translation")):
        if task in tasks:
            return family
    data = meta.get("data") or {}
    if data.get("kind") == "points":
        return "points"
    conditional = bool(((meta.get("config") or {}).get("model") or {}).get("conditional"))
    return "conditional" if conditional and data.get("num_classes") else "gan"


def describe(run_id: str, path: Path) -> RunInfo:
    """A RunInfo from the run's newest checkpoint's state.json (no weights read)."""
    where = resolve_checkpoint(path)
    try:
        meta = json.loads((where / STATE_JSON).read_text())["meta"]
        data, config = meta["data"], meta["config"]
        family = family_of(meta)
        extra: Dict[str, object] = {}
        if family == "translation":
            extra["directions"] = list(meta["tasks"]["translate"])
        if family == "video":
            extra["frames_in"], extra["frames_out"] = data["info"]["frames_in"], data["info"]["frames_out"]
        if family == "sr":
            extra["scale"] = (config.get("sr") or {}).get("scale") or data.get("info", {}).get("scale")
        if family in ("gan", "conditional", "points"):
            extra["z_dim"] = config["model"]["z_dim"]
        if family == "points" and data.get("name") in MIXTURES:
            extra["modes"] = mixture_means(data["name"]).tolist()
        classes = list(data.get("class_names") or []) or [str(i) for i in range(int(data.get("num_classes") or 0))]
        return RunInfo(run_id, path, family, str(config.get("method", "gan")), str(data.get("name")),
                       list(data["shape"]), int(meta.get("step", 0)),
                       classes if family == "conditional" else [], extra)
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"run '{path}': its {STATE_JSON} cannot be read ({err}); serve runs written by "
                              "`gankit train`") from None


def find_runs(paths: Sequence[str] = (), runs_dir: Optional[str] = None) -> List[Path]:
    """Run directories: each of `paths`, and every directory under `runs_dir` (any depth) that has checkpoints/."""
    found: List[Path] = []
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            raise ConfigError(f"'{p}' is not a directory: pass run directories (or --runs DIR)")
        found.append(path)
    if runs_dir is not None:
        root = Path(runs_dir)
        if not root.is_dir():
            raise ConfigError(f"--runs '{runs_dir}' is not a directory")
        found += sorted(p.parent for p in root.rglob("checkpoints") if p.is_dir())
    if not found:
        raise ConfigError("no runs to serve: pass run directories or --runs DIR (a folder holding runs)")
    return list(dict.fromkeys(p.resolve() for p in found))


def _slug(path: Path, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.name).strip("-.") or "run"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


class Registry:
    """The served runs by id, and a cache of at most `cache_size` loaded models (least recently used out)."""

    def __init__(self, paths: Sequence[Path], cache_size: int = 4, device: str = "cpu"):
        if cache_size < 1:
            raise ConfigError(f"--cache must be >= 1, got {cache_size}")
        self.runs: Dict[str, RunInfo] = {}
        self.skipped: List[str] = []
        for path in paths:
            run_id = _slug(path, set(self.runs))
            try:
                self.runs[run_id] = describe(run_id, path)
            except GankitError as err:  # e.g. a run without a checkpoint yet: skipped (the CLI says so)
                self.skipped.append(str(err))
        self.cache_size, self.device = cache_size, device
        self._models: "OrderedDict[str, tuple]" = OrderedDict()  # id -> (checkpoint dir, model)
        self._lock = threading.Lock()
        self._run_locks: Dict[str, threading.RLock] = {run_id: threading.RLock() for run_id in self.runs}

    def info(self, run_id: str) -> RunInfo:
        if run_id not in self.runs:
            raise KeyError(run_id)
        return self.runs[run_id]

    def lock(self, run_id: str) -> threading.RLock:
        """The lock a request holds while it uses the run's model (see app.compute)."""
        return self._run_locks[self.info(run_id).id]

    def refresh(self, run_id: str) -> RunInfo:
        """The run's info from its newest checkpoint (a run still training moves on); the old one if that fails."""
        info = self.info(run_id)
        try:
            self.runs[run_id] = describe(run_id, info.path)
        except GankitError:
            pass
        return self.runs[run_id]

    def model(self, run_id: str):
        """The loaded model of the run's newest checkpoint: loaded once, reloaded when a newer checkpoint appears,
        kept while among the `cache_size` most recently used. Call it holding `lock(run_id)`."""
        from ..models import load

        info = self.info(run_id)
        where = resolve_checkpoint(info.path)
        with self._lock:
            cached = self._models.get(run_id)
            if cached is not None and cached[0] == where:
                self._models.move_to_end(run_id)
                return cached[1]
        model = load(where, self.device)
        for p in model.parameters():  # inference only: no weight gradients, even under a projection
            p.requires_grad_(False)
        with self._lock:
            self._models[run_id] = (where, model)
            self._models.move_to_end(run_id)
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
        return model

    def loaded(self) -> List[str]:
        with self._lock:
            return list(self._models)


__all__ = ["Registry", "RunInfo", "VIEWS", "describe", "family_of", "find_runs"]
