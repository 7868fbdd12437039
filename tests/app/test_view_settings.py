"""The views' settings as values: ``--set VIEW.KEY=VALUE`` parsed against the dataclass fields,
their JSON form in the settings file, and the round trip window -> export dialog -> file
(the exported figure is drawn with exactly the window's settings, 3D triple and camera)."""
import logging
import os

import numpy as np
import pytest

pytest.importorskip("PyQt6")
from PyQt6.QtGui import QImage

from app.export.figure import FigureOptions, FigureRenderer, qimage_rgb
from app.export.view_settings import CameraSettings, SettingError, apply_sets, from_json, parse_set, to_json
from render3d.scene import PlaneSettings
from views import registry
from widgets.feature_history import HistorySettings
from widgets.feature_wheel import WheelSettings
from widgets.gram_view import GramSettings
from widgets.zone_map import ZoneSettings

VIEWS = ("zones", "wheel", "gram", "plane3d")


# ------------------------------------------------------------------- --set
def test_set_takes_each_type_from_its_field_and_later_wins():
    views, camera, axes = apply_sets(
        ["zones.clip_to_shape=off", "zones.mode=raster", "gram.order=angle", "gram.bias=false", "gram.relu=1",
         "wheel.show_data=no", "plane3d.enlarge=1,1,5", "plane.axes=1,2,7", "plane3d.slivers=false",
         "plane3d.after-relu=yes", "plane3d.camera=normal", "plane3d.azimuth=30", "zones.clip_to_shape=on"],
        VIEWS, n=7)
    assert views["zones"] == ZoneSettings(clip_to_shape=True, mode="raster")  # the later --set wins
    assert views["gram"] == GramSettings(relu=True, bias=False, order="angle")
    assert views["wheel"] == WheelSettings(show_data=False)
    assert views["plane3d"] == PlaneSettings(enlarge=(1.0, 1.0, 5.0), show_slivers=False, after_relu=True)
    assert axes == (0, 1, 6)  # 1-based on the command line, 0-based in the options
    assert camera == CameraSettings(preset="normal", azimuth=30.0) and not camera.exact
    # nothing given: each drawn view's defaults, no camera, the default axes
    assert apply_sets([], ("zones", "bias"), n=7) == ({"zones": ZoneSettings()}, None, None)


@pytest.mark.parametrize("spec, field, words", [
    ("zones.bogus=1", "--set zones.bogus", ["allowed: clip_to_shape, mode, separation, show_separation"]),
    ("zones.mode=bogus", "--set zones.mode", ["one of auto, polygons, raster", "'bogus'"]),
    ("gram.order=1", "--set gram.order", ["one of index, angle"]),
    ("gram.bias=maybe", "--set gram.bias", ["true or false"]),
    ("plane3d.enlarge=1,1", "--set plane3d.enlarge", ["3 comma-separated numbers"]),
    ("plane3d.enlarge=1,1,0", "--set plane3d.enlarge", ["positive"]),
    ("plane3d.enlarge=1,1,nan", "--set plane3d.enlarge", ["3 comma-separated numbers"]),
    ("plane3d.axes=1,2,9", "--set plane3d.axes", ["from 1 to 7"]),
    ("plane3d.axes=2,2,3", "--set plane3d.axes", ["3 different"]),
    ("plane3d.triple=0,1,2", "--set plane3d.triple", ["unknown key", "axes"]),
    ("plane3d.camera=top", "--set plane3d.camera", ["iso, normal, axis-i, axis-j, axis-k"]),
    ("plane3d.distance=-2", "--set plane3d.distance", ["positive"]),
    ("bias.x=1", "--set bias.x", ["not a view with settings", "zones, wheel, gram, plane3d"]),
    ("zones.mode", "--set", ["VIEW.KEY=VALUE"]),
])
def test_a_bad_set_names_the_key_and_what_is_allowed(spec, field, words):
    with pytest.raises(SettingError) as e:
        apply_sets([spec], VIEWS, n=7)
    assert e.value.field == field and str(e.value).startswith(field + ": ")
    for w in words:
        assert w in str(e.value), str(e.value)


def test_a_setting_of_a_view_not_drawn_is_refused_not_ignored():
    with pytest.raises(SettingError, match=r"--set gram.relu: view gram is not drawn.*zones"):
        parse_set("gram.relu=true", ("zones", "loss"))


# -------------------------------------------------------------------- JSON
@pytest.mark.parametrize("value", [ZoneSettings(clip_to_shape=False, show_separation=True, mode="polygons"),
                                   WheelSettings(show_data=False, show_gaps=True),
                                   GramSettings(relu=True, bias=False, order="angle"),
                                   PlaneSettings(triple=(0, 2, 4), enlarge=(1.0, 2.0, 5.0), after_relu=True),
                                   CameraSettings(preset="axis-k", elevation=10.0, distance=3.0,
                                                  center=(0.1, 0.2, 0.3))])
def test_json_round_trip_is_the_same_value(value):
    import json

    warnings = []
    back = from_json(type(value), json.loads(json.dumps(to_json(value))), warnings.append)
    assert back == value and warnings == []


def test_bad_stored_entries_are_left_out_with_a_warning_each():
    warnings = []
    got = from_json(ZoneSettings, {"clip_to_shape": False, "bogus": 1, "mode": "sideways", "show_separation": 5},
                    warnings.append, where="views.zones")
    assert got == ZoneSettings(clip_to_shape=False)  # the good entry kept, the defaults for the rest
    assert len(warnings) == 3 and all("views.zones" in w for w in warnings)
    assert from_json(GramSettings, [1, 2], warnings.append) == GramSettings() and len(warnings) == 4


def test_settings_file_stores_the_views_through_their_dataclasses(tmp_path, caplog):
    import json

    from app.gui.settings import Settings, load_views, save_views

    st = Settings(tmp_path / "s.json")
    views = {"zones": ZoneSettings(clip_to_shape=False), "gram": GramSettings(order="angle"),
             "plane3d": PlaneSettings(enlarge=(1.0, 1.0, 4.0))}
    save_views(st, views)
    assert load_views(Settings(tmp_path / "s.json")) == views
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["views"]["zones"]["sideways"] = True
    doc["views"]["nope"] = {"a": 1}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="app.gui.settings"):
        got = load_views(Settings(tmp_path / "s.json"))
    assert got == views
    text = caplog.text
    assert "'sideways'" in text and "'nope'" in text


# ------------------------------------------------------------------ window
@pytest.fixture
def window(qtbot, run7):
    from app.gui.main_window import MainWindow

    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_run(str(run7))
    w.redraw()
    yield w
    w.close()


def _rgb(img: QImage) -> np.ndarray:
    return qimage_rgb(img).astype(int)


def _bare(w, h, **kw) -> FigureOptions:
    return FigureOptions(width=w, height=h, title=None, caption=False, legend=False, **kw)


@pytest.mark.slow
def test_window_settings_round_trip_into_the_exported_figure(qtbot, window, tmp_path):
    from app.gui.main_window import settings
    from app.gui.settings import load_views

    w = window
    # change the settings through the window's own controls
    w.views["zones"].clip_box.setChecked(False)
    w.views["gram"].bias_box.setChecked(False)
    combo = w.views["gram"].order_combo
    combo.setCurrentIndex(combo.findData("angle"))
    w.views["wheel"].gap_box.setChecked(True)
    w.plane3d.toggles["after_relu"].setChecked(True)
    w.plane3d.set_triple((0, 2, 4))
    w.plane3d.set_camera("normal")
    axis = w.views["history"]._setting_widgets["axis"]
    axis.setCurrentIndex(axis.findData("linear"))
    want = {"zones": ZoneSettings(clip_to_shape=False), "wheel": WheelSettings(show_gaps=True),
            "gram": GramSettings(bias=False, order="angle"), "history": HistorySettings(axis="linear"),
            "plane3d": w.plane3d.settings}
    assert w.view_settings() == want and want["plane3d"].after_relu and w.plane3d.triple == (0, 2, 4)
    assert load_views(settings()) == want  # saved as they changed

    w.export_figure_action.trigger()
    d = w.dialogs[-1]
    o = d.options()
    assert o.views == want and o.axes == (0, 2, 4)
    cam = w.plane3d.camera_params()
    assert o.camera == CameraSettings(preset="normal", **cam) and o.camera.exact
    # what the window's 3D view shows when the dialog takes its options (its controls may relayout
    # later, e.g. an enlarge box's "applied" suffix; the export keeps this framing, camera.aspect)
    mine = _rgb(w.plane3d.render_image(360, 300))

    # the dialog's export of WᵀW is drawn with the window's settings: W^T W by angle, no b
    d.view.setCurrentIndex(d.view.findText(registry.spec("gram").title))
    assert d.panels() == ("gram",)
    d.width_box.setValue(400)
    d.height_box.setValue(360)
    d.title_box.setChecked(False)
    d.caption_box.setChecked(False)
    d.legend_box.setChecked(False)
    d.path.setText(str(tmp_path / "gram.png"))
    out = d.export()
    assert out is not None, d.message.text()
    ctx = w.session.frame_at(w.session.frame().snapshot.step)
    shown = _rgb(QImage(str(out)))
    with FigureRenderer(("gram",), _bare(400, 360, views={"gram": GramSettings(bias=False, order="angle")})) as r:
        same = _rgb(r.image(ctx))
        assert r.panels[0].view.settings == want["gram"]
    with FigureRenderer(("gram",), _bare(400, 360)) as r:
        default = _rgb(r.image(ctx))
        assert r.panels[0].view.settings == GramSettings()
    assert np.abs(shown - same).max() == 0  # exactly the window's settings
    assert (np.abs(shown - default).sum(axis=2) > 60).sum() > 500  # and the toggles change the picture

    # the 3D view: the window's triple, toggles and camera give the window's own picture
    plane = FigureRenderer(("plane3d",), _bare(360, 300, views=o.views, axes=o.axes, camera=o.camera))
    with plane as r:
        img = _rgb(r.image(ctx))
        pv = r.panels[0].view
        assert pv.triple == (0, 2, 4) and pv.settings.after_relu
        got = pv.camera_params()
        for k in ("distance", "elevation", "azimuth", "fov"):
            assert got[k] == pytest.approx(cam[k])
    assert np.abs(img - mine).mean() < 1.0, np.abs(img - mine).mean()
    assert sorted(os.listdir(tmp_path)) == ["gram.png"]


@pytest.mark.slow
def test_saved_view_settings_come_back_in_a_new_window(qtbot, window):
    from app.gui.main_window import MainWindow

    window.views["zones"].sep_box.setChecked(True)
    window.plane3d.toggles["show_cube"].setChecked(False)
    w2 = MainWindow(autostart=False, restore=True)
    qtbot.addWidget(w2)
    try:
        assert w2.views["zones"].settings == ZoneSettings(show_separation=True)
        assert w2.views["zones"].sep_box.isChecked()  # the control shows the restored value
        assert not w2.plane3d.settings.show_cube and not w2.plane3d.toggles["show_cube"].isChecked()
    finally:
        w2.close()


# --------------------------------------------------------------- command line
@pytest.mark.slow
def test_cli_set_draws_what_the_settings_value_draws(run7, tmp_path, monkeypatch, qapp):
    from app.cli import main
    from app.gui.session import Session

    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "xcb"))
    bare = ["--no-title", "--no-caption", "--no-legend", "--size", "420x300", "--step", "900"]
    out = tmp_path / "g.png"
    assert main(["export", str(run7), "--view", "gram", "--set", "gram.bias=false", "--set", "gram.order=angle",
                 *bare, "--out", str(out)]) == 0
    s = Session()
    try:
        assert s.open(run7)
        ctx = s.frame_at(900)
        with FigureRenderer(("gram",), _bare(420, 300, views={"gram": GramSettings(bias=False, order="angle")})) as r:
            want = _rgb(r.image(ctx))
        with FigureRenderer(("gram",), _bare(420, 300)) as r:
            default = _rgb(r.image(ctx))
    finally:
        s.shutdown(timeout=2.0)
    got = _rgb(QImage(str(out)))
    assert np.abs(got - want).max() == 0
    assert (np.abs(got - default).sum(axis=2) > 60).sum() > 500


@pytest.mark.slow
def test_cli_animate_takes_set_too(run7, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    main_py = Path(__file__).resolve().parents[2] / "main.py"
    common = [sys.executable, str(main_py), "animate", str(run7), "--view", "zones", "--frames", "2", "--size",
              "240x200", "--no-title", "--no-caption", "--quiet", "--fps", "5"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for extra, name in (([], "a.gif"), (["--set", "zones.clip_to_shape=false"], "b.gif")):
        r = subprocess.run([*common, *extra, "--out", str(tmp_path / name)], capture_output=True, text=True,
                           timeout=240, env=env)
        assert r.returncode == 0, r.stderr
    frames = []
    for name in ("a.gif", "b.gif"):
        im = Image.open(tmp_path / name)
        im.seek(1)
        frames.append(np.asarray(im.convert("RGB")).astype(int))
    # the whole plane shows zones where the clipped map is white outside the latent shape
    white = [(np.abs(f - 255).sum(axis=2) < 10).mean() for f in frames]
    assert white[1] < white[0] - 0.1, white
