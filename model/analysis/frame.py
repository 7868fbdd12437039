"""The one thing a view receives: a ``Frame``, typed and immutable.

Live training, scrubbing, export and animation all hand every view a Frame (``View.set_frame``)
and nothing else: the snapshot, its analysis (or, while that is computed in the background, the
model's latest one, marked ``pending``), the feature colours and the selection, what else a view
may need (views.registry says which view reads what: the dataset, the loss curves of all models,
the recorded history, the story of the run, the outcome in force) and where the snapshot is not
finite. ``model.analysis.explorer.ExplorerState.frame()`` builds it for the window's session and for
headless export alike.

Views compute no analysis: what they need beyond the frame's own analysis (the analysis of a
frame built without one, the separability of a selection) they ask of the frame, which asks its
``provider`` (model.analysis.analysis_provider.AnalysisProvider, the one cache of analyses).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..history import History
from ..snapshot import Snapshot, nonfinite_text
from .analysis import Analysis
from .analysis_provider import AnalysisProvider
from .separability import Separability


def _read_only(a: np.ndarray | None) -> np.ndarray | None:
    """A read-only view of ``a`` (the frame's arrays are shared with the state that made it)."""
    if a is None:
        return None
    v = np.asarray(a).view()
    v.setflags(write=False)
    return v


@dataclass(frozen=True)
class Frame:
    """What every view draws. ``analysis``: the snapshot's own, or, while that is computed in the
    background (``pending``), the model's latest one (another step's) or None. ``key`` names the
    snapshot in the provider's cache (None: a snapshot of no run, e.g. a closed form). ``nonfinite``:
    where the snapshot's parameters are not finite (model.snapshot.nonfinite_text), None when they
    are; such a frame has no analysis and every view says NOT_FINITE_TEXT instead. ``story``: the
    run's story (model.analysis.story events, dressed with their colours) and ``outcome`` the outcome event
    in force at the snapshot's step, when the maker of the frame knows them. ``plane``: what the 2D
    latent plane is when m != 2 ("" : the views describe it themselves). ``provider``: the one cache
    of analyses the frame asks (a fresh one when none is given)."""

    snapshot: Snapshot
    colors: np.ndarray  # (n, 4) uint8 RGBA, one per feature (resources.palette)
    analysis: Analysis | None = None
    pending: bool = False
    key: Hashable | None = None
    selected: frozenset = frozenset()  # 0-based feature indices highlighted everywhere
    onehot: bool = True  # one-hot (identity) data: verdicts and reconstruction apply
    dataset: np.ndarray | None = None  # (T, n) finite dataset of the shown model, for embeddings
    loss_steps: np.ndarray | None = None  # (N,) recorded steps
    losses: np.ndarray | None = None  # (N, K) recorded losses of all models
    model: int = 0  # the shown model (0-based)
    nonfinite: str | None = None
    history: History | None = None  # the run's recorded history (the feature-history view)
    story: tuple[dict[str, Any], ...] = ()
    outcome: dict[str, Any] | None = None
    plane: str = ""
    provider: AnalysisProvider | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.provider is None:
            object.__setattr__(self, "provider", AnalysisProvider(onehot=self.onehot))
        elif self.provider.onehot != self.onehot:
            raise ValueError(f"the frame's data is {'one-hot' if self.onehot else 'sparse'}, its provider's is "
                             f"{'one-hot' if self.provider.onehot else 'sparse'}")
        object.__setattr__(self, "selected", frozenset(int(i) for i in self.selected))
        object.__setattr__(self, "story", tuple(self.story))
        for name in ("colors", "dataset", "loss_steps", "losses"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))

    # ------------------------------------------------------------ what views ask
    @property
    def lent(self) -> bool:
        """Whether the analysis drawn is another step's, lent while this step's is computed."""
        a = self.analysis
        return self.pending and a is not None and a.step != self.snapshot.step

    def view_analysis(self) -> Analysis:
        """The analysis the views draw: the frame's own when it is this snapshot's; while it is
        computed in the background, the lent one (the exact one comes with the next frame, the GUI
        never stalls for it); else this snapshot's from the provider (computed once for all the
        views of the frame, cached under ``key``)."""
        snap, a = self.snapshot, self.analysis
        if a is not None and a.n == snap.n and a.step == snap.step:
            return a
        if a is not None and self.pending and a.n == snap.n:
            return a
        provider = self.provider
        assert provider is not None  # __post_init__
        if self.key is not None:
            got = provider.get(self.key, snap, wait=True)
            assert got is not None  # wait=True computes it
            return got
        return provider.of_snapshot(snap)

    def separability(self, live: np.ndarray, features: Sequence[int] | None = None) -> Separability:
        """The separability of the live features (only ``features`` when given) of this snapshot, from the
        provider (computed once for the last selection asked: the overlays redraw at display rate)."""
        provider = self.provider
        assert provider is not None  # __post_init__
        return provider.separability(self.snapshot, live, features)

    # ------------------------------------------------------------- new frames
    def replace(self, **changes: Any) -> Frame:
        """This frame with ``changes`` (e.g. the story and outcome the window knows)."""
        return dataclasses.replace(self, **changes)

    def with_snapshot(self, snap: Snapshot) -> Frame:
        """The frame of another snapshot of the same model (a perturbed or closed-form one): the same
        colours, selection, run and analysis (a lent one stays lent; one of another snapshot is not
        drawn: view_analysis has the provider compute this one's), no key."""
        if snap is self.snapshot:
            return self
        return dataclasses.replace(self, snapshot=snap, key=None, nonfinite=nonfinite_text(snap))


__all__ = ["Frame"]
