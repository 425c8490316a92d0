"""Every error faultflow raises on purpose derives from :class:`FaultflowError`.

Each message is written for the operator who reads it: it says what was refused and what would
be accepted instead. The command line prints the message as one line on stderr and exits 1
(75 for :class:`DatabaseUnavailable`: try again later).
"""

from __future__ import annotations


class FaultflowError(Exception):
    """Base class of every refusal; ``str(err)`` is a message an operator can act on."""

    def __reduce__(self) -> tuple[object, ...]:
        # pickled as what it is, not rebuilt by calling the class with its message (a refusal
        # crosses from serve's intake process to the process that answers: http/hands.py)
        return _revived, (type(self), self.args, self.__dict__)


def _revived(
    cls: type[FaultflowError], args: tuple[object, ...], state: dict[str, object]
) -> FaultflowError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class ConfigError(FaultflowError):
    """The contract file (``states.toml``) is missing, unreadable or invalid."""


class UnknownTicket(FaultflowError):
    """No ticket has the given id."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no ticket {ticket_id!r} (see `faultflow list`)")
        self.ticket_id = ticket_id


class IllegalTransition(FaultflowError):
    """The trigger is unknown, or not allowed from the ticket's current state."""

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


class GuardRefused(FaultflowError):
    """The transition exists but its guard (a rule of the contract) does not hold."""


class ConcurrentUpdate(FaultflowError):
    """Someone else changed the ticket between our read and our write; nothing was written.

    ``retry`` is true when the database itself aborted the transaction (a serialization failure
    or a deadlock): the same change, made again, may well pass.
    """

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class InvalidInput(FaultflowError):
    """A value given by the caller cannot be used (a time, a tier, a missing reason)."""


class UnknownEntry(InvalidInput):
    """No entry of the registry has the given code (a unit, site, line, device or vendor)."""


class IntakeError(InvalidInput):
    """A channel adapter could not turn the payload into a ticket."""


class DeliveryRefused(FaultflowError):
    """A notifier's receiver refused a notification for good (an invalid or disabled webhook, a
    message it cannot take): it is given up at once instead of retried. Raise it from a
    notifier plugin for errors that retrying cannot mend."""


class DeliveryFailed(FaultflowError):
    """Something sent at once (a handling report mailed on the operator's word) did not go:
    nothing was recorded; the same call may be made again."""


class DatabaseError(FaultflowError):
    """The database is missing, of another schema revision, damaged, or refused the statement."""


class DatabaseDamaged(DatabaseError):
    """The database file failed its integrity check: stop writing to it (see
    docs/operations.md, "A damaged SQLite file")."""


class DatabaseUnavailable(DatabaseError):
    """A temporary failure: the database is busy, locked, out of space or unreachable. Nothing
    was written; the same call later may succeed (the command line exits 75, EX_TEMPFAIL, on
    which mail transfer agents and other callers retry)."""
