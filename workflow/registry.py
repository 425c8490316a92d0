"""Find and load plugins: the entry-point group ``faultflow``, built-ins included.

``FAULTFLOW_PLUGINS`` (a comma-separated list of entry-point names) limits which plugins load —
useful in tests, or to leave out a misbehaving plugin without uninstalling it.
A plugin that fails to import or registers something unusable is reported by name in
:attr:`Registry.broken`; it never stops the other plugins or the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import IntakeError
from .hookspecs import Channel, Notifier

GROUP = "faultflow"


@dataclass
class Registry:
    """What the installed plugins provide."""

    channels: dict[str, Channel] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    # plugin (or thing) name -> what went wrong
    broken: dict[str, str] = field(default_factory=dict)
    # channel or notifier name -> the plugin that registered it
    origin: dict[str, str] = field(default_factory=dict)

    def channel(self, name: str) -> Channel:
        """The channel adapter called ``name``; :class:`IntakeError` lists the installed ones."""
        if name not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none"
            raise IntakeError(f"unknown channel {name!r} (installed: {known})")
        return self.channels[name]


def plugin_manager(extra: tuple[Any, ...] = ()) -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A plugin manager with every entry-point plugin loaded, and the ones that failed."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    broken: dict[str, str] = {}
    wanted = os.environ.get("FAULTFLOW_PLUGINS")
    only = {n.strip() for n in wanted.split(",") if n.strip()} if wanted is not None else None
    for ep in metadata.entry_points(group=GROUP):
        if only is not None and ep.name not in only:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as err:  # a broken plugin must not stop the others
            broken[ep.name] = f"cannot load: {type(err).__name__}: {err}"
    for plugin in extra:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    return pm, broken


def discover(extra: tuple[Any, ...] = ()) -> Registry:
    """Load the plugins and collect their channels and notifiers."""
    pm, broken = plugin_manager(extra)
    registry = Registry(broken=broken)
    _collect(pm, "register_channels", Channel, registry.channels, registry)
    _collect(pm, "register_notifiers", Notifier, registry.notifiers, registry)
    return registry


def _collect(
    pm: pluggy.PluginManager, hook: str, kind: type, into: dict[str, Any], registry: Registry
) -> None:
    what = kind.__name__.lower()
    for impl in getattr(pm.hook, hook).get_hookimpls():
        plugin = impl.plugin_name

        def register(thing: Any, _plugin: str = plugin) -> None:
            name = getattr(thing, "name", None)
            if not isinstance(name, str) or not name or not isinstance(thing, kind):
                raise TypeError(
                    f"registered {thing!r}, which is not a {what} (see docs/plugins.md)"
                )
            if name in into:
                raise ValueError(
                    f"{what} {name!r} is already registered by {registry.origin[name]!r}"
                )
            into[name] = thing
            registry.origin[name] = _plugin

        try:
            impl.function(register=register)
        except Exception as err:  # isolate each plugin
            registry.broken[plugin] = f"{hook}: {type(err).__name__}: {err}"
