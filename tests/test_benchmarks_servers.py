"""The benchmark scripts that start commands and servers still run (tiny sizes; their figures
are in docs/performance.md). A file of their own, so that they run beside the others'."""

from __future__ import annotations

import pytest
from test_benchmarks_run import runs_and_prints_its_ratio


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_cli.py", ["--runs", "1"]),
        ("bench_web.py", ["--tickets", "200", "--repeat", "1", "--boards", "2", "--changes", "1"]),
        ("bench_list.py", ["--sizes", "30,300", "--runs", "1"]),
        (
            "bench_storm.py",
            [
                "--via",
                "webhook",
                "--alerts",
                "150",
                "--seconds",
                "1",
                "--senders",
                "20",
                "--timers",
                "3",
                "--lead",
                "3",
            ],
        ),
        (
            "bench_http.py",
            [
                "--faults",
                "40",
                "--clients",
                "4",
                "--groups",
                "2",
                "--alerts",
                "5",
                "--timers",
                "3",
                "--lead",
                "1",
                "--spread",
                "0.5",
                "--runs",
                "1",
            ],
        ),
    ],
)
def test_benchmark_runs_and_prints_its_ratio(script: str, args: list[str]) -> None:
    runs_and_prints_its_ratio(script, args)
