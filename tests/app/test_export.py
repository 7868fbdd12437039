"""Export: figures (PNG / SVG / PDF) and animations (MP4 / GIF), decoded and checked.

Every file written here is read back: PNG pixels, SVG parsed and rendered, PDF
opened and rendered, MP4 and GIF decoded frame by frame.
"""
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("PyQt6")
from PyQt6.QtCore import QSize
from PyQt6.QtGui import QColor, QImage, QPainter

from app.export.animate import AnimationJob, select_steps
from app.export.figure import (
    ExportError,
    FigureOptions,
    FigureRenderer,
    check_output,
    export_figure,
    parse_panels,
    parse_size,
    qimage_rgb,
    run_title,
)
from model.analysis import geometry as geo


def rgb_of(img: QImage) -> np.ndarray:
    return qimage_rgb(img).astype(int)


def near(a: np.ndarray, x: float, y: float, rgb, r: int = 3) -> float:
    """Smallest colour distance to ``rgb`` within r pixels of (x, y)."""
    x, y = int(round(x)), int(round(y))
    patch = a[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].reshape(-1, 3)
    return float(np.min(np.linalg.norm(patch - np.asarray(rgb[:3], float), axis=1)))


def check_arrows_and_legend(a: np.ndarray, r: FigureRenderer, snap, colors, panel: int):
    """Each live feature's arrow (wheel / zones) is drawn in its colour, and the legend shows every colour."""
    W2 = snap.W
    live = np.nonzero(geo.norms(W2) > 0.5)[0]
    assert len(live) >= 4
    for i in live:
        p = r.to_pixel(panel, 0.55 * W2[0, i], 0.55 * W2[1, i])
        assert near(a, p.x(), p.y(), colors[i]) < 45, f"feature {i + 1} arrow colour missing at {p}"
    assert [i for i, _ in r.legend_swatches] == list(range(snap.n))
    for i, rect in r.legend_swatches:
        c = rect.center()
        assert near(a, c.x(), c.y(), colors[i], r=1) < 6


def render_svg(path, size) -> QImage:
    from PyQt6.QtSvg import QSvgRenderer

    rend = QSvgRenderer(str(path))
    assert rend.isValid()
    img = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(255, 255, 255))
    p = QPainter(img)
    rend.render(p)
    p.end()
    return img


# ------------------------------------------------------------------- figures
def test_png_figure_has_exact_size_feature_colours_title_and_legend(session7, tmp_path):
    ctx = session7.frame_at(None)
    snap = ctx.snapshot
    opts = FigureOptions(width=900, height=420)
    with FigureRenderer(("wheel", "zones"), opts, run_title(session7.config)) as r:
        out = r.save(tmp_path / "fig.png", ctx)
        img = QImage(str(out))
        assert (img.width(), img.height()) == (900, 420)
        a = rgb_of(img)
        for panel in (0, 1):
            check_arrows_and_legend(a, r, snap, ctx.colors, panel)
        hdr = r.layout(snap.n, "x")[0]
    assert (a[0, 0] == 255).all() and (a[-1, -1] == 255).all()  # white background
    top = a[int(hdr.top()): int(hdr.bottom())]
    assert (top.sum(axis=2) < 200).sum() > 300  # dark title text
    assert os.listdir(tmp_path) == ["fig.png"]  # no temporary file left


def test_png_options_transparent_no_title_font_size(session7, tmp_path):
    ctx = session7.frame_at(500)
    snap = ctx.snapshot
    assert snap.step <= 500
    bare = FigureOptions(width=400, height=300, background="transparent", title=None, caption=False, legend=False)
    export_figure(tmp_path / "bare.png", ("zones",), ctx, bare)
    img = QImage(str(tmp_path / "bare.png")).convertToFormat(QImage.Format.Format_ARGB32)
    assert img.pixelColor(0, 0).alpha() == 0 and img.pixelColor(399, 0).alpha() == 0
    alpha = np.array([[img.pixelColor(x, y).alpha() for x in range(0, 400, 4)] for y in range(0, 300, 4)])
    assert (alpha > 0).mean() > 0.05  # the zones and axes are drawn
    assert (alpha == 0).mean() > 0.3  # around them: see-through
    # font size: a larger font draws more ink in the title line
    ink = []
    for pt in (8, 16):
        o = FigureOptions(width=600, height=300, font_size=pt, title="Figure 2", caption=False, legend=False)
        with FigureRenderer(("zones",), o) as r:
            a = rgb_of(r.image(ctx))
            hdr = r.layout(snap.n, "")[0]
        ink.append((a[: int(hdr.bottom())].sum(axis=2) < 300).sum())
    assert ink[1] > 2 * ink[0] > 0


def test_svg_is_vector_paths_and_text_and_draws_the_same_figure(session7, tmp_path):
    ctx = session7.frame_at(None)
    snap = ctx.snapshot
    opts = FigureOptions(width=800, height=400)
    with FigureRenderer(("wheel", "zones"), opts, run_title(session7.config)) as r:
        out = r.save(tmp_path / "fig.svg", ctx)
        root = ET.parse(out).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        tags = [el.tag.replace(ns, "") for el in root.iter()]
        assert root.get("width") == "800px" and root.get("height") == "400px"
        assert tags.count("path") + tags.count("polyline") + tags.count("polygon") > 30
        assert "image" not in tags  # no embedded bitmap: real vector output
        texts = {"".join(el.itertext()).strip() for el in root.iter(ns + "text")}
        assert {str(i) for i in range(1, 8)} <= texts  # feature labels
        assert any("step" in t for t in texts) and any("n = 7" in t for t in texts)
        a = rgb_of(render_svg(out, QSize(800, 400)))
        for panel in (0, 1):
            check_arrows_and_legend(a, r, snap, ctx.colors, panel)


@pytest.mark.slow
def test_pdf_opens_with_one_page_of_the_size_and_the_figure(session7, tmp_path):
    from PyQt6.QtPdf import QPdfDocument

    ctx = session7.frame_at(None)

    snap = ctx.snapshot
    for key in ("bias", "loss", "verdict", "gram"):  # every kind of 2D view goes to PDF
        export_figure(tmp_path / f"{key}.pdf", (key,), ctx, FigureOptions(width=500, height=300))
    with FigureRenderer(("wheel", "zones"), FigureOptions(width=800, height=400)) as r:
        out = r.save(tmp_path / "fig.pdf", ctx)
        doc = QPdfDocument(None)
        doc.load(str(out))
        assert doc.status() == QPdfDocument.Status.Ready and doc.pageCount() == 1
        ps = doc.pagePointSize(0)
        assert abs(ps.width() - 600) < 1 and abs(ps.height() - 300) < 1  # 800x400 px at 96 dpi
        a = rgb_of(doc.render(0, QSize(800, 400)).convertToFormat(QImage.Format.Format_ARGB32_Premultiplied))
        for panel in (0, 1):
            check_arrows_and_legend(a, r, snap, ctx.colors, panel)
        doc.close()
    for key in ("bias", "loss", "verdict", "gram"):
        d = QPdfDocument(None)
        d.load(str(tmp_path / f"{key}.pdf"))
        assert d.status() == QPdfDocument.Status.Ready and d.pageCount() == 1
        img = d.render(0, QSize(250, 150))
        arr = rgb_of(img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied))
        assert (arr.sum(axis=2) < 600).mean() > 0.01  # something is drawn
        d.close()


def test_bad_inputs_are_one_line_export_errors(tmp_path):
    with pytest.raises(ExportError, match="--size"):
        parse_size("12x")
    assert parse_size("1280×720") == (1280, 720)
    with pytest.raises(ExportError, match="--panels"):
        parse_panels("wheel,nope")
    assert parse_panels("plane3d+zones") == ("plane3d", "zones")
    with pytest.raises(ExportError, match=r"\.png, \.svg, \.pdf"):
        check_output(tmp_path / "a.jpg", (".png", ".svg", ".pdf"))
    with pytest.raises(ExportError, match="does not exist"):
        check_output(tmp_path / "no" / "a.png", (".png",))
    with pytest.raises(ExportError, match="--background"):
        FigureRenderer(("zones",), FigureOptions(background="pink"))


# ------------------------------------------------------------------ animation
def test_select_steps_linear_log_time_and_stride():
    rec = np.arange(0, 10_001, 10)
    lin = select_steps(rec, frames=11)
    assert lin.tolist() == list(range(0, 10_001, 1000))
    log = select_steps(rec, frames=11, log_time=True)
    assert log[0] == 0 and log[-1] == 10_000 and len(log) == 11
    assert (np.diff(log) >= 0).all() and (log < 1000).sum() >= 6  # most frames early
    st = select_steps(rec, start=100, end=1000, stride=250)
    assert st.tolist() == [100, 350, 600, 850, 1000]
    sparse = np.array([0, 5, 100, 1000])
    assert select_steps(sparse, frames=4).tolist() == [0, 100, 100, 1000]  # at or before each time
    for kw, flag in [(dict(start=-1), "--from"), (dict(end=20_000), "--to"), (dict(start=500, end=400), "--to"),
                     (dict(frames=1), "--frames"), (dict(stride=0), "--stride"),
                     (dict(stride=10, log_time=True), "--log-time")]:
        with pytest.raises(ExportError, match=flag):
            select_steps(rec, **kw)


def _job(session, tmp_path, name, panels=("zones",), frames=12, size=(320, 240), fps=10, **kw):
    steps = select_steps(session.history.steps, frames=frames, log_time=True)
    r = FigureRenderer(panels, FigureOptions(width=size[0], height=size[1]), run_title(session.config))
    return r, AnimationJob(r, session.frame_at, steps, tmp_path / name, fps=fps, **kw)


@pytest.mark.slow
def test_mp4_is_h264_with_the_frames_and_size_and_frames_change(session7, tmp_path):
    import imageio_ffmpeg

    r, job = _job(session7, tmp_path, "a.mp4", frames=12, size=(321, 240))
    with r:
        while job.step(0.05):
            assert job.eta() is not None
        out = job.finish()
    gen = imageio_ffmpeg.read_frames(str(out))
    meta = next(gen)
    assert meta["codec"] == "h264" and meta["size"] == (322, 240)  # odd width made even for yuv420p
    assert meta["pix_fmt"].startswith("yuv420p")
    frames = [np.frombuffer(f, np.uint8).reshape(240, 322, 3).astype(int) for f in gen]
    assert len(frames) == 12
    assert np.abs(frames[0] - frames[-1]).mean() > 2  # training moved the features
    assert frames[0].mean() > 150  # mostly white, not a black or garbled frame
    assert os.listdir(tmp_path) == ["a.mp4"]


@pytest.mark.slow
def test_gif_decodes_to_the_frames_and_shows_the_colours(session7, tmp_path):
    from PIL import Image

    r, job = _job(session7, tmp_path, "a.gif", frames=6, size=(300, 200), panels=("wheel", "zones"))
    with r:
        out = job.run()
    im = Image.open(out)
    assert im.n_frames == 6 and im.size == (300, 200) and im.info.get("loop") == 0
    frames = []
    for k in range(6):
        im.seek(k)
        frames.append(np.asarray(im.convert("RGB")).astype(int))
    assert np.abs(frames[0] - frames[-1]).mean() > 1
    last = frames[-1].reshape(-1, 3)
    colors = session7.frame_at(None).colors[:, :3].astype(int)
    for c in colors:  # every feature colour is in the last frame (legend swatches at least)
        assert np.min(np.linalg.norm(last - c, axis=1)) < 12


def test_cancel_leaves_no_file_behind(session7, tmp_path):
    r, job = _job(session7, tmp_path, "c.mp4", frames=40)
    with r:
        job.step(0.0)
        job.step(0.0)
        assert 0 < job.done < job.total
        assert len(os.listdir(tmp_path)) == 1  # the temporary file, hidden beside the target
        job.cancel()
    assert os.listdir(tmp_path) == [] and job.state == "cancelled"


class FakeEncoder:
    """An encoder that records each frame and the thread that wrote it; ``gate`` holds each write,
    ``fail_at`` makes that frame's write fail as a full disk would."""

    def __init__(self, path, size=(4, 4), fps=10, gate=None, fail_at=None):
        import errno
        import threading

        self.path = self.name = path
        self.frames, self.threads, self.closed, self.aborted = [], [], False, False
        self.gate, self.fail_at, self.errno = gate, fail_at, errno.ENOSPC
        self.wrote = threading.Event()
        with open(path, "wb") as f:
            f.write(b"partial")

    def write(self, frame):
        import threading

        if self.gate is not None:
            assert self.gate.wait(10)
        if len(self.frames) == self.fail_at:
            raise OSError(self.errno, "No space left on device")
        self.frames.append(frame)
        self.threads.append(threading.current_thread().name)
        self.wrote.set()

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


def test_the_encoder_is_a_pipe_on_the_background_worker_in_order_with_back_pressure(tmp_path):
    import threading

    from app.export.animate import EncoderThread
    from model.background import THREAD_PREFIX

    gate = threading.Event()
    enc = FakeEncoder(tmp_path / "f.gif", gate=gate)
    pipe = EncoderThread(enc, depth=2)
    pipe.put(b"0")  # taken by the worker, which waits on the gate
    held = threading.Event()
    for k in (1, 2):
        pipe.put(b"%d" % k)
    assert not pipe.ready() and not pipe.idle()  # the line (depth 2) is full
    t = threading.Thread(target=lambda: (pipe.put(b"3"), held.set()))
    t.start()
    assert not held.wait(0.2)  # the renderer is held back while the encoder is behind
    gate.set()
    assert held.wait(10)
    t.join(10)
    for k in range(4, 10):
        pipe.put(b"%d" % k)
    pipe.finish()
    assert enc.frames == [b"%d" % k for k in range(10)] and enc.closed  # every frame, in order
    assert set(enc.threads) == {THREAD_PREFIX + "export-encoder"}  # written on the one mechanism's thread
    assert not pipe.worker.is_alive()


def test_an_encoder_failure_is_raised_once_and_leaves_nothing_under_the_target(session7, tmp_path, monkeypatch):
    import app.export.animate as animate

    made = []

    def failing(path, size, fps):
        made.append(FakeEncoder(path, size, fps, fail_at=3))
        return made[-1]

    monkeypatch.setattr(animate, "open_encoder", failing)
    r, job = _job(session7, tmp_path, "f.gif", frames=20)
    with r, pytest.raises(ExportError) as err:
        job.run()
    assert err.value.status == 1 and err.value.field == "--out"
    assert "f.gif" in str(err.value) and "disk is full" in str(err.value)
    enc = made[0]
    assert len(enc.frames) == 3 and enc.aborted and not enc.closed  # stopped at the failure, never finished
    assert job.state == "failed" and job.done < job.total
    assert os.listdir(tmp_path) == []  # neither the target nor the temporary file
    job.cancel()  # a second cancel neither raises nor reports again
    assert job.state == "failed"


# ------------------------------------------------------------------------ CLI
def _cli(*args, env_extra=None, drop=()):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    for k in drop:
        env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(root / "main.py"), *args], capture_output=True, text=True,
                          timeout=240, cwd=root, env=env)


@pytest.mark.slow
def test_cli_export_and_animate_without_a_display(run7, tmp_path):
    from PIL import Image

    png, gif = tmp_path / "f.png", tmp_path / "a.gif"
    r = _cli("export", str(run7), "--view", "figure", "--step", "700", "--size", "640x320", "--out", str(png),
             drop=("DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY"))
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "Traceback" not in r.stderr
    img = QImage(str(png))
    assert (img.width(), img.height()) == (640, 320)
    a = rgb_of(img)
    assert (np.abs(a - np.array([31, 119, 180])).sum(axis=2) < 30).sum() > 20  # feature 1's blue is drawn
    r = _cli("animate", str(run7), "--view", "wheel", "--frames", "5", "--log-time", "--size", "200x160",
             "--fps", "10", "--out", str(gif), drop=("DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY"))
    assert r.returncode == 0, r.stderr
    assert "frame" in r.stderr  # the progress bar
    im = Image.open(gif)
    assert im.n_frames == 5 and im.size == (200, 160)
    assert sorted(os.listdir(tmp_path)) == ["a.gif", "f.png"]


@pytest.mark.parametrize("args, needle", [
    (["export", "RUN", "--view", "nope", "--out", "OUT.png"], "--view"),
    (["export", "RUN", "--view", "zones", "--step", "99999", "--out", "OUT.png"], "--step"),
    (["export", "RUN", "--view", "zones", "--out", "OUT.jpg"], ".png, .svg, .pdf"),
    (["export", "RUN", "--view", "zones", "--out", "/nonexistent/dir/x.png"], "/nonexistent/dir"),
    (["export", "RUN", "--view", "zones", "--size", "100", "--out", "OUT.png"], "--size"),
    (["export", "RUN", "--view", "zones", "--model", "2", "--out", "OUT.png"], "--model"),
    (["export", "RUN", "--view", "zones", "--axes", "1,2,3", "--out", "OUT.png"], "--axes"),
    (["export", "RUN", "--view", "figure", "--panels", "wheel,bogus", "--out", "OUT.png"], "--panels"),
    (["export", "/nonexistent/run.h5", "--view", "zones", "--out", "OUT.png"], "/nonexistent/run.h5"),
    (["animate", "RUN", "--view", "zones", "--out", "OUT.avi"], ".mp4, .gif"),
    (["animate", "RUN", "--view", "zones", "--from", "900", "--to", "100", "--out", "OUT.mp4"], "--to"),
    (["animate", "RUN", "--view", "zones", "--to", "99999", "--out", "OUT.mp4"], "--to"),
    (["animate", "RUN", "--view", "zones", "--frames", "5", "--stride", "3", "--out", "OUT.mp4"], "--stride"),
    (["animate", "RUN", "--view", "zones", "--stride", "3", "--log-time", "--out", "OUT.mp4"], "--log-time"),
    (["animate", "RUN", "--view", "zones", "--fps", "60", "--out", "OUT.gif"], "--fps"),
    (["animate", "RUN", "--view", "zones", "--orbit", "30", "--out", "OUT.mp4"], "--orbit"),
])
def test_cli_errors_are_one_line_and_exit_2(run7, tmp_path, monkeypatch, capsys, qapp, args, needle):
    from app.cli import main

    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "xcb"))
    argv = [a.replace("RUN", str(run7)).replace("OUT", str(tmp_path / "out")) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err, err
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------- window
@pytest.fixture
def window(qtbot, run7):
    from app.gui.main_window import MainWindow

    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    w.show()
    assert w.open_run(str(run7))
    yield w
    w.close()


@pytest.mark.slow
def test_window_figure_dialog_writes_the_shown_step(qtbot, window, tmp_path):
    window.session.request_step(600)
    window.export_figure_action.trigger()
    d = window.dialogs[-1]
    assert d.windowTitle() == "Export figure" and d.isVisible()
    d.view.setCurrentIndex(d.view.findText("Figure: feature wheel + latent zones"))
    d.width_box.setValue(700)
    d.height_box.setValue(300)
    d.path.setText(str(tmp_path / "w.png"))
    out = d.export()
    assert out is not None and "Wrote" in d.message.text()
    img = QImage(str(out))
    assert (img.width(), img.height()) == (700, 300)
    ctx = window.session.frame()
    snap = ctx.snapshot
    assert snap.step <= 600
    a = rgb_of(img)
    for c in ctx.colors[:, :3]:
        assert np.min(np.linalg.norm(a.reshape(-1, 3) - c.astype(int), axis=1)) < 10
    d.path.setText(str(tmp_path / "w.bmp"))
    assert d.export() is None and ".png" in d.message.text()  # one clear line, no file
    window.export_figure_action.trigger()
    assert [type(x).__name__ for x in window.dialogs].count("FigureDialog") == 1  # reused


@pytest.mark.slow
def test_window_animation_dialog_progress_cancel_and_finish(qtbot, window, tmp_path):
    import imageio_ffmpeg
    from PyQt6.QtCore import QTimer

    window.export_animation_action.trigger()
    d = window.dialogs[-1]
    assert d.windowTitle() == "Export animation"
    d.view.setCurrentIndex(d.view.findText("Latent zones"))
    d.width_box.setValue(320)
    d.height_box.setValue(240)
    d.frames_box.setValue(400)
    d.path.setText(str(tmp_path / "a.mp4"))
    assert d.start()
    # the window stays responsive: other events run between the dialog's frames
    fired = []
    QTimer.singleShot(1, lambda: fired.append(d.job.done))
    qtbot.waitUntil(lambda: d.job.done >= 5, timeout=20000)
    assert fired and fired[0] < d.job.total
    assert d.progress.value() > 0 and "left" in d.progress.format()
    d.cancel_button.click()
    assert "Cancelled" in d.message.text()
    assert os.listdir(tmp_path) == []  # no half-written file, no temporary file
    d.frames_box.setValue(8)
    d.log_time.setChecked(True)
    with qtbot.waitSignal(d.finished_export, timeout=30000) as sig:
        assert d.start()
    assert sig.args[0] == str(tmp_path / "a.mp4")
    gen = imageio_ffmpeg.read_frames(sig.args[0])
    meta = next(gen)
    assert meta["size"] == (320, 240) and sum(1 for _ in gen) == 8
    assert d.start_button.isEnabled() and not d.cancel_button.isEnabled()


# ------------------------------------------------------------------------- 3D
@pytest.fixture
def gl(qapp):
    from app.export.figure import plane3d_class

    if plane3d_class() is None:
        pytest.skip("render3d.plane_view.PlaneView is not there yet")
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run); offscreen cannot host QOpenGLWidget")


@pytest.mark.slow
def test_plane3d_png_is_rendered_at_the_size_not_upscaled(gl, session7, tmp_path):
    ctx = session7.frame_at(None)
    snap = ctx.snapshot
    bare = FigureOptions(width=420, height=300, title=None, caption=False, legend=False, axes=(0, 2, 4))
    with FigureRenderer(("plane3d",), bare) as r:
        out = r.save(tmp_path / "p.png", ctx)
        direct = rgb_of(r.panels[0].view.render_image(420, 300))  # what the view renders at that size
        assert r.panels[0].view.triple == (0, 2, 4)
    a = rgb_of(QImage(str(out)))
    assert a.shape == (300, 420, 3)
    assert np.abs(a - direct).mean() < 1.0  # the same pixels: drawn 1:1, no scaling
    flat = a.reshape(-1, 3)
    for i in (0, 2, 4):  # the triple's axes in their feature colours
        c = ctx.colors[i, :3].astype(int)
        assert (np.linalg.norm(flat - c, axis=1) < 30).sum() > 30, f"feature {i + 1}"
    with pytest.raises(ExportError, match=r"\.png"):
        export_figure(tmp_path / "p.svg", ("plane3d",), ctx, bare)
    # beside the zones, as a composed figure, vector too (the 3D panel embedded as an image)
    with FigureRenderer(("plane3d", "zones"), FigureOptions(width=800, height=360)) as r:
        r.save(tmp_path / "f.pdf", ctx)
        a = rgb_of(r.image(ctx))
        check_arrows_and_legend(a, r, snap, ctx.colors, 1)
    assert sorted(os.listdir(tmp_path)) == ["f.pdf", "p.png"]


@pytest.mark.parametrize("size", [(1600, 600), (1200, 800), (420, 700)])
@pytest.mark.slow
def test_plane3d_default_camera_frames_the_shape_for_the_pictures_shape(gl, session7, size):
    """Without a camera given, the export frames the shape (render3d.scene.fit_camera) for its own panel's
    width / height: every fit point lies inside the picture drawn. (The widget path framed it for the 640 x 480
    GL view it had when the first frame came, whatever the picture's shape: a wide picture cut the shape.)"""
    from render3d import scene as sc

    w, h = size
    with FigureRenderer(("plane3d",), FigureOptions(width=w, height=h, title=None, caption=False, legend=False)) as r:
        r.image(session7.frame_at(None))
        v = r.panels[0].view
        cam = v.camera_params()
        assert cam["aspect"] == pytest.approx(w / h)  # the panel fills the picture: no title, caption, legend
        S = v.scene
        assert sc.points_in_view(S.fit_points, cam["center"], cam["distance"], cam["elevation"], cam["azimuth"],
                                 w / h, cam["fov"])
        # and framed, not just inside: 20% closer and some fit point leaves the picture
        assert not sc.points_in_view(S.fit_points, cam["center"], 0.8 * cam["distance"], cam["elevation"],
                                     cam["azimuth"], w / h, cam["fov"])


@pytest.mark.slow
def test_plane3d_animation_with_orbit_decodes(gl, session7, tmp_path):
    from PIL import Image

    r, job = _job(session7, tmp_path, "o.gif", frames=6, size=(240, 180), panels=("plane3d",), orbit=120)
    with r:
        view, turns = r.panels[0].view, []
        set_orbit = view.set_orbit
        view.set_orbit = lambda azimuth: (turns.append(azimuth), set_orbit(azimuth))[1]
        out = job.run()
        assert len(turns) >= 5 and max(turns) - min(turns) >= 60  # the camera turned, frame by frame
        assert view.camera_params()["azimuth"] == pytest.approx(turns[-1])
    im = Image.open(out)
    assert im.n_frames == 6 and im.size == (240, 180)
    frames = []
    for k in range(6):
        im.seek(k)
        frames.append(np.asarray(im.convert("RGB")).astype(int))
    assert all(np.abs(frames[k] - frames[k + 1]).mean() > 0.2 for k in range(5))


@pytest.mark.slow
def test_cli_plane3d_without_a_display_starts_its_own_x_server(run7, tmp_path):
    import shutil

    from app.export.figure import plane3d_class

    if plane3d_class() is None:
        pytest.skip("render3d.plane_view.PlaneView is not there yet")
    if shutil.which("xvfb-run") is None:
        pytest.skip("no xvfb-run")
    out = tmp_path / "p.png"
    r = _cli("export", str(run7), "--view", "plane3d", "--axes", "1,2,5", "--size", "300x200", "--out", str(out),
             drop=("DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY"))
    assert r.returncode == 0, r.stderr
    a = rgb_of(QImage(str(out)))
    assert a.shape == (200, 300, 3)
    assert (a.sum(axis=2) < 600).mean() > 0.01  # the scene is drawn, not a blank image
    r = _cli("export", str(run7), "--view", "plane3d", "--out", str(tmp_path / "q.png"),
             env_extra={"QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 2 and "QT_QPA_PLATFORM" in r.stderr and len(r.stderr.strip().splitlines()) == 1
