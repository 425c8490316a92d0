"""The mailbox poller: mail in an IMAP folder becomes tickets (and replies notes) through the
``email`` channel; each message is then moved — to ``faultflow/done``, or, refused, to
``faultflow/refused`` with the reason logged — never deleted.

Exactly once: a message's Message-ID is the ticket's external id, so a message read twice (a
restart between the intake and the move, two pollers at once) is a duplicate and opens nothing;
the move that loses the race finds the message gone and moves on. A temporary database failure
leaves the message where it is, for the next pass.

The mailbox is ``[channels.email.imap]`` in the contract (``imap-tools`` speaks IMAP):

    [channels.email.imap]
    host = "mail.example.gov.cn"
    port = 993
    tls = "ssl"              # ssl | starttls | none
    user = "faults@example.gov.cn"
    password = { env = "FAULTFLOW_IMAP_PASSWORD" }
    folder = "INBOX"
    max_bytes = 10485760      # bigger messages are refused (moved aside), not read
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, DatabaseUnavailable, FaultflowError

log = logging.getLogger("faultflow")

DONE, REFUSED = "faultflow/done", "faultflow/refused"  # "/": the server's own delimiter
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    tls: str
    user: str
    password: str
    folder: str = "INBOX"
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass
class Pass:
    """What one pass over the mailbox did."""

    read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # "uid: reason"
    left: int = 0  # left in the folder for the next pass (the database was unavailable)


@dataclass
class Tally:
    """What the mailbox did in this process since it started (``/metrics`` shows it)."""

    read: int = 0
    refused: int = 0


TALLY = Tally()


def configured(contract: Any) -> Mailbox | None:
    """The contract's ``[channels.email.imap]``, checked; ``None`` when there is none."""
    table = contract.channels.get("email", {}).get("imap")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ConfigError("channels.email.imap: must be a table")
    where = "channels.email.imap"
    missing = [k for k in ("host", "user", "password") if not table.get(k)]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    tls = str(table.get("tls", "ssl"))
    if tls not in ("ssl", "starttls", "none"):
        raise ConfigError(f"{where}.tls: {tls!r}, use ssl, starttls or none")
    port = int(table.get("port", 993 if tls == "ssl" else 143))
    return Mailbox(
        host=str(table["host"]),
        port=port,
        tls=tls,
        user=str(table["user"]),
        password=str(table["password"]),
        folder=str(table.get("folder", "INBOX")),
        max_bytes=int(table.get("max_bytes", DEFAULT_MAX_BYTES)),
    )


def _connect(box: Mailbox) -> Any:
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    kind = {"ssl": MailBox, "starttls": MailBoxStartTls, "none": MailBoxUnencrypted}[box.tls]
    try:
        return kind(box.host, box.port, timeout=30).login(box.user, box.password, box.folder)
    except Exception as err:  # refused login, unknown host, no answer: one line, said once
        raise ConfigError(
            f"cannot open the mailbox {box.user}@{box.host}:{box.port}: "
            f"{' '.join(str(err).split())[:200]}"
        ) from None


def fetch(intake: Callable[[bytes], list[Any]], box: Mailbox, chunk: int = 50) -> Pass:
    """One pass: every message in the folder through ``intake`` (the engine's, for the email
    channel), then moved aside (in batches: a move per message costs more than its intake)."""
    done = Pass()
    with _connect(box) as mb:
        delim = next((f.delim for f in mb.folder.list() if f.delim), "/")
        aside = {name: name.replace("/", delim) for name in (DONE, REFUSED)}
        for name in aside.values():
            _ensure(mb, name)
        moves: dict[str, list[str]] = {aside[DONE]: [], aside[REFUSED]: []}
        small = []
        for m in mb.fetch(headers_only=True, mark_seen=False, bulk=chunk * 4):
            if m.size_rfc822 > box.max_bytes:  # never read whole: refused by its size alone
                _refused(m.uid, f"{m.size_rfc822:,} bytes, over max_bytes", done)
                moves[aside[REFUSED]].append(m.uid)
            else:
                small.append(m.uid)
        try:
            for start in range(0, len(small), chunk):
                for uid, raw in _raw_messages(mb, small[start : start + chunk]):
                    done.read += 1
                    TALLY.read += 1
                    try:
                        results = intake(raw)
                    except DatabaseUnavailable as err:
                        log.warning(
                            "mailbox: the database is unavailable (%s); mail left for later", err
                        )
                        done.left = len(small) - done.read + 1
                        return done
                    except FaultflowError as err:
                        _refused(uid, str(err), done)
                        moves[aside[REFUSED]].append(uid)
                        continue
                    except Exception as err:
                        log.exception("mailbox: message %s could not be read", uid)
                        said = " ".join(str(err).split())[:200]
                        _refused(uid, f"could not be read ({type(err).__name__}: {said})", done)
                        moves[aside[REFUSED]].append(uid)
                        continue
                    for r in results:
                        done.outcomes[r.outcome] = done.outcomes.get(r.outcome, 0) + 1
                    moves[aside[DONE]].append(uid)
        finally:
            for folder, uids in moves.items():
                _move(mb, uids, folder)
    return done


_UID = re.compile(rb"UID (\d+)")


def _raw_messages(mb: Any, uids: list[str]) -> Iterator[tuple[str, bytes]]:
    """The messages as the server holds them, byte for byte (never re-serialised from a parse:
    a message the parser reads oddly — a multipart without its boundary — is still passed on
    whole, for the channel to read or refuse), without marking them seen."""
    status, data = mb.client.uid("FETCH", ",".join(uids), "(BODY.PEEK[])")
    if status != "OK":
        raise ConfigError(f"the mailbox did not hand over messages {','.join(uids)}: {status}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            found = _UID.search(item[0])
            if found is not None:
                yield found[1].decode(), bytes(item[1])


def _ensure(mb: Any, name: str) -> None:
    """The folder ``name`` exists afterwards (another poller may be creating it too)."""
    if mb.folder.exists(name):
        return
    try:
        mb.folder.create(name)
    except Exception:
        if not mb.folder.exists(name):
            raise


def _refused(uid: str, reason: str, done: Pass) -> None:
    log.warning("mailbox: message %s refused (moved to %s): %s", uid, REFUSED, reason)
    done.refused.append(f"{uid}: {reason}")
    TALLY.refused += 1


def _move(mb: Any, uids: list[str], folder: str) -> None:
    if not uids:
        return
    try:
        mb.move(uids, folder)
    except Exception as err:  # moved by another poller meanwhile: nothing is lost
        log.info("mailbox: %d messages not moved to %s (%s)", len(uids), folder, err)


def wait_for_mail(box: Mailbox, idle_s: float) -> None:
    """Wait for new mail with IMAP IDLE, at most ``idle_s`` seconds (the run loop's mailbox
    module calls this between passes)."""
    with _connect(box) as mb:
        mb.idle.wait(timeout=idle_s)
