"""The canonical JSON of what is hashed: ``json.dumps(value, ensure_ascii=False,
separators=(",", ":"))``, made by the very encoder ``json.dumps`` uses, built once.

``json.dumps`` builds a new encoder on every call, which cost a third of hashing an event;
the events' chain (audit/chain.py) and the logs' chains (ledger.py) hash with this one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json import encoder as _json
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_C_ENCODER = getattr(_json, "c_make_encoder", None)  # CPython's; other interpreters: json's own
_ENCODE = (
    _C_ENCODER(None, _ENCODER.default, _json.encode_basestring, None, ":", ",", False, False, True)
    if _C_ENCODER is not None
    else None
)


def canonical(value: Sequence[Any]) -> str:
    """``value`` (a list or tuple, written as a JSON array) in canonical JSON."""
    if _ENCODE is None:  # pragma: no cover
        return _ENCODER.encode(value)
    return "".join(_ENCODE(value, 0))
