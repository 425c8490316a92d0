"""The benchmark scripts still run (tiny sizes; their figures are in docs/performance.md): those
of the engine in one process here, those that start commands and servers in
test_benchmarks_servers.py (two files, so that two workers share them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_lifecycle.py", ["--tickets", "50", "--rounds", "1"]),
        ("bench_sweep.py", ["--tickets", "3000", "--due", "100"]),
        ("bench_reports.py", ["--tickets", "2000", "--lived", "100", "--workers", "2"]),
        ("bench_verify.py", ["--tickets", "30", "--runs", "1"]),
        ("bench_registry.py", ["--devices", "300", "--units", "20"]),
        ("bench_kb.py", ["--entries", "300", "--rounds", "1", "--tickets", "5"]),
        ("bench_monthly.py", ["--tickets", "300", "--units", "10"]),
        (
            "bench_merge.py",
            ["--children", "20", "--open", "300", "--units", "10", "--intakes", "200"],
        ),
        (
            "bench_inspections.py",
            [
                "--plans",
                "20",
                "--tickets",
                "500",
                "--due",
                "20",
                "--rounds",
                "300",
                "--missed",
                "5",
            ],
        ),
        (
            "bench_places.py",
            [
                "--units",
                "50",
                "--tickets",
                "400",
                "--open",
                "100",
                "--down",
                "20",
                "--intakes",
                "100",
                "--runs",
                "1",
            ],
        ),
    ],
)
def test_benchmark_runs_and_prints_its_ratio(script: str, args: list[str]) -> None:
    runs_and_prints_its_ratio(script, args)


def runs_and_prints_its_ratio(script: str, args: list[str]) -> None:
    """Run ``script`` with ``args`` as a person would; it must end well and print its ratio."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "ratio" in done.stdout


def test_the_package_namespace_is_complete() -> None:
    import faultflow

    names = set(faultflow.__all__) - {"__version__"}
    assert names == set(faultflow._WHERE)
    for name in faultflow.__all__:
        assert getattr(faultflow, name) is not None


@pytest.mark.services
def test_the_lifecycle_benchmark_runs_on_postgres() -> None:
    from conftest import _pg_base_url

    base = _pg_base_url()
    if base is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL benchmark: start the server (see .ci/run)")
        pytest.skip("no PostgreSQL server (set FAULTFLOW_TEST_PG or start a local cluster)")
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_lifecycle.py"), "--tickets", "30", "--pg", base],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "raw psycopg" in done.stdout and "ratio" in done.stdout


@pytest.mark.services
def test_the_mail_benchmark_runs_against_a_private_dovecot() -> None:
    from dovecot import usable

    if not usable():
        if os.environ.get("CI"):
            pytest.fail("CI must run the mail benchmark: .ci/run installs dovecot-imapd")
        pytest.skip("needs Debian's dovecot-imapd and root")
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_mail.py"), "--messages", "20"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "raw imaplib" in done.stdout and "ratio" in done.stdout
