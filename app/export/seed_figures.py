"""The seed's figures, reproduced from models trained here (``main.py figures``).

Each figure of Ryan Tan's *Optimization Failure* that this tool can draw is a
``FigureSpec``: the file it is written to (named after the seed's caption), the
seed's caption, the trainings it needs, and a ``draw`` function that renders it
with the export renderer (``app.export.figure.FigureRenderer``, the same views as the
window) and says, in a caption of its own, what this run shows (measured from
the trained model, not assumed: a reduced-step run says what it reached).

The trainings are small (n <= 7 at m = 2 on one-hot data, a few seconds each),
except the dataset-size T-gons, which use the SMDD machinery (model.datasize)
at a reduced scale (so that the command stays about a minute; SMDD's own scale is the datasize command's):
``DATASIZE`` says which.
"""
from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from model.config import TrainConfig

if TYPE_CHECKING:
    from PyQt6.QtGui import QImage

    from app.export.figure import FigureRenderer
    from model.analysis import Analysis
    from model.datasize import DataSizeSweep
    from model.history import History
    from model.snapshot import Snapshot
    from render3d.plane_view import PlaneView

#: Step counts of the full-size trainings (scaled by --steps-scale / --quick).
N7_STEPS = 25_000
SMALL_STEPS = 10_000
MIN_STEPS = 50
#: The dataset-size sweep at a reduced scale: n = 1,000 features with S = 0.99 keeps SMDD's
#: ~10 active features per example (n (1 - S) = 10); 10,000 full-batch steps at lr 5e-3 (SMDD:
#: 50,000 at 1e-3) are enough for the examples to form T-gons at T <= 10; T = 15 and 30 show
#: where that stops (the seed: "under a certain threshold limit").
DATASIZE = dict(n=1_000, sparsity=0.99, steps=10_000, lr=5e-3, sizes=(3, 5, 8, 10, 15, 30), test_examples=500)
DATASIZE_QUICK = dict(n=200, sparsity=0.95, steps=200, lr=5e-3, sizes=(3, 5), test_examples=100)
#: How much the failure's dead axis is stretched in its 3D figures (b = 1/7 next to |p| ~ 1-2).
DEAD_ENLARGE = 5.0
#: The tilt figure: W_dead = TILT * W_neighbour.
TILT = 0.05
#: The index page written beside the figures.
INDEX = "index.md"


def scaled(steps: int, scale: float) -> int:
    return max(MIN_STEPS, int(round(steps * scale)))


def run_configs(scale: float = 1.0) -> Dict[str, TrainConfig]:
    """The trainings behind the figures (one-hot data, m = 2)."""
    s = lambda k: scaled(k, scale)  # noqa: E731
    return {
        # the seed trained "a bunch" of n = 6 models and picked a perfect one: 8 seeds at once
        "n6": TrainConfig(n=6, m=2, steps=s(SMALL_STEPS), models=8, seed=0),
        # the seed's symmetric failure: with SGD (momentum 0.9, no weight decay) seed 10 lands in it
        "n7": TrainConfig(n=7, m=2, steps=s(N7_STEPS), optimizer="sgd", momentum=0.9, weight_decay=0.0, seed=10),
        # "W and ReLU" alone (before the bias enters the seed's argument): no bias
        "n5": TrainConfig(n=5, m=2, steps=s(SMALL_STEPS), bias=False, seed=0),
        "n4": TrainConfig(n=4, m=2, steps=s(SMALL_STEPS), bias=False, seed=0),
        "n3": TrainConfig(n=3, m=2, steps=s(SMALL_STEPS), bias=False, seed=0),
    }


def datasize_plan(quick: bool = False, scale: float = 1.0) -> Tuple[TrainConfig, Tuple[int, ...], int]:
    """(base config, sizes, test examples) of the T-gon sweep."""
    from model.datasize import smdd_config

    d = DATASIZE_QUICK if quick else DATASIZE
    steps = d["steps"] if quick else scaled(d["steps"], scale)
    cfg = smdd_config(n=d["n"], sparsity=d["sparsity"], steps=steps, lr=d["lr"], warmup=max(1, steps // 20))
    return cfg, tuple(d["sizes"]), d["test_examples"]


# --------------------------------------------------------------------- the runs
@dataclass
class Frame:
    """One model at its last step, as the views get it."""

    snap: object
    ctx: object
    title: str
    config: TrainConfig


class Runs:
    """The trained histories, saved to run files in ``folder`` and read back through an
    ExplorerState (the path from a run file to (snapshot, ViewContext) that export takes)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.paths: Dict[str, Path] = {}
        self.configs: Dict[str, TrainConfig] = {}
        self.datasize = None  # model.datasize.DataSizeSweep
        self._frames: Dict[Tuple[str, int], Frame] = {}

    def add(self, key: str, config: TrainConfig, history: History) -> None:
        from model.runfile import save_run

        path = self.folder / f"{key}.h5"
        save_run(path, config, history)
        self.paths[key], self.configs[key] = path, config

    def frame(self, key: str, model: int = 0) -> Frame:
        if (key, model) not in self._frames:
            from app.export.figure import run_title
            from model.explorer import ExplorerState
            from widgets.context import context_of

            s = ExplorerState()
            s.open(self.paths[key])  # a RunFileError names the file
            s.set_model(model)
            fr = s.frame_at(None)
            self._frames[(key, model)] = Frame(fr.snapshot, context_of(fr, s.analyses), run_title(s.config, model),
                                               s.config)
        return self._frames[(key, model)]


def analysis_of(snap: Snapshot) -> Analysis:
    from model.analysis import analyze

    return analyze(snap, onehot=True)


def with_snapshot(frame: Frame, snap: Snapshot, title: Optional[str] = None) -> Frame:
    """The frame of another snapshot of the same model (probe-perturbed, closed form): its own analysis."""
    ctx = dataclasses.replace(frame.ctx, analysis=analysis_of(snap))
    return Frame(snap, ctx, frame.title if title is None else title, frame.config)


def train_all(configs: Dict[str, TrainConfig], runs: Runs, threads: Optional[int], tick: Callable[[int], None]
              ) -> None:
    """Train every config (tick(steps done) as it goes) and record it in ``runs``."""
    from model.engine import Trainer

    for key, cfg in configs.items():
        tr = Trainer(cfg, threads=threads)
        done = [0]

        def progress(p, done=done):
            tick(p.step - done[0])
            done[0] = p.step

        tr.run(progress)
        tick(cfg.steps - done[0])
        runs.add(key, cfg, tr.history)


def train_datasize(base: TrainConfig, sizes: Sequence[int], test_examples: int, threads: Optional[int],
                   tick: Callable[[int], None]) -> DataSizeSweep:
    from model.datasize import DataSizeRunner

    runner = DataSizeRunner(base, sizes, test_examples, threads=threads)
    done = {}

    def progress(p):
        if p.phase == "train":
            tick(p.done - done.get(p.index, 0))
            done[p.index] = p.done

    try:
        return runner.run(progress)
    except BaseException:
        runner.request_cancel()
        raise


# ------------------------------------------------------------------- rendering
def renderer(panels: Sequence[str], frame: Frame, w: int, h: int, title: Optional[str] = None,
             **opts: Any) -> FigureRenderer:
    """A FigureRenderer of ``panels`` at w x h; ``opts``: further FigureOptions (e.g. ``views``)."""
    from app.export.figure import FigureOptions, FigureRenderer

    o = FigureOptions(width=w, height=h, title="auto" if title is None else title, **opts)
    return FigureRenderer(panels, o, frame.title)


def plane_view(r: FigureRenderer, k: int = 0) -> PlaneView:
    return r.panels[k].view


def set_plane(r: FigureRenderer, triple: Sequence[int], k: int = 0, camera: str = "iso", **settings: Any) -> None:
    """The 3D panel k of renderer r: axis triple (0-based), camera preset and PlaneSettings fields."""
    v = plane_view(r, k)
    v.set_triple(tuple(int(t) for t in triple))
    if settings:
        v.set_settings(v.settings.with_(**settings))
    v.set_camera(camera)


def sheet(parts: Sequence[Tuple[FigureRenderer, Frame]], w: int, h: int) -> QImage:
    """Figures side by side in one image: parts = [(renderer, frame)], each renderer as wide as it says."""
    from PyQt6.QtCore import QRectF
    from PyQt6.QtGui import QColor, QImage, QPainter

    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(255, 255, 255))
    p = QPainter(img)
    try:
        x = 0
        for r, fr in parts:
            p.save()
            p.translate(x, 0)
            p.setClipRect(QRectF(0, 0, r.options.width, h))
            r.paint(p, fr.snap, fr.ctx, raster=True)
            p.restore()
            x += r.options.width
    finally:
        p.end()
    return img


def datasize_image(result: DataSizeSweep, w: int, h: int) -> QImage:
    """The dataset-size view (loss and dimensionality against T, the embeddings per T) as an image."""
    import pyqtgraph as pg
    from PyQt6.QtCore import QPoint, Qt
    from PyQt6.QtGui import QColor, QImage, QPainter
    from PyQt6.QtWidgets import QApplication, QWidget

    from widgets.datasize_view import DataSizeView

    pg.setConfigOptions(antialias=True, background="w", foreground="k")  # as the window (app.gui)
    v = DataSizeView()
    v.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    try:
        v.resize(w, h)
        v.show()
        v.set_result(result)
        for _ in range(3):
            QApplication.processEvents()
        img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(QColor(255, 255, 255))
        p = QPainter(img)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            v.render(p, QPoint(0, 0), flags=QWidget.RenderFlag.DrawChildren)
        finally:
            p.end()
    finally:
        v.close()
        v.deleteLater()
    return img


def feats(idx: Iterable[int]) -> str:
    """0-based indices as the 1-based feature list a person reads: '1', '2 and 5', '1, 2 and 7'."""
    v = [str(int(i) + 1) for i in idx]
    return v[0] if len(v) == 1 else ", ".join(v[:-1]) + " and " + v[-1] if v else "none"


def verdict_line(an: Analysis) -> str:
    loss = f"loss {an.loss:.4g}" if an.loss is not None and math.isfinite(an.loss) else ""
    return f"verdict {an.verdict.replace('_', ' ')}" + (f", {loss}" if loss else "")


# ------------------------------------------------------------------- the figures
@dataclass
class FigureSpec:
    slug: str  # file name without extension, after the seed's caption
    caption: str  # the seed's caption (or, without one, what its figure shows)
    size: Tuple[int, int]
    runs: Tuple[str, ...]  # the trainings it needs ("datasize": the T-gon sweep)
    draw: Callable  # draw(runs) -> (QImage, what this run shows)

    @property
    def file(self) -> str:
        return self.slug + ".png"


#: Every figure, in the seed's order (the order the draw functions below are defined in).
FIGURES: List[FigureSpec] = []


def _figure(slug: str, size: Tuple[int, int], runs: Tuple[str, ...], caption: str):
    """Register the decorated draw function as the figure ``slug`` (see FigureSpec) at the end of FIGURES."""
    def register(draw: Callable) -> Callable:
        FIGURES.append(FigureSpec(slug, caption, size, runs, draw))
        return draw
    return register


def _n6_model(runs: Runs) -> int:
    """The first of the n = 6 seeds that reconstructs every feature (the seed picked such a one)."""
    cfg = runs.configs["n6"]
    for k in range(cfg.models):
        if runs.frame("n6", k).ctx.analysis.verdict == "perfect":
            return k
    return 0


@_figure("latent-zone-intro", (1600, 800), ("n6",),
         "Latent zones of a perfect n = 6 model: W's columns on a circle (left), the latent zones (right)")
def draw_n6_zones(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    k = _n6_model(runs)
    fr = runs.frame("n6", k)
    an = fr.ctx.analysis
    with renderer(("wheel", "zones"), fr, *size) as r:
        img = r.image(fr.snap, fr.ctx)
    c = fr.config
    seeds = f"{c.models} seeds {c.seed}–{c.seed + c.models - 1}"
    which = (f"the first of the {seeds} to reconstruct every feature" if an.verdict == "perfect" else
             f"none of the {seeds} reconstructs every feature at this step count")
    return img, (f"n = 6, m = 2, AdamW, {c.steps:,} steps: seed {c.seed + k} ({which}); {verdict_line(an)}. "
                 f"Left: the columns of W on a circle; right: the latent zones (where h must lie for output i "
                 f"to fire).")


@_figure("latent-zone-intro-2", (1000, 800), ("n6",),
         "The latent space (a planar hexagon) in 3D, with the activation sliver of the z-th feature")
def draw_n6_plane(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    from render3d.scene import default_triple

    k = _n6_model(runs)
    fr = runs.frame("n6", k)
    t = default_triple(fr.snap, fr.ctx.analysis)
    with renderer(("plane3d",), fr, *size) as r:
        set_plane(r, t, camera="iso")
        img = r.image(fr.snap, fr.ctx)
    return img, (f"The same n = 6 model (seed {fr.config.seed + k}): the latent hexagon in output dimensions "
                 f"{feats(t)} (x, y, z). The sliver of the z feature ({t[2] + 1}) is where p_{t[2] + 1} > 0: "
                 f"b_{t[2] + 1} = {fr.snap.b[t[2]]:.3g} sets where it starts. Each axis's sliver in its colour.")


def _failure(runs: Runs):
    from render3d.scene import default_triple

    fr = runs.frame("n7")
    an = fr.ctx.analysis
    t = default_triple(fr.snap, an)
    return fr, an, t


def _n7_setup(fr) -> str:
    c = fr.config
    return (f"n = 7, m = 2, SGD (momentum {c.momentum:g}, weight decay {c.effective_weight_decay:g}, lr {c.lr:g}), "
            f"seed {c.seed}, {c.steps:,} steps")


@_figure("symmetric-failure-1", (1600, 800), ("n7",), "Symmetric Failure: n = 7, m = 2, trained for 25,000 epochs")
def draw_n7_failure(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    fr, an, t = _failure(runs)
    with renderer(("wheel", "zones"), fr, *size) as r:
        img = r.image(fr.snap, fr.ctx)
    dead = an.dead
    n = fr.snap.n
    if dead:
        d = dead[0]
        what = (f"feature {feats(dead)} never learnt (|W_{d + 1}| = {an.norms[d]:.2g}, b_{d + 1} = "
                f"{fr.snap.b[d]:.4f} against 1/n = {1 / n:.4f}), the other {n - len(dead)} a "
                f"{'regular' if an.verdict == 'symmetric_failure' else 'non-regular'} polygon; loss {an.loss:.6f} "
                f"against d(n-1)/n² = {len(dead) * (n - 1) / n ** 2:.6f}")
    else:
        what = f"no dead feature at this step count; {verdict_line(an)}"
    mouth = (" The dead feature's vector sits at the origin: the pac-man mouth of the latent shape." if dead
             else "")
    return img, f"{_n7_setup(fr)} (the seed: AdamW): {what}.{mouth}"


@_figure("dimensions-1-2-7-simple", (1000, 800), ("n7",),
         "The 1st, 2nd and 7th dimension values of the latent shape (the 7th dimension is enlarged)")
def draw_n7_dims(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    fr, an, t = _failure(runs)
    with renderer(("plane3d",), fr, *size) as r:
        set_plane(r, t, camera="iso", enlarge=(1.0, 1.0, DEAD_ENLARGE))
        img = r.image(fr.snap, fr.ctx)
    z = t[2]
    dead = z in an.dead
    who = "the dead feature" if dead else "the weakest feature"
    flat = (f": W_{z + 1} = 0, so the whole shape lies at height b_{z + 1} > 0 and fires output {z + 1} "
            f"everywhere" if dead and fr.snap.b[z] > 0 else "")
    return img, (f"{_n7_setup(fr)}: the latent shape in output dimensions {feats(t)} (x, y, z), with the bias "
                 f"offset b = (b_{t[0] + 1}, b_{t[1] + 1}, b_{z + 1}) = ({fr.snap.b[t[0]]:.3g}, {fr.snap.b[t[1]]:.3g}, "
                 f"{fr.snap.b[z]:.3g}); z is {who} ({z + 1}; the seed's was 7, so its dimensions 1, 2, 7 are "
                 f"{feats(t)} here), enlarged ×{DEAD_ENLARGE:g} so that b_{z + 1} can be seen{flat}.")


@_figure("ideal-vs-unideal-wtw", (1600, 760), ("n7",),
         "Left: ideal WᵀW (all 7 features learnt). Right: Symmetric Failure WᵀW (only 6 features learnt)")
def draw_gram(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    from widgets.gram_view import GramSettings

    from model.init import henighan
    from model.snapshot import Snapshot

    fr, an, t = _failure(runs)
    n = fr.snap.n
    W, b = henighan(n)
    ideal = with_snapshot(fr, Snapshot(step=0, W=W, b=b, loss=0.0), title=f"ideal: Henighan's n = {n}-gon")
    failed = dataclasses.replace(fr, title=f"failed: {fr.title}")
    w, h = size
    rs = [renderer(("gram",), x, w // 2, h, legend=False, views={"gram": GramSettings(order="angle")})
          for x in (ideal, failed)]
    try:
        img = sheet([(rs[0], ideal), (rs[1], failed)], w, h)
    finally:
        for r in rs:
            r.close()
    d = an.dead
    zero = (f"row and column {feats(d)} of WᵀW are 0 (W_{d[0] + 1} = 0), so p_{d[0] + 1} = b_{d[0] + 1} = "
            f"{fr.snap.b[d[0]]:.3g} everywhere" if d else f"no dead feature at this step count ({verdict_line(an)})")
    return img, (f"WᵀW + b, features in angular order, each row's maximum outlined. Left: the closed form "
                 f"(W_i = r(cos 2πi/n, sin 2πi/n), b_i = -r² cos 2π/n): only the diagonal is positive, "
                 f"ReLU(WᵀW + b) = I. Right: the symmetric failure ({_n7_setup(fr)}): {zero}.")


@_figure("w7-0.05-w6-tilt", (1000, 800), ("n7",), "Tilt introduced when W7 = 0.05 * W6")
def draw_tilt(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    from model.probe import feature_path, perturbed

    fr, an, t = _failure(runs)
    z, j = t[2], t[0]
    path = feature_path(fr.snap, z, ("feature", j))
    W0 = fr.snap.W[:, z].copy()
    snap = perturbed(fr.snap, path, TILT)
    tilted = with_snapshot(fr, snap, title=f"{fr.title} · W_{z + 1} = {TILT:g}·W_{j + 1}")
    with renderer(("plane3d",), tilted, *size, caption=False) as r:
        set_plane(r, t, camera="iso", enlarge=(1.0, 1.0, DEAD_ENLARGE))
        img = r.image(tilted.snap, tilted.ctx)
    return img, (f"The failure ({_n7_setup(fr)}) with W_{z + 1} moved from |W_{z + 1}| = {np.linalg.norm(W0):.2g} "
                 f"to {TILT:g}·W_{j + 1} (the probe's feature path W_{z + 1} + t·W_{j + 1} at t = {TILT:g}; the "
                 f"seed's W_7 = 0.05·W_6): the plane tilts in dimension {z + 1}, rising along W_{j + 1}. "
                 f"Dimensions {feats(t)}, z enlarged ×{DEAD_ENLARGE:g}.")


def regular(an: Analysis) -> bool:
    """The live features form a regular polygon: largest/smallest radius and gap both <= 1.1 (the
    analysis's own regularity criterion)."""
    return (an.radius_ratio is not None and an.gap_ratio is not None and an.radius_ratio <= 1.1
            and an.gap_ratio <= 1.1)


def _wheel_zones(runs: Runs, key: str, size, text: Callable):
    fr = runs.frame(key)
    an = fr.ctx.analysis
    text = text(an)
    with renderer(("wheel", "zones"), fr, *size) as r:
        img = r.image(fr.snap, fr.ctx)
    c = fr.config
    return img, (f"n = {c.n}, m = 2, no bias (W and ReLU alone), AdamW, {c.steps:,} steps: {text}; norms "
                 f"{an.norms.min():.3g}–{an.norms.max():.3g}, angular gaps {_gaps(an)}; {verdict_line(an)}.")


def _gaps(an) -> str:
    a = np.sort(np.mod(np.asarray(an.angles_deg, float), 360.0))
    g = np.diff(np.r_[a, a[0] + 360.0])
    return ", ".join(f"{v:.0f}°" for v in g)


@_figure("five-5d-axial-vectors", (1600, 800), ("n5",), "Five 5D axial vectors embedded into 2D space, + some rotation")
def draw_pentagon(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    def text(an):
        shape = "still spread into a regular pentagon" if regular(an) else "do not form a regular pentagon (yet)"
        lossy = (", but WᵀW's columns have more than one positive entry, so ReLU cannot recover every axis"
                 if an.verdict != "perfect" else "")
        return f"the n = 5 > 2m features {shape}{lossy}"

    return _wheel_zones(runs, "n5", size, text)


@_figure("four-4d-axial-vectors", (1600, 800), ("n4",),
         "Four 4D axial vectors embedded into 2D space, + some rotation (n ≤ 2m)")
def draw_cross(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    def text(an):
        if regular(an) and an.verdict == "perfect":
            return ("n = 4 = 2m features: two antipodal pairs at right angles (a cross, + some rotation), each "
                    "WᵀW column with one positive entry: perfect reconstruction")
        return "n = 4 = 2m features, not (yet) the perfect cross at this step count"

    return _wheel_zones(runs, "n4", size, text)


@_figure("relu-clamping-3d", (1600, 800), ("n3",),
         "Data latents (on the plane) being ReLU-ed onto the ReLU hypercube in 3D: before (left) and after (right)")
def draw_fold(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    fr = runs.frame("n3")
    w, h = size
    before = dataclasses.replace(fr, title="before ReLU: the latent plane")
    after = dataclasses.replace(fr, title="after ReLU: folded onto the cube's faces and edges")
    rs = [renderer(("plane3d",), x, w // 2, h, caption=False) for x in (before, after)]
    try:
        for r, relu in zip(rs, (False, True)):
            set_plane(r, (0, 1, 2), camera="iso", after_relu=relu)
        img = sheet([(rs[0], before), (rs[1], after)], w, h)
    finally:
        for r in rs:
            r.close()
    an = fr.ctx.analysis
    return img, (f"n = 3, m = 2, no bias, AdamW, {fr.config.steps:,} steps ({verdict_line(an)}): the latent plane "
                 f"in output space (left) and its image under ReLU (right): each vertex W_i goes to ReLU(WᵀW_i), "
                 f"the points with one positive coordinate onto the cube's edges (the axes), the others onto "
                 f"its faces.")


@_figure("memorized-training-examples", (1600, 860), ("datasize",),
         "Latent vectors of datasets as T increases: the T-gons")
def draw_tgons(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    res = runs.datasize
    img = datasize_image(res, *size)
    b = res.base
    parts = []
    for r in res.results:
        H = np.asarray(r.H[0], float)
        a = np.sort(np.degrees(np.arctan2(H[1], H[0])))
        g = np.diff(np.r_[a, a[0] + 360.0]) if len(a) else np.zeros(0)
        parts.append(f"T = {r.T}: angular gaps {g.min():.0f}°–{g.max():.0f}° (regular: {360 / r.T:.0f}°), "
                     f"train loss {float(r.train_loss[0]):.2g}")
    return img, (f"Reduced scale (SMDD: n = 10,000, S = 0.999, 50,000 steps at lr 1e-3: the datasize "
                 f"command's scale, about 8 minutes for the whole figure): "
                 f"n = {b.n:,}, S = {b.sparsity:g} (about {b.n * (1 - b.sparsity):.0f} active features per "
                 f"example, as in SMDD), full-batch AdamW lr {b.lr:g} with warm-up and cosine decay, "
                 f"{b.steps:,} steps per size. The hidden embeddings h_t = W x_t of the T training examples "
                 f"(blue) beside the feature vectors (grey): " + "; ".join(parts) + ".")


@_figure("wtw-visual", (900, 800), ("n7",), "A visual depiction of WᵀW")
def draw_wtw_visual(runs: Runs, size: Tuple[int, int]) -> Tuple[QImage, str]:
    from widgets.gram_view import GramSettings

    from model.init import henighan
    from model.snapshot import Snapshot

    fr = runs.frame("n7")
    n = 10
    W, b = henighan(n)
    from resources.palette import feature_colors

    ctx = dataclasses.replace(fr.ctx, colors=feature_colors(n), selected=frozenset(), loss_steps=None, losses=None)
    ideal = with_snapshot(Frame(None, ctx, "", fr.config), Snapshot(step=0, W=W, b=b, loss=0.0),
                          title=f"Henighan's closed form, n = {n}, m = 2")
    with renderer(("gram",), ideal, *size, legend=False, caption=False,
                  views={"gram": GramSettings(order="angle")}) as r:
        img = r.image(ideal.snap, ideal.ctx)
    c = math.cos(2 * math.pi / n)
    return img, (f"WᵀW + b of the closed form for n = {n} (the seed shows WᵀW for 10 vectors): a circulant "
                 f"matrix, each row the cosines of the angles to the others; b_i = -r² cos(2π/{n}) = "
                 f"{-c / (1 - c):.3f} takes off the second-largest value, leaving only the diagonal (outlined) "
                 f"positive.")




def index_markdown(entries: Sequence[Tuple[FigureSpec, str]], note: str) -> str:
    """The index page: each written figure with the seed's caption and what this run shows."""
    lines = ["# Optimization Failure: the figures, reproduced", "",
             "Figures of Ryan Tan's *Optimization Failure* (CC BY 4.0), drawn by the latent geometry "
             "explorer from models trained by `python main.py figures`. Each file is named after the "
             "figure's caption; below it, what this run shows (measured from the trained model).", "", note, ""]
    for i, (spec, text) in enumerate(entries, 1):
        lines += [f"## {i}. {spec.caption}", "", f"![{spec.caption}]({spec.file})", "", text, ""]
    return "\n".join(lines)


def write_image(img: QImage, target: Path, replace: bool = False) -> Path:
    """PNG encoded in memory, written through a temporary file beside the target with plain writes
    (a full disk is one ExportError line, not libpng's) and published at the end (never
    half-written; an existing target only with ``replace``)."""
    from PyQt6.QtCore import QBuffer, QIODevice

    from app.export.figure import ExportError

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise ExportError("--out", f"cannot write {target}: the image could not be encoded", status=1)
    return _write_bytes(bytes(buf.data()), target, replace)


def write_text(text: str, target: Path, replace: bool = False) -> Path:
    return _write_bytes(text.encode("utf-8"), target, replace)


def _write_bytes(data: bytes, target: Path, replace: bool) -> Path:
    from app.export.figure import finish_file, temp_path, write_error
    from model.outfile import write_new

    tmp = temp_path(target)
    try:
        write_new(tmp, data)  # removes its partial file on any error
    except OSError as exc:
        raise write_error(target, exc) from None
    finish_file(tmp, target, replace)
    return target


def temp_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="lge-figures-")


__all__ = ["FIGURES", "FigureSpec", "Runs", "run_configs", "datasize_plan", "train_all", "train_datasize",
           "index_markdown", "write_image", "write_text", "temp_folder", "INDEX"]
