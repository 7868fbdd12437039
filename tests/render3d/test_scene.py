"""The pure arrays of the 3D view against hand-computed geometry (no Qt, no GL)."""
import math

import numpy as np
import pytest

from model.snapshot import Snapshot
from render3d import scene as sc
from render3d.scene import PlaneSettings, build_scene
from tests.widgets import circle_snapshot, henighan_snapshot, symmetric_failure_snapshot

COLORS3 = np.array([[255, 0, 0, 255], [0, 0, 255, 255], [0, 160, 0, 255]], dtype=np.uint8)


def hand3():
    """n = 3: W_1 = (2, 0), W_2 = (0, 2), W_3 = (-2, -2), b = (-1, -1, 1/2).

    Shape: the triangle A = (-2, -2), B = (2, 0), C = (0, 2) (area 6).
    Sliver 1: x > 1/2, the triangle B, (1/2, -3/4), (1/2, 3/2): area 27/16.
    Sliver 2: y > 1/2, the mirror image: 27/16.
    Sliver 3: -2x - 2y + 1/2 > 0, i.e. x + y < 1/4: the triangle at A similar to the
    shape with ratio (1/4 + 4) / 6: area 6 (17/24)^2 = 289/96.
    Slivers 1 and 2 overlap in (1/2, 1/2), (3/2, 1/2), (1/2, 3/2): area 1/2;
    slivers 1 and 3 in (1/2, -1/4), (1/2, -3/4), (5/6, -7/12): area 1/12.
    p(W_t) = column t of W^T W + b: (3, -1, -7/2), (-1, 3, -7/2), (-5, -5, 17/2).
    """
    W = np.array([[2.0, 0.0, -2.0], [0.0, 2.0, -2.0]])
    b = np.array([-1.0, -1.0, 0.5])
    return Snapshot(0, W, b)


def area_with(S, need, avoid=0):
    """Total area of the cells whose bits include ``need`` and exclude ``avoid``."""
    a = sc.cell_areas(S.cells_h, S.cells_off)
    bits = S.cells_bits.astype(int)
    return float(a[((bits & need) == need) & ((bits & avoid) == 0)].sum())


def test_hand_model_slivers_bias_and_vertices():
    S = build_scene(hand3(), PlaneSettings(triple=(0, 1, 2)), COLORS3)
    assert S.info["shape_area"] == pytest.approx(6.0, abs=1e-12)
    assert area_with(S, 1) == pytest.approx(27 / 16, abs=1e-12)
    assert area_with(S, 2) == pytest.approx(27 / 16, abs=1e-12)
    assert area_with(S, 4) == pytest.approx(289 / 96, abs=1e-12)
    assert area_with(S, 1 | 2) == pytest.approx(0.5, abs=1e-12)
    assert area_with(S, 1 | 4) == pytest.approx(1 / 12, abs=1e-12)
    assert area_with(S, 2 | 4) == pytest.approx(1 / 12, abs=1e-12)
    assert area_with(S, 0, 1 | 2 | 4) == pytest.approx(6 - 27 / 16 * 2 + 0.5 - 289 / 96 + 2 / 12, abs=1e-12)
    np.testing.assert_allclose(S.bias_tip, [-1, -1, 0.5])
    np.testing.assert_allclose(S.bias_lines, [[0, 0, 0], [-1, -1, 0.5]])
    np.testing.assert_allclose(S.vertex_pos, [[3, -1, -3.5], [-1, 3, -3.5], [-5, -5, 8.5]], atol=1e-6)
    np.testing.assert_allclose(S.tilt_mag, [2, 2, 2 * math.sqrt(2)])
    assert not S.flat.any()
    # tilt arrows: from p(0) = b to p(W_a), along which p_a grows by |W_a|^2
    np.testing.assert_allclose(S.tilt_lines[0::2], np.tile([-1, -1, 0.5], (3, 1)))
    np.testing.assert_allclose(S.tilt_lines[1::2], S.vertex_pos, atol=1e-6)
    # every mesh vertex is p(h) of its cell vertex; each cell's sign pattern holds at its centroid
    A3, b3 = S.tilt, S.bias
    np.testing.assert_allclose(S.mesh_pos, S.cells_h @ A3.T + b3, atol=1e-6)
    for g in range(len(S.cells_off) - 1):
        c = S.cells_h[S.cells_off[g]:S.cells_off[g + 1]].mean(axis=0)
        p = A3 @ c + b3
        assert [(int(S.cells_bits[g]) >> s) & 1 for s in range(3)] == [int(v > 0) for v in p]


def test_sliver_colours_and_neutral():
    S = build_scene(hand3(), PlaneSettings(triple=(0, 1, 2)), COLORS3)
    cnt = np.diff(S.cells_off)
    cell_col = S.mesh_colors[S.cells_off[:-1]]
    np.testing.assert_allclose(np.repeat(cell_col, cnt, axis=0), S.mesh_colors)
    for g, bits in enumerate(S.cells_bits):
        on = [s for s in range(3) if (bits >> s) & 1]
        if not on:
            np.testing.assert_allclose(cell_col[g], sc.NEUTRAL, atol=1e-6)
        else:
            np.testing.assert_allclose(cell_col[g, :3], COLORS3[on, :3].mean(axis=0) / 255, atol=1e-6)
            assert cell_col[g, 3] == pytest.approx(sc.SLIVER_ALPHA)
    off = build_scene(hand3(), PlaneSettings(triple=(0, 1, 2), show_slivers=False), COLORS3)
    np.testing.assert_allclose(off.mesh_colors, np.tile(sc.NEUTRAL, (len(off.mesh_colors), 1)), atol=1e-6)


def test_enlarge_scales_every_coordinate_and_relu_folds_cells():
    st = PlaneSettings(triple=(0, 1, 2), enlarge=(1, 2, 5))
    S = build_scene(hand3(), st, COLORS3)
    np.testing.assert_allclose(S.bias_tip, [-1, -2, 2.5])
    np.testing.assert_allclose(S.vertex_pos[2], [-5, -10, 42.5], atol=1e-5)
    np.testing.assert_allclose(S.cube.max(axis=0), [1, 2, 5])
    assert "×5" in [lb.text for lb in S.labels if lb.kind == "axis"][2]
    R = build_scene(hand3(), st.with_(after_relu=True), COLORS3)
    np.testing.assert_allclose(R.relu_pos, np.maximum(S.vertex_pos, 0), atol=1e-6)
    np.testing.assert_allclose(R.relu_pos[0], [3, 0, 0], atol=1e-6)  # snapped onto the x edge
    # each cell folds linearly: its vertices' negative coordinates go to 0, the rest stay
    np.testing.assert_allclose(R.mesh_pos, np.maximum(S.mesh_pos, 0), atol=1e-6)
    assert len(R.relu_lines) == 2 * 3  # every vertex moves


def test_symmetric_failure_default_triple_flat_dead_axis():
    from model.analysis.analysis import analyze

    snap = symmetric_failure_snapshot()
    tri = sc.default_triple(snap, analyze(snap))
    assert tri == (0, 1, 6)  # the seed's dimensions 1, 2, 7
    assert sc.default_triple(snap) == (0, 1, 6)  # without analysis: the smallest norm
    S = build_scene(snap, PlaneSettings(triple=tri, auto_enlarge=False))
    assert S.flat.tolist() == [False, False, True]
    assert S.tilt_mag[2] == 0
    # flat: p_7 = b_7 = 1/7 on the whole plane, so every vertex has the same z
    np.testing.assert_allclose(S.mesh_pos[:, 2], 1 / 7, atol=1e-7)
    np.testing.assert_allclose(S.shape3[:, 2], 1 / 7, atol=1e-7)
    # feature 7 fires on the whole pac-man (hexagon 3 sqrt 3 minus the mouth sqrt 3 / 2)
    assert S.info["shape_area"] == pytest.approx(2.5 * math.sqrt(3), abs=1e-12)
    assert S.info["sliver_area"][2] == pytest.approx(2.5 * math.sqrt(3), abs=1e-12)
    # features 1, 2: the cap x > 1/sqrt 2 of the hexagon (sqrt 3 / 2) minus its part in the mouth
    np.testing.assert_allclose(S.info["sliver_area"][:2], math.sqrt(3) / 4, atol=1e-12)
    assert len(S.tilt_lines) == 4  # no arrow for the flat axis
    assert any("flat" in lb.text for lb in S.labels if lb.kind == "axis")
    # enlarging the dead axis moves the plane (and the bias tip) up by that factor
    E = build_scene(snap, PlaneSettings(triple=tri, enlarge=(1, 1, 7)))
    np.testing.assert_allclose(E.bias_tip, [-1, -1, 1.0], atol=1e-12)
    # by default the flat axis is enlarged automatically: on the hexagon (radius sqrt 2, b = -1)
    # p_1 runs from 2 cos 0 - 1 = 1 to 2 cos 180 - 1 = -3, so the largest |p| is 3; b_7 = 1/7 is
    # lifted to at most 0.4 * 3: the largest of 1, 2, 5, 10, ... below 0.4 * 3 * 7 = 8.4 is 5
    A = build_scene(snap, PlaneSettings(triple=tri))
    np.testing.assert_allclose(A.enlarge, [1, 1, 5])
    np.testing.assert_allclose(A.bias_tip, [-1, -1, 5 / 7], atol=1e-12)
    np.testing.assert_allclose(A.shape3[:, 2], 5 / 7, atol=1e-6)


def test_henighan_vertices_fire_only_their_own_axis():
    snap = henighan_snapshot(7)
    S = build_scene(snap, PlaneSettings(triple=(0, 1, 2)))
    for s in range(3):
        p = S.vertex_pos[s]
        assert p[s] == pytest.approx(1.0, abs=1e-6)          # ReLU(W^T W + b) = I
        assert all(p[o] <= 1e-6 for o in range(3) if o != s)
    a = S.info["sliver_area"]
    assert a[0] > 0 and np.allclose(a, a[0], rtol=1e-9)   # symmetric
    # the partition covers the heptagon exactly
    V, _ = sc.shape_polygon(snap.W)
    x, y = V[:, 0], V[:, 1]
    poly_area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert S.info["shape_area"] == pytest.approx(poly_area, rel=1e-12)


def test_shape_within_a_half_plane_is_cut_along_the_chord():
    # columns at 0, 45 and 90 degrees: the wrap-around gap is 270 degrees, the shape is the
    # triangle (1, 0), (1, 1), (0, 1) of area 1/2, which does not contain h = 0
    snap = Snapshot(0, np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]), np.array([-0.5, -0.5, -0.5]))
    S = build_scene(snap, PlaneSettings(triple=(0, 1, 2)))
    assert S.info["shape_area"] == pytest.approx(0.5, abs=1e-12)
    # a gap of exactly pi: (2, 0), (0, 2), (-2, 0) is the triangle of area 4
    snap = Snapshot(0, np.array([[2.0, 0.0, -2.0], [0.0, 2.0, 0.0]]), np.zeros(3))
    assert build_scene(snap, PlaneSettings(triple=(0, 1, 2))).info["shape_area"] == pytest.approx(4.0)


def test_large_n_is_linear_and_exact():
    snap = circle_snapshot(10_000)
    S = build_scene(snap, PlaneSettings(triple=(0, 1, 2)))
    assert S.mesh_pos.shape[0] < 8 * snap.n and S.mesh_faces.shape[0] < 4 * snap.n
    V, _ = sc.shape_polygon(snap.W)
    x, y = V[:, 0], V[:, 1]
    poly_area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert S.info["shape_area"] == pytest.approx(poly_area, rel=1e-9)
    assert S.spokes.shape == (0, 3) and len(S.labels) < 20
    # faces index valid vertices of their own cell
    assert int(S.mesh_faces.max()) < S.mesh_pos.shape[0]


def test_m3_uses_the_principal_plane_and_says_so():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 6))
    snap = Snapshot(0, W, rng.normal(-0.5, 0.1, 6))
    S = build_scene(snap, PlaneSettings(triple=(0, 1, 2)))
    assert "principal" in S.plane
    from model.analysis.geometry import plane_basis

    U, _ = plane_basis(W)
    # vertex t is p(h) at h = the projection U U^T W_t of W_t onto the plane: W^T U U^T W_t + b
    P = W.T @ U @ U.T @ W + snap.b[:, None]
    np.testing.assert_allclose(S.vertex_pos, P[:3].T, atol=1e-6)
    # a vertex off the plane would differ: the plane really is the principal one, not all of R^3
    assert not np.allclose(P, W.T @ W + snap.b[:, None], atol=1e-3)


def test_triples_default_step_and_errors():
    snap = henighan_snapshot(7)
    assert sc.default_triple(snap) == (0, 1, 2)  # equal norms: the lowest numbers, weakest last
    assert sc.step_triple((0, 1, 6), 7, 1) == (0, 1, 2)
    assert sc.step_triple((0, 1, 2), 7, -1) == (0, 1, 6)
    assert sc.step_triple((0, 1, 2), 7, 3) == (0, 1, 5)
    with pytest.raises(ValueError, match=r"1\.\.7"):
        sc.check_triple((0, 1, 7), 7)
    with pytest.raises(ValueError, match="enlarge"):
        PlaneSettings(enlarge=(1, 0, 1))
    two = Snapshot(0, np.eye(2), np.zeros(2))
    S = build_scene(two, PlaneSettings(triple=(0, 1, 2)))
    assert S.triple == (0, 1, 1)


def test_camera_presets():
    S = build_scene(symmetric_failure_snapshot(), PlaneSettings(triple=(0, 1, 6)))
    np.testing.assert_allclose(np.abs(S.normal), [0, 0, 1], atol=1e-12)  # a flat plane: normal along z
    c = sc.camera_for("normal", S)
    assert c["elevation"] == pytest.approx(-90.0)  # from the underside (below), looking up
    h = build_scene(henighan_snapshot(7), PlaneSettings(triple=(0, 1, 2)))
    d = sc.underside_direction(h)
    assert float(d @ np.ones(3)) < 0 and abs(float(d @ h.normal)) == pytest.approx(1.0)
    el, az = sc.camera_for("normal", h)["elevation"], sc.camera_for("normal", h)["azimuth"]
    np.testing.assert_allclose(sc.camera_direction(el, az), d, atol=1e-9)
    assert sc.camera_for("axis-i", h)["azimuth"] == 0 and sc.camera_for("axis-k", h)["elevation"] == 90
    with pytest.raises(ValueError, match="iso"):
        sc.camera_for("top", h)


def test_fit_camera_frames_every_point():
    S = build_scene(henighan_snapshot(7), PlaneSettings(triple=(0, 1, 2)))
    for el, az in ((22, 35), (-60, 200), (90, -90)):
        c, D = sc.fit_camera(S.fit_points, el, az, aspect=1.5)
        d, r, u = sc.camera_basis(el, az)
        Q = S.fit_points - c
        depth = D - Q @ d
        assert np.all(depth > 0)
        tx = math.tan(math.radians(30))
        assert np.all(np.abs(Q @ r) / depth <= tx * 0.8501)
        assert np.all(np.abs(Q @ u) / depth <= tx / 1.5 * 0.8501)


def test_cone_and_projection_helpers():
    v, f = sc.cone_mesh(np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 0.0, 2.0]]), 0.5, 0.1, segments=8)
    assert v.shape == (10, 3) and f.shape == (16, 3)
    np.testing.assert_allclose(v[0], [1, 2, 3])
    np.testing.assert_allclose(v[2:, 2], 2.5)
    np.testing.assert_allclose(np.hypot(v[2:, 0] - 1, v[2:, 1] - 2), 0.1)
    xy, vis = sc.project_to_pixels(np.eye(4), np.array([[0, 0, 0], [1, 1, 0]]), 200, 100)
    np.testing.assert_allclose(xy, [[100, 50], [200, 0]])
    assert vis.all()


def test_dead_but_not_exactly_flat_axis_is_named():
    snap = symmetric_failure_snapshot()
    W = snap.W.copy()
    W[:, 6] = 0.05 * W[:, 5]
    S = build_scene(Snapshot(0, W, snap.b), PlaneSettings(triple=(0, 1, 6)), dead=[6])
    assert not S.flat[2] and S.info["dead"].tolist() == [False, False, True]
    assert "dead, nearly flat" in [lb.text for lb in S.labels if lb.kind == "axis"][2]
    assert S.tilt_mag[2] == pytest.approx(0.05 * math.sqrt(2))


def test_degenerate_models_do_not_break_the_scene():
    cases = [
        Snapshot(0, np.array([[1.0, -0.5, 0.3, 2.0]]), np.array([-0.1, 0.2, 0.0, -1.0])),  # m = 1: a line
        Snapshot(0, np.zeros((2, 5)), np.full(5, 0.2)),                                    # W = 0: all flat
        Snapshot(0, np.array([[1.0], [0.0]]), np.zeros(1)),                                # n = 1
        Snapshot(0, np.eye(2), np.zeros(2)),                                               # two vertices
    ]
    for snap in cases:
        S = build_scene(snap, PlaneSettings(triple=(0, 1, 2)))
        assert S.info["shape_area"] == pytest.approx(0.0, abs=1e-12)
        assert np.isfinite(S.mesh_pos).all() and np.isfinite(S.fit_points).all()
    assert build_scene(cases[1], PlaneSettings(triple=(0, 1, 2))).flat.all()


def test_labels_are_placed_without_overlap_axis_labels_first():
    # three labels on one point (the seed's crowding near the origin): none overlaps another
    anchors = [(100, 100)] * 3
    sizes = [(80, 14)] * 3
    corners = sc.place_labels(anchors, sizes, ["vertex", "bias", "axis"], 400, 300)
    assert np.all(np.isfinite(corners))
    boxes = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes, strict=True)]
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = boxes[i], boxes[j]
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    # the axis label took the default place: right of and above its point
    assert tuple(corners[2]) == (105, 100 - 5 - 14)
    # every box is inside the picture
    assert all(x >= 0 and x + 80 <= 400 and y >= 0 and y + 14 <= 300 for x, y in corners)


def test_a_vertex_label_with_no_room_is_hidden_but_an_axis_label_never():
    # a picture too small for more than one box
    corners = sc.place_labels([(10, 10)] * 3, [(50, 20)] * 3, ["axis", "vertex", "bias"], 60, 26)
    assert np.isfinite(corners[0]).all() and np.isfinite(corners[2]).all()  # kept (may overlap)
    assert np.isnan(corners[1]).all()  # the vertex label is left out


def test_segment_hits_box_against_hand_drawn_cases():
    box = (10.0, 10.0, 20.0, 20.0)
    assert sc.segment_hits_box((0, 15, 30, 15), *box)  # straight through
    assert sc.segment_hits_box((12, 12, 13, 13), *box)  # wholly inside
    assert sc.segment_hits_box((0, 0, 30, 30), *box)  # the diagonal
    assert not sc.segment_hits_box((0, 0, 9, 30), *box)  # passes left of it
    assert not sc.segment_hits_box((0, 25, 30, 25), *box)  # above it (y down)
    assert not sc.segment_hits_box((0, 0, 5, 5), *box)  # stops short
    assert not sc.segment_hits_box((21, 0, 21, 30), *box)  # parallel, outside


def test_a_label_is_not_written_across_a_drawn_line_when_another_place_is_free():
    # an arrow from the lower left up through the label's default place (right of and above its tip, at
    # (105, 81)-(185, 95)): the label goes to the first place the line leaves free
    anchor, size = [(100, 100)], [(80, 14)]
    seg = [(100, 100, 200, 80)]  # from the tip up and to the right
    (x0, y0), = sc.place_labels(anchor, size, ["tilt"], 400, 300)
    assert (x0, y0) == (105, 81) and sc.segment_hits_box(seg[0], x0, y0, x0 + 80, y0 + 14)
    (x1, y1), = sc.place_labels(anchor, size, ["tilt"], 400, 300, segments=seg)
    assert not sc.segment_hits_box(seg[0], x1, y1, x1 + 80, y1 + 14)
    assert (x1, y1) == (105, 105)  # right of and below: the next candidate
    # lines everywhere: the first box-free place is kept rather than none
    around = [(0, y, 400, y) for y in (60, 74, 88, 112, 126, 140)]  # through every candidate place
    (x2, y2), = sc.place_labels(anchor, size, ["tilt"], 400, 300, segments=around)
    assert (x2, y2) == (105, 81)


def test_a_box_is_clear_of_a_polygon_only_outside_it():
    sq = [(0, 0), (100, 0), (100, 100), (0, 100)]
    assert sc.boxes_clear_of_polygon(sq, 110, 10, 150, 30)          # beside it
    assert not sc.boxes_clear_of_polygon(sq, 90, 10, 150, 30)       # across an edge
    assert not sc.boxes_clear_of_polygon(sq, 20, 20, 40, 40)        # wholly inside
    assert not sc.boxes_clear_of_polygon(sq, -10, -10, 200, 200)    # around it
    tri = [(0, 0), (100, 0), (0, 100)]
    assert sc.boxes_clear_of_polygon(tri, 60, 60, 90, 90)           # in its bounding box, past the hypotenuse
    assert not sc.boxes_clear_of_polygon(tri, 40, 40, 60, 60)       # on the hypotenuse


def test_the_bias_label_leaves_the_filled_shape_for_a_clear_place():
    """The bias label's point is inside the shape (p(0) = b lies on the plane): nearby places are all
    over the shape, so it goes further out (LABEL_FAR) to a place clear of it; a tilt label, not in
    LABEL_FAR, keeps a nearby place."""
    poly = np.array([(100, 100), (300, 100), (300, 250), (100, 250)], float)
    (x, y), = sc.place_labels([(200, 175)], [(90, 16)], ["bias"], 400, 300, areas=[poly])
    assert sc.boxes_clear_of_polygon(poly, x, y, x + 90, y + 16) and 0 <= x <= 310 and 0 <= y <= 284
    (x0, y0), = sc.place_labels([(200, 175)], [(90, 16)], ["bias"], 400, 300)  # no area: right-above its point
    assert (x0, y0) == (205, 175 - 5 - 16)
    (x1, y1), = sc.place_labels([(200, 175)], [(90, 16)], ["tilt"], 400, 300, areas=[poly])
    assert (x1, y1) == (x0, y0)


def palette_colors(snap):
    """The feature colours build_scene uses when given none (the palette's, by angle)."""
    from model.analysis import geometry as geo
    from resources import palette

    return palette.feature_colors(snap.n, geo.angles(sc.plane_of(snap)[0]))


def test_after_relu_the_slivers_fold_onto_bars_of_the_closed_form_length():
    """Issue 22 item 7 (after ReLU drew only thin grey lines). The seed's failure (Henighan n = 6:
    r^2 = 2, b_i = -1, plus W_7 = 0, b_7 = 1/7) on axes (1, 2, 7): feature 7 fires everywhere at
    p_7 = 1/7, so the part of the shape where feature 1 fires folds onto the bar from (0, 0, 1/7) to
    (max p_1, 0, 1/7), max p_1 = p_1(W_1) = r^2 + b_1 = 1; likewise feature 2 along y. The folded
    pieces are shaded (opaque); the toggle turns bars and shading off."""
    from tests.widgets import symmetric_failure_snapshot

    snap = symmetric_failure_snapshot()
    st = sc.PlaneSettings(triple=(0, 1, 6), after_relu=True, auto_enlarge=False, show_cube=False)
    S = sc.build_scene(snap, st)
    bars = S.relu_bars.astype(float).reshape(-1, 2, 3)
    assert len(bars) and np.allclose(bars[:, :, 2], 1 / 7, atol=1e-6)
    for s in (0, 1):
        on = bars[np.all(np.abs(bars[:, :, 1 - s]) < 1e-6, axis=1)]  # bars along axis s
        assert len(on), s
        assert on[:, :, s].min() == pytest.approx(0.0, abs=1e-6) and on[:, :, s].max() == pytest.approx(1.0, abs=1e-6)
    assert np.all(S.relu_bar_colors[:, 3] == 1.0)
    # each bar in its own feature's colour, as the palette gives it (not a mix with the flat feature 7 that
    # fires on it too, not darkened): a 1-fire bar on its own axis is that feature's full colour
    cols = S.relu_bar_colors.reshape(-1, 2, 4)
    feat = sc.rgba01(palette_colors(snap))
    for s in (0, 1):
        along = np.all(np.abs(bars[:, :, 1 - s]) < 1e-6, axis=1)
        np.testing.assert_allclose(cols[along, :, :3], np.broadcast_to(feat[s, :3], cols[along, :, :3].shape))
    assert np.allclose(S.mesh_colors[: len(S.mesh_pos), 3], sc.RELU_ALPHA)
    off = sc.build_scene(snap, st.with_(show_relu_surface=False))
    assert len(off.relu_bars) == 0 and not np.allclose(off.mesh_colors[:, 3], sc.RELU_ALPHA)
    flat = sc.build_scene(snap, st.with_(after_relu=False))
    assert len(flat.relu_bars) == 0
