"""Database failures as faultflow errors, classified by SQLSTATE (PostgreSQL) or result code
(SQLite), never by the words of a message.

- :class:`~faultflow.errors.DatabaseUnavailable` — temporary, nothing written, try again later:
  the server is unreachable, shutting down, out of connections; a lock or statement timeout; a
  database file busy, locked, out of space or unreadable for now.
- :class:`~faultflow.errors.ConcurrentUpdate` (``retry=True``) — the database aborted the
  transaction to keep it serializable (serialization failure, deadlock): made again, it may pass.
- :class:`~faultflow.errors.DatabaseDamaged` — the file or an index is corrupt: stop writing.
- :class:`~faultflow.errors.DatabaseError` — anything else (a refused statement).
"""

from __future__ import annotations

from sqlalchemy import exc

from ..errors import (
    ConcurrentUpdate,
    DatabaseDamaged,
    DatabaseError,
    DatabaseUnavailable,
    FaultflowError,
)
from ..secrets import redact

# PostgreSQL: SQLSTATE classes and codes (Appendix A of its manual).
_PG_RETRY = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_PG_TEMPORARY_CLASSES = {"08", "53", "57"}  # connection exception, insufficient resources,
# operator intervention (admin/crash shutdown, cannot connect now, query canceled)
_PG_TEMPORARY = {"55P03", "55006", "58030"}  # lock_not_available, object_in_use, io_error
_PG_DAMAGED = {"XX001", "XX002"}  # data_corrupted, index_corrupted

# SQLite primary result codes (sqlite3.h).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR = 5, 6, 7, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_PROTOCOL, SQLITE_NOTADB = 11, 13, 14, 15, 26
_SQLITE_TEMPORARY = {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR, SQLITE_FULL}
_SQLITE_TEMPORARY |= {SQLITE_CANTOPEN, SQLITE_PROTOCOL}


def first_line(err: BaseException) -> str:
    """The driver's own message, first line (SQLAlchemy's wrapper says more than we want)."""
    text = str(getattr(err, "orig", None) or err).strip()
    return redact(text.splitlines()[0]) if text else type(err).__name__


def classify(err: BaseException, doing: str = "database error") -> FaultflowError:
    """The faultflow error for a driver or SQLAlchemy exception ``err``."""
    if isinstance(err, FaultflowError):
        return err
    driver = getattr(err, "orig", None) or err
    message = f"{doing}: {first_line(err)}"
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        if sqlstate in _PG_RETRY:
            return ConcurrentUpdate(
                f"the database aborted the change to keep it consistent ({first_line(err)}); "
                "nothing was written: try again",
                retry=True,
            )
        if sqlstate[:2] in _PG_TEMPORARY_CLASSES or sqlstate in _PG_TEMPORARY:
            return DatabaseUnavailable(f"{message}; nothing was written: try again later")
        if sqlstate in _PG_DAMAGED:
            return DatabaseDamaged(f"{message}; restore a backup (docs/operations.md)")
        return DatabaseError(message)
    code = getattr(driver, "sqlite_errorcode", None)
    if code is not None:
        if code & 0xFF in _SQLITE_TEMPORARY:
            return DatabaseUnavailable(f"{message}; nothing was written: try again later")
        if code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return DatabaseDamaged(f"{message}; restore a backup (docs/operations.md)")
        return DatabaseError(message)
    if _is_connection_failure(err):
        if _refused_by_server(err):  # the server answered: wrong password, no such database
            return DatabaseError(f"{message}; check the database URL, user and password")
        return DatabaseUnavailable(f"{message}; nothing was written: try again later")
    return DatabaseError(message)


_PG_BUSY_PHRASES = (
    "starting up",  # 57P03 cannot_connect_now
    "shutting down",  # 57P01 admin_shutdown
    "in recovery mode",
    "too many clients",  # 53300 too_many_connections
    "connection slots are reserved",
    "not yet accepting connections",
)


def _refused_by_server(err: BaseException) -> bool:
    """A connection the PostgreSQL server itself refused for good (SQLSTATE class 28, invalid
    authorization — a wrong password, an unknown role, no pg_hba.conf entry — or 3D, no such
    database). psycopg gives no SQLSTATE for a failure while connecting, but libpq keeps the
    server's ``FATAL:`` line; a server that is starting, stopping or full says so there, and
    stays temporary."""
    text = str(getattr(err, "orig", None) or err)
    if "FATAL:" not in text:
        return False  # not reached: refused, timed out, no route — temporary
    reason = text.split("FATAL:", 1)[1].lower()
    return not any(phrase in reason for phrase in _PG_BUSY_PHRASES)


def _is_connection_failure(err: BaseException) -> bool:
    """A failure to reach the server that carries no SQLSTATE (psycopg's connection errors,
    SQLAlchemy's pool and disconnection errors)."""
    if isinstance(err, exc.DisconnectionError | exc.TimeoutError):
        return True
    if isinstance(err, exc.DBAPIError) and err.connection_invalidated:
        return True
    driver = getattr(err, "orig", None) or err
    return type(driver).__name__ in ("OperationalError", "InterfaceError") and (
        type(driver).__module__.startswith("psycopg")
    )
