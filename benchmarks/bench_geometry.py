"""Geometry benchmark at the seed's scale: n = 10,000 features, m = 2.

Run: .venv/bin/python benchmarks/bench_geometry.py

Prints one table. ``rows()`` returns the same rows as dicts (keys: case, model,
ms, baseline_ms, speedup, note) so benchmarks/bench_core.py can merge them.
Times are the best of a few runs, wall clock, on whatever machine runs this;
the baseline (the naive chunked numpy raster) is timed in the same run.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from model.analysis import geometry as geo

N = 10_000
RES = 512


def henighan_noisy(n: int = N, seed: int = 0):
    """Henighan's circle with the noise of a trained model: angles jittered by 10% of
    the spacing, radii by 1e-5 (relative), biases by 0.01."""
    rng = np.random.default_rng(seed)
    phi = 2 * np.pi / n
    th = phi * np.arange(n) + 0.1 * phi * rng.normal(size=n)
    r2 = 1.0 / (1.0 - np.cos(phi))
    W = np.sqrt(r2) * (1 + 1e-5 * rng.normal(size=n)) * np.vstack([np.cos(th), np.sin(th)])
    b = -r2 * np.cos(phi) + 0.01 * rng.normal(size=n)
    return W, b


def henighan_exact(n: int = N):
    phi = 2 * np.pi / n
    th = phi * np.arange(n)
    r2 = 1.0 / (1.0 - np.cos(phi))
    return np.sqrt(r2) * np.vstack([np.cos(th), np.sin(th)]), np.full(n, -r2 * np.cos(phi))


def random_model(n: int = N, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, n)), rng.normal(size=n)


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def _row(case, model, ms, baseline_ms=None, note=""):
    return {"case": case, "model": model, "ms": ms, "baseline_ms": baseline_ms,
            "speedup": (baseline_ms / ms) if baseline_ms and ms else None, "note": note}


def rows(quick: bool = False) -> list[dict[str, object]]:
    """The benchmark rows. quick=True times the baseline raster at 128x128 and scales it."""
    out: list[dict[str, object]] = []
    models = {"henighan+noise": henighan_noisy(), "random": random_model()}
    for name, (W, b) in models.items():
        box = geo.default_box(W)
        geo.strongest_partition(W, b, box)  # warm-up (imports scipy.spatial)
        t_part = _best(lambda: geo.strongest_partition(W, b, box), 5)
        cells = len(geo.strongest_partition(W, b, box))
        if quick:
            t_naive = _best(lambda: geo.naive_argmax_raster(W, b, box, 128), 1) * (RES / 128) ** 2
            bnote = "baseline scaled from 128x128"
        else:
            t_naive = _best(lambda: geo.naive_argmax_raster(W, b, box, RES), 1)
            bnote = f"baseline: naive_argmax_raster {RES}x{RES} over all n"
        out.append(_row("strongest_partition (exact cells)", name, t_part, t_naive,
                        f"{cells} non-empty cells; {bnote}"))
    We, be = henighan_exact()
    t_e = _best(lambda: geo.strongest_partition(We, be), 5)
    out.append(_row("strongest_partition (exact cells)", "henighan exact", t_e, None,
                    "equal biases: coplanar lifted points -> angular sectors path"))
    W, b = models["henighan+noise"]
    zones = geo.zone_polygons(W, b)
    t_z = _best(lambda: geo.zone_polygons(W, b), 3)
    nv = sum(len(z) for z in zones)
    out.append(_row("zone_polygons (clip to shape, all n)", "henighan+noise", t_z, None,
                    f"{nv} vertices in {sum(len(z) > 0 for z in zones)} zones"))
    out.append(_row("zone_polygons (clip to shape, all n)", "random", None, None,
                    "not run: each random zone holds ~half the 10,000-gon (~5e7 vertices, ~0.8 GB); "
                    "cost is the output size"))
    blk = 1_000
    t_v = _best(lambda: geo.shape_output_vertices(W, b, rows=slice(0, blk)), 3)
    out.append(_row(f"shape_output_vertices ({blk} of {N} rows)", "henighan+noise", t_v, None,
                    f"full (n, n) is {N * N * 8 / 1e6:.0f} MB float64: not built; "
                    f"x{N // blk} rows ~ {t_v * N / blk:.0f} ms"))
    t_w = _best(lambda: geo.decoder_of(W) @ W[:, :blk], 3)
    out.append(_row(f"wtw column block ({blk} of {N})", "henighan+noise", t_w, None,
                    f"full W^T W is {N * N * 8 / 1e6:.0f} MB; x{N // blk} ~ {t_w * N / blk:.0f} ms"))
    t_l = _best(lambda: geo.onehot_loss(W, b), 2)
    out.append(_row("onehot_loss (exact, chunked, all n)", "henighan+noise", t_l, None,
                    f"blocks of {max(1, geo.CHUNK_ELEMS // N)} examples"))
    geo.onehot_probe(W[:, :10], b[:10])  # warm-up (numba cache load)
    t_p = _best(lambda: geo.onehot_probe(W, b), 2)
    out.append(_row("onehot_probe (fused numba: recon facts + loss)", "henighan+noise", t_p, t_l,
                    "baseline: onehot_loss (numpy, chunked); used by analysis.analyze"))
    from model.analysis.analysis import analyze
    from model.snapshot import Snapshot
    t_a = _best(lambda: analyze(Snapshot(0, W, b)), 2)
    out.append(_row("analysis.analyze (one-hot, all n)", "henighan+noise", t_a, None, ""))
    t_d = _best(lambda: geo.feature_dimensionality(W), 3)
    out.append(_row("feature_dimensionality (all n)", "henighan+noise", t_d, None, "O(n m^2) via W W^T"))
    return out


def _fmt(x: float | None, spec: str) -> str:
    width = int(spec.split(".")[0]) if spec[0].isdigit() else 0
    return "-".rjust(width) if x is None else format(x, spec)


def format_rows(rs: list[dict[str, object]]) -> str:
    lines = [f"{'case':47s} {'model':15s} {'ms':>9s} {'baseline ms':>12s} {'speedup':>8s}  note",
             "-" * 120]
    for r in rs:
        lines.append(f"{r['case']:47s} {r['model']:15s} {_fmt(r['ms'], '9.1f')} "
                     f"{_fmt(r['baseline_ms'], '12.0f')} {_fmt(r['speedup'], '7.0f') + ('x' if r['speedup'] else ''):>8s}  "
                     f"{r['note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    print(f"geometry benchmark: n = {N}, m = 2, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(format_rows(rows(quick=quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
