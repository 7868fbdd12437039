"""render3d.scene.place_labels checks every candidate place of a label at once (numpy) because it runs on
every scrubbed frame. It must place every label exactly where the plain one-candidate-at-a-time greedy
search places it: that search (the code place_labels replaced) is kept here as the oracle and both are run
on random crowded pictures (labels on one point, lines through the candidates, a filled shape around the
bias label's point, boxes larger than the picture)."""
import numpy as np
import pytest

from render3d import scene as sc


# ------------------------------------------------------------------ the oracle: one candidate at a time
def _hits(segment, x0, y0, x1, y1):
    ax, ay, bx, by = (float(v) for v in segment)
    dx, dy = bx - ax, by - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0.0:
            if q < 0.0:
                return False
            continue
        r = q / p
        if p < 0.0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return False
    return True


def _first_place(cands, w, h, clamp, free, clear, off_areas, need_clear=False):
    ok = off_areas(cands, w, h)
    fallback = None
    for j, (cx, cy) in enumerate(cands):
        if need_clear and not ok[j]:
            continue
        cx, cy = clamp(cx, cy, w, h)
        if free(cx, cy, w, h):
            if ok[j] and clear(cx, cy, w, h):
                return (cx, cy), fallback
            fallback = fallback or (None if need_clear else (cx, cy))
    return None, fallback


def oracle(anchors, sizes, kinds, width, height, gap=5.0, segments=None, areas=None):
    A = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    S = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(A), 2), np.nan)
    rank = {k: i for i, k in enumerate(sc.LABEL_PRIORITY)}
    order = sorted(range(len(A)), key=lambda i: (rank.get(kinds[i], len(rank)), i))
    placed = []

    def clamp(x, y, w, h):
        return min(max(x, 2.0), max(width - w - 2.0, 2.0)), min(max(y, 2.0), max(height - h - 2.0, 2.0))

    def free(x, y, w, h):
        return all(x + w <= a0 or a1 <= x or y + h <= b0 or b1 <= y for a0, b0, a1, b1 in placed)

    segs = np.zeros((0, 4)) if segments is None else np.asarray(segments, dtype=np.float64).reshape(-1, 4)
    polys = [np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (areas or ())]

    def clear(x, y, w, h):
        return not any(_hits(sg, x, y, x + w, y + h) for sg in segs)

    def off_areas(cands, w, h):
        C = np.asarray(cands, dtype=np.float64).reshape(-1, 2)
        C = np.column_stack([np.clip(C[:, 0], 2.0, max(width - w - 2.0, 2.0)),
                             np.clip(C[:, 1], 2.0, max(height - h - 2.0, 2.0))])
        ok = np.ones(len(C), dtype=bool)
        for pg in polys:
            ok &= sc.boxes_clear_of_polygon_many(pg, np.column_stack([C, C[:, 0] + w, C[:, 1] + h]))
        return ok

    for i in order:
        (ax, ay), (w, h) = A[i], S[i]
        cands = [(ax + gap, ay - gap - h), (ax + gap, ay + gap), (ax - gap - w, ay - gap - h), (ax - gap - w, ay + gap)]
        for k in (1, 2):
            cands += [(ax + gap, ay - gap - h - k * h), (ax + gap, ay + gap + k * h)]
        pos, fallback = _first_place(cands, w, h, clamp, free, clear, off_areas)
        if pos is None and kinds[i] in sc.LABEL_FAR:
            far = [tuple(c) for c in sc._far_candidates(ax, ay, w, h, gap, width, height)]
            for k in range(0, len(far), 64):
                pos, _ = _first_place(far[k:k + 64], w, h, clamp, free, clear, off_areas, need_clear=True)
                if pos is not None:
                    break
        pos = pos or fallback
        if pos is None:
            if kinds[i] in sc.LABEL_HIDEABLE:
                continue
            pos = clamp(*cands[0], w, h)
        out[i] = pos
        placed.append((pos[0], pos[1], pos[0] + w, pos[1] + h))
    return out


# ------------------------------------------------------------------------------------------ the checks
def _picture(rng):
    """A random crowded picture: labels of every kind, many near one point, lines and a filled polygon."""
    W, H = float(rng.integers(60, 700)), float(rng.integers(40, 500))
    N = int(rng.integers(1, 14))
    centre = rng.uniform([0, 0], [W, H])
    anchors = np.where(rng.random((N, 1)) < 0.6, centre + rng.normal(0, 12, (N, 2)), rng.uniform([-40, -40], [W + 40, H + 40], (N, 2)))
    anchors = np.round(anchors, int(rng.integers(0, 3)))  # ties on the pixel grid too
    sizes = np.column_stack([rng.integers(8, 160, N), rng.integers(10, 24, N)]).astype(float)
    kinds = list(rng.choice(["axis", "bias", "tilt", "vertex", "other"], N))
    S = int(rng.integers(0, 25))
    segs = np.column_stack([centre + rng.normal(0, 60, (S, 2)), centre + rng.normal(0, 120, (S, 2))])
    segs[: S // 4, 2] = segs[: S // 4, 0]  # vertical and horizontal lines (a zero direction)
    segs[S // 4: S // 2, 3] = segs[S // 4: S // 2, 1]
    k = int(rng.integers(3, 40))
    a = np.sort(rng.uniform(0, 2 * np.pi, k))
    poly = centre + rng.uniform(20, 0.4 * min(W, H) + 21, (k, 1)) * np.column_stack([np.cos(a), np.sin(a)])
    areas = [poly] if rng.random() < 0.7 else None
    return anchors, sizes, kinds, W, H, float(rng.choice([3.0, 5.0, 10.0])), segs, areas


@pytest.mark.parametrize("seed", range(6))
def test_place_labels_places_every_label_where_the_one_at_a_time_search_does(seed):
    rng = np.random.default_rng(seed)
    far_used = hidden = 0
    for _ in range(60):
        anchors, sizes, kinds, W, H, gap, segs, areas = _picture(rng)
        want = oracle(anchors, sizes, kinds, W, H, gap, segs, areas)
        got = sc.place_labels(anchors, sizes, kinds, W, H, gap, segments=segs, areas=areas)
        np.testing.assert_array_equal(got, want)  # bit for bit, NaN (hidden) where the oracle hides
        hidden += int(np.isnan(want[:, 0]).sum())
        near = np.abs(want - anchors).max(axis=1)
        far_used += int(np.sum((near > 3 * sizes.max(axis=1) + gap) & np.isin(kinds, sc.LABEL_FAR)))
    assert hidden > 0 and far_used > 0  # the random pictures did reach the hiding and the far rings


def test_segments_hit_boxes_agrees_with_segment_hits_box():
    rng = np.random.default_rng(7)
    segs = rng.uniform(0, 100, (200, 4))
    segs[:50, 2] = segs[:50, 0]
    segs[50:100, 3] = segs[50:100, 1]
    lo = rng.uniform(0, 90, (40, 2))
    boxes = np.column_stack([lo, lo + rng.uniform(1, 30, (40, 2))])
    got = sc.segments_hit_boxes(segs, boxes)
    want = np.array([[sc.segment_hits_box(s, *b) for s in segs] for b in boxes])
    assert got.shape == (40, 200) and np.array_equal(got, want)
    assert 0.05 < want.mean() < 0.95  # both answers occur
