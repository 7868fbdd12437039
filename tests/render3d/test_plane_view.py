"""The 3D view in GL (run under Xvfb: QT_QPA_PLATFORM=offscreen cannot host QOpenGLWidget).

Pixel checks on render_image (renderToArray at the requested size): a feature's
sliver colour appears where its sliver is, the bias arrow's tip moves with b_k,
a dead feature's plane is flat; plus the controls, picking, hidden and floated
views. Renders are saved as /tmp/plane3d_test_*.png to look at.
"""
import numpy as np
import pytest

from model.snapshot import Snapshot
from render3d import scene as sc
from tests.widgets import blend, framed, henighan_snapshot, make_frame, symmetric_failure_snapshot

SIZE = (480, 400)


@pytest.fixture
def view(qtbot, qapp):
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run); offscreen cannot host QOpenGLWidget")
    from render3d.plane_view import PlaneView

    v = PlaneView()
    qtbot.addWidget(v)
    v.resize(620, 520)
    v.show()
    qtbot.waitExposed(v)
    qapp.processEvents()
    return v


def rgb(img):
    """QImage -> (h, w, 3) uint8 RGB."""
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_ARGB32)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    a = np.frombuffer(ptr, np.uint8).reshape(h, img.bytesPerLine() // 4, 4)[:, :w]
    return a[..., [2, 1, 0]].copy()


def render(v, name, w=SIZE[0], h=SIZE[1]):
    img = v.render_image(w, h)
    img.save(f"/tmp/plane3d_test_{name}.png")
    return rgb(img)


def pixel(v, p3, w=SIZE[0], h=SIZE[1]):
    xy, vis = sc.project_to_pixels(v.gl.mvp(w, h), np.asarray(p3, float).reshape(1, 3), w, h)
    assert vis[0]
    return int(round(xy[0, 1])), int(round(xy[0, 0]))  # (row, col)


def patch(a, rc, r=2):
    y, x = rc
    return a[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1].reshape(-1, 3).astype(float)


def pure_cell_centroid(S, s):
    """h at the centroid of the largest cell where only axis s fires."""
    a = sc.cell_areas(S.cells_h, S.cells_off)
    ok = np.nonzero(S.cells_bits == (1 << s))[0]
    g = ok[np.argmax(a[ok])]
    return S.cells_h[S.cells_off[g]:S.cells_off[g + 1]].mean(axis=0)


def quiet(v, **kw):
    """Only the shape and what the test names: no labels, cube, points, tilt."""
    st = v.settings.with_(show_labels=False, show_cube=False, show_vertices=False, show_tilt=False,
                          show_shape=True, show_slivers=True)
    v.set_settings(st.with_(**kw) if kw else st)


def test_sliver_colour_appears_where_the_sliver_is(view, qapp):
    snap = henighan_snapshot(7)
    ctx = make_frame(snap)
    view.set_frame(framed(snap, ctx))
    view.set_triple((0, 1, 2))
    quiet(view, show_bias=False)  # the bias arrow's head would cover h = 0, where the neutral colour is read
    view.set_camera("normal")  # the plane faces the camera
    a = render(view, "slivers")
    S = view.scene
    A3, b3 = S.tilt, S.bias
    for s, f in enumerate((0, 1, 2)):
        h = pure_cell_centroid(S, s)
        got = np.median(patch(a, pixel(view, A3 @ h + b3)), axis=0)
        want = blend((*ctx.colors[f, :3], 255 * sc.SLIVER_ALPHA))
        assert np.abs(got - want).max() < 12, (s, got, want)
    # the neutral part: h = 0 lands at b (no axis fires there: b < 0)
    got = np.median(patch(a, pixel(view, S.bias_tip)), axis=0)
    assert np.abs(got - blend(np.array(sc.NEUTRAL) * 255)).max() < 12
    # and the sliver colour is there because of the slivers: switched off, it is gone
    view.set_settings(view.settings.with_(show_slivers=False))
    b_ = render(view, "no_slivers")
    h = pure_cell_centroid(S, 0)
    got = np.median(patch(b_, pixel(view, A3 @ h + b3)), axis=0)
    assert np.abs(got - blend(np.array(sc.NEUTRAL) * 255)).max() < 12
    want = blend((*ctx.colors[0, :3], 255 * sc.SLIVER_ALPHA))
    near = lambda img: int((np.abs(img.astype(float) - want).max(axis=2) < 10).sum())  # noqa: E731
    assert near(a) > 200 and near(b_) < near(a) // 20


def test_bias_tip_moves_with_b_k_and_the_camera_stays(view, qapp):
    snap = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap))
    assert view.triple == (0, 1, 6)
    quiet(view, enlarge=(1.0, 1.0, 3.0))  # as the seed enlarges dimension 7 to show b_7
    view.set_camera("axis-i")  # looking down x: y to the right, z (feature 7) up
    cam = view.camera_params()
    a1 = render(view, "bias_before")
    tip1 = pixel(view, view.scene.bias_tip)
    b = snap.b.copy()
    b[6] = 0.35
    snap2 = Snapshot(snap.step + 1, snap.W, b)
    view.set_frame(make_frame(snap2))
    # the camera stays put while the snapshot changes (and the scene stays inside the frame)
    assert view._in_view(view.scene) and view.camera_params() == cam
    a2 = render(view, "bias_after")
    np.testing.assert_allclose(view.scene.bias_tip, [-1, -1, 1.05])
    tip2 = pixel(view, view.scene.bias_tip)
    assert tip1[0] - tip2[0] > 40 and abs(tip1[1] - tip2[1]) <= 3  # straight up on screen

    def dark(img, rc):
        return float(patch(img, rc, 4).sum(axis=1).min()) < 3 * 90

    assert dark(a1, tip1) and not dark(a1, tip2)
    assert dark(a2, tip2) and not dark(a2, tip1)


def test_dead_feature_plane_is_flat(view, qapp):
    snap = symmetric_failure_snapshot()
    W = snap.W.copy()
    W[:, 6] = 0.45 * W[:, 5]  # feature 7 tilted a little along W_6 (the seed's 'W7 = a W6')
    tilted = Snapshot(snap.step, W, snap.b)

    def rows_covered(s, name, elevation=0.0):
        view.set_frame(make_frame(s))
        view.set_triple((0, 1, 6))
        quiet(view)
        S = view.scene
        # camera level with the plane's h = 0 point, looking along x: a flat plane is a line
        view.set_camera_params(center=S.bias_tip, elevation=elevation, azimuth=0.0,
                               distance=sc.fit_camera(S.fit_points, 0, 0, SIZE[0] / SIZE[1])[1])
        with_shape = render(view, name)
        quiet(view, show_shape=False)
        without = render(view, name + "_noshape")
        diff = np.abs(with_shape.astype(int) - without.astype(int)).max(axis=2) > 12
        return np.nonzero(diff.any(axis=1))[0]

    flat = rows_covered(snap, "flat")
    tilt = rows_covered(tilted, "tilted")
    assert len(flat) <= 2, flat          # edge-on, a flat plane is (at most) a line
    assert len(tilt) >= 25, len(tilt)    # a tilted one is not
    assert len(rows_covered(snap, "flat_from_above", elevation=15.0)) >= 10  # the flat one is drawn


@pytest.mark.slow
def test_render_image_exact_size_and_large(view, qapp):
    snap = henighan_snapshot(7)
    view.set_frame(make_frame(snap))
    for w, h in ((333, 222), (1500, 1100)):
        img = view.render_image(w, h)
        assert (img.width(), img.height()) == (w, h)
    img.save("/tmp/plane3d_test_large.png")
    a = rgb(img)
    # drawn at that size, not a small picture scaled up: the sliver of feature 1 at its projected place
    S = view.scene
    h = pure_cell_centroid(S, 0)
    view.set_camera(view.camera_preset)
    a = rgb(view.render_image(1500, 1100))
    rc = pixel(view, S.tilt @ h + S.bias, 1500, 1100)
    want = blend((*make_frame(snap).colors[0, :3], 255 * sc.SLIVER_ALPHA))
    assert np.abs(np.median(patch(a, rc), axis=0) - want).max() < 14


@pytest.mark.slow
def test_hidden_and_floated_views_render(qtbot, qapp):
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server")
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QDockWidget, QMainWindow

    from render3d.plane_view import PlaneView

    snap = henighan_snapshot(7)
    ctx = make_frame(snap)
    want = blend((*ctx.colors[0, :3], 255 * sc.SLIVER_ALPHA))

    def count(img):
        return int((np.abs(rgb(img).astype(float) - want).max(axis=2) < 10).sum())

    hidden = PlaneView()  # never shown: its GL widget has no context; an offscreen view renders
    qtbot.addWidget(hidden)
    hidden.set_frame(framed(snap, ctx))
    img = hidden.render_image(400, 300)
    img.save("/tmp/plane3d_test_hidden.png")
    assert count(img) > 100
    assert not any(w.isVisible() for w in qapp.topLevelWidgets())
    # a dock floated out still draws
    win = QMainWindow()
    qtbot.addWidget(win)
    v = PlaneView()
    dock = QDockWidget("3D", win)
    dock.setWidget(v)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    win.resize(700, 600)
    win.show()
    qtbot.waitExposed(win)
    v.set_frame(framed(snap, ctx))
    qapp.processEvents()
    assert count(v.render_image(400, 300)) > 100
    gen = v.gl.generation
    dock.setFloating(True)
    # shown through its raster host (the default), the GL view keeps its own window and context; a GL widget
    # in the dock itself (RASTER_HOST off) gets a new context and its items rebuild
    assert v.host is not None
    qapp.processEvents()
    qtbot.waitUntil(lambda: v.gl.isValid() and (v.host is not None or v.gl.generation > gen), timeout=3000)
    assert v.gl.generation == gen
    assert count(v.host.image()) > 100  # what the floated dock shows
    img = v.render_image(400, 300)
    img.save("/tmp/plane3d_test_floated.png")
    assert count(img) > 100
    win.close()


def test_triple_controls_send_feature_step_default(view, qapp):
    from model.analysis.analysis import analyze

    snap = symmetric_failure_snapshot()
    ctx = make_frame(snap)
    seen = []
    view.settingsChanged.connect(seen.append)
    view.set_frame(framed(snap, ctx))
    assert view.triple == (0, 1, 6) and [s.value() for s in view.spins] == [1, 2, 7]
    view.send_feature(3)              # replaces z first
    assert view.triple == (0, 1, 3)
    view.send_feature(4)              # then the axis set longest ago
    assert view.triple == (4, 1, 3)
    view.send_feature(1)              # already shown: nothing moves
    assert view.triple == (4, 1, 3)
    view.spins[1].setValue(6)         # the y spin box, 1-based
    assert view.triple == (4, 5, 3)
    view.step(1)                      # z steps, skipping x and y
    assert view.triple == (4, 5, 6)
    view.step(1)
    assert view.triple == (4, 5, 0)
    assert seen and seen[-1].triple == (4, 5, 0)
    # the user's triple survives new snapshots
    view.set_frame(framed(snap, ctx))
    assert view.triple == (4, 5, 0)
    view.use_default()
    assert view.triple == (0, 1, 6)
    # "Selected -> axes": three selected features become the triple
    view.set_frame(ctx.replace(selected=frozenset({2, 3, 5}), analysis=analyze(snap)))
    view.selected_btn.click()
    assert view.triple == (2, 3, 5)
    # enlarge spin box -> settings -> the scene
    view.enlarge_spins[2].setValue(4.0)
    assert view.settings.enlarge == (1.0, 1.0, 4.0)
    assert view.scene.enlarge.tolist() == [1.0, 1.0, 4.0]
    assert "features 3, 4, 6" in view.status.text() and "b = (-1, -1, -1)" in view.status.text()
    view.set_frame(None)
    assert view.scene is None


def test_default_follows_training_until_a_feature_dies(view, qapp):
    from model.analysis.analysis import analyze

    rng = np.random.default_rng(3)
    early = Snapshot(0, rng.normal(size=(2, 7)), np.zeros(7))
    view.set_frame(make_frame(early))
    first = view.triple
    late = symmetric_failure_snapshot()
    view.set_frame(make_frame(late))
    assert analyze(late).dead == [6] and 6 not in first
    assert view.triple == (0, 1, 6)


def test_click_on_a_vertex_emits_feature(view, qtbot, qapp):
    from PyQt6.QtCore import QPoint, Qt

    snap = henighan_snapshot(7)
    view.set_frame(make_frame(snap))
    view.set_camera("normal")
    qapp.processEvents()
    x, y = view.pixel_of(view.scene.vertex_pos[4])
    with qtbot.waitSignal(view.featureClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.gl, Qt.MouseButton.LeftButton, pos=QPoint(int(round(x)), int(round(y))))
    assert blocker.args == [4]
    assert view.feature_at(5, 5) == -1


def test_orbit_turns_the_camera(view, qapp):
    snap = henighan_snapshot(7)
    view.set_frame(make_frame(snap))
    view.set_camera("iso")
    a = rgb(view.render_image(320, 240))
    cam = view.camera_params()
    view.set_orbit(cam["azimuth"] + 90)
    c2 = view.camera_params()
    assert c2["azimuth"] == pytest.approx(cam["azimuth"] + 90)
    assert c2["elevation"] == cam["elevation"] and c2["distance"] == cam["distance"]
    b = rgb(view.render_image(320, 240))
    assert np.abs(a.astype(int) - b.astype(int)).max(axis=2).mean() > 2


def test_new_snapshots_reuse_the_gl_buffers(view, qapp):
    rng = np.random.default_rng(0)
    base = henighan_snapshot(7)
    view.set_frame(make_frame(base))
    view.render_image(200, 150)  # uploads
    mesh, outline = view.items.mesh, view.items.outline

    def gpu_bytes(buf):  # the size GL holds for the buffer (bound, in the view's context)
        view.gl.makeCurrent()
        buf.bind()
        try:
            return buf.size()
        finally:
            buf.release()

    ids = (mesh.m_vbo_position.bufferId(), mesh.m_ibo_faces.bufferId(), outline.m_vbo_position.bufferId())
    sizes = (gpu_bytes(mesh.m_vbo_position), gpu_bytes(outline.m_vbo_position))
    assert sizes[0] == mesh._vcap * 12  # (capacity, 3) float32
    for s in range(3):
        snap = Snapshot(s, base.W + 0.05 * rng.normal(size=base.W.shape), base.b + 0.05 * rng.normal(size=7))
        view.set_frame(make_frame(snap))
        view.render_image(200, 150)
        assert (mesh.m_vbo_position.bufferId(), mesh.m_ibo_faces.bufferId(),
                outline.m_vbo_position.bufferId()) == ids
        assert (gpu_bytes(mesh.m_vbo_position), gpu_bytes(outline.m_vbo_position)) == sizes


def test_points_in_view_on_a_camera_built_by_hand():
    # looking along -x at the origin from distance 10 (elevation 0, azimuth 0): the screen is (y, z)
    d, r, u = sc.camera_basis(0.0, 0.0)
    assert np.allclose(d, [1, 0, 0]) and np.allclose(r, [0, 1, 0]) and np.allclose(u, [0, 0, 1])
    tx = np.tan(np.radians(sc.FOV / 2))
    edge = 10 * tx  # half-width of the view at the origin's depth
    inside = [[0, 0.9 * edge, 0]]
    outside = [[0, 1.1 * edge, 0]]
    assert sc.points_in_view(inside, (0, 0, 0), 10.0, 0.0, 0.0, aspect=1.0, margin=1.0)
    assert not sc.points_in_view(outside, (0, 0, 0), 10.0, 0.0, 0.0, aspect=1.0, margin=1.0)
    assert not sc.points_in_view([[11, 0, 0]], (0, 0, 0), 10.0, 0.0, 0.0)  # behind the camera


def test_camera_refits_when_the_shape_grows_unless_the_user_moved_it(view):
    s = henighan_snapshot(7)
    view.set_frame(make_frame(s))
    assert view._in_view(view.scene)
    big = Snapshot(step=2, W=s.W * 6.0, b=s.b * 36.0)  # the same shape, 6x larger (training grows it)
    view.set_frame(make_frame(big))
    assert view._in_view(view.scene)  # framed again: nothing is cut by the frame
    # the user zooms in: their camera is kept even if the shape leaves the frame
    p = view.camera_params()
    view.set_camera_params(distance=p["distance"] / 8)
    bigger = Snapshot(step=3, W=s.W * 12.0, b=s.b * 144.0)
    view.set_frame(make_frame(bigger))
    assert view.camera_params()["distance"] == pytest.approx(p["distance"] / 8)
    assert not view._in_view(view.scene)
    # pressing Fit hands framing back to the view
    view.fit()
    view.set_frame(make_frame(big))
    view.set_frame(framed(Snapshot(step=4, W=s.W * 30.0, b=s.b * 900.0), make_frame(big)))
    assert view._in_view(view.scene)


def test_a_run_with_another_n_does_not_inherit_the_triple_or_the_enlarge_factors(view, qapp):
    """Issue 22 item 8: a triple and x5 chosen for an n = 7 run are not carried to an n = 9 run;
    a run with the same n keeps them (scrubbing and a restart of the same experiment)."""
    snap7 = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap7))
    view.set_triple((2, 4, 5))
    view.set_settings(view.settings.with_(enlarge=(1.0, 1.0, 5.0)))
    again = henighan_snapshot(7)
    view.set_frame(make_frame(again))
    assert view.triple == (2, 4, 5) and view.settings.enlarge == (1.0, 1.0, 5.0)
    snap9 = henighan_snapshot(9)
    view.set_frame(make_frame(snap9))
    assert view.settings.enlarge == (1.0, 1.0, 1.0)
    assert view.triple == sc.default_triple(snap9, None) and view.default_btn.text() == "Default ✓"
    assert [d.value() for d in view.enlarge_spins] == [1.0, 1.0, 1.0]


def test_the_enlarge_box_shows_the_factor_applied_automatically(view, qapp):
    """Issue 22 item 7: the flat dead axis of the seed's failure is enlarged x5 automatically; its box
    says so (it read x1.00 while x5 was applied), and says nothing once the user sets a factor."""
    snap = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap))
    assert view.triple == (0, 1, 6)
    applied = view.scene.enlarge
    assert applied[2] > 1 and view.settings.enlarge == (1.0, 1.0, 1.0)
    assert view.enlarge_spins[2].text().endswith(f"→ ×{applied[2]:g} applied")
    assert view.enlarge_spins[0].suffix() == ""
    view.enlarge_spins[2].setValue(3.0)
    assert view.scene.enlarge[2] == 3.0 and view.enlarge_spins[2].suffix() == ""


def _features_box_share(v):
    """max(width, height) share of the view that the features' points take on screen."""
    w, h = v.gl.width(), v.gl.height()
    xy, vis = sc.project_to_pixels(v.gl.mvp(), v.scene.vertex_pos.astype(float), w, h)
    assert vis.all()
    return max(np.ptp(xy[:, 0]) / w, np.ptp(xy[:, 1]) / h)


def test_fit_frames_the_shape_not_the_enlarged_axis(view, qapp):
    """Issue 22 item 7: with z enlarged x5 (the seed's flat dead axis), Fit framed the stretched axis
    and cube (5 units tall) and left the shape (z = 0.71) a fifth of the picture. Fit frames the shape,
    the origin and the bias tip, the axes and cube only up to FIT_REACH of that core's span beyond it:
    the extreme framed points fill 85% of the view (fit_camera's margin) and the core is at least
    1 / (1 + 2 FIT_REACH) of what is framed, so the shape (most of its core here) takes well over a
    third of the picture (0.21 before, 0.41 after)."""
    snap = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap))
    view.set_settings(view.settings.with_(enlarge=(1.0, 1.0, 5.0)))
    view.set_camera("iso")
    view.fit()
    assert view.scene.enlarge[2] == 5.0
    assert _features_box_share(view) > 1 / 3
    # nothing is cut: every feature point and the bias tip are in the picture
    ctr = view.camera_params()["center"]
    o = view.gl.opts
    assert sc.points_in_view(np.vstack([view.scene.vertex_pos, view.scene.bias_tip]), ctr, o["distance"],
                             o["elevation"], o["azimuth"], view.gl.width() / view.gl.height(), o["fov"])
    # the z axis's end is outside the picture now; its label slides back along the axis into it
    w, h = view.gl.width(), view.gl.height()
    end = sc.project_to_pixels(view.gl.mvp(), view.scene.axes_pos[5:6].astype(float), w, h)[0][0]
    assert not (0 <= end[1] <= h)
    base = sc.project_to_pixels(view.gl.mvp(), np.zeros((1, 3)), w, h)[0][0]
    p = sc.slide_into_view(base, end, w, h, 24.0)
    assert 24.0 - 1e-9 <= p[1] <= h - 24.0 + 1e-9 and 0 <= p[0] <= w
    a, b = end - base, p - base
    assert abs(a[0] * b[1] - a[1] * b[0]) < 1e-6 * float(a @ a)  # on the axis line


def _wheel(v, x, y, notches):
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    target = v.host if v.host is not None else v.gl
    for _ in range(abs(notches)):
        c = QPointF(x, y)
        ev = QWheelEvent(c, QPointF(target.mapToGlobal(c.toPoint())), QPoint(0, 0),
                         QPoint(0, 120 if notches > 0 else -120), Qt.MouseButton.NoButton,
                         Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(target, ev)


def test_wheel_zoom_keeps_what_is_under_the_cursor(view, qapp):
    """Issue 22 item 7: the wheel zoomed towards the camera's centre, pushing the shape out of the
    picture. It zooms towards the cursor: the features' centroid under the cursor stays there (within
    a pixel) through six notches in, while the picture is magnified (distance x 0.999^720 = 0.49)."""
    snap = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap))
    view.set_settings(view.settings.with_(enlarge=(1.0, 1.0, 5.0)))
    view.fit()
    view.set_camera_params(azimuth=view.camera_params()["azimuth"] + 25)  # the user orbited: centre off the shape
    w, h = view.gl.width(), view.gl.height()
    cen = view.scene.vertex_pos.astype(float).mean(axis=0)[None]
    x, y = sc.project_to_pixels(view.gl.mvp(), cen, w, h)[0][0]
    d0, share0 = view.camera_params()["distance"], _features_box_share(view)
    _wheel(view, x, y, 6)
    x1, y1 = sc.project_to_pixels(view.gl.mvp(), cen, w, h)[0][0]
    assert np.hypot(x1 - x, y1 - y) < 1.0 and 0 <= x1 <= w and 0 <= y1 <= h
    assert view.camera_params()["distance"] == pytest.approx(d0 * 0.999 ** 720)
    assert _features_box_share(view) > 1.5 * share0
    _wheel(view, x, y, -6)  # and back out: the camera returns to where it was
    assert view.camera_params()["distance"] == pytest.approx(d0)


def test_the_bias_label_is_not_written_over_the_plane(view, qapp):
    """Issue 22 item 7: the bias label sat over the filled plane (its point p(0) = b lies on it). Laid out
    as the window and the export lay it out (paint_labels), its box does not meet the projected shape
    (checked with Qt's own polygon intersection), and a leader line joins it to the tip."""
    from PyQt6.QtCore import QPointF, QRectF
    from PyQt6.QtGui import QImage, QPainter, QPolygonF

    from render3d.gl_items import paint_labels

    snap = symmetric_failure_snapshot()
    view.set_frame(make_frame(snap))
    view.set_settings(view.settings.with_(enlarge=(1.0, 1.0, 5.0)))
    view.fit()
    S = view.scene
    w, h = view.gl.width(), view.gl.height()
    mvp = view.gl.mvp(w, h)
    img = QImage(w, h, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    try:
        drawn = paint_labels(p, S.labels, mvp, w, h, 1.0, obstacles=S.label_obstacles(), area=S.label_area)
    finally:
        p.end()
    (x0, y0, x1, y1), = [box for lb, box in drawn if lb.kind == "bias"]
    shape_px = sc.project_to_pixels(mvp, S.shape3.astype(float), w, h)[0]
    plane = QPolygonF([QPointF(float(x), float(y)) for x, y in shape_px])
    tx, ty = sc.project_to_pixels(mvp, S.bias_tip[None].astype(float), w, h)[0][0]
    assert plane.intersects(QPolygonF(QRectF(tx - 3, ty - 3, 6, 6)))  # its point is on the plane
    assert not plane.intersects(QPolygonF(QRectF(x0, y0, x1 - x0, y1 - y0)))
    assert S.label_area.shape == S.shape3.shape


def test_right_click_menu_picks_axes_toggles_and_fits(view, qapp, monkeypatch):
    """Issue 22 item 7: Alt+click (the axis pick) is taken by window managers (openbox, KDE, XFCE): a
    right-click on the picture offers the feature under the cursor on each axis, the toggles and Fit."""
    from PyQt6.QtCore import QPoint
    from PyQt6.QtGui import QContextMenuEvent

    snap = henighan_snapshot(7)
    view.set_frame(make_frame(snap))
    view.set_triple((0, 1, 2))
    x, y = view.pixel_of(view.scene.vertex_pos[4])
    menu = view.context_menu(x, y)
    acts = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Feature 5 → x axis", "Feature 5 → y axis", "Feature 5 → z axis", "Fit"} <= set(acts)
    assert {"slivers", "after ReLU", "cube", "bias", "tilt", "labels"} <= set(acts)
    acts["Feature 5 → y axis"].trigger()
    assert view.triple == (0, 4, 2)
    x, y = view.pixel_of(view.scene.vertex_pos[4])  # a new triple is framed anew
    menu = view.context_menu(x, y)
    acts = {a.text(): a for a in menu.actions() if a.text()}
    assert not acts["Feature 5 → y axis"].isEnabled()
    acts["Feature 5 → x axis"].trigger()  # already on y: the two swap
    assert view.triple == (4, 0, 2)
    x, y = view.pixel_of(view.scene.vertex_pos[4])
    acts = {a.text(): a for a in view.context_menu(x, y).actions() if a.text()}
    acts["cube"].trigger()
    assert view.settings.show_cube is False
    # away from every vertex: no feature to pick, the rest is there
    far = view.context_menu(2, 2)
    assert not [a for a in far.actions() if a.text().startswith("Feature")]
    # a real right-click on the picture opens it, at the picture's coordinates
    seen = []

    class Menu:
        def exec(self, *_):
            seen.append(True)

    monkeypatch.setattr(view, "context_menu", lambda px, py: seen.append((px, py)) or Menu())
    pic = view.host if view.host is not None else view.gl
    at = QPoint(int(x), int(y))
    ev = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, pic.mapToGlobal(at))
    from PyQt6.QtWidgets import QApplication

    QApplication.sendEvent(pic, ev)
    assert seen == [(int(x), int(y)), True]


def _shown_factors(v):
    """The factor each enlarge box says is in force: its "→ ×F applied" suffix, else its value."""
    out = []
    for d in v.enlarge_spins:
        suf = d.suffix()
        out.append(float(suf.split("×")[1].split()[0]) if "applied" in suf else d.value())
    return out


def test_the_enlarge_boxes_always_show_the_factor_applied(view, qapp):
    """Issue 22 item 7: the enlarge box read x1.00 while x5 was applied. Whatever sets the factors (the
    settings a window loads, --set's settings before the first frame, a box, the automatic enlarging
    of a flat axis, a new run), the boxes say what the scene applies."""
    snap = symmetric_failure_snapshot()
    loaded = view.settings.with_(enlarge=(1.0, 1.0, 5.0), show_cube=False)
    view.set_settings(loaded)  # before any frame, as an export's --set does
    view.set_frame(make_frame(snap))
    assert tuple(view.scene.enlarge) == (1.0, 1.0, 5.0) and _shown_factors(view) == [1.0, 1.0, 5.0]
    view.set_settings(view.restored(loaded.with_(enlarge=(2.0, 2.0, 2.0))))  # a window's saved settings
    assert _shown_factors(view) == list(view.scene.enlarge)
    view.set_settings(view.settings.with_(enlarge=(1.0, 1.0, 1.0)))  # z back to 1: the flat axis is auto-enlarged
    assert view.scene.enlarge[2] > 1 and _shown_factors(view) == list(view.scene.enlarge)
    view.enlarge_spins[0].setValue(3.0)
    assert _shown_factors(view) == list(view.scene.enlarge) == [3.0, 1.0, view.scene.enlarge[2]]
    view.set_frame(make_frame(henighan_snapshot(9)))  # another run: x1 again
    assert _shown_factors(view) == list(view.scene.enlarge)


def test_an_after_relu_bar_on_its_own_axis_reads_over_the_axis(view, qapp):
    """Issue 22 item 7: the seed's failure after ReLU on axes (1, 2, 7): feature 1's sliver folds onto the bar
    from (0, 0, 1/7) to (1, 0, 1/7), parallel to axis 1 and in its colour. The bar is drawn wide (WIDTH["bar"])
    in feature 1's own colour: across the bar's middle, a run of pixels of that colour several times the axis
    line's width; with the bars off (show_relu_surface), none of that width."""
    from render3d.plane_view import WIDTH

    snap = symmetric_failure_snapshot()
    fr = make_frame(snap)
    view.set_frame(fr)
    view.set_settings(view.settings.with_(triple=(0, 1, 6), after_relu=True, auto_enlarge=False, show_cube=False,
                                          show_labels=False))
    view.set_camera("axis-k")  # down the z axis: the bar seen across its width
    qapp.processEvents()
    want = fr.colors[0, :3].astype(float)

    def run_across(a):
        r, c = pixel(view, (0.5, 0.0, 1 / 7))  # the bar's middle
        col = a[max(r - 25, 0): r + 26, c].astype(float)  # a vertical line of pixels through it
        close = np.linalg.norm(col - want, axis=1) < 40
        best = k = 0
        for v in close:
            k = k + 1 if v else 0
            best = max(best, k)
        return best

    on = run_across(render(view, "relu_bar"))
    view.set_settings(view.settings.with_(show_relu_surface=False))
    qapp.processEvents()
    off = run_across(render(view, "relu_bar_off"))
    assert on >= 0.7 * WIDTH["bar"] and on >= off + 3, (on, off)
