"""SVG that every renderer draws alike: QSvgGenerator's output rewritten so that all
geometry is in output pixels and every stroke width is a literal number.

Why: QSvgGenerator writes each painter state as a group with the painter's
transform (``<g transform="matrix(64,0,0,-64,...)">``) and the shapes in the
view's own coordinates; a cosmetic pen (pyqtgraph's default: 1 px whatever the
zoom) becomes ``vector-effect="non-scaling-stroke"``, an SVG Tiny 1.2 feature.
Qt honours it; librsvg (GNOME, Wikipedia) and others ignore it and draw a
"1 px" line 64 px wide, so dashed circles become grey bands and a polygon's
outline covers the polygon.

The alternative, painting with non-cosmetic pens under an identity transform,
would need every pyqtgraph item to paint differently in export; rewriting the
file keeps one painting path for PNG, SVG and PDF. Each group's transform is
composed down the tree and baked into the coordinates of each shape (``path``,
``polyline``, ``polygon``, ``line``, ``rect``, ``circle``, ``ellipse``); a
stroke keeps its on-screen width: a non-scaling width w stays w output pixels,
a scaling one becomes w·sqrt|det M| (exact for the similarity transforms that
occur; an anisotropic transform gets the mean scale), and dash lengths follow
their stroke. ``vector-effect`` is dropped. Text and images keep the composed
transform as their own ``transform`` attribute (plain SVG 1.1; a translation is
added to x, y instead). Gradients in user space get a ``gradientTransform``.
A shape whose path data this module does not parse (arcs, smooth curves: Qt
writes neither) keeps the transform, with its stroke width divided by the scale
so that it is still w output pixels.

No Qt here: the module is a pure text-to-text rewrite (xml.etree).
"""
from __future__ import annotations

import copy
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_S = "{" + SVG_NS + "}"
SHAPES = ("path", "polyline", "polygon", "line", "rect", "circle", "ellipse")
#: Presentation properties whose value this rewrite needs when a child inherits it.
INHERITED = ("stroke", "stroke-width", "stroke-dasharray", "stroke-dashoffset", "fill")

Affine = tuple[float, float, float, float, float, float]  # SVG matrix(a, b, c, d, e, f)
IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUM_RE = re.compile(_NUM)
_PATH_TOKEN = re.compile(r"([MmLlHhVvCcSsQqTtAaZz])|(" + _NUM + ")")


class Unsupported(ValueError):
    """Geometry this rewrite does not bake (the element keeps a transform instead)."""


# ------------------------------------------------------------------ affine maths
def compose(m: Affine, n: Affine) -> Affine:
    """m ∘ n: apply n first, then m."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + c * B, b * A + d * B, a * C + c * D, b * C + d * D, a * E + c * F + e, b * E + d * F + f)


def apply(m: Affine, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def scale_of(m: Affine) -> float:
    """The mean linear scale sqrt|det|: how a length (stroke width, dash) grows under m."""
    return math.sqrt(abs(m[0] * m[3] - m[1] * m[2]))


def is_identity(m: Affine, eps: float = 1e-12) -> bool:
    return all(abs(u - v) <= eps for u, v in zip(m, IDENTITY, strict=True))


def is_translation(m: Affine, eps: float = 1e-12) -> bool:
    return all(abs(u - v) <= eps for u, v in zip(m[:4], IDENTITY[:4], strict=True))


def axis_aligned(m: Affine, eps: float = 1e-12) -> bool:
    return abs(m[1]) <= eps and abs(m[2]) <= eps


def parse_transform(text: str | None) -> Affine:
    """An SVG transform list (matrix, translate, scale, rotate, skewX, skewY) as one affine."""
    m = IDENTITY
    if not text:
        return m
    for name, args in re.findall(r"([a-zA-Z]+)\s*\(([^)]*)\)", text):
        v = [float(t) for t in _NUM_RE.findall(args)]
        if name == "matrix" and len(v) == 6:
            t = tuple(v)
        elif name == "translate" and v:
            t = (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale" and v:
            t = (v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0], 0.0, 0.0)
        elif name == "rotate" and v:
            r = math.radians(v[0])
            cs, sn = math.cos(r), math.sin(r)
            t = (cs, sn, -sn, cs, 0.0, 0.0)
            if len(v) == 3:
                t = compose(compose((1.0, 0.0, 0.0, 1.0, v[1], v[2]), t), (1.0, 0.0, 0.0, 1.0, -v[1], -v[2]))
        elif name == "skewX" and v:
            t = (1.0, 0.0, math.tan(math.radians(v[0])), 1.0, 0.0, 0.0)
        elif name == "skewY" and v:
            t = (1.0, math.tan(math.radians(v[0])), 0.0, 1.0, 0.0, 0.0)
        else:
            raise Unsupported(f"transform {name}({args})")
        m = compose(m, t)
    return m


def fmt(v: float) -> str:
    """A coordinate in output pixels: 3 decimals (a thousandth of a pixel) are plenty."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_matrix(m: Affine) -> str:
    return "matrix(" + ",".join(f"{v:.6g}" for v in m) + ")"


# ------------------------------------------------------------------- geometry
def transform_path(d: str, m: Affine) -> str:
    """Path data with every point mapped by m, written as absolute M / L / C / Q / Z."""
    tokens = _PATH_TOKEN.findall(d)
    out: list[str] = []
    i, cmd = 0, None
    cx = cy = sx = sy = 0.0

    def nums(k):
        nonlocal i
        vals = []
        for _ in range(k):
            if i >= len(tokens) or tokens[i][0]:
                raise Unsupported(f"path data: a number expected in {d[:60]!r}")
            vals.append(float(tokens[i][1]))
            i += 1
        return vals

    def pt(x, y):
        X, Y = apply(m, x, y)
        return f"{fmt(X)},{fmt(Y)}"

    while i < len(tokens):
        letter, _ = tokens[i]
        if letter:
            cmd = letter
            i += 1
        elif cmd is None:
            raise Unsupported("path data must start with a command")
        rel = cmd.islower()
        c = cmd.upper()
        ox, oy = (cx, cy) if rel else (0.0, 0.0)
        if c == "Z":
            out.append("Z")
            cx, cy = sx, sy
            cmd = None if i >= len(tokens) or not tokens[i][0] else cmd
            continue
        if c == "M":
            x, y = nums(2)
            cx, cy = x + ox, y + oy
            sx, sy = cx, cy
            out.append("M" + pt(cx, cy))
            cmd = "l" if rel else "L"  # further pairs are line-tos
        elif c == "L":
            x, y = nums(2)
            cx, cy = x + ox, y + oy
            out.append("L" + pt(cx, cy))
        elif c == "H":
            (x,) = nums(1)
            cx = x + ox
            out.append("L" + pt(cx, cy))
        elif c == "V":
            (y,) = nums(1)
            cy = y + (cy if rel else 0.0)
            out.append("L" + pt(cx, cy))
        elif c == "C":
            v = nums(6)
            p = [(v[k] + ox, v[k + 1] + oy) for k in (0, 2, 4)]
            out.append("C" + " ".join(pt(*q) for q in p))
            cx, cy = p[-1]
        elif c == "Q":
            v = nums(4)
            p = [(v[k] + ox, v[k + 1] + oy) for k in (0, 2)]
            out.append("Q" + " ".join(pt(*q) for q in p))
            cx, cy = p[-1]
        else:  # S, T (smooth curves) and A (arcs): not written by Qt
            raise Unsupported(f"path command {cmd!r}")
    return " ".join(out)


def transform_points(points: str, m: Affine) -> str:
    v = [float(t) for t in _NUM_RE.findall(points)]
    if len(v) % 2:
        raise Unsupported("odd number of coordinates in points")
    return " ".join(pt_str(apply(m, v[k], v[k + 1])) for k in range(0, len(v), 2))


def pt_str(p: Sequence[float]) -> str:
    return f"{fmt(p[0])},{fmt(p[1])}"


def _num(el, name, default=0.0) -> float:
    v = el.get(name)
    if v is None:
        return default
    t = v.strip()
    if t.endswith("px"):
        t = t[:-2]
    try:
        return float(t)
    except ValueError:
        raise Unsupported(f"{name}={v!r}") from None


def _to_path(el, d: str):
    for name in ("x", "y", "width", "height", "rx", "ry", "cx", "cy", "r", "x1", "y1", "x2", "y2", "points"):
        el.attrib.pop(name, None)
    el.tag = _S + "path"
    el.set("d", d)


def _ellipse_path(cx, cy, rx, ry, m: Affine) -> str:
    k = 0.5522847498307936  # 4/3 (sqrt 2 - 1): a quarter circle as one cubic Bézier
    q = [(cx + rx, cy), (cx, cy + ry), (cx - rx, cy), (cx, cy - ry)]
    h = [((0, k * ry), (k * rx, 0)), ((-k * rx, 0), (0, k * ry)), ((0, -k * ry), (-k * rx, 0)),
         ((k * rx, 0), (0, -k * ry))]
    parts = ["M" + pt_str(apply(m, *q[0]))]
    for s in range(4):
        p0, p1 = q[s], q[(s + 1) % 4]
        c1 = (p0[0] + h[s][0][0], p0[1] + h[s][0][1])
        c2 = (p1[0] + h[s][1][0], p1[1] + h[s][1][1])
        parts.append("C" + " ".join(pt_str(apply(m, *c)) for c in (c1, c2, p1)))
    parts.append("Z")
    return " ".join(parts)


def bake_shape(el: ET.Element, m: Affine) -> None:
    """Map the shape's coordinates by m in place (Unsupported: left as it was)."""
    tag = el.tag.replace(_S, "")
    if tag == "path":
        el.set("d", transform_path(el.get("d", ""), m))
    elif tag in ("polyline", "polygon"):
        el.set("points", transform_points(el.get("points", ""), m))
    elif tag == "line":
        x1, y1 = apply(m, _num(el, "x1"), _num(el, "y1"))
        x2, y2 = apply(m, _num(el, "x2"), _num(el, "y2"))
        for name, v in (("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)):
            el.set(name, fmt(v))
    elif tag == "rect":
        x, y, w, h = _num(el, "x"), _num(el, "y"), _num(el, "width"), _num(el, "height")
        rx, ry = _num(el, "rx"), _num(el, "ry")
        if axis_aligned(m):
            X0, Y0 = apply(m, x, y)
            X1, Y1 = apply(m, x + w, y + h)
            el.set("x", fmt(min(X0, X1)))
            el.set("y", fmt(min(Y0, Y1)))
            el.set("width", fmt(abs(X1 - X0)))
            el.set("height", fmt(abs(Y1 - Y0)))
            if el.get("rx") is not None:
                el.set("rx", fmt(abs(rx * m[0])))
            if el.get("ry") is not None:
                el.set("ry", fmt(abs(ry * m[3])))
        elif rx == 0 and ry == 0:
            corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            _to_path(el, "M" + " L".join(pt_str(apply(m, *c)) for c in corners) + " Z")
        else:
            raise Unsupported("rounded rect under rotation")
    elif tag in ("circle", "ellipse"):
        cx, cy = _num(el, "cx"), _num(el, "cy")
        if tag == "circle":
            rx = ry = _num(el, "r")
        else:
            rx, ry = _num(el, "rx"), _num(el, "ry")
        if axis_aligned(m):
            X, Y = apply(m, cx, cy)
            el.tag = _S + "ellipse"
            el.attrib.pop("r", None)
            el.set("cx", fmt(X))
            el.set("cy", fmt(Y))
            el.set("rx", fmt(abs(rx * m[0])))
            el.set("ry", fmt(abs(ry * m[3])))
        else:
            _to_path(el, _ellipse_path(cx, cy, rx, ry, m))


# ---------------------------------------------------------------------- rewrite
def _dashes(text: str, factor: float) -> str:
    if text is None or text.strip() in ("", "none"):
        return text
    return ",".join(fmt(float(t) * factor) for t in _NUM_RE.findall(text))


class _Flattener:
    def __init__(self, root, font_families: Mapping[str, str], resample=None):
        self.root = root
        self.fonts = dict(font_families)
        self.resample = resample
        self.paints: dict[str, ET.Element] = {}  # gradient id -> element
        self.defs = None
        self.clones = 0
        for el in root.iter():
            tag = el.tag.replace(_S, "")
            if tag == "defs" and self.defs is None:
                self.defs = el
            if tag in ("linearGradient", "radialGradient") and el.get("id"):
                self.paints[el.get("id")] = el

    def run(self):
        self.root.attrib.pop("baseProfile", None)
        self.root.set("version", "1.1")  # nothing of SVG Tiny 1.2 is left
        self._walk(self.root, IDENTITY, {})
        for el in self.root.iter():
            el.attrib.pop("vector-effect", None)

    def _paint(self, value: str | None, m: Affine) -> str | None:
        """A url(#gradient) in user space, re-expressed for coordinates mapped by m."""
        if not value or not value.startswith("url(#") or is_identity(m):
            return value
        gid = value[5:].rstrip(")")
        g = self.paints.get(gid)
        if g is None or g.get("gradientUnits", "objectBoundingBox") != "userSpaceOnUse":
            return value  # bounding-box units follow the (baked) shape by themselves
        clone = copy.deepcopy(g)
        self.clones += 1
        new_id = f"{gid}-out{self.clones}"
        clone.set("id", new_id)
        clone.set("gradientTransform", fmt_matrix(compose(m, parse_transform(g.get("gradientTransform")))))
        (self.defs if self.defs is not None else self.root).append(clone)
        self.paints[new_id] = clone
        return f"url(#{new_id})"

    def _walk(self, el, m: Affine, inherited: dict[str, str]):
        tag = el.tag.replace(_S, "")
        if tag in ("defs", "linearGradient", "radialGradient", "title", "desc", "metadata"):
            return
        if el.get("font-family") in self.fonts:
            el.set("font-family", self.fonts[el.get("font-family")])
        own = el.attrib.pop("transform", None)
        if own is not None:
            m = compose(m, parse_transform(own))
        props = dict(inherited)
        for name in INHERITED:
            if el.get(name) is not None:
                props[name] = el.get(name)
        if tag in SHAPES:
            self._shape(el, m, props)
        elif tag in ("g", "svg", "a", "switch"):
            for child in list(el):
                self._walk(child, m, props)
        elif not is_identity(m):  # text, image, use: keep the transform on the element itself
            self._place(el, tag, m, props)

    def _shape(self, el, m: Affine, props: dict[str, str]):
        nonscaling = el.attrib.pop("vector-effect", None) == "non-scaling-stroke"
        baked = True
        try:
            if not is_identity(m):
                bake_shape(el, m)
        except Unsupported:
            baked = False
        s = scale_of(m)
        # output px per stroke unit: baked shapes draw in output pixels
        if baked:
            factor = 1.0 if nonscaling else s
        else:
            factor = (1.0 / s if s > 0 else 1.0) if nonscaling else 1.0
            el.set("transform", fmt_matrix(m))
        stroke = props.get("stroke")
        if stroke is not None and stroke != "none":
            found = _NUM_RE.findall(props.get("stroke-width", "1") or "1")
            w = float(found[0]) if found else 1.0
            el.set("stroke-width", fmt(w * factor) if factor != 1.0 else props.get("stroke-width", "1"))
            for name in ("stroke-dasharray", "stroke-dashoffset"):
                if props.get(name) is not None:
                    el.set(name, _dashes(props[name], factor))
        if baked:
            for name in ("fill", "stroke"):
                v = props.get(name)
                new = self._paint(v, m)
                if new != v:
                    el.set(name, new)

    def _place(self, el, tag: str, m: Affine, props: dict[str, str]):
        if tag == "image" and self._resample_image(el, m):
            return
        if is_translation(m) and tag in ("text", "image") and _single(el.get("x")) and _single(el.get("y")):
            el.set("x", fmt(_num(el, "x") + m[4]))
            el.set("y", fmt(_num(el, "y") + m[5]))
        else:
            el.set("transform", fmt_matrix(m))
            return  # the element's user space is m: its paint servers stay as they are
        for name in ("fill", "stroke"):
            v = props.get(name)
            new = self._paint(v, m)
            if new != v:
                el.set(name, new)


    def _resample_image(self, el, m: Affine) -> bool:
        """A bitmap scaled up without smoothing (Qt: image-rendering="optimizeSpeed", e.g. the WᵀW
        cells): renderers may smooth it anyway (librsvg does), so it is replaced by a copy
        resampled to its output size (nearest neighbour) and placed in output pixels."""
        if self.resample is None or el.get("image-rendering") != "optimizeSpeed" or not axis_aligned(m):
            return False
        href_key = next((k for k in el.attrib if k.endswith("href")), None)
        href = el.get(href_key) if href_key else None
        if not href or not href.startswith("data:image/"):
            return False
        x, y, w, h = _num(el, "x"), _num(el, "y"), _num(el, "width"), _num(el, "height")
        X0, Y0 = apply(m, x, y)
        X1, Y1 = apply(m, x + w, y + h)
        wpx, hpx = round(abs(X1 - X0)), round(abs(Y1 - Y0))
        if not (1 <= wpx <= MAX_RESAMPLE and 1 <= hpx <= MAX_RESAMPLE):
            return False
        new = self.resample(href, wpx, hpx, X1 < X0, Y1 < Y0)
        if not new:
            return False
        el.set(href_key, new)
        el.set("x", fmt(min(X0, X1)))
        el.set("y", fmt(min(Y0, Y1)))
        el.set("width", str(wpx))
        el.set("height", str(hpx))
        el.set("preserveAspectRatio", "none")
        return True

    # panel clips ------------------------------------------------------------
    def clip_marked(self, clips: Mapping[int, tuple[float, float, float, float]]):
        """Wrap what was painted between the begin and end marks of clip k (see ``clip_mark``)
        in a group clipped to its rectangle; the marks are removed."""
        if not clips:
            return
        found = {}  # (k, end) -> (container, group, rect)
        for container in self.root.iter():
            for g in list(container):
                for r in list(g):
                    try:
                        if r.tag != _S + "rect" or _num(r, "y", 0.0) != MARK_Y:
                            continue
                        code = round(-_num(r, "x") - MARK_X0)
                    except Unsupported:
                        continue
                    k, end = divmod(code, 2)
                    if k in clips:
                        found[(k, bool(end))] = (container, g, r)
        for k, rect in clips.items():
            if (k, False) not in found or (k, True) not in found:
                continue
            c0, g0, r0 = found[(k, False)]
            c1, g1, r1 = found[(k, True)]
            if c0 is not c1:
                continue
            cid = f"panel-clip-{k}"
            cp = ET.SubElement(self._defs(), _S + "clipPath", {"id": cid})
            x, y, w, h = rect
            ET.SubElement(cp, _S + "rect", {"x": fmt(x), "y": fmt(y), "width": fmt(w), "height": fmt(h)})
            kids = list(c0)
            i0, i1 = kids.index(g0), kids.index(g1)
            before0, after0 = _split(g0, r0)
            before1, after1 = _split(g1, r1)
            wrap = ET.Element(_S + "g", {"clip-path": f"url(#{cid})"})
            inner = ([after0] if len(after0) else []) + kids[i0 + 1: i1] + ([before1] if len(before1) else [])
            for el in kids[i0: i1 + 1]:
                c0.remove(el)
            new = ([before0] if len(before0) else []) + [wrap] + ([after1] if len(after1) else [])
            for el in inner:
                wrap.append(el)
            for j, el in enumerate(new):
                c0.insert(i0 + j, el)

    def _defs(self):
        if self.defs is None:
            self.defs = ET.Element(_S + "defs")
            self.root.insert(0, self.defs)
        return self.defs


def _split(g, mark):
    """Group g without the mark: (a copy holding the children before it, one with those after)."""
    kids = list(g)
    i = kids.index(mark)
    before, after = ET.Element(g.tag, dict(g.attrib)), ET.Element(g.tag, dict(g.attrib))
    before.text = after.text = g.text
    for el in kids[:i]:
        before.append(el)
    for el in kids[i + 1:]:
        after.append(el)
    return before, after


#: Clip marks: 1 x 1 rectangles far outside the canvas, painted around what clip k clips
#: (begin at x = -MARK_X0 - 2k, end one pixel further left), found and removed by ``flatten_svg``.
MARK_X0 = 100000
MARK_Y = -100000.0
MAX_RESAMPLE = 8192


def clip_mark(k: int, end: bool) -> tuple[float, float, float, float]:
    """The rectangle (x, y, w, h) to paint as the begin / end mark of clip k."""
    return (-MARK_X0 - 2 * k - (1 if end else 0), MARK_Y, 1.0, 1.0)


def _single(v: str | None) -> bool:
    return v is None or len(_NUM_RE.findall(v)) == 1


def flatten_svg(text: str, font_families: Mapping[str, str] | None = None,
                clips: Mapping[int, tuple[float, float, float, float]] | None = None,
                resample: Callable[[str, int, int, bool, bool], str | None] | None = None) -> str:
    """QSvgGenerator's SVG with geometry in output pixels, literal stroke widths, no vector-effect.

    ``font_families``: font-family values to replace (e.g. Qt's alias "Sans Serif" by the
    family it resolved to, with a CSS generic fallback).
    ``clips``: k -> (x, y, w, h) in output pixels: what was painted between the marks
    ``clip_mark(k, False)`` and ``clip_mark(k, True)`` is clipped to that rectangle (QSvgGenerator
    writes no clipping in SVG Tiny, and its SVG 1.1 clipping loses the clip on restore).
    ``resample(href, w, h, flip_x, flip_y) -> href``: a data URI bitmap resampled without
    smoothing to w x h pixels (None: images keep their transform).
    """
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(text)
    f = _Flattener(root, font_families or {}, resample)
    f.clip_marked(clips or {})
    f.run()
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


__all__ = ["Unsupported", "clip_mark", "compose", "flatten_svg", "parse_transform", "transform_path"]
