"""Outcomes on the command line: `inspect --json` carries `outcome`, `sweep --json` per-configuration outcome
rates, the failure rate against training length, finding combinations and per-model seed/verdict/outcome/findings
(real subprocesses, real files)."""
import json

import pytest

from tests.app.test_cli import run


@pytest.mark.slow
def test_sweep_json_follows_each_seed_with_its_verdict_outcome_and_findings(tmp_path):
    out = tmp_path / "s.h5"
    r = run("sweep", "--n", "6", "--steps", "3000", "--models", "24", "--seed", "100", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["configurations"][0]
    pm = c["per_model"]
    assert [p["seed"] for p in pm] == list(range(100, 124)) and [p["model"] for p in pm] == list(range(24))
    assert {p["outcome"] for p in pm} <= {"settled", "stuck", "moving"}
    for p in pm:
        assert p["verdict"] in c["counts"] and isinstance(p["findings"], list) and p["outcome_text"]
        assert (p["outcome"] == "settled") <= (p["verdict"] == "perfect")  # only a perfect model is settled
        assert (p["outcome"] == "stuck") <= (p["verdict"] != "perfect")  # only a failure is stuck
    # the outcome rates add up, per model and per failure
    oc = c["outcome_counts"]
    assert oc["settled"] + oc["stuck"] + oc["moving"] == 24
    fails = sum(1 for p in pm if p["verdict"] != "perfect")
    assert oc["failure_stuck"] + oc["failure_moving"] == fails
    assert oc["stuck"] == sum(p["outcome"] == "stuck" for p in pm)
    for k, (lo, hi) in c["outcome_ci95"].items():
        assert 0 <= lo <= c["outcome_rates"][k] <= hi <= 1
    # the failure rate against training length, on the verdict grid, ends at the final step with the final rate
    curve = c["failure_curve"]
    assert [x["step"] for x in curve] == [1024, 1448, 2048, 2896, 3000]
    assert curve[-1]["failures"] == fails and curve[-1]["stuck"] == oc["failure_stuck"]
    for x in curve:
        assert 0 <= x["ci95"][0] <= x["rate"] <= x["ci95"][1] <= 1
    # the finding combinations count every model once
    assert sum(c["finding_combinations"].values()) == 24
    from model.analysis.analysis import FAILURE_MODES

    assert c["finding_combinations"].get("none", 0) == sum(1 for p in pm if not set(p["findings"]) & set(FAILURE_MODES))


@pytest.mark.slow
def test_inspect_json_has_the_outcome_with_its_evidence(run7):
    r = run("inspect", str(run7), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    o = d["outcome"]
    assert o["kind"] in ("settled", "stuck", "moving") and o["text"].startswith(o["kind"])
    ev = o["evidence"]
    assert ev["horizon_doublings"] == 10 and ev["window"][1] == d["step"] == o["step"]
    assert set(ev) >= {"pace", "crossing", "next_kink", "local", "clean"}
    assert d["verdict_outcome_text"] == d["verdict"].replace("_", " ") + ", " + o["kind"]
    r = run("inspect", str(run7))
    assert r.returncode == 0 and "\noutcome: " in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--until-decided"]])
def test_train_until_decided_stops_early_and_says_so(tmp_path, args):
    r = run("train", "--n", "6", "--init", "analytic", "--steps", "50000", "--out", str(tmp_path / "r.h5"), *args)
    assert r.returncode == 0, r.stderr
    assert "stopped at step 1,024 of 50,000: every model is settled or stuck" in r.stderr
