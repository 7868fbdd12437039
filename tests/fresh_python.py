"""What a fresh interpreter has loaded: for the tests of which libraries a module or a command pulls in."""
import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(statements: str, libraries: Iterable[str]) -> list[str]:
    """The top-level packages among ``libraries`` that a fresh interpreter, run in the repository root,
    has imported once it has executed ``statements`` (sorted; [] when none)."""
    code = (f"import sys; {statements}; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({tuple(libraries)!r})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return ast.literal_eval(r.stdout.strip().splitlines()[-1])
