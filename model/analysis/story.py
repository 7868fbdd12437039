"""What training did over time: the recorded steps at which the diagnosis changed (no Qt).

The seed reads its failure off training: "this model's features stayed like this
since about step 3,000". ``stable_since`` measures that: the earliest recorded
step from which the diagnosis (the verdict and the sets of dead features and
dead outputs) is the same as at a given step, checked on the recorded snapshots.

``diagnosis_events`` lists every recorded step at which the diagnosis changed
(the story of a run: "feature 1 died at step 2,400; symmetric failure since").

``outcome_events`` lists where the model's outcome (model.analysis.outcome: settled, stuck, moving) changed.

``loss_plateaus`` lists the recorded steps from which the loss stopped moving
("loss plateau at 0.1224 from step 7,400"): its relative change over a doubling
of the step count stays below ``PLATEAU_REL_TOL`` (see there for why), and a new
plateau starts only after the loss moved again.

Each check is one ``model.analysis.analysis.analyze`` (about 1 ms at n = 7, ~0.3 s at
n = 10,000), so a long history at large n is scanned coarse-to-fine: snapshots
at exponentially growing distances back from the step until one differs, then
a bisection between the last match and the first difference. That assumes the
diagnosis does not flip away and back between checked snapshots; the result
says which method it used and how many snapshots it analysed.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..snapshot import NOT_FINITE
from .analysis import analyze
from .outcome import PLATEAU_REL_TOL

if TYPE_CHECKING:
    from ..config import TrainConfig
    from ..history import History
    from .analysis import Analysis

#: Up to this many snapshots are checked one by one; beyond, coarse-to-fine.
EXHAUSTIVE_MAX = 400


def diagnosis_key(a: Analysis) -> tuple:
    """What must stay the same for a model to be "stuck": the verdict, the dead features, the dead outputs."""
    return (a.verdict, tuple(a.dead), tuple(a.dead_outputs))


#: The diagnosis of a snapshot whose parameters are not finite (nothing is analysed there).
NOT_FINITE_KEY = (NOT_FINITE, (), ())


def _diagnose(history: History, step: int, model: int, onehot: bool) -> tuple[tuple, Analysis | None]:
    """(diagnosis key, analysis) of the recorded snapshot at ``step``; a snapshot that is not finite
    is a diagnosis of its own (NOT_FINITE_KEY, no analysis)."""
    snap = history.snapshot(step=int(step), model=model)
    if not snap.finite:
        return NOT_FINITE_KEY, None
    a = analyze(snap, onehot=onehot)
    return diagnosis_key(a), a


@dataclass
class Since:
    step: int  # the earliest recorded step with the same diagnosis (first_recorded if it never changed)
    verdict: str
    dead: list[int]  # 0-based
    first_recorded: int
    changed_at: int | None  # the latest recorded step before `step` (with another diagnosis), or None
    method: str  # "exhaustive" | "coarse-to-fine"
    analysed: int

    def to_dict(self) -> dict:
        return {"step": int(self.step), "verdict": self.verdict, "dead": [i + 1 for i in self.dead],
                "first_recorded": int(self.first_recorded),
                "changed_at": None if self.changed_at is None else int(self.changed_at),
                "method": self.method, "analysed": int(self.analysed)}

    def describe(self) -> str:
        if self.changed_at is None:
            return f"{self.verdict.replace('_', ' ')} at every recorded step (since step {self.step:,})"
        return (f"{self.verdict.replace('_', ' ')} since step {self.step:,} (the diagnosis differed at step "
                f"{self.changed_at:,}; {self.analysed} snapshots checked, {self.method})")


def stable_since(history: History, step: int | None = None, model: int = 0, onehot: bool = True,
                 exhaustive_max: int = EXHAUSTIVE_MAX) -> Since:
    """The earliest recorded step from which the diagnosis equals the one at ``step`` (default: latest)."""
    steps = history.steps
    if len(steps) == 0:
        raise ValueError("no snapshot recorded yet")
    end = history.index_at(steps[-1] if step is None else step)
    cache = {}

    def key(i: int):
        if i not in cache:
            cache[i] = _diagnose(history, int(steps[i]), model, onehot)[0]
        return cache[i]

    want = key(end)
    a_end = _diagnose(history, int(steps[end]), model, onehot)[1]
    if end + 1 <= exhaustive_max:
        i = end
        while i > 0 and key(i - 1) == want:
            i -= 1
        method = "exhaustive"
        first_same = i
    else:
        method = "coarse-to-fine"
        good, d = end, 1
        bad = None
        while good - d >= 0:
            j = good - d
            if key(j) == want:
                good, d = j, d * 2
            else:
                bad = j
                break
        if bad is None:
            # every checked index back to the start matched; check the first snapshot itself
            bad = None if key(0) == want else 0
            if bad is None:
                good = 0
        if bad is not None:
            lo, hi = bad, good  # key(lo) != want, key(hi) == want
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if key(mid) == want:
                    hi = mid
                else:
                    lo = mid
            good = hi
        first_same = good
    changed = int(steps[first_same - 1]) if first_same > 0 else None
    return Since(step=int(steps[first_same]), verdict=NOT_FINITE if a_end is None else a_end.verdict,
                 dead=[] if a_end is None else list(a_end.dead),
                 first_recorded=int(steps[0]), changed_at=changed, method=method, analysed=len(cache))


def diagnosis_events(history: History, model: int = 0, onehot: bool = True, stride: int = 1) -> list[dict]:
    """Every recorded step (every ``stride``-th) at which the diagnosis changed, oldest first.

    Each event: {"step", "verdict", "dead" (1-based), "dead_outputs" (1-based), "text"}; the
    first recorded snapshot is always the first event.
    """
    steps = history.steps
    out: list[dict] = []
    prev = None
    for i in range(0, len(steps), max(1, int(stride))):
        k = _diagnose(history, int(steps[i]), model, onehot)[0]
        if k != prev:
            text = k[0].replace("_", " ")
            if prev is not None and NOT_FINITE_KEY not in (k, prev):
                died = sorted(set(k[1]) - set(prev[1]))
                revived = sorted(set(prev[1]) - set(k[1]))
                if died:
                    text += "; dead: " + ", ".join(str(j + 1) for j in died[:8])
                if revived:
                    text += "; learnt: " + ", ".join(str(j + 1) for j in revived[:8])
            out.append({"step": int(steps[i]), "verdict": k[0], "dead": [j + 1 for j in k[1]],
                        "dead_outputs": [j + 1 for j in k[2]], "text": text})
            prev = k
    return out


# ------------------------------------------------------------------ loss plateaus
#: The loss has "stopped moving" from step s when, over the window [s, s + max(s, PLATEAU_MIN_WINDOW)],
#: it stays within PLATEAU_REL_TOL of its value at s (model/analysis/outcome.py says why 1e-3: the outcome's
#: horizon of 10 doublings).
#: The shortest window, in steps (the doubling window of step 0 would be empty).
PLATEAU_MIN_WINDOW = 100
#: Recorded losses are smoothed by a running median over this many snapshots before the test (a
#: median keeps a sudden drop where it is, unlike a mean, and ignores a single minibatch spike).
PLATEAU_SMOOTH = 5


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) < 3:
        return x.copy()
    h = k // 2
    pad = np.concatenate([np.full(h, x[0]), x, np.full(h, x[-1])])
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * h + 1)
    return np.median(win, axis=1)


def _range_reduce(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, op) -> np.ndarray:
    """op (np.maximum or np.minimum) over x[lo[q]..hi[q]] (inclusive) for every query, by a sparse
    table: O(N log N), where slicing each window would be O(N²) on a long history."""
    table = [x]
    span = 1
    while 2 * span <= len(x):
        prev = table[-1]
        table.append(op(prev[:-span], prev[span:]))
        span *= 2
    length = hi - lo + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(len(lo))
    for level in np.unique(k):
        q = k == level
        t = table[level]
        out[q] = op(t[lo[q]], t[hi[q] - (1 << level) + 1])
    return out


def plateau_windows(steps: np.ndarray, losses: np.ndarray, rel_tol: float = PLATEAU_REL_TOL,
                    min_window: int = PLATEAU_MIN_WINDOW,
                    smooth: int = PLATEAU_SMOOTH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per recorded snapshot i: (flat, change, end). ``end[i]`` is the index of the first recorded step at
    or after steps[i] + max(steps[i], min_window) (-1 when the history does not reach it: undecided,
    never flat); ``change[i]`` the largest relative deviation of the smoothed loss over [i, end[i]] from
    its value at i (NaN when undecided); ``flat`` = change < rel_tol."""
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    loss = _running_median(np.asarray(losses, dtype=np.float64).reshape(-1), int(smooth))
    N = len(steps)
    targets = steps + np.maximum(steps, int(min_window))
    end = np.searchsorted(steps, targets, side="left")
    end = np.where(end < N, end, -1)
    change = np.full(N, np.nan)
    idx = np.flatnonzero(end >= 0)
    if len(idx):
        finite = np.isfinite(loss)
        hi = _range_reduce(np.where(finite, loss, np.inf), idx, end[idx], np.maximum)
        lo = _range_reduce(np.where(finite, loss, -np.inf), idx, end[idx], np.minimum)
        dev = np.maximum(hi - loss[idx], loss[idx] - lo)  # inf when the window holds a non-finite loss
        # relative to |L_i|; a loss at exactly 0 compares in absolute terms (0 stays 0: flat)
        with np.errstate(invalid="ignore"):
            change[idx] = dev / np.maximum(np.abs(loss[idx]), 1e-300)
    with np.errstate(invalid="ignore"):
        flat = change < rel_tol
    return flat, change, end


def loss_plateaus(steps: np.ndarray, losses: np.ndarray, rel_tol: float = PLATEAU_REL_TOL,
                  min_window: int = PLATEAU_MIN_WINDOW, smooth: int = PLATEAU_SMOOTH) -> list[dict]:
    """The recorded steps from which the loss stopped moving, oldest first.

    A plateau starts at the first recorded step whose window (see ``PLATEAU_REL_TOL``) is flat after
    one that was not (or at the first decided step); a new plateau needs a window that moved in
    between. Each event: {"kind": "plateau", "step", "level" (the median smoothed loss over the
    window), "change" (the relative change over it), "rel_tol", "window" ([from, to] steps),
    "margin" (decades: log10(rel_tol / change), positive = flat; None when the loss did not change
    at all), "text"}.
    """
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    flat, change, end = plateau_windows(steps, losses, rel_tol, min_window, smooth)
    loss = _running_median(np.asarray(losses, dtype=np.float64).reshape(-1), int(smooth))
    out: list[dict] = []
    was_flat = False
    for i in range(len(steps)):
        if end[i] < 0:
            break  # undecided from here on: the history does not reach the window's end
        if flat[i] and not was_flat:
            level = float(np.median(loss[i:end[i] + 1]))
            c = float(change[i])
            margin = None if c == 0 else math.log10(rel_tol / c)
            out.append({"kind": "plateau", "step": int(steps[i]), "level": level, "change": c,
                        "rel_tol": float(rel_tol), "window": [int(steps[i]), int(steps[end[i]])],
                        "margin": margin, "text": f"loss plateau at {level:.4g} from step {int(steps[i]):,}"})
        was_flat = bool(flat[i])
    return out


def history_plateaus(history: History, model: int = 0) -> list[dict]:
    """``loss_plateaus`` of one model of a history (its recorded losses)."""
    steps, losses = history.losses(model)
    return loss_plateaus(steps, losses)


#: outcome_events judges each grid step once per (history, model, step, config): the timeline asks again every few
#: seconds while training, and only the newest step is new (its three analyses cost ~0.3 s at n = 2,000).
OUTCOME_CACHE_MAX = 4096
_OUTCOME_CACHE: dict = {}
_OUTCOME_LOCK = threading.Lock()


def outcome_events(history: History, config: TrainConfig, model: int = 0, local: bool = True,
                   stop: Callable[[], bool] | None = None) -> list[dict]:
    """The outcome (model.analysis.outcome: settled, stuck, moving) of one model through its history: judged at the
    steps where an outcome can change its reading (engine.decide_grid: step 1,024 and every half doubling up
    to the latest recorded step, and that step), an event wherever it differs from the one before. Each:
    {"kind": "outcome", "step" (the first judged step with this outcome), "outcome", "judged_at" (the last),
    "reason", "text" (the outcome's one line at judged_at)}; before the first judged step the outcome is
    unknown (no event). ``local=False`` leaves out the local model (model/analysis/outcome.py's check 3, which needs
    torch); ``stop()`` true ends the scan at the next judged step (what was judged is returned)."""
    from ..training.engine import decide_grid
    from .outcome import history_outcomes

    steps = history.steps
    if len(steps) == 0:
        return []
    latest = int(steps[-1])
    checks = sorted({int(steps[history.index_at(g)]) for g in decide_grid(latest) if g <= latest})
    out: list[dict] = []
    cfg_key = config.to_json()
    for st in checks:
        if stop is not None and stop():
            break
        key = (id(history), int(model), int(st), cfg_key, bool(local))
        with _OUTCOME_LOCK:
            got = _OUTCOME_CACHE.get(key)
        if got is None or st == latest:  # the latest step's rows may still be replaced: judged afresh
            b = history_outcomes(history, config, st, [model], local=local, full=False)
            got = (str(b.kinds()[0]), str(b.reasons()[0]), b.text(0))
            with _OUTCOME_LOCK:
                if len(_OUTCOME_CACHE) >= OUTCOME_CACHE_MAX:
                    _OUTCOME_CACHE.pop(next(iter(_OUTCOME_CACHE)))
                _OUTCOME_CACHE[key] = got
        kind, reason, text = got
        if not out or out[-1]["outcome"] != kind:
            out.append({"kind": "outcome", "step": st, "outcome": kind})
        out[-1].update(judged_at=st, reason=reason, text=text)  # the newest evidence of the outcome in force
    return out


def story_events(history: History, model: int = 0, onehot: bool = True, stride: int = 1,
                 config: TrainConfig | None = None, local: bool = True,
                 stop: Callable[[], bool] | None = None) -> list[dict]:
    """The timeline's story: the diagnosis changes (one-hot data only: the diagnosis is a one-hot
    one), the loss plateaus (any data) and, given the run's config, the outcomes (outcome_events, with
    ``local`` and ``stop``), each event with its "kind" ("diagnosis" | "plateau" | "outcome"), sorted by step."""
    events = [dict(e, kind="diagnosis") for e in diagnosis_events(history, model, onehot, stride)] if onehot else []
    events += history_plateaus(history, model)
    if config is not None:
        events += outcome_events(history, config, model, local, stop)
    order = {"diagnosis": 0, "plateau": 1, "outcome": 2}
    return sorted(events, key=lambda e: (e["step"], order.get(e["kind"], 3)))


__all__ = [
    "EXHAUSTIVE_MAX",
    "PLATEAU_MIN_WINDOW",
    "PLATEAU_REL_TOL",
    "PLATEAU_SMOOTH",
    "Since",
    "diagnosis_events",
    "diagnosis_key",
    "history_plateaus",
    "loss_plateaus",
    "outcome_events",
    "plateau_windows",
    "stable_since",
    "story_events",
]
