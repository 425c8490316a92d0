"""The README's library example runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    due, totals = done.stdout.splitlines()
    assert due.endswith("+08:00")  # the arrival due time, in the contract's zone
    assert "'clock': 'response'" in totals
    assert (tmp_path / "faultflow.db").exists()
