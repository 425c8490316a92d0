"""Benchmark: how fast the command answers.

`faultflow --help` (target <= 0.3 s wall) and `faultflow show ID` (target <= 1.3 x the wall time
of `python -c "import sqlmodel"`, measured in the same run: the floor of any command that opens
a database through SQLModel).

The package is byte-compiled first, as pip does when it installs a wheel and as Python does on
a user's first run: otherwise, where PYTHONDONTWRITEBYTECODE is set (as on the CI machines), an
editable install would be measured compiling its own source at every start.

    python tests/benchmarks/bench_cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine


def wall(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import compileall
    import importlib

    for name in ("faultflow", "faultflow.cli", "faultflow.plugins"):
        for folder_ in importlib.import_module(name).__path__:
            compileall.compile_dir(folder_, quiet=1)
    beside = Path(sys.executable).parent / "faultflow"
    ff = str(beside) if beside.exists() else "faultflow"
    folder = Path(tempfile.mkdtemp(prefix="ff-cli-"))
    env = {**os.environ, "FAULTFLOW_DB": str(folder / "cli.db")}
    subprocess.run([ff, "init"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [ff, "intake", "--channel", "web", "--title", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tid = __import__("json").loads(out)["ticket"]["id"]
    help_s = wall([ff, "--help"], args.runs, env)
    floor = wall([sys.executable, "-c", "import sqlmodel"], args.runs, env)
    show_s = wall([ff, "show", tid], args.runs, env)
    print(f"CLI benchmark: median of {args.runs} runs; {machine()}")
    print(f"  faultflow --help      : {help_s:.3f} s (target <= 0.3 s)")
    print(f"  python -c 'import sqlmodel': {floor:.3f} s (the floor)")
    print(
        f"  faultflow show ID     : {show_s:.3f} s = {show_s / floor:.2f} x the floor "
        f"(target <= 1.3)"
    )
    print(f"  ratio floor/show: {floor / show_s:.3f}")
    print("  targets:", "met" if help_s <= 0.3 and show_s <= 1.3 * floor else "NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
