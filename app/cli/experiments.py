"""The seed's experiments on the command line: `sweep`, `probe`, `datasize`.

    main.py sweep [train options] --models K [--grid n=6,7,8] [--out SWEEP.h5] [--json]
    main.py probe RUN.h5 [--step S] [--model k] --path bias|feature|random|angle [--feature i]
                  [--direction j|angle:DEG|random] [--range a,b] [--points N] [--json]
                  [--continue-steps N] [--at t] [--out RUN.h5] [--figure FILE.png|svg|pdf] [--force]
    main.py datasize --sizes 3,5,8,... [train options] [--test-examples N] [--out FILE.h5] [--json]

One module for the three commands (app/cli/__init__.py's EXTRA_COMMANDS maps each name
here): ``add_parser`` adds the three subparsers once, ``run`` dispatches on
the command. Bad input: one line naming the flag and what it allows, exit 2.
Progress bars go to stderr; --json prints exactly one JSON object on stdout.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable

from app.cli import (
    EXIT_INTERRUPTED,
    CliError,
    Interrupt,
    add_threads_option,
    add_train_options,
    check_run_out,
    config_from_args,
    float_arg,
    int_arg,
    not_applying,
    path_arg,
    run_snapshot,
    say,
)

COMMANDS = ("sweep", "probe", "datasize")
MAX_MEMORY_GB = 1e6  # a petabyte: beyond any machine, and still a whole number of bytes in an int64


def add_parser(sub: argparse._SubParsersAction) -> None:
    if "sweep" not in sub.choices:
        _add_sweep(sub)
    if "probe" not in sub.choices:
        _add_probe(sub)
    if "datasize" not in sub.choices:
        _add_datasize(sub)


def run(a: argparse.Namespace) -> int:
    return {"sweep": cmd_sweep, "probe": cmd_probe, "datasize": cmd_datasize}[a.command](a)


def _json_safe(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return _json_safe(x.item())
    except ImportError:  # pragma: no cover
        pass
    return x


def _add_cluster_option(p) -> None:
    p.add_argument("--cluster", default=None, metavar="local|HOST:PORT",
                   help="run each configuration (sweep) or size (datasize) as a task on Ray: 'local' starts Ray "
                   "workers on this machine, HOST:PORT joins a running Ray cluster (needs Ray: pip install -r "
                   "requirements-cluster.txt); results and files equal a run without it")


def _connect_cluster(a) -> None:
    """With --cluster: start or join Ray now, before any progress bar (a missing Ray or an
    address that does not answer is one line; an empty one is refused, not taken for "run
    here"). Ray is imported only here."""
    if a.cluster is not None:
        from model.experiments import cluster

        cluster.connect(a.cluster)


def _run_maybe_on_cluster(a, runner, progress, what: str):
    """runner.run(progress), or on Ray when --cluster is given."""
    if a.cluster is None:
        return runner.run(progress)
    from model.experiments import cluster

    try:
        if what == "sweep":
            return cluster.run_sweep(runner, a.cluster, progress)
        return cluster.run_datasize(runner, a.cluster, progress)
    finally:
        cluster.shutdown()


def _run_cancellable(a, runner, progress, bar, what: str):
    """(runner's result, whether Ctrl+C cancelled it): _run_maybe_on_cluster with Ctrl+C
    cancelling the runner between chunks; the progress bar is closed either way."""
    intr = Interrupt(runner.request_cancel).__enter__()  # from here on Ctrl+C cancels (left below)
    try:
        return _run_maybe_on_cluster(a, runner, progress, what), intr.requested
    finally:
        intr.__exit__()
        bar.close()


def _g(x, spec: str = ".4g") -> str:
    """A number for a table; '-' for none, 'inf' for infinity."""
    if x is None:
        return "-"
    return format(x, spec) if math.isfinite(x) else "inf"


def _print_json(obj) -> None:
    print(json.dumps(_json_safe(obj), allow_nan=False))


# =========================================================================== sweep
def _add_sweep(sub):
    p = sub.add_parser("sweep", help="train K seeds of a configuration (or a grid of them) and count the verdicts",
                       description="Seed sweep / failure atlas: K seeds of each configuration trained as one "
                       "batched run; per configuration the count and rate of each verdict with Wilson 95% "
                       "intervals, each model's outcome (settled, stuck or moving) and the failure rate against "
                       "training length. Model k of a configuration with --seed s is the single run with seed s + k.")
    add_train_options(p)
    from model.config import TrainConfig, grid_options

    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="vary one training option over values (repeatable: the grid is their product). Keys: "
                   + ", ".join(grid_options(TrainConfig)))
    p.add_argument("--out", type=path_arg("--out"), default=None, help="sweep file to write (.h5); default: a new file in the user's "
                   "data folder")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")
    p.add_argument("--json", action="store_true", help="print one JSON object: per configuration the counts "
                   "per verdict, per outcome and per finding and the rates (with 95%% intervals), the failure "
                   "rate against training length, the finding combinations, and per_model: each model's seed, "
                   "verdict, outcome and findings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_cluster_option(p)


def cmd_sweep(a: argparse.Namespace) -> int:
    sweep, interrupted = sweep_from_args(a)
    out = sweep.path
    if interrupted:
        done = len(sweep.entries)
        say(f"interrupted: {done} of {sweep.planned} configuration(s) finished"
            + (f" and saved in {sweep.path}" if sweep.path is not None else "; nothing was saved"))
        return EXIT_INTERRUPTED
    if a.json:
        _print_json(sweep.summary(per_model=True))
        return 0
    _print_sweep(sweep)
    if sweep.cancelled:
        print(f"cancelled: {len(sweep.entries)} of {sweep.planned} configurations done", file=sys.stderr)
    print(f"sweep saved: {out}")
    return 0


def sweep_from_args(a: argparse.Namespace, bar_class: Callable | None = None) -> tuple:
    """``sweep``'s work without its printing, for the command and the Python API: (the Sweep,
    whether Ctrl+C stopped it). A progress bar of ``bar_class`` (default tqdm) unless --quiet."""
    if bar_class is None:
        from tqdm import tqdm as bar_class

    from model.experiments.datasize import fmt_seconds
    from model.experiments.sweep import SweepClock, SweepRunner, default_sweep_path, parse_grid

    if a.init == "run":
        raise CliError("main.py sweep: --init: a sweep trains fresh models: use xavier or analytic")
    grid = parse_grid(a.grid)
    cfg = config_from_args(a, grid)
    _check_grid_applies(cfg, grid)
    if a.out is not None:
        check_run_out(a.out, a.force)
    out = a.out or str(default_sweep_path(cfg, cfg.models))
    runner = SweepRunner(cfg, grid, cfg.models, out=out, threads=a.threads, overwrite=a.force)
    _connect_cluster(a)
    bar = bar_class(total=1, unit="step", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)
    state = {"key": None}
    clock = SweepClock.from_plan(runner.plan, runner.threads)

    def progress(p):
        if p.phase == "done":
            return
        key = (p.index, p.phase)
        if state["key"] != key:
            state["key"] = key
            bar.reset(total=p.total)
            bar.unit = "step" if p.phase == "train" else "model"
        left = clock.seconds_left(p)
        bar.set_description(f"[{p.index + 1}/{p.configs}] {p.label} {p.phase}"
                            + (f"; all: about {fmt_seconds(left)} left" if p.configs > 1 and left is not None else ""),
                            refresh=False)
        bar.update(p.done - bar.n)

    return _run_cancellable(a, runner, progress, bar, "sweep")


def _print_sweep(sweep) -> None:
    """The sweep's rates per configuration, in words (_print_entry)."""
    for e in sweep.entries:
        _print_entry(e)


def _rate_line(name: str, r: dict, width: int = 20) -> str:
    return (f"{name:<{width}} {r['count']:>7}  {100 * r['rate']:6.2f}%  [{100 * r['ci95'][0]:.2f}, "
            f"{100 * r['ci95'][1]:.2f}]")


def _print_entry(e) -> None:
    """One configuration of a sweep as text: verdicts, outcomes, the failure rate against steps, findings."""
    s = e.summary()
    lo, hi = s["failure_ci95"]
    stop = f" (stopped at step {e.step:,}: every model settled or stuck)" if e.step < e.config.steps else ""
    print(f"{e.label}: {e.K} models, failures {100 * s['failure_rate']:.1f}% [95% CI {100 * lo:.1f}-{100 * hi:.1f}%], "
          f"median loss {_g(s['median_loss'], '.3g')}, at step {e.step:,}{stop}")
    for v, r in e.rates().items():
        print("  " + _rate_line(v, r))
    orates = e.outcome_rates()
    if orates:
        print("  outcomes (settled: perfect and staying; stuck: a failure training will not leave; moving: "
              "still changing):")
        for v in ("settled", "stuck", "moving", "failure_stuck", "failure_moving"):
            print("    " + _rate_line(v.replace("failure_", "failures ").replace("_", " "), orates[v]))
    curve = e.failure_curve()
    if curve:
        print("  failure rate against training length (stuck: called stuck at that step):")
        for c in curve:
            print(f"    step {c['step']:>9,}  failures {100 * c['rate']:6.2f}% [{100 * c['ci95'][0]:.2f}, "
                  f"{100 * c['ci95'][1]:.2f}]  stuck {100 * c['stuck_rate']:6.2f}% [{100 * c['stuck_ci95'][0]:.2f}, "
                  f"{100 * c['stuck_ci95'][1]:.2f}]")
    fr = e.finding_rates()
    if fr:
        print("  findings (models with each; a model can have several):")
        for v, r in fr.items():
            print("    " + _rate_line(v, r, 24))
    combos = e.finding_combinations()
    if combos:
        print("  finding combinations (models holding exactly these failure findings):")
        for combo, c in list(combos.items())[:12]:
            print(f"    {combo:<44} {c:>7}  {100 * c / e.K:6.2f}%")


def _check_grid_applies(cfg, grid: dict) -> None:
    """A grid key is refused, as a given option is, where no configuration makes it apply
    (--grid momentum=0.5,0.9 with adamw everywhere)."""
    from model.config import ConfigError, TrainConfig, schema

    values = cfg.to_dict()
    for opt in schema(TrainConfig):
        why = not_applying(opt, values, grid) if opt.name in grid and opt.applies else None
        if why is not None:
            raise ConfigError("grid", f"{opt.name} {why}")


# =========================================================================== probe
def _add_probe(sub):
    p = sub.add_parser("probe", help="loss along a one-parameter path through a snapshot: is it a local optimum?",
                       description="Perturbation probe: loss(t) of (W, b) + t (dW, db) around a snapshot, with "
                       "the slope and curvature at t = 0 (finite differences, checked against autograd). "
                       "Paths: bias (b_i + t), feature (W_i + t u, u = another feature's W_j, a unit vector at "
                       "an angle, or random), random (a random unit direction in all parameters), angle (W_i "
                       "turned by θ about the origin, |W_i| kept; --range in degrees; on a model of two features "
                       "the two-vector curve (max(0, cos φ))² is printed beside it). Features are "
                       "numbered from 1, as in the seed (feature 7).")
    p.add_argument("run", type=path_arg("run"), help="run file (.h5)")
    p.add_argument("--step", type=int_arg("--step"), default=None, help="snapshot at or before this step (default: latest)")
    p.add_argument("--model", type=int_arg("--model"), default=0, help="which model of a batched run, 0-based")
    p.add_argument("--path", choices=("bias", "feature", "random", "angle"), default="feature",
                   help="the path (default feature)")
    p.add_argument("--feature", type=int_arg("--feature"), default=None,
                   help="the feature i moved by the bias, feature and angle paths, 1..n (default: the first "
                   "dead feature, else n; for angle the first live one)")
    p.add_argument("--direction", default=None,
                   help="feature path direction u: a feature number j (u = W_j; the seed's W_7 = a W_6 is "
                   "--feature 7 --direction 6), angle:DEG (unit vector at DEG degrees), or random "
                   "(default: the nearest live feature). The angle path turns W_i toward it (m = 2: "
                   "counter-clockwise when omitted; m > 2: required)")
    p.add_argument("--seed", type=int_arg("--seed", 0), default=0, help="seed of random directions, >= 0")
    p.add_argument("--range", default=None, help="t range: A for -A..A, or a,b with a < b (write --range=-0.5,2 "
                   "when a is negative); default 1; for the angle path in degrees, default 180")
    p.add_argument("--points", type=int_arg("--points"), default=101, help="points on the t grid, 3..100000")
    p.add_argument("--continue-steps", type=int_arg("--continue-steps"), default=None,
                   help="then train the perturbed model (at --at) this many more steps, and the unperturbed "
                   "one the same way as a control, and say whether it escapes")
    p.add_argument("--at", type=float_arg("--at"), default=None, help="with --continue-steps or --out: t of the "
                   "perturbed model, within --range (default: 0.05 times the range's larger end; degrees for the "
                   "angle path)")
    p.add_argument("--out", type=path_arg("--out"), default=None,
                   help="save the perturbed model as a run file (.h5) that inspect, export, probe and the window "
                   "open: the model at --at (one snapshot, at the probed step), or with --continue-steps its "
                   "continued training (the whole history; not written if Ctrl+C cuts it short)")
    p.add_argument("--figure", type=path_arg("--figure"), default=None,
                   help="draw the probe view (loss along the path, the local quadratic, the closed form "
                   "for the angle path) to FILE.png, .svg or .pdf: probe results are not kept in a file, so the "
                   "figure is drawn here")
    p.add_argument("--force", action="store_true", help="replace --out / --figure if it exists (otherwise an "
                   "existing file is refused)")
    add_threads_option(p)
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _parse_range(text: str):
    parts = [s.strip() for s in str(text).split(",")]
    try:
        if len(parts) == 1:
            lo, hi = -abs(float(parts[0])), abs(float(parts[0]))
        elif len(parts) == 2:
            lo, hi = float(parts[0]), float(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise CliError(f"main.py probe: --range must be A (for -A..A) or two numbers a,b with a < b, "
                       f"got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise CliError(f"main.py probe: --range must be two finite numbers a,b with a < b, got {text!r}")
    from model.analysis.probe import T_MAX

    if max(abs(lo), abs(hi)) > T_MAX:
        raise CliError(f"main.py probe: --range: each end must be within ±{T_MAX:.6g} (the largest float32: the "
                       f"parameters are float32), got {text!r}")
    return lo, hi


def _parse_direction(text, n: int):
    if text is None:
        return None
    t = str(text).strip().lower()
    if t == "random":
        return ("random", None)
    if t.startswith("angle:") or t.startswith("angle="):
        try:
            deg = float(t[6:])
            if not math.isfinite(deg):
                raise ValueError
        except ValueError:
            raise CliError(f"main.py probe: --direction angle:DEG needs a finite number of degrees, got {text!r}") from None
        return ("angle", deg)
    try:
        j = int(t)
    except ValueError:
        raise CliError(f"main.py probe: --direction must be a feature number 1..{n}, angle:DEG or random; "
                       f"got {text!r}") from None
    if not 1 <= j <= n:
        raise CliError(f"main.py probe: --direction must be a feature number from 1 to n = {n}, got {j}")
    return ("feature", j - 1)


def _probe_check_args(a) -> tuple:
    """The flags that need no file: (lo, hi) of the t range (radians for the angle path)."""
    angle = a.path == "angle"
    lo, hi = _parse_range(a.range if a.range is not None else ("180" if angle else "1"))
    if a.at is not None:
        if a.continue_steps is None and a.out is None:
            raise CliError("main.py probe: --at: applies to --continue-steps or --out (the t of the perturbed model)")
        if not lo <= a.at <= hi:
            raise CliError(f"main.py probe: --at: must be within --range [{lo:g}, {hi:g}], got {a.at:g}")
    if a.force and a.out is None and a.figure is None:
        raise CliError("main.py probe: --force: applies to --out or --figure (replace an existing file)")
    if a.direction is not None and a.path not in ("feature", "angle"):
        raise CliError(f"main.py probe: --direction: applies to --path feature or angle, but --path is {a.path}")
    if a.feature is not None and a.path == "random":
        raise CliError("main.py probe: --feature: applies to --path bias, feature or angle; --path random moves "
                       "every parameter")
    if angle:  # degrees on the command line, radians in the path
        lo, hi = math.radians(lo), math.radians(hi)
    if not 3 <= a.points <= 100_000:
        raise CliError(f"main.py probe: --points must be from 3 to 100000, got {a.points}")
    if a.continue_steps is not None and not 1 <= a.continue_steps <= 10_000_000:
        raise CliError(f"main.py probe: --continue-steps must be from 1 to 10000000, got {a.continue_steps}")
    if a.out is not None:
        check_run_out(a.out, a.force)
    if a.figure is not None:
        from app.export.experiment_figures import ExportError, check_figure_path

        try:
            check_figure_path(a.figure, a.force, "--figure")
        except ExportError as exc:
            raise CliError(f"main.py probe: {exc}", exc.status) from None
    return lo, hi


def _probe_snapshot(a):
    """(run, snapshot, its analysis) of --model at --step."""
    from model.analysis.analysis import analyze
    from model.storage.runfile import open_run

    run = open_run(a.run)
    cfg = run.config
    snap = run_snapshot(run, a, "main.py probe: ")
    return run, snap, analyze(snap, onehot=cfg.onehot)


def _probe_feature_and_direction(a, snap, an) -> tuple:
    """(k, direction): the 0-based feature the path moves and the path's direction (see --direction)."""
    import numpy as np

    n = snap.n
    angle = a.path == "angle"
    if a.feature is not None and not 1 <= a.feature <= n:
        raise CliError(f"main.py probe: --feature must be from 1 to n = {n}, got {a.feature}")
    if a.feature is not None:
        k = a.feature - 1
    elif angle:  # a dead feature has no direction to turn
        k = next((j for j in range(n) if not an.dead_mask[j]), 0)
    else:
        k = an.dead[0] if an.dead else n - 1
    direction = _parse_direction(a.direction, n)
    if angle and direction is not None and direction[0] == "random":
        direction = ("random", a.seed)
    if a.path == "feature":
        if direction is None:  # the nearest live feature by angle (the seed: W_7 = a W_6)
            live = [j for j in range(n) if j != k and not an.dead_mask[j]] or [j for j in range(n) if j != k]
            if not live:
                raise CliError("main.py probe: the feature path needs n >= 2 (u = another feature's W_j)")
            j = live[int(np.argmin([abs(((an.angles_deg[j] - an.angles_deg[k]) + 180) % 360 - 180)
                                    if not an.dead_mask[k] else -an.norms[j] for j in live]))]
            direction = ("feature", j)
        elif direction[0] == "random":
            direction = ("random", a.seed)
    if a.path in ("feature", "angle") and direction is not None and direction[0] == "feature" \
            and direction[1] == k:
        raise CliError(f"main.py probe: --direction must be another feature than --feature {k + 1}")
    return k, direction


def _probe_t_at(a, lo: float, hi: float) -> float:
    """The t of the perturbed model (--at; radians for the angle path): default 0.05 times the range's larger end."""
    if a.at is None:
        return 0.05 * max(abs(lo), abs(hi))
    return math.radians(a.at) if a.path == "angle" else a.at


def _probe_continue(a, run, snap, path, t_at, objective):
    """--continue-steps: (ContinueResult or None, the step Ctrl+C stopped it at or None)."""
    import threading

    from tqdm import tqdm

    from model.analysis import probe as pr

    start = pr.perturbed(snap, path, t_at, objective)
    stop = threading.Event()
    with Interrupt(stop.set) as intr:
        bar = tqdm(total=a.continue_steps, unit="step", file=sys.stderr, dynamic_ncols=True)
        shown = {"label": None}

        def progress(label, p):
            if shown["label"] != label:
                shown["label"] = label
                bar.reset(total=p.total)
                bar.set_description(label)
            bar.update(p.step - bar.n)

        try:
            cont = pr.continue_training(run.config, snap, start, a.continue_steps, t_at, objective,
                                        threads=a.threads, dataset=run.dataset, stop_event=stop, progress=progress)
        finally:
            bar.close()
    if intr.requested:  # the continuation is incomplete: report only the probe, which is complete
        return None, cont.history.latest_step or 0
    return cont, None


def _probe_save(a, run, snap, path, t_at, objective, cont) -> str:
    """--out: the perturbed model at t_at (one snapshot), or its continued training (the whole
    history), as a run file that inspect, export, probe and the window open. Returns what was saved."""
    from model.analysis import probe as pr
    from model.history import History
    from model.snapshot import nonfinite_text
    from model.storage.runfile import save_run

    cfg = run.config
    meta = {"perturbed_from": {"run": str(a.run), "model": int(a.model), "step": int(snap.step),
                               "path": path.text, "t": float(t_at)}}
    if cont is not None:
        save_run(a.out, cont.config, cont.history, dataset=_one_model_dataset(run, a.model), meta=meta,
                 replace=a.force)
        return f"the perturbed model (t = {cont.t:g}) after {cont.steps:,} more steps"
    start = pr.perturbed(snap, path, t_at, objective)
    one = cfg.replace(models=1, seed=cfg.seed + int(a.model), init="xavier", init_run=None, init_step=None,
                      init_model=0).validate()
    h = History(1, start.m, start.n, untied=cfg.untied, budget_bytes=2**20)
    M = None if not cfg.untied else (start.M if start.M is not None else start.W.T)[None]
    h.append(int(snap.step), start.W[None], start.b[None], [start.loss], M)
    save_run(a.out, one, h, dataset=_one_model_dataset(run, a.model), meta=meta, replace=a.force)
    saved = h.snapshot()  # as the file holds it: float32
    if not saved.finite:  # the writer marked it (halted at its step); say so too
        say(f"note: the perturbed model at t = {t_at:g} is not finite in float32 ({nonfinite_text(saved)}): "
            f"{a.out} marks it so, and its readers show 'not finite at this step'")
    return f"the perturbed model at t = {t_at:g} (step {snap.step:,})"


def _probe_figure(a, res, snap, config) -> None:
    """--figure: the probe view (the window's, off screen) drawn to PNG, SVG or PDF."""
    from app.cli.export import prepare_display, qt_app
    from app.export.experiment_figures import ExportError, write_probe_figure

    prepare_display(False)
    qt_app()
    try:
        write_probe_figure(a.figure, res, snap, config, a.model, replace=a.force)
    except ExportError as exc:  # the figure's own errors name its flag (the renderer says --out)
        raise CliError(f"main.py probe: --figure: {exc.problem}", exc.status) from None


def _one_model_dataset(run, model: int):
    """The finite dataset of model ``model`` as a run of one model keeps it, (1, T, n) (None for
    fresh data)."""
    if run.dataset is None:
        return None
    import numpy as np

    X = np.asarray(run.dataset)
    return (X[model] if X.ndim == 3 else X)[None]


def compute_probe(a: argparse.Namespace) -> tuple:
    """The probe the parsed ``probe`` options ask for, before any continuation or file:
    (run, snapshot, its analysis, the path, the objective, the ProbeResult, (lo, hi), the
    JSON-safe dict that ``probe --json`` starts from). The Python API's probe() calls it."""
    from model.analysis import probe as pr

    lo, hi = _probe_check_args(a)
    run, snap, an = _probe_snapshot(a)
    k, direction = _probe_feature_and_direction(a, snap, an)
    objective = pr.objective_for(run.config, run.dataset, a.model)
    path = pr.make_path(snap, a.path, feature=k, direction=direction, seed=a.seed, bias=run.config.bias)
    res = pr.probe(snap, path, objective, (lo, hi), a.points)
    out = {"run": a.run, "model": a.model, "step": snap.step, "verdict": an.verdict,
           "recorded_loss": snap.loss, **res.to_dict()}
    return run, snap, an, path, objective, res, (lo, hi), out


def cmd_probe(a: argparse.Namespace) -> int:
    run, snap, an, path, objective, res, (lo, hi), out = compute_probe(a)
    t_at = _probe_t_at(a, lo, hi)
    cont, stopped_at = None, None
    if a.continue_steps is not None:
        cont, stopped_at = _probe_continue(a, run, snap, path, t_at, objective)
        if cont is not None:
            out["continue"] = cont.to_dict()
    saved = []
    if a.out is not None and stopped_at is None:
        what = _probe_save(a, run, snap, path, t_at, objective, cont)
        out["saved"] = str(a.out)
        saved.append(f"run saved: {a.out} ({what})")
    if a.figure is not None:
        _probe_figure(a, res, snap, run.config)
        out["figure"] = str(a.figure)
        saved.append(f"figure saved: {a.figure}")
    if a.json:
        _print_json(out)
    else:
        _print_probe(a, snap, an, path, res, cont)
        for line in saved:
            print(line)
    if a.out is not None and stopped_at is not None:
        say(f"--out: {a.out} was not written (the continued training was interrupted)")
    return _probe_interrupted(stopped_at, a.continue_steps)


def _print_probe(a, snap, an, path, res, cont) -> None:
    """The probe in words: the path, loss(0), slope and curvature, the curve, the continuation."""
    import numpy as np

    angle = a.path == "angle"
    print(f"{a.run}  model {a.model}  step {snap.step}  verdict {an.verdict.replace('_', ' ')}")
    print(f"path: {path.text}   objective: {res.objective}")
    print(f"loss(0) = {res.loss0:.10g}   (recorded {snap.loss:.6g})")
    print(f"slope   dL/dt   = {res.slope_fd: .6g}  (finite differences, h = {res.fd_step:g})   "
          f"{res.slope_autograd: .6g}  (autograd)")
    print(f"curvature d2L/dt2 = {res.curvature_fd: .6g}  (finite differences)   {res.curvature_autograd: .6g}  (autograd)")
    if not res.smooth_at_zero:
        print(f"t = 0 sits on a ReLU kink (a pre-activation exactly at 0): one-sided slopes {res.slope_left:.6g} "
              f"(left) and {res.slope_right:.6g} (right); autograd takes ReLU'(0) = 0")
    ts_ = res.t_star
    verdict = ("a local minimum along this path" if res.local_min_along_path else
               "not a minimum along this path (the loss falls to one side)" if ts_ is None or abs(ts_) > 0
               else "flat")
    print(f"t = 0 is {verdict}" + (f"; the local quadratic's minimum is at t = {ts_:.3g}" if ts_ is not None else ""))
    tb, lb = res.best()
    idx = np.unique(np.round(np.linspace(0, len(res.ts) - 1, min(len(res.ts), 21))).astype(int))
    idx = np.union1d(idx, [int(np.argmin(np.abs(res.ts)))])
    if angle:
        print(f"lowest loss on the grid: {lb:.6g} at θ = {math.degrees(tb):.4g}°   (slope and curvature per radian)")
        ref = res.reference
        print(res.reference_text)
        print(f"{'θ (deg)':>10} {'loss':>14}" + (f" {'closed form':>14}" if ref is not None else ""))
        for i in idx:
            print(f"{math.degrees(res.ts[i]):>10.4g} {res.losses[i]:>14.8g}"
                  + (f" {ref[i]:>14.8g}" if ref is not None else "") + ("   <- θ = 0" if res.ts[i] == 0 else ""))
        if ref is not None:
            print(f"largest |loss - closed form| on the grid: {float(np.max(np.abs(res.losses - ref))):.3g}")
    else:
        print(f"lowest loss on the grid: {lb:.6g} at t = {tb:.4g}")
        print(f"{'t':>10} {'loss':>14}")
        for i in idx:
            print(f"{res.ts[i]:>10.4g} {res.losses[i]:>14.8g}" + ("   <- t = 0" if res.ts[i] == 0 else ""))
    if cont is not None:
        c = cont
        print(f"continued {c.steps} steps from t = {c.t:g} (loss {c.loss_start:.6g}): loss {c.loss_after:.6g}, "
              f"verdict {c.verdict_after.replace('_', ' ')} -> {'escaped' if c.escaped else 'did not escape'}")
        if c.control_loss_after is not None:
            print(f"control (t = 0, same steps, fresh optimiser state): loss {c.control_loss_after:.6g}, verdict "
                  f"{c.control_verdict_after.replace('_', ' ')}"
                  + (" (escaped too: the restart alone frees it)" if c.control_escaped else ""))


def _probe_interrupted(stopped_at, steps) -> int:
    """After the probe's output: 0, or the one line and 130 when Ctrl+C cut --continue-steps short."""
    if stopped_at is None:
        return 0
    say(f"interrupted: the continued training stopped at step {stopped_at:,} of {steps:,} and is "
        f"not reported; the probe above is complete")
    return EXIT_INTERRUPTED


# ======================================================================== datasize
def _add_datasize(sub):
    from model.config import DEFAULT_TEST_EXAMPLES, smdd_config

    p = sub.add_parser("datasize", help="SMDD dataset-size sweep: train on T examples for each T",
                       description="Dataset-size sweep (Anthropic's SMDD): sparse data with a finite training "
                       "set of T examples, for each T of --sizes; per T the train and test loss, feature and "
                       "data dimensionality, and the hidden embeddings of the training examples. Defaults are "
                       "SMDD's setting: n = 10000, m = 2, S = 0.999, full-batch AdamW lr 1e-3, weight decay "
                       "1e-2, warm-up 2500 steps then cosine, 50000 steps. Sizes that would not fit in memory "
                       "are refused before anything trains.")
    add_train_options(p)
    s = smdd_config()
    p.set_defaults(n=s.n, m=s.m, data="sparse", sparsity=s.sparsity, steps=s.steps, optimizer=s.optimizer,
                   lr=s.lr, weight_decay=s.weight_decay, schedule=s.schedule, warmup=s.warmup)
    p.add_argument("--sizes", required=True, help="dataset sizes T, comma-separated, e.g. 3,5,8,10,15,30,50,100,"
                   "200,500,1000")
    p.add_argument("--test-examples", type=int_arg("--test-examples"), default=DEFAULT_TEST_EXAMPLES,
                   help=f"fresh examples for the test loss (default {DEFAULT_TEST_EXAMPLES})")
    p.add_argument("--max-memory-gb", type=float_arg("--max-memory-gb"), default=None,
                   help="memory the sweep may plan for (default: 80%% of what is available now)")
    p.add_argument("--out", type=path_arg("--out"), default=None, help="file to write (.h5)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object: per T the losses, "
                   "dimensionalities, the regularity of the training examples' hidden vectors (embedding_radius_cv, "
                   "embedding_gap_ratio: per model) and the vectors themselves (embeddings: per model, T vectors of "
                   "m numbers)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_cluster_option(p)


def cmd_datasize(a: argparse.Namespace) -> int:
    res, interrupted = datasize_from_args(a)
    if interrupted:
        done = len(res.results)
        saved = (f" and saved in {res.path}" if res.path is not None else
                 "; nothing was saved" if a.out else " (no --out: nothing is saved)")
        say(f"interrupted: {done} of {len(res.sizes)} size(s) finished{saved}")
        return EXIT_INTERRUPTED
    if a.json:
        _print_json(res.summary())
        return 0
    _print_datasize(res)
    if a.out:
        print(f"saved: {a.out}")
    return 0


def datasize_from_args(a: argparse.Namespace, bar_class: Callable | None = None) -> tuple:
    """``datasize``'s work without its printing, for the command and the Python API: (the
    DataSizeSweep, whether Ctrl+C stopped it). A progress bar of ``bar_class`` unless --quiet."""
    if bar_class is None:
        from tqdm import tqdm as bar_class

    from model.experiments.datasize import DataSizeRunner, fmt_seconds, parse_sizes

    if a.data != "sparse":
        raise CliError(f"main.py datasize: --data must be sparse for a dataset-size sweep, got {a.data}")
    if a.examples is not None:
        raise CliError("main.py datasize: --examples is set per size: use --sizes")
    if a.batch is not None:
        raise CliError("main.py datasize: --batch: a dataset-size sweep trains full-batch (leave --batch out)")
    if a.init == "run":
        raise CliError("main.py datasize: --init: a dataset-size sweep trains fresh models: use xavier")
    if a.max_memory_gb is not None and not 0 < a.max_memory_gb <= MAX_MEMORY_GB:
        raise CliError(f"main.py datasize: --max-memory-gb: must be > 0 and at most {MAX_MEMORY_GB:g}, "
                       f"got {a.max_memory_gb:g}")
    sizes = parse_sizes(a.sizes)
    cfg = config_from_args(a)
    if a.out is not None:
        check_run_out(a.out, a.force)
    limit = None if a.max_memory_gb is None else int(a.max_memory_gb * 2**30)
    runner = DataSizeRunner(cfg, sizes, a.test_examples, out=a.out, threads=a.threads, memory_limit=limit,
                            overwrite=a.force)
    _connect_cluster(a)
    # one bar for the whole sweep (its estimated work, in permille), with the size in
    # progress and the time left from model.experiments.datasize.TimeLeft
    bar = bar_class(total=1000, disable=a.quiet, file=sys.stderr, dynamic_ncols=True,
                    bar_format="{percentage:3.0f}%|{bar}| {desc}")

    def progress(p):
        if p.phase == "done":
            return
        what = f"step {p.done:,}/{p.total:,}" if p.phase == "train" else "measuring"
        rate = f", {p.steps_per_s:,.0f} steps/s" if p.phase == "train" and p.steps_per_s else ""
        bar.set_description_str(f"[{p.index + 1}/{p.sizes}] T = {p.T:,}: {what}{rate}; all sizes: about "
                            f"{fmt_seconds(p.seconds_left)} left", refresh=False)
        bar.n = max(bar.n, int(round(1000 * p.fraction)))
        bar.refresh()  # the text changes even when the bar does not move

    return _run_cancellable(a, runner, progress, bar, "datasize")


def _print_datasize(res) -> None:
    """The dataset-size sweep's table, in words."""
    print(f"{'T':>8} {'train loss':>12} {'test loss':>12} {'sum D_i':>9} {'sum D_t':>9} {'max D_t':>9} "
          f"{'m/|W|^2':>9} {'h radius cv':>12} {'h gap ratio':>12}")
    for r in res.results:
        s = r.summary()
        cv, gap = r.regularity()[0]
        print(f"{s['T']:>8} {s['train_loss']:>12.5g} {s['test_loss']:>12.5g} {s['feature_dim_sum']:>9.4g} "
              f"{s['data_dim_sum']:>9.4g} {s['data_dim_max']:>9.4g} {s['dims_per_feature']:>9.4g} "
              f"{_g(cv):>12} {_g(gap):>12}")
    if res.results and res.results[0].W.shape[0] > 1:
        print("(losses and dimensionalities: medians over the models; h radius cv and gap ratio: model 0's "
              "training examples' hidden vectors, 0 and 1 for a regular T-gon)")
    else:
        print("(h radius cv, h gap ratio: of the training examples' hidden vectors; 0 and 1 for a regular T-gon)")
