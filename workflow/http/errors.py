"""Faultflow's errors as HTTP answers, mapped once: ``{"error": "<one line>"}`` with the status
a client acts on (SPEC §8). Alertmanager retries 5xx and never 4xx: a temporary database failure
is 503 with ``Retry-After``, a refusal is 4xx."""

from __future__ import annotations

from typing import Any

from ..errors import (
    ConcurrentUpdate,
    ConfigError,
    DatabaseUnavailable,
    FaultflowError,
    GuardRefused,
    IllegalTransition,
    InvalidInput,
    UnknownEntry,
    UnknownTicket,
)

RETRY_AFTER_S = 5


def status_of(err: FaultflowError) -> int:
    if isinstance(err, UnknownTicket | UnknownEntry):
        return 404
    if isinstance(err, ConcurrentUpdate):
        return 409
    if isinstance(err, InvalidInput | IllegalTransition | GuardRefused):
        return 422  # IntakeError is an InvalidInput
    if isinstance(err, DatabaseUnavailable):
        return 503
    if isinstance(err, ConfigError):
        return 500
    return 500  # DatabaseError and the rest: ours to fix, not the client's


def body_of(err: FaultflowError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": one_line(str(err))}
    if isinstance(err, IllegalTransition) and err.allowed:
        body["allowed"] = list(err.allowed)
    return body


def headers_of(err: FaultflowError) -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)} if isinstance(err, DatabaseUnavailable) else {}


def one_line(text: str) -> str:
    return " ".join(text.split())
