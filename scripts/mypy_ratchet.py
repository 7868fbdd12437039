"""mypy with a per-module ratchet: each module's error count may fall, never rise.

Runs mypy over the packages pyproject.toml's [tool.mypy] ``files`` names (its settings and
cache too), counts the errors per module (file) and compares them with the committed baseline,
mypy-baseline.json. It fails (exit 1) when any module has more errors than the baseline allows;
a module the baseline does not list (a new file) is allowed none. It prints the modules whose
count moved, with their allowance, and the totals per package.

    .venv/bin/python scripts/mypy_ratchet.py            # check (what `make lint` runs)
    .venv/bin/python scripts/mypy_ratchet.py --all      # and list every module that has errors
    .venv/bin/python scripts/mypy_ratchet.py --update   # lower the baseline to today's counts

``--update`` only ever lowers a count (or drops a module that no longer exists, or adds a new
module at zero): when a module has more errors than allowed it refuses and writes nothing. To
raise a count on purpose, edit mypy-baseline.json by hand, where the change shows in review.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.json"
ABOUT = ("mypy errors allowed per module (scripts/mypy_ratchet.py): a count may only fall; "
         "a module listed at 0, or not listed, must have none")


def checked_modules() -> list[str]:
    """Every Python file under the folders [tool.mypy] ``files`` names, as repository paths."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    out: list[str] = []
    for entry in conf["files"]:
        p = ROOT / entry
        files = [p] if p.is_file() else sorted(p.rglob("*.py"))
        out += [f.relative_to(ROOT).as_posix() for f in files if "__pycache__" not in f.parts]
    return sorted(out)


def run_mypy() -> tuple[Counter[str], float]:
    """Errors per file from one mypy run (JSON output), and the run's seconds."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mypy", "--output", "json"], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash): nothing to count
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"mypy_ratchet: mypy exited with status {proc.returncode}")
    counts: Counter[str] = Counter()
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise SystemExit(f"mypy_ratchet: mypy printed a line that is not JSON: {line!r}") from None
        if msg["severity"] == "error":
            counts[Path(msg["file"]).as_posix()] += 1
    return counts, seconds


def load_baseline(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): int(v) for k, v in data["modules"].items()}


def write_baseline(path: Path, modules: dict[str, int]) -> None:
    text = json.dumps({"about": ABOUT, "modules": dict(sorted(modules.items()))}, indent=1) + "\n"
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    tmp.replace(path)


def package_of(module: str) -> str:
    return module.split("/", 1)[0] if "/" in module else "(top level)"


def report(counts: Counter[str], allowed: dict[str, int], every: bool, modules: set[str]) -> list[str]:
    """Print the modules whose count moved (with ``every``, all that have errors) and the totals;
    return the modules over their allowance."""
    over = sorted(m for m, n in counts.items() if n > allowed.get(m, 0))
    shown = sorted(m for m in set(counts) | {m for m, n in allowed.items() if n}
                   if every or counts.get(m, 0) != allowed.get(m, 0))
    if shown:
        print(f"{'module':44} {'allowed':>7} {'now':>5}")
    for m in shown:
        a, n = allowed.get(m, 0), counts.get(m, 0)
        mark = "  ROSE" if n > a else ("" if n == a else "  fell: --update to lock in" if m in modules
                                       else "  no longer exists: --update drops it")
        print(f"{m:44} {a:7d} {n:5d}{mark}")
    per_package: Counter[str] = Counter()
    for m, n in counts.items():
        per_package[package_of(m)] += n
    zero = sum(1 for m in allowed if allowed[m] == 0 and not counts.get(m))
    print("per package: " + (", ".join(f"{p} {n}" for p, n in sorted(per_package.items())) or "none"))
    print(f"total: {sum(counts.values())} errors in {sum(1 for n in counts.values() if n)} modules "
          f"(baseline {sum(allowed.values())}); {zero} modules held at zero")
    return over


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help="lower the baseline to today's counts (never raises one)")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline file (default: %(default)s)")
    ap.add_argument("--all", action="store_true", help="list every module that has errors, not only those that moved")
    args = ap.parse_args(argv)
    allowed = load_baseline(args.baseline)
    counts, seconds = run_mypy()
    print(f"mypy: {seconds:.0f} s")
    modules = checked_modules()
    over = report(counts, allowed, args.all, set(modules))
    if over:
        print(f"mypy_ratchet: more errors than {args.baseline.name} allows in: {', '.join(over)} "
              f"(fix them; `mypy <file>` lists them)", file=sys.stderr)
        if args.update:
            print("mypy_ratchet: --update never raises a count; baseline not written", file=sys.stderr)
        return 1
    if args.update:
        new = {m: min(allowed.get(m, 0), counts.get(m, 0)) for m in modules}
        stale = sorted(set(allowed) - set(modules))
        write_baseline(args.baseline, new)
        lowered = sorted(m for m in new if m in allowed and new[m] < allowed[m])
        print(f"baseline written: {len(lowered)} lowered, {len(set(new) - set(allowed))} added at zero, "
              f"{len(stale)} dropped (no longer exist)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
