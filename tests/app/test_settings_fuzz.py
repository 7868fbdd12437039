"""Fuzz families of the window's settings file (issue 21): hostile values, damaged window
states, and a start that crashed. The window is started in child processes
(tests/app/settings_fuzz_child.py), so a crash or a hang is a counted case and a test failure,
never a crash of the suite. Each test prints its counts (tried, handled, left).

Families:
- values: each entry of the file with a value no release ever wrote (a 400-digit integer in
  views.plane3d.enlarge or triple, a 100,000-deep nested last_experiment, wrong types,
  texts and lists beyond their bounds): the window starts with the defaults for that entry.
- damaged state: a real saved window state with 1 to 16 random bytes changed (or cut short),
  its stored checksum left as it was (the file was damaged): dropped before Qt sees it.
- forged state: the same mutations with the checksum made to match (someone rewrote the file
  by hand): Qt's restoreState trusts its input, so such a blob may crash Qt; the start guard
  makes the next start set the file aside and say so. Crashes of the first start are reported
  as "left" (Qt's), and every one of them must be recovered on the next start.
"""
from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE_TIMEOUT_S = 60  # a case that takes longer is a hang (a loaded machine starts a window in ~1 s)


def run_cases(cases, tmp_path: Path):
    """{index: verdict} for each case: 'OK', 'OK RECOVERED', 'BAD ...', 'CRASHED' (the process
    died in it) or 'HUNG'. One child process runs the cases in order; after a crash or a hang
    a new one goes on from the next case."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), LGE_SETTINGS_ORG="lge-fuzz",
               LGE_DATA_DIR=str(tmp_path / "data"), PYTHONFAULTHANDLER="0")
    if os.environ.get("DISPLAY"):
        env.pop("QT_QPA_PLATFORM", None)
    verdicts, first = {}, 0
    while first < len(cases):
        try:
            r = subprocess.run([sys.executable, "-m", "tests.app.settings_fuzz_child", str(path), str(first)],
                               cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=CASE_TIMEOUT_S * (len(cases) - first))
            out, died, timed_out = r.stdout, r.returncode != 0, False
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            died, timed_out = True, True
        started = None
        for line in out.splitlines():
            word, _, rest = line.partition(" ")
            i = int(rest.split(":")[0].split()[0]) if rest else -1
            if word == "START":
                started = i
            elif word in ("OK", "BAD"):
                verdicts[i] = (word + rest[len(str(i)):]).strip()  # "OK", "OK RECOVERED", "BAD: why"
                started = None
        if started is not None:  # the process ended inside this case
            verdicts[started] = "HUNG" if timed_out else "CRASHED"
            first = started + 1
        elif died:
            pytest.fail(f"the child failed outside any case: {r.stderr[-1500:]}")
        else:
            first = len(cases)
    return verdicts


@pytest.fixture(scope="module")
def saved_state(qapp):
    """A real window state and geometry, as the window saves them."""
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow

    w = MainWindow(autostart=False, restore=False)
    w.resize(1400, 900)
    w.show()
    QApplication.processEvents()
    state, geo = bytes(w.saveState()), bytes(w.saveGeometry())
    w.close()
    return state, geo


def state_entry(data: bytes, checksum_of: bytes | None = None) -> dict:
    from app.gui.settings import qt_version, state_digest

    v = qt_version()
    return {"data": base64.b64encode(data).decode("ascii"), "qt": v,
            "sha256": state_digest(data if checksum_of is None else checksum_of, v)}


def mutations(state: bytes, count: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        b = bytearray(state)
        if rng.random() < 0.15:
            b = b[:rng.randrange(len(b))]  # cut short
        else:
            for _ in range(rng.randint(1, 16)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        out.append(bytes(b))
    return out


def report(name, verdicts, handled):
    tried = len(verdicts)
    ok = sum(1 for v in verdicts.values() if handled(v))
    print(f"\n[{name}] tried {tried}, handled {ok}, left {tried - ok}: "
          f"{sorted(set(verdicts.values()))}")
    return tried, ok


@pytest.mark.slow
def test_hostile_values_are_dropped_and_the_window_starts(tmp_path, saved_state):
    deep = "[" * 100_000 + "]" * 100_000
    big = 10 ** 400
    good = {"layout": "explore", "state": state_entry(saved_state[0])}
    values = [
        {"views": {"plane3d": {"enlarge": [1, 1, big]}}},
        {"views": {"plane3d": {"triple": [big, 0, 1]}}},
        {"views": {"plane3d": {"enlarge": [1e308, 1, 1]}}},
        {"views": {"plane3d": {"enlarge": [1, 1, 0]}}},
        {"views": {"plane3d": {"enlarge": "x"}}},
        {"views": {"plane3d": {"enlarge": [[[[1]]]]}}},
        {"views": {"plane3d": {"triple": [-1, 0, 1]}}},
        {"views": {"zones": {"clip": {"a": 1}}}},
        {"views": {"plane3d": {"after_relu": "maybe"}}},
        {"last_experiment": deep},
        {"last_experiment": json.dumps({"n": big})},
        {"last_experiment": json.dumps({"n": 7, "lr": "fast"})},
        {"last_experiment": 7},
        {"recent": ["/x.h5"] * 10_000},
        {"recent": ["/" + "x" * 100_000]},
        {"layout": "bogus"},
        {"layout": ["explore"]},
        {"geometry": "AAAA"},
        {"state": "AAAA"},
        {"views": []},
    ]
    cases = [json.dumps({**good, **v}) for v in values]
    cases.append('{"views": {"plane3d": {"enlarge": [1, 1, ' + "9" * 400 + "]}}}")  # as a user types it
    verdicts = run_cases(cases, tmp_path)
    tried, ok = report("settings values", verdicts, lambda v: v == "OK")
    assert tried == len(cases) and ok == tried, verdicts


@pytest.mark.slow
def test_damaged_window_states_never_reach_qt(tmp_path, saved_state):
    """Random byte changes of a real saved state with its stored checksum: all dropped."""
    from app.gui.settings import Settings

    state, geo = saved_state
    muts = [m for m in mutations(state, 40, seed=21) if m != state]
    cfg = tmp_path / "explorer.json"
    for m in muts:  # in-process first: the settings layer hands none of them back
        ent = state_entry(m, checksum_of=state)
        cfg.write_text(json.dumps({"state": ent, "geometry": state_entry(geo)}))
        st = Settings(cfg)
        assert st.value("state") is None and st.value("geometry") == geo
    cases = [json.dumps({"state": state_entry(m, checksum_of=state), "geometry": state_entry(geo)})
             for m in muts[:6]]
    verdicts = run_cases(cases, tmp_path)
    tried, ok = report("damaged window state", verdicts, lambda v: v == "OK")
    assert tried == len(cases) and ok == tried, verdicts


@pytest.mark.slow
def test_forged_window_states_that_crash_qt_are_set_aside_on_the_next_start(tmp_path, saved_state):
    """Mutations whose checksum was made to match reach Qt. Each is followed by a start on
    whatever the previous one left (None): a crash of the first start must be recovered by
    the second (RECOVERED: the file set aside, the defaults used); nothing may hang."""
    state, _ = saved_state
    muts = [m for m in mutations(state, 12, seed=2104) if m != state]
    cases = [json.dumps({"state": state_entry(state), "layout": "figure"}), "ABORT", None]  # a known crash
    for m in muts:
        cases += [json.dumps({"state": state_entry(m)}), None]
    verdicts = run_cases(cases, tmp_path)
    assert verdicts[0] == "OK" and verdicts[1] == "CRASHED" and verdicts[2] == "OK RECOVERED", verdicts
    aside = tmp_path / "config" / "lge-fuzz" / "explorer.json.crashed"
    assert aside.exists()  # the crashed start's settings kept for a look, not deleted
    firsts = {i: v for i, v in verdicts.items() if i >= 3 and i % 2 == 1}
    seconds = {i: v for i, v in verdicts.items() if i >= 3 and i % 2 == 0}
    crashed = [i for i, v in firsts.items() if v == "CRASHED"]
    report("forged window state, first start", firsts, lambda v: v.startswith("OK"))
    report("forged window state, next start", seconds, lambda v: v.startswith("OK"))
    assert "HUNG" not in verdicts.values(), verdicts
    assert all(v.startswith("OK") for v in seconds.values()), verdicts
    assert all(seconds[i + 1] == "OK RECOVERED" for i in crashed), verdicts
    assert all(v == "OK" for i, v in seconds.items() if i - 1 not in crashed), verdicts  # no false alarm
    assert not any("BAD" in v for v in firsts.values()), verdicts
