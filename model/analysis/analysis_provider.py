"""The one analysis provider: every analysis a view draws comes from here.

It keeps the analyses already computed, keyed by what they are of (a recorded
snapshot: ``(run, model, step)``; a snapshot shown instead of the history's, a
probe or an edit: ``("override", serial)``, a serial that is never reused), the
latest analysis of each model (lent to the views while a large model's exact
one is being computed), and the separability overlays the zone map and the
feature wheel draw for a selection. It has no thread of its own: the window's
session runs ``compute`` in its analysis thread for large n, headless export
calls it directly (``get(..., wait=True)``). Qt-free.

The size thresholds that decide what is computed where, named once:

- ``SYNC_ANALYSIS_MAX_N`` (1,500 features): an analysis is O(n^2 m); up to
  here it takes ~70 ms (measured on a busy 2-core machine, separability and
  sensitivity included), a few frames' stall once per snapshot, so it runs
  where it is asked; above, the window computes it in the background (~0.8 s
  at n = 10,000 on the same machine) and lends the model's latest analysis
  meanwhile.
- ``EXTRAS_MAX_N`` (2,000, model.analysis.analysis): separability and sensitivity are
  part of the analysis up to here (about 0.5 s more at n = 10,000).
- ``SEPARATION_FULL_MAX`` (= ``EXTRAS_MAX_N``): above it the analysis carries
  no separability, so the overlays ask for the selected features only (the whole
  answer costs ~50-150 ms at n = 10,000, per snapshot while scrubbing).
- ``CACHE_MAX`` (256 analyses): a timeline scrub visits a few hundred recorded
  snapshots; an analysis holds ~0.3 MB of arrays at n = 1,500 and ~0.6 MB at
  n = 10,000, so a full cache stays under ~150 MB. When full the oldest entry
  goes (the latest analysis of each model stays). ``reserve`` raises the bound
  for the analyses computed ahead (below).
- ``PRECOMPUTE_MAX_N`` (200 features) and ``PRECOMPUTE_MAX_BYTES`` (96 MiB): a
  small model's analyses are computed ahead, in the background, for every
  recorded snapshot of the shown model (``precompute``), so that scrubbing
  finds each step's analysis cached instead of computing it in the frame (3 ms
  of a 16.7 ms frame at n = 7). An analysis takes ~3 ms of CPU at n = 7 and a
  few tens of ms at n = 100 to 200 (3,001 snapshots: ~10 s at n = 7, minutes at
  n = 200); it holds ~31 KB at n = 7 and ~123 KB at n = 100 (tracemalloc, the
  analysis and everything it refers to: ``analysis_bytes``), so the budget
  keeps ~3,000 analyses at n = 7 and ~730 at n = 100; the snapshots nearest the
  shown step come first.
- ``ANALYSIS_DEBOUNCE_S`` (0.15 s): a background job waits this long and is
  dropped if another frame is wanted by then: scrubbing passes frames faster
  than large analyses finish, and a frame still wanted after 0.15 s is one the
  person stopped at.
- ``VERDICTS_MAX_WORK`` (models x n <= 20,000): the model picker's verdict of
  every model's latest snapshot is computed at once (on opening or finishing a
  run) up to here; above, the picker shows losses only. The bound is on the
  feature count, while an analysis costs O(n^2): 10 models of n = 2,000 take
  ~0.7 s on the machine above, one model of n = 10,000 ~0.8 s. Those analyses
  go into the cache, so the frame shown next does not compute them again.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from ..snapshot import Snapshot
from .analysis import EXTRAS_MAX_N, Analysis, analyze
from .separability import Separability, separability

# Each value's reason is in the module docstring above.
#: Features up to which an analysis is computed where it is asked (above: in the background).
SYNC_ANALYSIS_MAX_N = 1500
#: Features above which the separation overlays answer the selected features only.
SEPARATION_FULL_MAX = EXTRAS_MAX_N
#: Analyses kept per run (more when reserved for the analyses computed ahead).
CACHE_MAX = 256
#: Features up to which every recorded snapshot's analysis is computed ahead, in the background.
PRECOMPUTE_MAX_N = 200
#: Bytes the analyses computed ahead may take.
PRECOMPUTE_MAX_BYTES = 96 << 20
#: Seconds a background analysis waits before it starts, dropped if another frame is wanted.
ANALYSIS_DEBOUNCE_S = 0.15
#: models x n up to which every model's verdict is computed for the model picker.
VERDICTS_MAX_WORK = 20_000
#: Snapshots without a key (a view handed a snapshot and no analysis) remembered by identity:
#: the six views of one frame ask for the same snapshot, two frames at most are in flight.
UNKEYED_MAX = 2

__all__ = [
    "ANALYSIS_DEBOUNCE_S",
    "CACHE_MAX",
    "EXTRAS_MAX_N",
    "OVERRIDE",
    "PRECOMPUTE_MAX_BYTES",
    "PRECOMPUTE_MAX_N",
    "SEPARATION_FULL_MAX",
    "SYNC_ANALYSIS_MAX_N",
    "VERDICTS_MAX_WORK",
    "AnalysisProvider",
    "analysis_bytes",
    "precompute_count",
]


def analysis_bytes(n: int) -> int:
    """About the memory one analysis of an n-feature snapshot holds (measured with tracemalloc: ~31 KB
    at n = 7, ~123 KB at n = 100; the n^2 term is the pairwise arrays)."""
    return 32_768 + 12 * int(n) ** 2


def precompute_count(n: int) -> int:
    """How many analyses of an n-feature model are computed ahead: 0 above PRECOMPUTE_MAX_N, else as
    many as PRECOMPUTE_MAX_BYTES holds."""
    return 0 if int(n) > PRECOMPUTE_MAX_N else PRECOMPUTE_MAX_BYTES // analysis_bytes(n)

#: First element of the key of an override's analysis.
OVERRIDE = "override"


class AnalysisProvider:
    """The cache of analyses of one run, and the rules for when to compute one.

    ``onehot`` is the run's data (one-hot or sparse), which decides what an
    analysis holds. Thread-safe: ``compute`` may run in a worker thread while
    the GUI thread reads.
    """

    def __init__(self, onehot: bool = True, analyze_fn: Callable[..., Analysis] = analyze):
        self.onehot = bool(onehot)
        self._analyze = analyze_fn
        self._lock = threading.Lock()
        self._cache: dict[Hashable, Analysis] = {}
        self._latest: dict[int, Analysis] = {}
        self._unkeyed: list = []  # [(snapshot, analysis)], newest last
        self._sep: tuple[Snapshot, Hashable, Separability] | None = None
        self._generation = 0  # bumped by reset(): a result computed for an earlier run is dropped
        self.capacity = CACHE_MAX  # analyses kept (reserve raises it)

    # ------------------------------------------------------------ the cache
    def reset(self, onehot: bool) -> None:
        """A new run: forget every analysis."""
        with self._lock:
            self._generation += 1
            self.onehot = bool(onehot)
            self._cache.clear()
            self._latest.clear()
            self._unkeyed.clear()
            self._sep = None
            self.capacity = CACHE_MAX

    def reserve(self, count: int) -> None:
        """Keep ``count`` analyses (computed ahead) besides the CACHE_MAX a scrub fills, until the next reset."""
        with self._lock:
            self.capacity = max(self.capacity, CACHE_MAX + int(count))

    @property
    def generation(self) -> int:
        """The run's serial in the provider (reset() bumps it): ``compute(..., generation=)`` drops a
        result computed for an earlier run."""
        with self._lock:
            return self._generation

    def cached(self, key: Hashable) -> Analysis | None:
        """The analysis stored under ``key``, or None."""
        with self._lock:
            return self._cache.get(key)

    def latest(self, model: int) -> Analysis | None:
        """The most recently computed analysis of a recorded snapshot of ``model`` (any step)."""
        with self._lock:
            return self._latest.get(int(model))

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    @staticmethod
    def in_background(snap: Snapshot) -> bool:
        """Whether the window computes this snapshot's analysis off the GUI thread."""
        return snap.n > SYNC_ANALYSIS_MAX_N

    def compute(self, key: Hashable, snap: Snapshot, generation: int | None = None, ahead: bool = False
                ) -> Analysis:
        """Analyse ``snap`` (any thread) and store the result under ``key``, unless a new run
        was loaded meanwhile (then it is returned, not stored). ``generation``: the run it is
        asked for (default: the current one); ``ahead``: computed ahead of being shown (it does
        not become its model's latest)."""
        with self._lock:
            onehot = self.onehot
            if generation is None:
                generation = self._generation
        a = self._analyze(snap, onehot=onehot)
        self.store(key, a, generation, latest=not ahead)
        return a

    def store(self, key: Hashable, a: Analysis, generation: int | None = None, latest: bool = True) -> None:
        """Store ``a`` under ``key``; a recorded snapshot's (key ``(run, model, step)``) becomes
        its model's latest unless ``latest`` is false. ``generation``: the one ``a`` was computed
        in (dropped if stale). When full, the oldest entry goes."""
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            while len(self._cache) >= self.capacity:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = a
            if latest and not is_override(key):
                self._latest[_model_of(key)] = a

    def get(self, key: Hashable, snap: Snapshot, wait: bool = False) -> Analysis | None:
        """The analysis of ``snap``: cached, else computed here when ``wait`` or when n is small
        enough (``in_background`` false); else None (the caller computes it in the background)."""
        if wait or not self.in_background(snap):
            return self.get_or_compute(key, snap)
        return self.cached(key)

    def get_or_compute(self, key: Hashable, snap: Snapshot) -> Analysis:
        """The analysis of ``snap``: cached, else computed here (at any n)."""
        a = self.cached(key)
        return a if a is not None else self.compute(key, snap)

    def forget_overrides(self) -> None:
        """Drop every override's analysis (the override was replaced: its memory may be reused)."""
        with self._lock:
            for key in [k for k in self._cache if is_override(k)]:
                del self._cache[key]

    # ------------------------------------------------ what the views ask for
    def of_snapshot(self, snap: Snapshot) -> Analysis:
        """The analysis of a snapshot handed to a view without one (computed once per snapshot
        object: the views of one frame share it)."""
        with self._lock:
            for s, a in self._unkeyed:
                if s is snap:
                    return a
        a = self._analyze(snap, onehot=self.onehot)
        with self._lock:
            self._unkeyed.append((snap, a))  # holds snap: its id is not reused while remembered
            del self._unkeyed[:-UNKEYED_MAX]
        return a

    def separability(self, snap: Snapshot, live: np.ndarray, features: Sequence[int] | None = None
                     ) -> Separability:
        """model.analysis.separability.separability(snap.W, live, features), computed once for the last
        (snapshot, live set, features) asked: the overlays redraw at display rate."""
        feats = None if features is None else tuple(int(i) for i in features)
        key = (np.asarray(live, dtype=bool).tobytes(), feats)
        with self._lock:
            hit = self._sep
        if hit is not None and hit[0] is snap and hit[1] == key:
            return hit[2]
        sep = separability(snap.W, live, features=feats)
        with self._lock:
            self._sep = (snap, key, sep)
        return sep


def _model_of(key: Hashable) -> int:
    """The model of a recorded snapshot's key ``(run, model, step)``."""
    if not (isinstance(key, tuple) and len(key) == 3):
        raise ValueError(f"a recorded snapshot's key is (run, model, step), got {key!r}")
    return int(key[1])


def is_override(key: Hashable) -> bool:
    """Whether ``key`` is an override's (not a recorded snapshot's)."""
    return isinstance(key, tuple) and len(key) > 0 and key[0] == OVERRIDE
