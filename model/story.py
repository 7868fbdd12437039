"""What training did over time: the recorded steps at which the diagnosis changed (no Qt).

The seed reads its failure off training: "this model's features stayed like this
since about step 3,000". ``stable_since`` measures that: the earliest recorded
step from which the diagnosis (the verdict and the sets of dead features and
dead outputs) is the same as at a given step, checked on the recorded snapshots.

``diagnosis_events`` lists every recorded step at which the diagnosis changed
(the story of a run: "feature 1 died at step 2,400; symmetric failure since").

Each check is one ``model.analysis.analyze`` (about 1 ms at n = 7, ~0.3 s at
n = 10,000), so a long history at large n is scanned coarse-to-fine: snapshots
at exponentially growing distances back from the step until one differs, then
a bisection between the last match and the first difference. That assumes the
diagnosis does not flip away and back between checked snapshots; the result
says which method it used and how many snapshots it analysed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from .analysis import analyze

#: Up to this many snapshots are checked one by one; beyond, coarse-to-fine.
EXHAUSTIVE_MAX = 400


def diagnosis_key(a) -> Tuple:
    """What must stay the same for a model to be "stuck": the verdict, the dead features, the dead outputs."""
    return (a.verdict, tuple(a.dead), tuple(a.dead_outputs))


@dataclass
class Since:
    step: int  # the earliest recorded step with the same diagnosis (first_recorded if it never changed)
    verdict: str
    dead: List[int]  # 0-based
    first_recorded: int
    changed_at: Optional[int]  # the latest recorded step before `step` (with another diagnosis), or None
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


def stable_since(history, step: Optional[int] = None, model: int = 0, onehot: bool = True,
                 exhaustive_max: int = EXHAUSTIVE_MAX) -> Since:
    """The earliest recorded step from which the diagnosis equals the one at ``step`` (default: latest)."""
    steps = history.steps
    if len(steps) == 0:
        raise ValueError("no snapshot recorded yet")
    end = history.index_at(steps[-1] if step is None else step)
    cache = {}

    def key(i: int):
        if i not in cache:
            cache[i] = diagnosis_key(analyze(history.snapshot(step=int(steps[i]), model=model), onehot=onehot))
        return cache[i]

    want = key(end)
    a_end = analyze(history.snapshot(step=int(steps[end]), model=model), onehot=onehot)
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
    return Since(step=int(steps[first_same]), verdict=a_end.verdict, dead=list(a_end.dead),
                 first_recorded=int(steps[0]), changed_at=changed, method=method, analysed=len(cache))


def diagnosis_events(history, model: int = 0, onehot: bool = True, stride: int = 1) -> List[dict]:
    """Every recorded step (every ``stride``-th) at which the diagnosis changed, oldest first.

    Each event: {"step", "verdict", "dead" (1-based), "dead_outputs" (1-based), "text"}; the
    first recorded snapshot is always the first event.
    """
    steps = history.steps
    out: List[dict] = []
    prev = None
    for i in range(0, len(steps), max(1, int(stride))):
        a = analyze(history.snapshot(step=int(steps[i]), model=model), onehot=onehot)
        k = diagnosis_key(a)
        if k != prev:
            text = a.verdict.replace("_", " ")
            if prev is not None:
                died = sorted(set(k[1]) - set(prev[1]))
                revived = sorted(set(prev[1]) - set(k[1]))
                if died:
                    text += "; dead: " + ", ".join(str(j + 1) for j in died[:8])
                if revived:
                    text += "; learnt: " + ", ".join(str(j + 1) for j in revived[:8])
            out.append({"step": int(steps[i]), "verdict": a.verdict, "dead": [j + 1 for j in k[1]],
                        "dead_outputs": [j + 1 for j in k[2]], "text": text})
            prev = k
    return out


__all__ = ["stable_since", "diagnosis_events", "diagnosis_key", "Since", "EXHAUSTIVE_MAX"]
