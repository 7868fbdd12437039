"""Seed sweeps and dataset-size sweeps on a Ray cluster (no Qt; Ray is imported only here,
and only when a run asks for a cluster).

``connect("local")`` starts Ray workers on this machine; ``connect("HOST:PORT")`` joins a
running cluster (``ray start --head`` on one machine, ``ray start --address HOST:PORT`` on
the others). Each configuration of a sweep, and each dataset size T, is one task: the
task builds the same runner the in-process run uses for that one point (the same
configuration, seeds and kernels) and returns its arrays, so results and files equal an
in-process run's (the kernels' numbers do not depend on the number of threads; machines
with different vector units may round differently). The driver saves the file after each
finished task, reports progress from the workers (an actor that they write their step
counts to), and cancels: ``request_cancel`` stops the tasks (between training chunks)
and keeps what finished. Ray retries a task whose worker was lost (MAX_RETRIES times); a
task that still fails ends the run with one line naming the point, after saving the
others.

What crosses the wire is only JSON text and plain numeric arrays packed with numpy's npz
format (``allow_pickle=False``); Ray carries them.
"""
from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..background import Worker
from ..config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from ray.actor import ActorHandle

    from .datasize import DataSizeProgress, DataSizeRunner, DataSizeSweep
    from .sweep import Sweep, SweepProgress, SweepRunner

#: Ray re-runs a task whose worker died this many times before the run fails.
MAX_RETRIES = 3
#: Seconds a TCP connection to a cluster address may take before it counts as not answering.
CONNECT_TIMEOUT = 5.0
#: Workers report progress at most this often (seconds).
REPORT_SECONDS = 0.5
_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or the installed package) holding model/


class ClusterError(ConfigError):
    """A cluster problem (Ray missing, an address that does not answer, a task that failed);
    ``field`` is "cluster"."""

    def __init__(self, message: str):
        super().__init__("cluster", message)


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("needs Ray, which is not installed (pip install -r requirements-cluster.txt); "
                           "leave --cluster out to run here") from None
    return ray


#: The connection preface of HTTP/2 (RFC 7540, 3.5), which gRPC, Ray's protocol, speaks from the
#: first byte; a server answers it with a SETTINGS frame (type 4) before anything else.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 4
ADDRESS_HELP = "'local' or a Ray cluster address HOST:PORT (e.g. 10.0.0.5:6379)"


def parse_address(address: str) -> tuple:
    """(host, port) of a cluster address "HOST:PORT" or "ray://HOST:PORT" (IPv6 in brackets);
    ClusterError naming what is wrong (an empty or over-long host, an empty label as in x..y, a
    name that is not a host name, a port outside 1..65535), never a UnicodeError."""
    import ipaddress
    import re

    text = str(address).strip()
    if text.startswith("ray://"):
        text = text[len("ray://"):]
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ClusterError(f"must be {ADDRESS_HELP}, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), int(port)
        except ValueError:
            raise ClusterError(f"{host} is not an IPv6 address (in {address!r})") from None
    try:
        return str(ipaddress.IPv4Address(host)), int(port)
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or any(not 1 <= len(x) <= 63 for x in labels):
        raise ClusterError(f"the host of {address!r} is not a host name: a name has at most 253 characters, "
                           f"in dot-separated labels of 1 to 63")
    if not all(re.fullmatch(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?", x) for x in labels):
        raise ClusterError(f"the host of {address!r} is not a host name (letters, digits, '-' and '_' in "
                           f"dot-separated labels)")
    return host, int(port)


def _check_address(address: str, timeout: float | None = None) -> None:
    """One line, quickly, when no Ray cluster can be at HOST:PORT: a bad address, nothing
    listening (ray.init would retry for a minute), or a service that does not speak HTTP/2,
    gRPC's protocol and Ray's (ray.init would wait minutes, printing Ray's logs)."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout or CONNECT_TIMEOUT) as sock:
            sock.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9:
                got = sock.recv(9 - len(head))
                if not got:
                    break
                head += got
    except TimeoutError:
        head = None
    except (OSError, UnicodeError) as exc:
        raise ClusterError(f"no Ray cluster answers at {address} ({getattr(exc, 'strerror', None) or exc}); start "
                           f"one with 'ray start --head' there, or use --cluster local") from None
    if head is None or len(head) < 9 or head[3] != _H2_SETTINGS:
        what = "said nothing" if not head else "answered in another protocol"
        raise ClusterError(f"no Ray cluster at {address}: something listens there but {what} (Ray speaks gRPC, "
                           f"HTTP/2); check the address and port ('ray start --head' prints them)")


def connect(address: str, cpus: int | None = None) -> None:
    """Start (``local``) or join (``HOST:PORT``) a Ray cluster for this process; a no-op if
    Ray is already running here."""
    address = str(address).strip()
    if address != "local":
        _check_address(address)  # before Ray: a wrong address is named even where Ray is missing
    ray = _ray()
    if ray.is_initialized():
        return
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join([str(_ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}}
    try:
        if address == "local":
            ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                     runtime_env=env, logging_level="ERROR")
        else:
            # the workers get this checkout's code; their machines need the same packages
            ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"working_dir": str(_ROOT), "excludes": [".venv", ".git", "tests", "*.h5"]})
    except ClusterError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray's own errors, as one line
        raise ClusterError(f"could not {'start local Ray workers' if address == 'local' else 'join ' + address}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def shutdown() -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


# ----------------------------------------------------------------------------
# packing: JSON and npz only

def pack_result(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """A task's result as its worker returns it: ``meta`` as JSON and ``arrays`` in one npz (no
    pickle), for unpack_result on the driver; a task of ClusterRun returns this."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def unpack_result(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a task's result packed by pack_result."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(bytes(z["__meta__"]).decode())
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    return meta, arrays


# ----------------------------------------------------------------------------
# the tasks (run in the workers)

class _Reporter:
    """A task's progress callback: writes (done, total, steps/s) to the board, at most every
    REPORT_SECONDS."""

    def __init__(self, board, key: int):
        self.board, self.key, self.last = board, key, 0.0

    def __call__(self, done: int, total: int, rate: float, final: bool = False):
        now = time.monotonic()
        if final or now - self.last >= REPORT_SECONDS:
            self.last = now
            self.board.report.remote(self.key, int(done), int(total), float(rate))


def _run_point(runner, items: Callable, what: str, steps: int, board, key: int):
    """Run a runner of one point with its training progress on the board; the point's result
    (``items(result)[0]``)."""
    rep = _Reporter(board, key)
    done = items(runner.run(lambda p: rep(p.done, p.total, p.steps_per_s) if p.phase == "train" else None))
    if not done:
        raise RuntimeError(f"the {what} did not finish")
    rep(steps, steps, 0.0, final=True)
    return done[0]


def sweep_point(config_json: str, threads: int | None, board: ActorHandle, key: int) -> bytes:
    """Train and judge one sweep configuration (as SweepRunner does in process)."""
    from .sweep import SweepRunner, entry_arrays

    cfg = TrainConfig.from_json(config_json)
    runner = SweepRunner(cfg, None, cfg.models, out=None, threads=threads)
    e = _run_point(runner, lambda sweep: sweep.entries, "configuration", cfg.steps, board, key)
    return pack_result(*entry_arrays(e))


def datasize_point(config_json: str, T: int, test_examples: int, threads: int | None, board: ActorHandle,
                   key: int) -> bytes:
    """Train and measure one dataset size (as DataSizeRunner does in process)."""
    from .datasize import DataSizeRunner

    base = TrainConfig.from_json(config_json)
    runner = DataSizeRunner(base, [T], test_examples, out=None, threads=threads)
    r = _run_point(runner, lambda res: res.results, "size", base.steps, board, key)
    return pack_result({"T": int(r.T), "step": int(r.step), "config": r.config.to_json()},
                       {name: getattr(r, name) for name in ("W", "b", "train_loss", "test_loss", "recorded_loss",
                                                             "feature_dims", "data_dims", "H")})


class _Board:
    """An actor the tasks write their progress to and the driver reads."""

    def __init__(self):
        self.state: dict[int, tuple] = {}

    def report(self, key: int, done: int, total: int, rate: float):
        self.state[key] = (done, total, rate)

    def read(self) -> dict[int, tuple]:
        return dict(self.state)


# ----------------------------------------------------------------------------
# the driver

class ClusterRun:
    """Runs tasks (one per point) on the cluster, in order of submission for the results.

    ``submit(fn, *args)`` -> one point; ``run(on_result, on_progress)`` waits, calls
    ``on_result(index, blob)`` as each finishes (in any order) and ``on_progress(states)``
    (index -> (done, total, steps/s)) every ``poll`` seconds. ``request_cancel`` (any thread)
    cancels what has not finished."""

    def __init__(self, threads: int | None = None, cpus_per_task: int = 1):
        self.ray = _ray()
        self.threads = threads if threads is not None else cpus_per_task
        self.cpus = cpus_per_task
        self.board = self.ray.remote(num_cpus=0)(_Board).remote()
        self.refs: list = []
        self.labels: list[str] = []
        self._cancel = threading.Event()

    def submit(self, fn: Callable[..., bytes], label: str, *args: object) -> None:
        remote = self.ray.remote(num_cpus=self.cpus, max_retries=MAX_RETRIES, retry_exceptions=False)(fn)
        self.refs.append(remote.remote(*args, self.threads, self.board, len(self.refs)))
        self.labels.append(label)

    def request_cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, on_result: Callable[[int, bytes], None], on_progress: Callable | None = None,
            poll: float = 0.25) -> bool:
        """True when every point finished; False when cancelled (what finished was passed on)."""
        ray = self.ray
        index = {ref.hex(): i for i, ref in enumerate(self.refs)}
        pending = list(self.refs)
        while pending:
            if self._cancel.is_set():
                for ref in pending:
                    ray.cancel(ref)
                return False
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=poll)
            for ref in done:
                i = index[ref.hex()]
                try:
                    blob = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost task, after Ray's retries
                    for other in pending:
                        ray.cancel(other)
                    text = str(exc).strip().splitlines()
                    why = next((ln for ln in reversed(text) if ln.strip()), type(exc).__name__)
                    raise ClusterError(f"the task for {self.labels[i]} failed after {MAX_RETRIES} retries: "
                                       f"{why.strip()}") from None
                on_result(i, blob)
            if on_progress is not None:
                on_progress(ray.get(self.board.read.remote()))
        return True


def run_sweep(runner: SweepRunner, address: str, progress: Callable[[SweepProgress], None] | None = None,
              cpus: int | None = None) -> Sweep:
    """SweepRunner ``runner``'s configurations as Ray tasks; returns its Sweep (saved to
    runner.out after each finished configuration, in the plan's order)."""
    from .sweep import SweepEntry, SweepProgress, entry_from_arrays, grid_label

    connect(address, cpus)
    run = ClusterRun(runner.threads)
    plan = runner.plan
    total_steps = sum(cfg.steps for _, cfg in plan)
    finished: dict[int, SweepEntry] = {}
    for values, cfg in plan:
        run.submit(sweep_point, grid_label(values), cfg.to_json())

    def on_result(i, blob):
        meta, a = unpack_result(blob)
        values, cfg = plan[i]
        finished[i] = entry_from_arrays(cfg, values, meta, a)
        runner.sweep.entries = [finished[j] for j in sorted(finished)]
        runner.save_progress()  # the runner's own rules: the first save replaces only with --force

    def on_progress(states):
        if progress is None:
            return
        done = sum(min(d, t) for d, t, _ in states.values())
        rate = sum(r for d, t, r in states.values() if d < t)
        progress(SweepProgress(min(len(finished), len(plan) - 1), len(plan),
                               f"on the cluster, {len(finished)} of {len(plan)} configurations done", "train",
                               done, total_steps, rate))

    try:
        complete = _drive(run, runner, on_result, on_progress)
    except BaseException:
        runner.save_unsaved()
        raise
    runner.sweep.cancelled = not complete or len(finished) < len(plan)
    if runner.out is not None and runner.sweep.cancelled and finished:
        runner.save()  # records the cancel; nothing finished: nothing written
    runner.save_unsaved()
    if progress is not None:
        progress(SweepProgress(len(finished), len(plan), "", "done", len(finished), len(plan)))
    return runner.sweep


def run_datasize(runner: DataSizeRunner, address: str,
                 progress: Callable[[DataSizeProgress], None] | None = None,
                 cpus: int | None = None) -> DataSizeSweep:
    """DataSizeRunner ``runner``'s sizes as Ray tasks; returns its DataSizeSweep (saved to
    runner.out after each finished size, sizes in order)."""
    from .datasize import DataSizeProgress, SizeResult

    connect(address, cpus)
    run = ClusterRun(runner.threads)
    sizes = runner.sizes
    N = len(sizes)
    finished: dict[int, SizeResult] = {}
    steps = runner.base.steps
    for T in sizes:  # runner.configs[i] is the base at examples = sizes[i]
        run.submit(datasize_point, f"T = {T}", runner.base.to_json(), int(T), int(runner.test_examples))
    start = time.monotonic()

    def on_result(i, blob):
        meta, a = unpack_result(blob)
        finished[i] = SizeResult(int(meta["T"]), TrainConfig.from_json(meta["config"]), int(meta["step"]), **a)
        runner.result.results = [finished[j] for j in sorted(finished)]
        if runner.out is not None:
            runner.save()

    def on_progress(states):
        if progress is None:
            return
        # work of a step ~ T (the pairs): the fraction of the whole, and a plain extrapolation
        work = {i: steps * (sizes[i] + 8.0) for i in range(N)}
        done = sum(work[i] * (1.0 if i in finished else min(d, t) / max(t, 1))
                   for i, (d, t, _) in states.items())
        frac = done / max(sum(work.values()), 1e-9)
        el = time.monotonic() - start
        left = el * (1 - frac) / frac if frac > 0.01 else None
        i = max((j for j in states if j not in finished), default=max(states, default=0))
        d, t, r = states.get(i, (0, steps, 0.0))
        progress(DataSizeProgress(i, N, sizes[i], "train", d, t, r, frac, left))  # the largest size running

    complete = _drive(run, runner, on_result, on_progress)
    runner.result.cancelled = not complete or len(finished) < N
    if runner.out is not None and runner.result.cancelled and finished:
        runner.save()  # records the cancel; nothing finished: nothing written
    if progress is not None:
        progress(DataSizeProgress(len(finished), N, 0, "done", len(finished), N, 0.0, 1.0, 0.0))
    return runner.result


def _drive(run: ClusterRun, runner, on_result, on_progress) -> bool:
    """run.run, cancelled when the runner is (its request_cancel comes from any thread): a Worker
    (model/background.py, ``cluster-cancel-watch``) looks every 0.1 s and relays the cancel."""
    watch = Worker("cluster-cancel-watch")

    def relay() -> None:
        while not watch.wait_cancelled(0.1):
            if runner.cancelled:
                run.request_cancel()
                return

    watch.submit(relay)
    try:
        return run.run(on_result, on_progress)
    finally:
        watch.close(1.0)

__all__ = ["MAX_RETRIES", "ClusterError", "connect", "pack_result", "run_datasize", "run_sweep", "shutdown", "unpack_result"]
