"""The wheel: built from the tree, installed on its own, used from anywhere; and an outside
plugin installed beside it.

The wheel is installed with ``pip --target`` into a folder of its own, put first on the path of
this test environment's interpreter: what runs is the wheel's code, contract and entry points
(the tree's editable install comes after it and is never reached), while the dependencies are
the environment's. Installing them into a fresh venv took 10-15 s of every test run; resolving
them from pyproject.toml is what `.ci/run` does from scratch on every submission.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

CHECK = r"""
import json, faultflow
from faultflow import Engine
from faultflow.contract.compile import default_contract_path
engine = Engine.open(db="t.db")
t = engine.intake("hotline", {"summary": "core switch down", "tier": "A"}, actor="agent1")
t = engine.advance(t.id, "respond", actor="li")
print(json.dumps({"state": t.state, "contract": str(default_contract_path()),
                  "channels": sorted(engine.registry.channels), "broken": engine.registry.broken}))
"""


@dataclass(frozen=True)
class Installed:
    """The wheel, and the folder it is installed into."""

    wheel: Path
    target: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.target)}

    def install(self, *what: str) -> None:
        # --no-build-isolation: a source folder builds with this environment's setuptools
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        subprocess.run(
            [*pip, "--target", str(self.target), "--upgrade", *what],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="session")  # built once, however the tests are interleaved
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The faultflow wheel, built from the tree and installed into a folder of its own."""
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
    done = Installed(next(dist.glob("faultflow-*.whl")), tmp / "site")
    done.install(str(done.wheel))
    yield done


def test_the_wheel_holds_the_contract_the_plugins_and_the_migrations(
    installed: Installed,
) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for name in (
        "faultflow/states.toml",
        "faultflow/py.typed",
        "faultflow/cli/__init__.py",
        "faultflow/plugins/email.py",
        "faultflow/plugins/webhook.py",
        "faultflow/db/migrations/env.py",
        "faultflow/db/migrations/script.py.mako",
        "faultflow/db/migrations/versions/0001_schema_1.py",
    ):
        assert name in names
    for area in (ROOT / "workflow").glob("*/__init__.py"):  # every area ships (words once did not)
        assert f"faultflow/{area.parent.name}/__init__.py" in names, area.parent.name
    assert "faultflow/words/zh.po" in names and "faultflow/words/en.po" in names
    for kind in ("vendors", "units", "sites", "lines", "devices"):  # the demo imports them
        assert f"faultflow/network/example/{kind}.csv" in names, kind
    packaged = zipfile.ZipFile(installed.wheel).read("faultflow/states.toml")
    assert packaged == (ROOT / "states.toml").read_bytes()


def test_installed_wheel_runs_on_the_packaged_contract(
    installed: Installed, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=tmp_path,
        env=installed.env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    assert result["state"] == "responded"
    assert result["contract"].startswith(str(installed.target))  # the wheel's, not the tree's
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
        [str(installed.target / "bin" / "faultflow"), "--help"],
        cwd=tmp_path,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_run.returncode == 0 and "faultflow" in help_run.stdout


def test_an_outside_plugin_installs_and_takes_faults(installed: Installed, tmp_path: Path) -> None:
    example = ROOT / "docs" / "examples" / "faultflow-sms"
    beside = Installed(installed.wheel, tmp_path / "plugin")  # a folder of its own
    beside.install(str(example))
    env = {**installed.env(), "PYTHONPATH": f"{installed.target}{os.pathsep}{beside.target}"}
    channels = subprocess.run(
        [str(installed.target / "bin" / "faultflow"), "channels", "--json"],
        cwd=tmp_path,
        env=env,
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
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.split() == ["sms", "down", "+86139"]
    # the plugin's own tests pass with the fixtures faultflow ships (pytest11 entry point);
    # -o addopts=: the example lives inside this repository, whose pytest settings are ours
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    tests = subprocess.run(
        [*pytest_run, str(example / "tests")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
