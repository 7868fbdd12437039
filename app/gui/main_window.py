"""The explorer window: experiment form and run controls, the 2D views as docks,
the timeline, run files. Views redraw at display rate from the session's frame.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6 import sip
from PyQt6.QtCore import QByteArray, Qt, QTimer
from PyQt6.QtGui import QAction, QGuiApplication, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.session import Session
from app.gui.settings import Settings, load_views, save_views
from app.gui.worker import BackgroundQueue
from model.config import ConfigError, TrainConfig
from views import registry
from widgets.experiment_form import ExperimentForm
from widgets.live_text import LiveText
from widgets.model_picker import ModelPicker
from widgets.paint_pass import PaintPass
from widgets.timeline import Timeline
from widgets.verdict_panel import verdict_label

if TYPE_CHECKING:
    from PyQt6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QResizeEvent, QShowEvent

    from app.gui.experiments_window import ExperimentsWindow
    from model.analysis.frame import Frame

DEFAULT_EXPERIMENT = TrainConfig(n=7, m=2, data="identity", optimizer="adamw", lr=1e-3, steps=25_000, seed=0)
RUN_FILTER = "Run files (*.h5 *.hdf5);;All files (*)"
MAX_RECENT = 8
log = logging.getLogger(__name__)


def settings() -> Settings:
    """The window's settings (plain values in a JSON file: app/gui/settings.py says why not QSettings)."""
    return Settings()


class RunControls(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.start = QPushButton("Start")
        self.start.setToolTip("Start (or restart) training with the experiment above")
        self.pause = QPushButton("Pause")
        self.pause.setToolTip("Pause / resume training between chunks")
        self.step = QPushButton("Step")
        self.step.setToolTip("Train one chunk, then pause")
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Stop training; the history is kept")
        for b in (self.start, self.pause, self.step, self.stop):
            lay.addWidget(b)


#: The timeline's story: at most this many snapshots are analysed for it (every
#: k-th snapshot beyond), fewer above STORY_BIG_N features (an analysis costs ~0.3 s at n = 10,000).
STORY_SNAPSHOTS = 200
STORY_SNAPSHOTS_BIG = 40
STORY_BIG_N = 2000
#: While training, the story is brought up to date this often (ms).
STORY_REFRESH_MS = 3000


#: Named layouts (View > Layout). explore: the pictures first (zones | 3D plane | wheel side by
#: side over the other views, a compact form); compare: the models table tall beside zones,
#: wheel, loss and verdict (the 3D view tabbed behind the wheel); figure: only the pictures.
LAYOUTS = ("explore", "compare", "figure")
DEFAULT_LAYOUT = "explore"
#: The experiment dock never gets narrower or lower than this (the one-column form, Start, Pause and
#: Stop stay reachable): Qt keeps a dock at its widget's minimum when sharing the window out, when
#: restoring a saved state and in Layout > Reset, so a state saved crushed comes back usable.
EXPERIMENT_MIN_W, EXPERIMENT_MIN_H = 320, 220
#: The experiment dock's share of the window's width in the explore layout; a window resize (a
#: maximise) or a restored state that leaves it outside [EXPERIMENT_MIN_W, FORM_MAX_SHARE] of the
#: width gets FORM_SHARE back (the pictures take the rest).
FORM_SHARE, FORM_MAX_SHARE = 0.2, 0.3


class _FormScroll(QScrollArea):
    """The experiment dock's scroll area: the form takes two columns when they fit, else one."""

    def __init__(self, form):
        super().__init__()
        self._form = form
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def resizeEvent(self, e):
        self._form.set_columns(2 if self.viewport().width() >= self._form.two_column_width() + 8 else 1)
        super().resizeEvent(e)


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, autostart: bool = True, restore: bool = True,
                 layout: str | None = None):
        super().__init__()
        self.setWindowTitle("Latent geometry explorer")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AllowTabbedDocks)
        self.session = session or Session(self)
        self.dialogs: list = []  # dialogs shown (non-modal), for tests and for closing
        self.docks: dict = {}
        self._dirty = True
        self._stale: set = set()
        self._next_redraw = 0.0
        self._tick_pending = False
        self.redraw_count = 0
        self.last_redraw_ms = 0.0

        self._build_experiment_dock()
        self._build_views()
        self._build_timeline()
        # ---- status
        # LiveText: a QLabel's setText relayouts the whole window, on every frame
        self.status = LiveText("ready")
        bar = self.statusBar()
        assert bar is not None, "QMainWindow.statusBar() makes the status bar when there is none"
        bar.addWidget(self.status, 1)
        self.verdict_label = LiveText("", min_width=260)
        bar.addPermanentWidget(self.verdict_label)

        self._build_menus()
        self._connect()
        self.paint_pass = PaintPass(self)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(16)  # display rate; frames are dropped, never queued
        self._redraw_timer.timeout.connect(self._tick)
        self._redraw_timer.start()
        self._start_story()

        self.resize(1500, 950)
        self.layout_name: str | None = None
        remembered = settings().value("layout") if restore else None
        self.apply_layout(layout or (remembered if remembered in LAYOUTS else DEFAULT_LAYOUT))
        self._update_form_summary()
        if restore:
            self._restore_settings()
        self._update_buttons()
        self.autostart_prompt: QMessageBox | None = None
        if autostart:
            QTimer.singleShot(0, self.autostart)

    # ================================================================ parts
    def _build_experiment_dock(self) -> None:
        """The experiment form (collapsible to a one-line summary), the run controls, the models."""
        self.form = ExperimentForm()
        self.controls = RunControls()
        exp = QWidget()
        lay = QVBoxLayout(exp)
        lay.setContentsMargins(2, 2, 2, 2)
        # the form collapses to a one-line summary of the experiment (the pictures get the room)
        head = QHBoxLayout()
        self.form_toggle = QToolButton()
        self.form_toggle.setObjectName("form_toggle")
        self.form_toggle.setCheckable(True)
        self.form_toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.form_toggle.setToolTip("collapse the form to a one-line summary of the experiment")
        self.form_toggle.toggled.connect(self.set_form_collapsed)
        self.form_summary = QLabel("")
        self.form_summary.setObjectName("experiment_summary")
        self.form_summary.setWordWrap(True)
        head.addWidget(self.form_toggle)
        head.addWidget(self.form_summary, 1)
        lay.addLayout(head)
        lay.addWidget(self.form)
        lay.addWidget(self.controls)
        lay.addStretch(1)
        self.form.configChanged.connect(self._update_form_summary)
        scroll = _FormScroll(self.form)  # the dock stays narrow: the form reflows to one column and scrolls
        scroll.setWidget(exp)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumSize(EXPERIMENT_MIN_W, EXPERIMENT_MIN_H)
        self._dock("experiment", "Experiment", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.picker = ModelPicker()
        self._dock("models", "Models", self.picker, Qt.DockWidgetArea.LeftDockWidgetArea)

    def _build_views(self) -> None:
        """Every view of the registry (views.registry), each in a dock titled as the registry says; a
        view's settings are saved as they change. ``views``: the 2D views; ``plane3d``: the GL view (a
        Ctrl+Shift+click in a 2D view sends it a feature); ``all_views``: both, in the registry's order."""
        self.all_views = {v.key: registry.view_class(v.key)() for v in registry.VIEWS}
        self.views = {k: v for k, v in self.all_views.items() if not registry.spec(k).gl}
        self.plane3d = next(v for k, v in self.all_views.items() if registry.spec(k).gl)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        for key, view in self.all_views.items():
            self._dock(key, registry.spec(key).title, view, right)
            view.featureClicked.connect(self._feature_clicked)
        self.setCentralWidget(None)
        for view in self.settings_views().values():
            view.settingsChanged.connect(self._save_view_settings)

    def _build_timeline(self) -> None:
        """The timeline: it shows the session's follow-live and asks the session to change it."""
        self.timeline = Timeline()
        tl_dock = self._dock("timeline", "Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        tl_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        # one row of controls: never let the bottom dock area take the pictures' height
        self.timeline.setMaximumHeight(self.timeline.sizeHint().height() + 12)
        self.timeline.install_shortcuts(self)

    def _start_story(self) -> None:
        """The timeline's story (steps where the diagnosis changed), computed off the GUI thread in a
        latest-wins BackgroundQueue: a refresh asked for while one is being told replaces the one waiting."""
        self._story_jobs = BackgroundQueue("story", parent=self)
        self._story_key: tuple | None = None
        self._story_jobs.done.connect(self._story_ready)
        # a story that cannot be told is left out, never fatal
        self._story_jobs.failed.connect(lambda key, message, tb: self._story_ready(key, []))
        self._story_timer = QTimer(self)
        self._story_timer.setInterval(STORY_REFRESH_MS)
        self._story_timer.timeout.connect(self._refresh_story_while_training)
        self._story_timer.start()
        self.timeline.slider.hover_text = self._hover_text

    # ========================================================== view settings
    def settings_views(self) -> dict:
        """view key -> the view, for every view with settings (views.registry)."""
        return {k: v for k, v in self.all_views.items() if registry.spec(k).settings is not None}

    def view_settings(self) -> dict:
        """view key -> the settings value each view shows now."""
        return {k: v.settings for k, v in self.settings_views().items()}

    def _save_view_settings(self, *_) -> None:
        save_views(settings(), self.view_settings())

    def _restore_view_settings(self) -> None:
        """The views' saved settings, as each view takes them back (``restored``: the 3D view keeps its
        triple and enlarge factors, which belong to a run whose n may differ from the next one's)."""
        views = self.settings_views()
        for key, st in load_views(settings()).items():
            view = views[key]
            restored = getattr(view, "restored", None)
            view.set_settings(restored(st) if restored is not None else st)
        self._save_view_settings()  # rewritten without what was dropped


    # ================================================================ layout
    def apply_layout(self, name: str) -> None:
        """Arrange the docks as the named layout (LAYOUTS) and remember it."""
        if name not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {name!r}")
        D = self.docks
        O = Qt.Orientation
        L, R, B = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea, \
            Qt.DockWidgetArea.BottomDockWidgetArea
        for d in D.values():
            d.setFloating(False)
            self.removeDockWidget(d)
        self.addDockWidget(B, D["timeline"])
        self.addDockWidget(R, D["zones"])
        if name == "explore":
            self.addDockWidget(L, D["experiment"])
            self.splitDockWidget(D["experiment"], D["models"], O.Vertical)
            self.splitDockWidget(D["zones"], D["verdict"], O.Vertical)  # first: the verdict row spans all three
            self.splitDockWidget(D["zones"], D["plane3d"], O.Horizontal)
            self.splitDockWidget(D["plane3d"], D["wheel"], O.Horizontal)
            for key in self._other_views("zones", "verdict", "plane3d", "wheel"):
                self.tabifyDockWidget(D["verdict"], D[key])
            shown = list(D)
        elif name == "compare":
            self.addDockWidget(L, D["experiment"])
            self.splitDockWidget(D["experiment"], D["models"], O.Vertical)
            self.splitDockWidget(D["zones"], D["wheel"], O.Horizontal)
            self.tabifyDockWidget(D["wheel"], D["plane3d"])
            self.splitDockWidget(D["zones"], D["loss"], O.Vertical)
            self.splitDockWidget(D["loss"], D["verdict"], O.Horizontal)
            for key in self._other_views("zones", "wheel", "plane3d", "loss", "verdict"):
                self.tabifyDockWidget(D["verdict"], D[key])
            shown = list(D)
        else:  # figure
            self.splitDockWidget(D["zones"], D["plane3d"], O.Horizontal)
            self.splitDockWidget(D["plane3d"], D["wheel"], O.Horizontal)
            shown = ["timeline", "zones", "plane3d", "wheel"]
        for key, d in D.items():
            d.setVisible(key in shown)
        if name == "compare":
            D["wheel"].raise_()
        D["verdict"].raise_()
        self.set_form_collapsed(name == "compare")
        self.layout_name = name
        # dock sizes only take once the window is laid out: now, and again when it is shown
        self._size_layout()
        QTimer.singleShot(0, self._size_layout)
        QTimer.singleShot(0, self._hide_stale_tab_bars)
        for n, a in getattr(self, "layout_actions", {}).items():
            a.setChecked(n == name)
        settings().setValue("layout", name)
        self._dirty = True

    @staticmethod
    def _other_views(*placed: str) -> list:
        """The registry's views a layout does not place by name: tabbed behind the verdict (a new view
        appears there without a change here)."""
        return [k for k in registry.view_keys() if k not in placed]

    def _size_layout(self) -> None:
        """Share the window out as the current layout says (fractions of the window)."""
        name, D, O = self.layout_name, self.docks, Qt.Orientation
        if name is None or sip.isdeleted(self):
            return
        W, H = max(self.width(), 900), max(self.height(), 600)
        self.resizeDocks([D["timeline"]], [max(self.timeline.sizeHint().height() + 30, 60)], O.Vertical)
        pics = [D["zones"], D["plane3d"], D["wheel"]]
        if name == "explore":
            form_w = max(EXPERIMENT_MIN_W, int(W * FORM_SHARE))
            self.resizeDocks([D["experiment"], D["zones"]], [form_w, W - form_w], O.Horizontal)
            self.resizeDocks([D["experiment"]], [form_w], O.Horizontal)
            self.resizeDocks(pics, [int(W * 0.26)] * 3, O.Horizontal)
            self.resizeDocks([D["zones"], D["verdict"]], [int(H * 0.55), int(H * 0.3)], O.Vertical)
            self.resizeDocks([D["experiment"], D["models"]], [int(H * 0.7), int(H * 0.15)], O.Vertical)
        elif name == "compare":
            self.resizeDocks([D["experiment"], D["zones"]], [int(W * 0.25), int(W * 0.75)], O.Horizontal)
            self.resizeDocks([D["experiment"], D["models"]], [int(H * 0.1), int(H * 0.75)], O.Vertical)
            self.resizeDocks([D["zones"], D["wheel"]], [int(W * 0.37)] * 2, O.Horizontal)
            self.resizeDocks([D["zones"], D["loss"]], [int(H * 0.5), int(H * 0.35)], O.Vertical)
        else:
            self.resizeDocks(pics, [W // 3] * 3, O.Horizontal)

    def repair_docks(self) -> bool:
        """Give the experiment dock its share back when it is narrower than EXPERIMENT_MIN_W or wider
        than FORM_MAX_SHARE of the window (a restored state, a maximise); True when it did."""
        d = self.docks["experiment"]
        if sip.isdeleted(self) or self.layout_name is None or not d.isVisible() or d.isFloating():
            return False
        W = self.width()
        if EXPERIMENT_MIN_W <= d.width() <= max(FORM_MAX_SHARE * W, EXPERIMENT_MIN_W + 1):
            return False
        self._size_layout()  # the layout's shares again (the form, the three pictures side by side)
        return True

    def resizeEvent(self, e: QResizeEvent | None) -> None:
        super().resizeEvent(e)
        if e is None:  # Qt always passes the event; the stubs allow None
            return
        if e.oldSize().width() > 0 and e.size().width() != e.oldSize().width():
            QTimer.singleShot(0, self.repair_docks)  # the added width went to the form: share it out again

    def set_form_collapsed(self, on: bool) -> None:
        """Hide the form behind a one-line summary of the experiment (or show it again)."""
        on = bool(on)
        if self.form_toggle.isChecked() != on:
            self.form_toggle.setChecked(on)  # re-enters through toggled
            return
        self.form.setVisible(not on)
        self.form_summary.setVisible(on)
        self.form_toggle.setArrowType(Qt.ArrowType.RightArrow if on else Qt.ArrowType.DownArrow)
        self.form_toggle.setToolTip("show the whole form" if on else
                                    "collapse the form to a one-line summary of the experiment")

    def _update_form_summary(self, *_):
        try:
            c = self.form.config()
        except ConfigError as exc:
            self.form_summary.setText(f"invalid: {exc}")
            return
        self.form_summary.setText(self.form_summary_text(c))

    @staticmethod
    def form_summary_text(c: TrainConfig) -> str:
        """An experiment in one line (the collapsed form, the autostart question)."""
        data = "one-hot" if c.onehot else f"sparse S={c.sparsity:g}"
        return (f"n={c.n} m={c.m} {data} · {c.optimizer} lr {c.lr:g} wd {c.effective_weight_decay:g} · "
                f"{c.steps:,} steps · K={c.models} seed {c.seed}" + (" · untied" if c.untied else ""))

    def _dock(self, key, title, widget, area):
        d = QDockWidget(title, self)
        d.setObjectName(f"dock_{key}")
        d.setWidget(widget)
        d.visibilityChanged.connect(lambda shown, key=key: self._dock_shown(key, shown))
        self.addDockWidget(area, d)
        self.docks[key] = d
        return d

    def _build_menus(self):
        m = self.menuBar().addMenu("&File")
        a = QAction("&Open run…", self)
        a.setShortcut(QKeySequence.StandardKey.Open)
        a.triggered.connect(self.open_dialog)
        m.addAction(a)
        self.recent_menu = m.addMenu("Open &recent")
        a = QAction("&Save run as…", self)
        a.setShortcut(QKeySequence.StandardKey.SaveAs)
        a.triggered.connect(self.save_dialog)
        m.addAction(a)
        m.addSeparator()
        from app.gui.export_dialog import open_animation_dialog, open_figure_dialog

        self.export_figure_action = QAction("Export &figure…", self)
        self.export_figure_action.triggered.connect(lambda: open_figure_dialog(self))
        m.addAction(self.export_figure_action)
        self.export_animation_action = QAction("Export &animation…", self)
        self.export_animation_action.triggered.connect(lambda: open_animation_dialog(self))
        m.addAction(self.export_animation_action)
        m.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence.StandardKey.Quit)
        a.triggered.connect(self.close)
        m.addAction(a)
        v = self.menuBar().addMenu("&View")
        lm = v.addMenu("&Layout")
        self.layout_actions = {}
        for i, name in enumerate(LAYOUTS):
            a = QAction(name.capitalize(), self)
            a.setCheckable(True)
            a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            a.triggered.connect(lambda _=False, name=name: self.apply_layout(name))
            lm.addAction(a)
            self.layout_actions[name] = a
        lm.addSeparator()
        a = QAction("&Reset", self)
        a.setToolTip("the default layout (explore), every dock back in place")
        a.triggered.connect(lambda: self.apply_layout(DEFAULT_LAYOUT))
        lm.addAction(a)
        v.addSeparator()
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        self._build_experiments_menu()
        self._build_presets_menu()
        self._refresh_recent()

    def _build_experiments_menu(self):
        """Experiments: seed sweeps (failure atlas), perturbation probes, dataset-size sweeps (issue 6)."""
        m = self.menuBar().addMenu("E&xperiments")
        for name, text in (("sweep", "&Seed sweep (failure atlas)…"), ("probe", "&Perturbation probe…"),
                           ("datasize", "&Dataset-size sweep (SMDD)…")):
            a = QAction(text, self)
            a.triggered.connect(lambda _=False, name=name: self.show_experiments(name))
            m.addAction(a)

    def _build_presets_menu(self):
        """Presets (model.presets, the one list): choosing one fills the form; nothing starts."""
        from model.presets import PRESETS

        m = self.menuBar().addMenu("&Presets")
        self.preset_actions = {}
        for name, p in PRESETS.items():
            a = QAction(p.title, self)
            a.setToolTip(f"{p.summary}. Reproduces: {p.reproduces}")
            a.setStatusTip(p.summary)
            a.triggered.connect(lambda _=False, name=name: self.use_preset(name))
            m.addAction(a)
            self.preset_actions[name] = a
        m.setToolTipsVisible(True)

    def use_preset(self, name: str) -> None:
        """Fill the form with preset ``name``'s experiment and say how long it would take; Start runs it."""
        from app.gui.session import estimate_run
        from model.presets import get

        p = get(name)
        cfg = p.build()
        self.form.set_config(cfg)
        self.status.setText(f"preset {p.title}: {p.summary}; would take {estimate_run(cfg, self.session.measured).text()}"
                            f" — press Start to run it")

    def show_experiments(self, tab: str = "sweep") -> ExperimentsWindow:
        """The Experiments window (one, made on first use), on the given tab."""
        if getattr(self, "experiments", None) is None:
            from app.gui.experiments_window import ExperimentsWindow

            self.experiments = ExperimentsWindow(self.session, self.form.config, on_open_model=self.form.set_config)
            self._place_experiments(self.experiments)
        self.experiments.show_tab(tab)
        return self.experiments

    def _place_experiments(self, win: QWidget) -> None:
        """Open the Experiments window where it hides none of the views a probe updates: beside this
        window when the screen has room, else over the form and models column (the left dock), at most
        as wide as that column plus a third of the rest."""
        where = self.screen() or QGuiApplication.primaryScreen()
        assert where is not None, "a shown window (and a running QGuiApplication) has a screen"
        screen = where.availableGeometry()
        frame = self.frameGeometry()
        right_room = screen.right() - frame.right()
        left_room = frame.left() - screen.left()
        if max(right_room, left_room) >= 700:
            w = min(max(right_room, left_room) - 10, 1150)
            x = frame.right() + 5 if right_room >= left_room else frame.left() - 5 - w
            win.setGeometry(x, frame.top(), w, min(frame.height(), screen.height()))
            return
        d = self.docks["experiment"]
        left_w = d.width() if d.isVisible() and not d.isFloating() else 0
        w = max(600, left_w + (self.width() - left_w) // 3)
        top = self.mapToGlobal(self.rect().topLeft())
        win.setGeometry(top.x(), top.y() + 40, min(w, screen.width()), max(400, self.height() - 80))

    def _connect(self):
        s = self.session
        self.controls.start.clicked.connect(self.start_training)
        self.controls.pause.clicked.connect(self.toggle_pause)
        self.controls.step.clicked.connect(s.step_once)
        self.controls.stop.clicked.connect(lambda: s.stop_training())
        self.form.validityChanged.connect(lambda ok: self._update_buttons())
        s.frameChanged.connect(self._mark_dirty)
        s.runChanged.connect(self._on_run_changed)
        s.stateChanged.connect(lambda st: self._update_buttons())
        s.message.connect(self.status.setText)
        s.error.connect(self.show_error)
        s.modelsChanged.connect(self._update_models)
        s.stateChanged.connect(lambda st: st != "training" and self.refresh_story())
        s.frameChanged.connect(lambda: self._story_key is not None and self._story_key[1] != s.model
                               and self.refresh_story())
        self.timeline.stepRequested.connect(self._step_requested)
        self.timeline.followLiveChanged.connect(s.set_follow_live)
        for view in self.all_views.values():  # a view that asks for a step (the history's cursor) scrubs
            asks = getattr(view, "stepRequested", None)
            if asks is not None:
                asks.connect(self.timeline.go_to_step)
        self.picker.modelChosen.connect(s.set_model)

    # ============================================================= actions
    def autostart(self) -> bool:
        """At launch: start the experiment in the form (the remembered one) when it would take at most
        AUTOSTART_MAX_S seconds (session.estimate_run); else leave it ready and ask, showing the
        estimate. True when it started."""
        from app.gui.session import AUTOSTART_MAX_S, estimate_run

        try:
            cfg = self.form.config()
        except ConfigError:
            return False
        est = estimate_run(cfg, self.session.measured)
        if est.seconds <= AUTOSTART_MAX_S:
            self.start_training()
            return True
        self.status.setText(f"ready (not started): this experiment would take {est.text()}; press Start to run it")
        box = QMessageBox(QMessageBox.Icon.Question, "Start the remembered experiment?",
                          f"The experiment from last time would take {est.text()}:\n{self.form_summary_text(cfg)}"
                          f"\n\nIt is in the form, ready. Start it now?", parent=self)
        start = box.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setModal(False)

        def start_if_chosen(b: object) -> None:
            if b is start:
                self.start_training()

        def raise_box() -> None:
            if not sip.isdeleted(box) and box.isVisible():
                box.raise_()
                box.activateWindow()

        box.buttonClicked.connect(start_if_chosen)
        self.autostart_prompt = box
        self.dialogs.append(box)
        box.show()
        QTimer.singleShot(300, raise_box)
        return False

    def start_training(self) -> None:
        try:
            cfg = self.form.config()
        except ConfigError as exc:
            self.show_error("Invalid experiment", str(exc))
            return
        try:
            self.session.start(cfg)
        except ConfigError as exc:
            self.show_error("Cannot start", str(exc))
            return
        settings().setValue("last_experiment", cfg.to_json())

    def toggle_pause(self) -> None:
        s = self.session
        if s.state == "paused":
            s.resume()
        else:
            s.pause()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open run", str(Path.home()), RUN_FILTER)
        if path:
            self.open_run(path)

    def open_run(self, path: str | os.PathLike[str]) -> bool:
        ok = self.session.open(path)
        if ok:
            self._add_recent(str(path))
            self._update_title()
        return ok

    def save_dialog(self) -> None:
        from model.storage.runfile import RunFileError, user_runs_dir

        s = self.session  # start in the runs folder (where autosaves go), named after the run shown
        name = Path(s.run_path).name if s.run_path is not None else "run.h5"
        try:
            folder = user_runs_dir()
        except (OSError, RunFileError):  # no runs folder to be had: the home folder
            folder = Path.home()
        path, _ = QFileDialog.getSaveFileName(self, "Save run as", str(folder / name), RUN_FILTER)
        if path:
            confirmed = True  # the dialog asked before choosing an existing file
            if not path.endswith((".h5", ".hdf5")):
                path += ".h5"
                confirmed = False  # it asked about another name: this one is not replaced
            if self.session.save_as(path, replace=confirmed):
                self._add_recent(path)
                self._update_title()

    def show_error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text.split("\n\n")[0], parent=self)
        if "\n\n" in text:
            box.setDetailedText(text.split("\n\n", 1)[1])
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.dialogs.append(box)
        box.show()

    def _step_requested(self, step: int):
        # The timeline also asks for the newest step while following live.
        if self.timeline.follow_live:
            self.session.set_follow_live(True)
            return
        self.session.request_step(step)
        # Scrubbing: redraw now when the pacing allows, inside the slider's own event, so the
        # slider's repaint and the views' repaints reach the screen in one window composition
        # (with the GL view, each composition costs the whole window; a redraw posted for later
        # made two per frame). A burst of moves still gives one frame per paced interval. Never
        # from inside a redraw (its timeline update can ask for a step): that one is queued.
        if not self._in_redraw:
            self._tick()

    def _feature_clicked(self, i: int):
        mods = QGuiApplication.keyboardModifiers()
        K = Qt.KeyboardModifier
        both = K.ControlModifier | K.ShiftModifier
        # Ctrl+Shift+click: into the 3D view's axis triple (Alt+click, taken by many window managers to
        # move windows, stays as an alias)
        if (mods & both) == both or mods & K.AltModifier:
            self.plane3d.send_feature(i)
            return
        self.session.select_feature(i, add=bool(mods & (Qt.KeyboardModifier.ControlModifier |
                                                        Qt.KeyboardModifier.ShiftModifier)))

    # ============================================================= redraw
    def _dock_shown(self, key, shown):
        if shown and key in getattr(self, "_stale", ()):
            self._dirty = True
            self._next_redraw = 0.0

    def _mark_dirty(self):
        # Redraw as soon as the pacing allows rather than at the next 16 ms tick (a scrub
        # would wait 8 ms on average for it); one pending call at a time, so a burst of
        # slider moves still gives one frame: frames are dropped, never queued.
        self._dirty = True
        if not self._tick_pending:
            self._tick_pending = True
            wait_ms = max(0, int(1000 * (self._next_redraw - time.perf_counter())) + 1)
            QTimer.singleShot(wait_ms, self._pending_tick)

    def _pending_tick(self):
        self._tick_pending = False
        if not sip.isdeleted(self):  # the window may be gone by the time the timer fires
            self._tick()

    def _tick(self):
        # Redraw at display rate at most, and leave the rest of the time to
        # input events and to the training worker (which needs the GIL
        # between kernel calls): after a redraw that took d ms, wait d ms
        # (scrubbing) or 2d ms (while training: at most a third of the time).
        if not self._dirty or time.perf_counter() < self._next_redraw:
            return
        self._dirty = False
        self.redraw()
        factor = 2.0 if self.session.state == "training" else 1.0
        self._next_redraw = time.perf_counter() + factor * self.last_redraw_ms / 1000

    _in_redraw = False

    def redraw(self) -> None:
        """Redraw every view from the session's current frame (the one code path)."""
        self._in_redraw = True
        try:
            self._redraw()
        finally:
            self._in_redraw = False

    def _redraw(self):
        t0 = time.perf_counter()
        self._dirty = False
        s = self.session
        self.timeline.show_follow_live(s.follow_live)  # the session owns follow-live; the timeline shows it
        if s.history is not None:
            self.timeline.set_steps(s.history.steps)
        frame = self.dressed(s.frame())
        if frame is not None and not s.follow_live:
            self.timeline.set_current_step(frame.snapshot.step)
        for key, view in self.all_views.items():
            # Views hidden behind a tab or closed are brought up to date when
            # they are shown (visibilityChanged marks the window dirty).
            if view.isVisible() and not view.visibleRegion().isEmpty():
                view.set_frame(frame)
                self._stale.discard(key)
            else:
                self._stale.add(key)
        if frame is not None:
            snap, a = frame.snapshot, frame.analysis
            verdict = (verdict_label(a, snap.step) if a is not None else
                       "…" if snap.finite else "none: not finite at this step")
            outcome = frame.outcome
            if outcome and a is not None and getattr(s, "override", None) is None and snap.step > 0:
                verdict += f", {outcome['outcome']}"  # "symmetric failure, stuck"
            model = f"model {s.model} · " if s.config.models > 1 else ""
            if getattr(s, "override", None) is not None:
                model = "perturbed copy (probe) · " + model
            self.verdict_label.setText(f"{model}shown: step {snap.step:,} · verdict: {verdict}")
        self.paint_pass.gather()  # the frame's views painted and flushed in one pass (widgets.paint_pass)
        self.redraw_count += 1
        self.last_redraw_ms = (time.perf_counter() - t0) * 1000

    def dressed(self, frame: Frame | None) -> Frame | None:
        """``frame`` with what the window knows beyond the session: the story its timeline tells (the
        feature history marks it) and the outcome in force at the frame's step (the verdict panel
        says it). The views and the export dialog draw this frame."""
        if frame is None:
            return None
        return frame.replace(story=tuple(self.timeline.events()), outcome=self._outcome_at(frame.snapshot.step))

    def _update_title(self) -> None:
        """The title names what is shown: the run's file when it was opened or saved, else the new run."""
        s = self.session
        if s.config is None:
            title = "Latent geometry explorer"
        elif s.from_file:
            title = f"Latent geometry explorer — {Path(s.run_path).name}" if s.run_path else \
                "Latent geometry explorer"
        else:
            c = s.config
            title = f"Latent geometry explorer — new run n={c.n} m={c.m}" + (
                f" (autosave {Path(s.run_path).name})" if s.run_path else " (not saved)")
        self.setWindowTitle(title)

    def _on_run_changed(self):
        s = self.session
        self._update_title()
        self.timeline.show_follow_live(s.follow_live)
        self.timeline.set_steps(s.history.steps if s.history is not None else [])
        self.timeline.set_events([])
        self._outcome_events = []
        self._story_key = None
        self.refresh_story()
        self._update_models()
        if s.config is not None and s.trainer is None:
            self.form.set_config(s.config)

    def _update_models(self):
        s = self.session
        if s.config is None:
            return
        import numpy as np

        seeds = s.config.seed + np.arange(s.config.models)
        self.picker.set_models(seeds, s.final_losses(), s.verdicts)
        self.picker.set_current(s.model)

    def _update_buttons(self):
        s = self.session
        training = s.is_training()
        self.controls.start.setEnabled(self.form.is_valid())
        self.controls.start.setText("Restart" if training else "Start")
        self.controls.pause.setEnabled(training)
        self.controls.pause.setText("Resume" if s.state == "paused" else "Pause")
        self.controls.step.setEnabled(training)
        self.controls.stop.setEnabled(training)

    # ============================================================ run files
    def _add_recent(self, path: str):
        st = settings()
        recent = [p for p in st.value("recent", []) if p != path]
        recent.insert(0, path)
        st.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self):
        self.recent_menu.clear()
        recent = settings().value("recent", [])
        for p in recent:
            a = QAction(p, self)
            a.triggered.connect(lambda _=False, p=p: self.open_run(p))
            self.recent_menu.addAction(a)
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, e: QDragEnterEvent | None) -> None:
        if e is None:  # Qt always passes an event with data; the stubs allow None for both
            return
        mime = e.mimeData()
        if mime is not None and mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent | None) -> None:
        mime = e.mimeData() if e is not None else None  # as in dragEnterEvent
        if mime is None:
            return
        for u in mime.urls():
            if u.isLocalFile():
                self.open_run(u.toLocalFile())
                break

    # ============================================================= settings
    def _restore_settings(self):
        st = settings()
        geo = st.value("geometry")
        if isinstance(geo, bytes) and self.restoreGeometry(QByteArray(geo)) and not self._on_screen():
            self.resize(1400, 900)
            self.move(40, 40)
        state = st.value("state")  # only bytes this program wrote, unchanged (app/gui/settings.py)
        if isinstance(state, bytes) and not self.restoreState(QByteArray(state)):
            log.warning("settings: the saved window state could not be restored; using the default layout")
            self.apply_layout(self.layout_name or DEFAULT_LAYOUT)
        QTimer.singleShot(0, self.repair_docks)  # a state saved with the form crushed (or too wide)
        self._restore_view_settings()
        last = st.value("last_experiment")
        cfg = DEFAULT_EXPERIMENT
        if isinstance(last, str):
            try:
                cfg = TrainConfig.from_json(last)
            except (ConfigError, ValueError, TypeError, RecursionError) as exc:  # stale, foreign or hostile
                log.warning("settings: dropped last_experiment (%s); using the default experiment",
                            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        self.form.set_config(cfg)

    def _on_screen(self) -> bool:
        frame = self.frameGeometry()
        for screen in QGuiApplication.screens():
            inter = screen.availableGeometry().intersected(frame)
            if inter.width() >= 200 and inter.height() >= 150:
                return True
        return False

    def showEvent(self, e: QShowEvent | None) -> None:
        super().showEvent(e)
        QTimer.singleShot(0, self._hide_stale_tab_bars)
        if not getattr(self, "_sized_on_show", False):  # dock sizes take once the window is laid out
            self._sized_on_show = True
            QTimer.singleShot(0, self._size_layout)
        QTimer.singleShot(0, self.repair_docks)

    def _hide_stale_tab_bars(self):
        """Work around a Qt 6 dock layout glitch: a tab bar from an earlier, smaller
        tab group (same docks) can stay visible over the views after tabifying."""
        bars = [b for b in self.findChildren(QTabBar) if b.parent() is self and b.isVisible()]
        tabs = {b: {b.tabText(i) for i in range(b.count())} for b in bars}
        for b in bars:
            if any(o is not b and tabs[b] < tabs[o] for o in bars):
                b.hide()

    # ============================================================= the story
    def refresh_story(self) -> None:
        """Mark on the timeline the recorded steps where the shown model's diagnosis changed and
        where its loss plateaued."""
        from model.analysis.story import story_events

        s = self.session
        h = s.history
        if h is None or s.config is None or not len(h):
            return
        key = (id(h), s.model, len(h), h.latest_step)
        if key == self._story_key:
            return
        self._story_key = key
        cap = STORY_SNAPSHOTS if s.config.n <= STORY_BIG_N else STORY_SNAPSHOTS_BIG
        stride = max(1, -(-len(h) // cap))
        onehot = s.config.onehot  # else only the plateaus: the one-hot diagnosis does not apply

        # the outcomes (settled, stuck, moving) where they stay cheap: three analyses a judged step; the scan
        # stops at the next judged step once the window closes (the queue's is_closed)
        config = s.config if s.config.n <= STORY_BIG_N else None
        model, jobs = s.model, self._story_jobs
        jobs.submit(key, lambda: story_events(h, model, onehot, stride, config, True, jobs.is_closed))

    def _refresh_story_while_training(self) -> None:
        """The timer's refresh, skipped while a story asked for is not yet on the timeline (being
        told, or told and its result still on its way to this thread): that one then arrives and is
        shown. A new key every tick would make each story taking longer than STORY_REFRESH_MS stale
        before it arrived, and none would ever be shown while training; asking only whether the
        queue is busy left a gap between the story's end and its delivery in which a tick made it
        stale."""
        waiting = self._story_key is not None and not self.story_current()
        if self.session.state == "training" and not waiting:
            self.refresh_story()

    def _hover_text(self, index: int) -> str:
        """The timeline's tooltip: the recorded step under the pointer and the shown model's loss there."""
        s = self.session
        h = s.history
        if h is None or not len(h):
            return ""
        steps, losses = h.losses(s.model)
        index = min(max(int(index), 0), len(steps) - 1)
        return f"step {int(steps[index]):,} · loss {float(losses[index]):.6g}"

    def _story_ready(self, key: tuple, events: list) -> None:
        if key != self._story_key:
            return  # an older request
        from widgets.verdict_panel import dress_story

        self._story_shown = key
        events = dress_story(events)  # verdict colours; step 0: the initial parameters, grey
        self.timeline.set_events(events)
        self._outcome_events = [e for e in events if e.get("kind") == "outcome"]
        self._mark_dirty()  # the feature history draws the story, the verdict panel the outcome in force

    def story_current(self) -> bool:
        """Whether the timeline shows the story of the run and model on screen (none is on its way)."""
        return self._story_key is not None and getattr(self, "_story_shown", None) == self._story_key

    def _outcome_at(self, step: int):
        """The shown model's outcome in force at ``step`` (the story's latest event at or before it), or None."""
        got = None
        for e in getattr(self, "_outcome_events", []):
            if e["step"] > step:
                break
            got = e
        return got

    def closeEvent(self, e: QCloseEvent | None) -> None:
        self._story_timer.stop()
        # a story being told stops at its next judged step (milliseconds): wait for it, so that no thread is
        # still in torch while the interpreter and Qt tear down (a run of main.py on a loaded machine
        # once ended in SIGSEGV after its window closed); nothing it returns is delivered now
        self._story_jobs.close(timeout=5.0)
        st = settings()
        st.setValue("geometry", self.saveGeometry().data())
        st.setValue("state", self.saveState().data())
        self._redraw_timer.stop()
        for d in self.dialogs:
            d.close()
        self.timeline.pause()
        if getattr(self, "experiments", None) is not None:
            self.experiments.shutdown(timeout=2.0)
            self.experiments.close()
        self.session.shutdown(timeout=2.0)
        super().closeEvent(e)
