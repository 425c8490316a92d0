"""The wheel: built from the tree, installed into a fresh venv, used from anywhere; and an
outside plugin installed beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
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


def pip(env_dir: Path) -> list[str]:
    """pip, installing into the venv ``env_dir`` (which has no pip of its own)."""
    return [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python")]


@pytest.fixture(scope="session")  # built once, however the tests are interleaved
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A fresh venv with the faultflow wheel installed: (venv, wheel)."""
    tmp = tmp_path_factory.mktemp("pkg")
    dist = tmp / "dist"
    # Built from a copy of the tree: other tests write bytecode and databases into it meanwhile,
    # and setuptools writes build/ and *.egg-info beside the sources.
    source = tmp / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", "*.db*", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheel = next(dist.glob("faultflow-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)  # this interpreter's pip installs into it (--python)
    subprocess.run(
        [*pip(env_dir), "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    yield env_dir, wheel


def test_the_wheel_holds_the_contract_and_the_plugins(installed: tuple[Path, Path]) -> None:
    names = zipfile.ZipFile(installed[1]).namelist()
    for name in (
        "faultflow/states.toml",
        "faultflow/py.typed",
        "faultflow/cli/__init__.py",
        "faultflow/plugins/email.py",
        "faultflow/plugins/webhook.py",
    ):
        assert name in names
    packaged = zipfile.ZipFile(installed[1]).read("faultflow/states.toml")
    assert packaged == (ROOT / "states.toml").read_bytes()


def test_installed_wheel_runs_on_the_packaged_contract(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    env_dir, _ = installed
    done = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", CHECK],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_run.returncode == 0 and "faultflow" in help_run.stdout


def test_an_outside_plugin_installs_and_takes_faults(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    env_dir, _ = installed
    python = str(env_dir / "bin" / "python")
    example = ROOT / "docs" / "examples" / "faultflow-sms"
    subprocess.run(
        [*pip(env_dir), "install", "-q", "--no-deps", str(example)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    channels = subprocess.run(
        [str(env_dir / "bin" / "faultflow"), "channels", "--json"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    listing = json.loads(channels.stdout)
    assert listing["channels"]["sms"]["plugin"] == "sms"
    assert listing["broken"] == {}
    script = (
        "from faultflow import Engine\n"
        "e = Engine.open(db='s.db')\n"
        't = e.intake(\'sms\', b\'{"id": "g-9", "from": "+86139", "text": "down"}\','
        " actor='duty')\n"
        "print(t.channel, t.title, t.contact)\n"
    )
    out = subprocess.run(
        [python, "-c", script], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == ["sms", "down", "+86139"]
    # the plugin's own tests pass with the fixtures faultflow ships (pytest11 entry point)
    subprocess.run(
        [*pip(env_dir), "install", "-q", "pytest"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tests = subprocess.run(
        # -o addopts=: the example lives inside this repository, whose pytest settings are ours
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(example / "tests"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
