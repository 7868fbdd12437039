"""All core benchmarks in one go: training, geometry, history. Each figure has a
baseline measured in the same run. Run: .venv/bin/python benchmarks/bench_core.py [--quick]"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    quick = "--quick" in sys.argv[1:]
    for script, args in (("bench_train.py", ["--quick"] if quick else []),
                         ("bench_geometry.py", []), ("bench_history.py", [])):
        print(f"\n== {script} ==", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, script), *args], check=False)


if __name__ == "__main__":
    main()
