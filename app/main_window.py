"""The explorer window: experiment form and run controls, the 2D views as docks,
the timeline, run files. Views redraw at display rate from the session's frame.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

from PyQt6 import sip
from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QGuiApplication, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QHBoxLayout, QMainWindow, QMessageBox,
                             QPushButton, QTabBar, QVBoxLayout, QWidget)

from model.config import ConfigError, TrainConfig
from widgets.experiment_form import ExperimentForm
from widgets.live_text import LiveText
from widgets.model_picker import ModelPicker
from widgets.timeline import Timeline

from .session import Session

DEFAULT_EXPERIMENT = TrainConfig(n=7, m=2, data="identity", optimizer="adamw", lr=1e-3, steps=25_000, seed=0)
RUN_FILTER = "Run files (*.h5 *.hdf5);;All files (*)"
MAX_RECENT = 8
VIEW_TITLES = {"zones": "Latent zones", "wheel": "Feature wheel", "gram": "WᵀW + b", "bias": "Bias and norm",
               "loss": "Loss", "verdict": "Verdict"}


def settings() -> QSettings:
    org = os.environ.get("LGE_SETTINGS_ORG", "latent-geometry-explorer")
    return QSettings(org, "explorer")


class RunControls(QWidget):
    def __init__(self, parent=None):
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


class MainWindow(QMainWindow):
    def __init__(self, session: Optional[Session] = None, autostart: bool = True, restore: bool = True):
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

        # ---- experiment dock
        self.form = ExperimentForm()
        self.controls = RunControls()
        exp = QWidget()
        lay = QVBoxLayout(exp)
        lay.addWidget(self.form)
        lay.addWidget(self.controls)
        lay.addStretch(1)
        self._dock("experiment", "Experiment", exp, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.picker = ModelPicker()
        self._dock("models", "Models", self.picker, Qt.DockWidgetArea.LeftDockWidgetArea)

        # ---- views
        from widgets.views2d import make_views

        self.views = make_views()
        from render3d.plane_view import PlaneView

        self.plane3d = PlaneView()  # fed in redraw() like the 2D views; Alt+click in a 2D view sends a feature
        # Layout, built in one pass so no dock is moved after it is placed:
        # zones | wheel (tabbed with the 3D view) on top, the other views tabbed below.
        right = Qt.DockWidgetArea.RightDockWidgetArea
        zones = self._dock("zones", VIEW_TITLES["zones"], self.views["zones"], right)
        first = self._dock("gram", VIEW_TITLES["gram"], self.views["gram"], right)
        self.splitDockWidget(zones, first, Qt.Orientation.Vertical)
        wheel = self._dock("wheel", VIEW_TITLES["wheel"], self.views["wheel"], right)
        self.splitDockWidget(zones, wheel, Qt.Orientation.Horizontal)
        plane = self._dock("plane3d", "3D latent plane", self.plane3d, right)
        self.tabifyDockWidget(wheel, plane)
        for key in ("bias", "loss", "verdict"):
            self.tabifyDockWidget(first, self._dock(key, VIEW_TITLES[key], self.views[key], right))
        for view in self.views.values():
            view.featureClicked.connect(self._feature_clicked)
        self.plane3d.featureClicked.connect(self._feature_clicked)
        self.setCentralWidget(None)
        wheel.raise_()
        self.docks["verdict"].raise_()

        # ---- timeline
        self.timeline = Timeline()
        tl_dock = self._dock("timeline", "Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        tl_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.timeline.install_shortcuts(self)

        # ---- status
        # LiveText: a QLabel's setText relayouts the whole window, on every frame
        self.status = LiveText("ready")
        self.statusBar().addWidget(self.status, 1)
        self.verdict_label = LiveText("", min_width=260)
        self.statusBar().addPermanentWidget(self.verdict_label)

        self._build_menus()
        self._connect()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(16)  # display rate; frames are dropped, never queued
        self._redraw_timer.timeout.connect(self._tick)
        self._redraw_timer.start()

        self.resize(1500, 950)
        self.resizeDocks([self.docks["experiment"], zones], [470, 1000], Qt.Orientation.Horizontal)
        self.resizeDocks([zones, first], [560, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["experiment"], self.docks["models"]], [650, 200], Qt.Orientation.Vertical)
        if restore:
            self._restore_settings()
        self._update_buttons()
        if autostart:
            QTimer.singleShot(0, self.start_training)

    # ================================================================ layout
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
        from .export_dialog import open_animation_dialog, open_figure_dialog

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
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        self._build_experiments_menu()
        self._refresh_recent()

    def _build_experiments_menu(self):
        """Experiments: seed sweeps (failure atlas), perturbation probes, dataset-size sweeps (issue 6)."""
        m = self.menuBar().addMenu("E&xperiments")
        for name, text in (("sweep", "&Seed sweep (failure atlas)…"), ("probe", "&Perturbation probe…"),
                           ("datasize", "&Dataset-size sweep (SMDD)…")):
            a = QAction(text, self)
            a.triggered.connect(lambda _=False, name=name: self.show_experiments(name))
            m.addAction(a)

    def show_experiments(self, tab: str = "sweep"):
        """The Experiments window (one, made on first use), on the given tab."""
        if getattr(self, "experiments", None) is None:
            from .experiments_window import ExperimentsWindow

            self.experiments = ExperimentsWindow(self.session, self.form.config, on_open_model=self.form.set_config)
        self.experiments.show_tab(tab)
        return self.experiments

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
        self.timeline.stepRequested.connect(self._step_requested)
        self.timeline.followLiveChanged.connect(s.set_follow_live)
        self.picker.modelChosen.connect(s.set_model)

    # ============================================================= actions
    def start_training(self):
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

    def toggle_pause(self):
        s = self.session
        if s.state == "paused":
            s.resume()
        else:
            s.pause()

    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open run", str(Path.home()), RUN_FILTER)
        if path:
            self.open_run(path)

    def open_run(self, path) -> bool:
        ok = self.session.open(path)
        if ok:
            self._add_recent(str(path))
            self.setWindowTitle(f"Latent geometry explorer — {Path(path).name}")
        return ok

    def save_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save run as", str(Path.home() / "run.h5"), RUN_FILTER)
        if path:
            confirmed = True  # the dialog asked before choosing an existing file
            if not path.endswith((".h5", ".hdf5")):
                path += ".h5"
                confirmed = False  # it asked about another name: this one is not replaced
            if self.session.save_as(path, replace=confirmed):
                self._add_recent(path)

    def show_error(self, title: str, text: str):
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
        else:
            self.session.request_step(step)

    def _feature_clicked(self, i: int):
        mods = QGuiApplication.keyboardModifiers()
        if mods & Qt.KeyboardModifier.AltModifier:  # Alt+click: into the 3D view's axis triple
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

    def redraw(self):
        """Redraw every view from the session's current frame (the one code path)."""
        t0 = time.perf_counter()
        self._dirty = False
        s = self.session
        if s.history is not None:
            self.timeline.set_steps(s.history.steps)
        snap, ctx = s.frame()
        if snap is not None and not s.follow_live:
            self.timeline.set_current_step(snap.step)
        for key, view in self.views.items():
            # Views hidden behind a tab or closed are brought up to date when
            # they are shown (visibilityChanged marks the window dirty).
            if view.isVisible() and not view.visibleRegion().isEmpty():
                view.set_snapshot(snap, ctx)
                self._stale.discard(key)
            else:
                self._stale.add(key)
        if self.plane3d.isVisible() and not self.plane3d.visibleRegion().isEmpty():
            self.plane3d.set_snapshot(snap, ctx)
            self._stale.discard("plane3d")
        else:
            self._stale.add("plane3d")
        if snap is not None:
            verdict = ctx.analysis.verdict.replace("_", " ") if ctx.analysis is not None else "…"
            model = f"model {s.model} · " if s.config.models > 1 else ""
            if getattr(s, "override", None) is not None:
                model = "perturbed copy (probe) · " + model
            self.verdict_label.setText(f"{model}shown: step {snap.step:,} · verdict: {verdict}")
        self.redraw_count += 1
        self.last_redraw_ms = (time.perf_counter() - t0) * 1000

    def _on_run_changed(self):
        s = self.session
        self.timeline.set_steps(s.history.steps if s.history is not None else [])
        self.timeline.set_follow_live(True)
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
        recent = [p for p in (st.value("recent", []) or []) if p != path]
        recent.insert(0, path)
        st.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self):
        self.recent_menu.clear()
        recent = settings().value("recent", []) or []
        if isinstance(recent, str):
            recent = [recent]
        for p in recent:
            a = QAction(p, self)
            a.triggered.connect(lambda _=False, p=p: self.open_run(p))
            self.recent_menu.addAction(a)
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, e):
        if e.mimeData().hasUrls() and any(u.isLocalFile() for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e):
        for u in e.mimeData().urls():
            if u.isLocalFile():
                self.open_run(u.toLocalFile())
                break

    # ============================================================= settings
    def _restore_settings(self):
        st = settings()
        geo = st.value("geometry")
        if isinstance(geo, QByteArray) and self.restoreGeometry(geo):
            if not self._on_screen():
                self.resize(1400, 900)
                self.move(40, 40)
        state = st.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        last = st.value("last_experiment")
        if isinstance(last, str):
            try:
                self.form.set_config(TrainConfig.from_json(last))
            except (ConfigError, ValueError, TypeError, json.JSONDecodeError):
                pass  # a stale or foreign setting: keep the defaults
        else:
            self.form.set_config(DEFAULT_EXPERIMENT)

    def _on_screen(self) -> bool:
        frame = self.frameGeometry()
        for screen in QGuiApplication.screens():
            inter = screen.availableGeometry().intersected(frame)
            if inter.width() >= 200 and inter.height() >= 150:
                return True
        return False

    def showEvent(self, e):
        super().showEvent(e)
        QTimer.singleShot(0, self._hide_stale_tab_bars)

    def _hide_stale_tab_bars(self):
        """Work around a Qt 6 dock layout glitch: a tab bar from an earlier, smaller
        tab group (same docks) can stay visible over the views after tabifying."""
        bars = [b for b in self.findChildren(QTabBar) if b.parent() is self and b.isVisible()]
        tabs = {b: {b.tabText(i) for i in range(b.count())} for b in bars}
        for b in bars:
            if any(o is not b and tabs[b] < tabs[o] for o in bars):
                b.hide()

    def closeEvent(self, e):
        st = settings()
        st.setValue("geometry", self.saveGeometry())
        st.setValue("state", self.saveState())
        self._redraw_timer.stop()
        for d in self.dialogs:
            d.close()
        self.timeline.pause()
        if getattr(self, "experiments", None) is not None:
            self.experiments.shutdown(timeout=2.0)
            self.experiments.close()
        self.session.shutdown(timeout=2.0)
        super().closeEvent(e)
