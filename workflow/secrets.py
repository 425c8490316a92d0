"""Secrets stay secret: contract values read from the environment, and credentials masked
wherever a URL or an error is shown, logged or stored.

A contract value may name an environment variable instead of holding a literal::

    [notifiers.wecom]
    use = "webhook"
    url = { env = "WECOM_WEBHOOK_URL" }

:func:`resolve` replaces such tables with the variable's value when the contract is loaded;
:func:`looks_secret` is what ``faultflow check`` warns about; :func:`redact` masks passwords in
URLs and the values of key-like query parameters (``key=``, ``token=``, ``secret=``, ...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Query parameters and table keys whose values are credentials.
_SECRET_NAMES = (
    r"(?:key|token|secret|password|passwd|pwd|access_token|api_key|apikey|signature|sig)"
)
_QUERY = re.compile(rf"([?&]{_SECRET_NAMES}=)[^&#\s\"']+", re.I)
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:)[^@/\s\"']+@", re.I)
_SECRET_KEY = re.compile(rf"^{_SECRET_NAMES}$|_{_SECRET_NAMES}$", re.I)


def redact(text: str) -> str:
    """``text`` with URL passwords and key-like query values masked as ``***``."""
    return _USERINFO.sub(rf"\1{MASK}@", _QUERY.sub(rf"\1{MASK}", text))


class MissingSecret(Exception):
    """An ``{ env = NAME }`` value whose variable is not set (carries the key path)."""

    def __init__(self, path: str, variable: str) -> None:
        super().__init__(f"{path}: the environment variable {variable} is not set")
        self.path, self.variable = path, variable


def resolve(value: Any, path: str, environ: Mapping[str, str] | None = None) -> Any:
    """``value`` with every ``{ env = "NAME" }`` table (at any depth) replaced by ``$NAME``."""
    env = os.environ if environ is None else environ
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in env:
                raise MissingSecret(path, name)
            return env[name]
        return {k: resolve(v, f"{path}.{k}", env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    return value


def looks_secret(table: Mapping[str, Any], path: str) -> list[str]:
    """Key paths in a contract table that hold a literal credential: a key-like key with a
    text value, or a URL with a password or a key-like query parameter."""
    found: list[str] = []
    for key, value in table.items():
        where = f"{path}.{key}"
        if isinstance(value, Mapping):
            if set(value) != {"env"}:
                found += looks_secret(value, where)
        elif (
            isinstance(value, str)
            and value
            and (_SECRET_KEY.search(str(key)) or redact(value) != value)
        ):
            found.append(where)
    return found
