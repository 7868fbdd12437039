"""The 3D view shown through its raster host (render3d.raster_host): no QOpenGLWidget in the window, the
scene on screen, one GL render per changed frame, and the mouse still orbits, zooms and picks."""
import numpy as np
import pytest

from tests.widgets import henighan_snapshot, make_frame, symmetric_failure_snapshot


@pytest.fixture
def shown(qtbot, qapp):
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run)")
    from PyQt6.QtWidgets import QMainWindow

    from render3d.plane_view import PlaneView

    win = QMainWindow()
    v = PlaneView()
    win.setCentralWidget(v)
    qtbot.addWidget(win)
    win.resize(720, 600)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: v.host is not None, timeout=3000)
    snap = henighan_snapshot(7)
    v.set_frame(make_frame(snap))
    v.set_camera("normal")
    qapp.processEvents()
    return win, v


def _pixels(img):
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8).reshape(img.height(), -1, 4)
    return a[:, : img.width(), 2::-1].astype(int)


def test_no_gl_widget_composes_the_window_and_the_scene_is_on_screen(shown, qapp):
    from PyQt6.QtOpenGLWidgets import QOpenGLWidget

    win, v = shown
    # not even as an owned window (Qt.Window child): that still switched the window to GL composition
    assert not win.findChildren(QOpenGLWidget)
    assert v.gl.isWindow() and v.gl.parent() is None and v.gl.isVisible()  # a window of its own, off screen
    assert v.host.window() is win and not isinstance(v.host, QOpenGLWidget)
    assert v.gl.size() == v.host.size()
    # what the window shows (its own raster grab) is the GL view's picture
    shot = _pixels(win.grab().toImage()).copy()
    p = v.host.mapTo(win, v.host.rect().topLeft())
    on_screen = shot[p.y(): p.y() + v.host.height(), p.x(): p.x() + v.host.width()]
    picture = _pixels(v.gl.grabFramebuffer())
    assert on_screen.shape == picture.shape
    assert (np.abs(on_screen - picture).max(axis=2) > 24).mean() < 0.01
    assert (picture.sum(axis=2) < 600).mean() > 0.01  # a scene, not a blank


def test_one_render_per_changed_frame_and_none_when_nothing_changed(shown, qapp):
    win, v = shown
    qapp.processEvents()
    r0 = v.host.renders
    for snap in (symmetric_failure_snapshot(), henighan_snapshot(7)):
        v.set_frame(make_frame(snap))
        qapp.processEvents()
    assert v.host.renders == r0 + 2
    win.update()  # the window repaints (e.g. another view changed): the image is reused, not rendered again
    qapp.processEvents()
    assert v.host.renders == r0 + 2


def test_the_mouse_picks_orbits_and_zooms_through_the_host(shown, qtbot, qapp):
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    _win, v = shown
    x, y = v.pixel_of(v.scene.vertex_pos[4])
    with qtbot.waitSignal(v.featureClicked, timeout=2000) as sig:
        qtbot.mouseClick(v.host, Qt.MouseButton.LeftButton, pos=QPoint(int(round(x)), int(round(y))))
    assert sig.args == [4]
    az = v.camera_params()["azimuth"]
    qtbot.mousePress(v.host, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(v.host, QPoint(160, 100))
    qtbot.mouseRelease(v.host, Qt.MouseButton.LeftButton, pos=QPoint(160, 100))
    assert v.camera_params()["azimuth"] != pytest.approx(az)  # dragged: orbited
    r0, d0 = v.host.renders, v.camera_params()["distance"]
    c = QPointF(v.host.width() / 2, v.host.height() / 2)
    ev = QWheelEvent(c, QPointF(v.host.mapToGlobal(c.toPoint())), QPoint(0, 0), QPoint(0, 120),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(v.host, ev)
    qapp.processEvents()
    assert v.camera_params()["distance"] < d0 and v.host.renders > r0  # zoomed in, drawn again


def test_hiding_the_host_hides_its_gl_window(shown, qapp):
    win, v = shown
    assert v.gl.isVisible()
    win.hide()
    qapp.processEvents()
    assert not v.gl.isVisible() and v.gl.isValid()
    img = v.render_image(200, 150)  # a hidden view still exports
    assert (_pixels(img).sum(axis=2) < 600).mean() > 0.01
    win.show()
    qapp.processEvents()
    assert v.gl.isVisible()


@pytest.mark.slow
def test_the_window_draws_the_labels_as_the_export_does_pixel_for_pixel(shown, qapp):
    """The labels are painted onto the host's image by the export's own paint_labels (raster engine), not by
    the GL view. The GL scenes themselves differ in a few pixels (grabFramebuffer against renderToArray's
    tiled FBO: ~0.7% of the picture, on lines and points), so: wherever the two bare scenes agree, the window
    with its labels equals the export with its labels pixel for pixel, and the labels are really there."""
    _win, v = shown
    for snap in (symmetric_failure_snapshot(), henighan_snapshot(7)):
        v.set_frame(make_frame(snap))
        qapp.processEvents()
        w, h = v.host.width(), v.host.height()
        window = _pixels(v.host.image())
        export = _pixels(v.render_image(w, h, scale=v.items.scale))
        assert not v.items.labels.visible()  # the GL view draws none itself
        v.set_settings(v.settings.with_(show_labels=False))
        qapp.processEvents()
        bare_window = _pixels(v.host.image())
        bare_export = _pixels(v.render_image(w, h, scale=v.items.scale))
        same = np.all(bare_window == bare_export, axis=2)
        assert window.shape == export.shape == (h, w, 3) and same.mean() > 0.98
        assert np.array_equal(window[same], export[same])
        text = np.any(window != bare_window, axis=2) & same
        assert text.mean() > 0.002  # the labels were on the window's picture (where the scenes agree)
        v.set_settings(v.settings.with_(show_labels=True))
        qapp.processEvents()
        assert np.array_equal(_pixels(v.host.image()), window)
