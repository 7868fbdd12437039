"""How much of a run a kill -9 loses: the age of the newest row on disk at the moment the
writer is killed, in seconds.

The writer streams rows as the engine does (tests/model/test_runfile.py's stream_and_kill: every
few milliseconds a row whose step is the time it was appended, CLOCK_MONOTONIC in ms, the
same clock in every process); after --stream seconds it is killed with SIGKILL, the file is
opened, and the newest row's age at the kill is printed. The writer flushes every 2 s
(RunWriter.flush_seconds), and one block may be in flight, so the expected loss is at most
about 2 s plus the time to write one block; on a busy machine it grows with the load.

Run: .venv/bin/python benchmarks/bench_kill.py [--kills 3] [--stream 6]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.storage.runfile import open_run
from tests.model.test_runfile import stream_and_kill


def lost_seconds(folder: str, stream: float) -> float:
    """Stream rows for `stream` seconds, kill -9 the writer, return the newest row's age at the kill."""
    p = os.path.join(folder, f"timed-{time.monotonic_ns()}.h5")
    killed_ms, _ = stream_and_kill(p, stream)
    st = open_run(p, budget_bytes=2**30).history.steps
    return (killed_ms - float(st[-1])) / 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--stream", type=float, default=6.0, help="seconds of streaming before each kill")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        lost = [lost_seconds(d, a.stream) for _ in range(a.kills)]
    print(f"kill -9 after {a.stream:g} s of streaming, {a.kills} kills; load {os.getloadavg()[0]:.2f}")
    print("newest row on disk, age at the kill (s): " + ", ".join(f"{x:.2f}" for x in lost)
          + f"; largest {max(lost):.2f} (flush period 2 s, plus one block in flight)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
