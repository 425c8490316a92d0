"""Test helpers for plugin authors, loaded by pytest automatically when faultflow is installed.

Fixtures:

- ``faultflow_clock``: a clock frozen at 2026-03-02 09:00 (Asia/Shanghai); ``.advance(minutes=20)``
  moves it, ``.now`` reads it. Nothing sleeps.
- ``faultflow_plugins``: the plugin objects or modules to load besides the installed ones;
  override it in your conftest (``return (my_plugin_module,)``).
- ``faultflow_engine``: an :class:`~faultflow.Engine` on a fresh SQLite file in ``tmp_path``,
  on the packaged contract, running on ``faultflow_clock``, with ``faultflow_plugins`` loaded.

See docs/plugins.md for an example.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest


class FrozenClock:
    """An engine clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` and return the new time."""
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def faultflow_clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def faultflow_plugins() -> tuple[Any, ...]:
    return ()


@pytest.fixture
def faultflow_engine(
    tmp_path: Path, faultflow_clock: FrozenClock, faultflow_plugins: tuple[Any, ...]
) -> Iterator[Any]:
    from faultflow.engine import Engine
    from faultflow.registry import discover

    registry = discover(extra=faultflow_plugins)
    if registry.broken:
        problems = "; ".join(f"{k}: {v}" for k, v in registry.broken.items())
        raise RuntimeError(f"plugins failed to load: {problems}")
    engine = Engine.open(db=tmp_path / "faultflow.db", clock=faultflow_clock, registry=registry)
    yield engine
    engine.close()
