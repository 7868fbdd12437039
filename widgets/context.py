"""What every view receives besides the snapshot. A view is a function of
(snapshot, ViewContext): live training, scrubbing and export all call
`view.set_snapshot(snapshot, ctx)` and nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from model.analysis_provider import AnalysisProvider
from model.explorer import Frame
from model.history import History


@dataclass
class ViewContext:
    colors: np.ndarray  # (n, 4) uint8 RGBA, one per feature (resources.palette)
    selected: frozenset = frozenset()  # 0-based feature indices highlighted everywhere
    onehot: bool = True  # one-hot (identity) data: verdicts and reconstruction apply
    analysis: object = None  # model.analysis.Analysis of this snapshot, computed once per frame
    dataset: Optional[np.ndarray] = None  # (T, n) finite dataset of the shown model, for embeddings
    loss_steps: Optional[np.ndarray] = None  # (N,) recorded steps
    losses: Optional[np.ndarray] = None  # (N, K) recorded losses of all models
    model: int = 0  # the shown model (0-based)
    plane: str = ""  # description of the 2D latent plane (m > 2)
    provider: Optional[AnalysisProvider] = None  # the run's analyses; None: a view computes its own, uncached
    nonfinite: Optional[str] = None  # where the snapshot is not finite (Frame.nonfinite): the views say so
    history: Optional[History] = None  # the run's recorded history (the feature-history view draws its series)
    extra: dict = field(default_factory=dict)


def context_of(frame: Frame, provider: Optional[AnalysisProvider] = None) -> ViewContext:
    """The ViewContext of a frame; ``provider`` answers what the views compute for
    themselves (the separability of a selection, the analysis of a snapshot handed
    over without one), once per snapshot."""
    pending = bool(frame.pending and frame.analysis is not None)
    return ViewContext(colors=frame.colors, selected=frame.selected, onehot=frame.onehot,
                       analysis=frame.analysis, dataset=frame.dataset, loss_steps=frame.loss_steps,
                       losses=frame.losses, model=frame.model, provider=provider, nonfinite=frame.nonfinite,
                       history=frame.history,
                       extra={"analysis_pending": pending})
