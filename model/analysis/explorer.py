"""What the explorer shows, without Qt: the run, the shown model, the step, the
selection, whether the frame follows live training, and the override (a probed or
edited snapshot shown instead of the history's).

The window's session wraps one ``ExplorerState`` (adding signals, the training
worker and the analysis thread); headless export uses one directly: open a file,
pick the model and the step, take ``frame_at(step)``. Every view draws one
``Frame`` (model.analysis.frame): the snapshot, its analysis (from the state's
``AnalysisProvider``, which the frame carries) and what else the views share
(colours, selection, the loss curves, the history).

Follow-live has one owner, this state: while following, the frame is the latest
recorded step and moves with every new one (``live_advanced()`` says whether to
redraw); ``request_step`` (scrubbing) stops following and pins the frame to the
requested step, so new live steps leave it where it is.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resources.palette import CATEGORICAL_MAX, feature_colors

from ..config import TrainConfig
from ..history import History
from ..snapshot import NOT_FINITE, Snapshot, nonfinite_text
from ..storage.runfile import open_run
from .analysis_provider import OVERRIDE, VERDICTS_MAX_WORK, AnalysisProvider, precompute_count
from .frame import Frame
from .geometry import angles, project

_SERIALS = itertools.count(1)  # run and override identities: never reused, unlike id()


@dataclass(frozen=True)
class AheadPlan:
    """The analyses of one model's recorded snapshots to compute ahead of being shown (model.analysis.
    analysis_provider: PRECOMPUTE_*), with what they are of taken when planned: a run loaded since
    changes nothing here, and the provider drops what is computed for an earlier run."""

    provider: AnalysisProvider
    history: History
    run: int
    model: int
    generation: int
    steps: tuple[int, ...]

    def run_ahead(self, stop: Callable[[], bool], wait: Callable[[], None] | None = None) -> int:
        """Compute and cache the analysis of each planned step not cached yet, in order (any thread: the
        window runs it in the background). Before each, ``wait()`` (the window holds it there while the
        person scrubs) then ``stop()`` ends it. Returns how many analyses it computed."""
        self.provider.reserve(len(self.steps))
        done = 0
        for step in self.steps:
            if wait is not None:
                wait()
            if stop() or self.provider.generation != self.generation:
                break
            snap = self.history.snapshot(step=step, model=self.model)
            key = (self.run, int(snap.model), int(snap.step))
            if nonfinite_text(snap) is not None or self.provider.cached(key) is not None:
                continue
            self.provider.compute(key, snap, generation=self.generation, ahead=True)
            done += 1
        return done


class ExplorerState:
    """The run being explored and what of it is shown. Pure: no threads, no Qt."""

    def __init__(self, provider: AnalysisProvider | None = None):
        self.analyses = provider if provider is not None else AnalysisProvider()
        self.config: TrainConfig | None = None
        self.history: History | None = None
        self.dataset: np.ndarray | None = None
        self.path: Path | None = None
        self.model = 0
        self.follow_live = True
        self.requested_step: int | None = None
        self.selected: set[int] = set()
        self.override: Snapshot | None = None
        self.colors = feature_colors(7)
        self._run = 0
        self._override_id = 0
        self._loss_cache: tuple = (None, None, None)

    # ------------------------------------------------------------ the run
    def load(self, config: TrainConfig, history: History, dataset: np.ndarray | None = None,
             path: str | Path | None = None) -> None:
        """Show a new run (being trained, or read from a file) from its start state: model 0,
        following live, nothing selected, no override, no analyses."""
        self.config, self.history, self.dataset = config, history, dataset
        self.path = None if path is None else Path(path)
        self._run = next(_SERIALS)
        self.model = 0
        self.follow_live = True
        self.requested_step = None
        self.selected = set()
        self.override = None
        self._loss_cache = (None, None, None)
        self.analyses.reset(onehot=config.onehot)
        self.recolor()

    def open(self, path: str | Path) -> None:
        """Read a run file and show it. model.storage.runfile.RunFileError (one line naming the file)
        on a bad file, and then the state is as it was."""
        run = open_run(path)
        self.load(run.config, run.history, run.dataset, Path(path))

    @property
    def onehot(self) -> bool:
        return self.config is None or self.config.onehot

    def has_data(self) -> bool:
        return self._recorded() is not None

    def _recorded(self) -> History | None:
        """The run's history when it holds a snapshot, else None."""
        h = self.history
        return h if h is not None and len(h) > 0 else None

    def _loaded(self) -> tuple[TrainConfig, History]:
        """The loaded run's config and history (load() sets both); RuntimeError before a run."""
        if self.config is None or self.history is None:
            raise RuntimeError("no run is loaded")
        return self.config, self.history

    # ------------------------------------------------------------ navigation
    def set_model(self, k: int) -> bool:
        """Show model ``k`` (0-based); False (nothing changes) when out of range or already shown."""
        if self.config is None or not 0 <= int(k) < self.config.models or int(k) == self.model:
            return False
        self.model = int(k)
        self.recolor()
        return True

    def request_step(self, step: int) -> None:
        """Show the recorded snapshot at or before ``step`` (scrubbing): stops following live."""
        self.requested_step = int(step)
        self.follow_live = False

    def set_follow_live(self, on: bool) -> None:
        """Follow live training (the frame is the latest step) or stop at the step shown now."""
        self.follow_live = bool(on)
        if self.follow_live:
            self.requested_step = None
        elif self.requested_step is None and (h := self._recorded()) is not None:
            self.requested_step = h.latest_step  # stay here while training goes on

    def live_advanced(self) -> bool:
        """A new step was recorded: whether the frame moved with it (only when following live
        and no override is shown)."""
        return self.follow_live and self.override is None

    def shown_step(self) -> int | None:
        """The step asked of the history: None (the latest) while following live."""
        return None if self.follow_live else self.requested_step

    def select_feature(self, i: int, add: bool = False) -> bool:
        """Select feature ``i`` (0-based) alone (again: deselect), or toggle it with ``add``.
        False (nothing changes) for a feature the run does not have."""
        if self.config is None or not 0 <= int(i) < self.config.n:
            return False
        i = int(i)
        if add:
            self.selected ^= {i}
        else:
            self.selected = set() if self.selected == {i} else {i}
        return True

    def set_override(self, snap: Snapshot | None) -> None:
        """Show ``snap`` (a probed or edited copy of the shown model) instead of the history's
        snapshot until set_override(None) or a new run; the run itself is untouched. The
        replaced override's analyses are forgotten."""
        self.analyses.forget_overrides()
        self.override = snap
        self._override_id = next(_SERIALS) if snap is not None else 0

    def plan_ahead(self) -> AheadPlan | None:
        """The shown model's recorded snapshots whose analyses to compute ahead, nearest the shown step
        first (as many as analysis_provider.precompute_count allows); None when there are none (no data,
        or a model too large to analyse ahead)."""
        h = self._recorded()
        count = 0 if self.config is None else precompute_count(self.config.n)
        if h is None or count == 0:
            return None
        steps = h.steps
        shown = self.shown_step()
        centre = len(steps) - 1 if shown is None else int(np.searchsorted(steps, shown, side="right")) - 1
        order = np.argsort(np.abs(np.arange(len(steps)) - max(centre, 0)), kind="stable")[:count]
        return AheadPlan(self.analyses, h, self._run, self.model, self.analyses.generation,
                         tuple(int(steps[i]) for i in order))

    # ---------------------------------------------------------------- frames
    def snapshot(self) -> Snapshot | None:
        """The snapshot every view draws now (the override when there is one); None before data."""
        if self.override is not None:
            return self.override
        h = self._recorded()
        return None if h is None else h.snapshot(step=self.shown_step(), model=self.model)

    def snapshot_at(self, step: int | None) -> Snapshot | None:
        """The shown model's recorded snapshot at or before ``step`` (None: the latest)."""
        h = self._recorded()
        return None if h is None else h.snapshot(step=step, model=self.model)

    def key_of(self, snap: Snapshot) -> Hashable:
        """The provider's key for ``snap``: the override's serial, or (run, model, step)."""
        if snap is self.override and snap is not None:
            return (OVERRIDE, self._override_id)
        return (self._run, int(snap.model), int(snap.step))

    def frame(self, wait: bool = False) -> Frame | None:
        """The current frame; None before any data. Without ``wait`` a large model's analysis
        is not computed here (AnalysisProvider.in_background): the frame lends the model's
        latest one and says ``pending``; the caller computes ``frame.key`` elsewhere."""
        snap = self.snapshot()
        return None if snap is None else self._frame(snap, wait)

    def frame_at(self, step: int | None) -> Frame | None:
        """The frame of the shown model at or before ``step`` (None: the latest), the state left
        as it is, its analysis computed here at any n: what export and animation draw."""
        snap = self.snapshot_at(step)
        return None if snap is None else self._frame(snap, wait=True)

    def _frame(self, snap: Snapshot, wait: bool) -> Frame:
        key = self.key_of(snap)
        nonfinite = nonfinite_text(snap)
        if nonfinite is not None:  # nothing to analyse: the views say so
            analysis, pending = None, False
        else:
            analysis = self.analyses.get(key, snap, wait=wait)
            pending = analysis is None
            if pending:
                analysis = self.analyses.latest(self.model)
        steps, losses = self.losses()
        dataset = None if self.dataset is None else self.dataset[self.model]
        return Frame(snapshot=snap, analysis=analysis, pending=pending, key=key, colors=self.colors,
                     selected=frozenset(self.selected), onehot=self.onehot, dataset=dataset,
                     loss_steps=steps, losses=losses, model=self.model, nonfinite=nonfinite,
                     history=self.history, provider=self.analyses)

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (N,), losses (N, K)) of the run, copied once per new recorded row."""
        h = self._loaded()[1]
        stamp = (self._run, len(h), h.latest_step)
        if self._loss_cache[0] != stamp:
            steps, losses = h.losses()
            self._loss_cache = (stamp, steps, losses)
        return self._loss_cache[1], self._loss_cache[2]

    # ------------------------------------------------------------ the models
    def recolor(self) -> None:
        """Colours: categorical up to CATEGORICAL_MAX features, else by angle at the shown
        model's latest snapshot (stable while scrubbing)."""
        n = self._loaded()[0].n
        ref = None
        h = self._recorded()
        if n > CATEGORICAL_MAX and h is not None:
            snap = h.snapshot(model=self.model)
            ref = angles(project(snap.W)) if snap.finite else None  # no angle of NaN: categorical colours
        self.colors = feature_colors(n, ref)

    def model_verdicts(self) -> list[str] | None:
        """The verdict of each model's latest snapshot (for the model picker; NOT_FINITE for one whose
        parameters are not finite there); None when the run is too large to analyse every model at once (VERDICTS_MAX_WORK) or has no data."""
        cfg, h = self.config, self._recorded()
        if cfg is None or h is None or cfg.models * cfg.n > VERDICTS_MAX_WORK:
            return None
        out = []
        for k in range(cfg.models):
            snap = h.snapshot(model=k)
            out.append(self.analyses.get_or_compute(self.key_of(snap), snap).verdict if snap.finite else NOT_FINITE)
        return out

    def final_losses(self) -> np.ndarray:
        """The latest recorded loss of every model; a halted model's from its last finite snapshot."""
        if self.config is None:
            return np.zeros(0)
        h = self._recorded()
        if h is None:
            return np.full(self.config.models, np.nan)
        losses = self.losses()[1][-1].astype(np.float64)
        for k in np.nonzero(h.halted >= 0)[0]:
            losses[k] = h.snapshot(model=int(k)).loss
        return losses
