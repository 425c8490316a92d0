"""The wheel: built from the tree, installed into a fresh venv, used from anywhere."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CHECK = r"""
import json, faultflow
from faultflow import Engine
from faultflow.contract import default_contract_path
engine = Engine.open(db="t.db")
t = engine.intake("hotline", {"summary": "core switch down", "tier": "A"}, actor="agent1")
t = engine.advance(t.id, "respond", actor="li")
print(json.dumps({"state": t.state, "contract": str(default_contract_path()),
                  "channels": sorted(engine.registry.channels), "broken": engine.registry.broken}))
"""


def test_wheel_installs_and_runs_on_the_packaged_contract(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheel = next(dist.glob("faultflow-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "faultflow/states.toml" in names
    assert "faultflow/py.typed" in names
    assert "faultflow/cli/__init__.py" in names and "faultflow/plugins/email.py" in names
    packaged = zipfile.ZipFile(wheel).read("faultflow/states.toml")
    assert packaged == (ROOT / "states.toml").read_bytes()

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run(
        [str(python), "-c", CHECK],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    import json

    result = json.loads(done.stdout)
    assert result["state"] == "responded"
    assert result["contract"].startswith(str(env_dir))
    assert result["channels"] == [
        "alertmanager",
        "chat",
        "customer_manager",
        "email",
        "hotline",
        "web",
    ]
    assert result["broken"] == {}
    help_run = subprocess.run(
        [str(env_dir / "bin" / "faultflow"), "--help"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_run.returncode == 0 and "faultflow" in help_run.stdout
