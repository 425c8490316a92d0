"""The hash chain of the logs beside the tickets (the registry's, the experience base's, the
inspection rounds'): each
entry's hash is over the one before it and its own content, so an entry edited, removed or
inserted behind faultflow's back breaks the chain where it happened. A log's entry is a record
whose last field is its hash and whose other fields are its content, in order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select

from ..errors import ConcurrentUpdate, UnknownEntry
from .canonical import canonical
from .store import CHAINS, Store, Unit


def chained(prev: str, *content: Any) -> str:
    """The hash of a log entry: over the one before it and its content, as a JSON array."""
    return hashlib.sha256(canonical([prev, *content]).encode("utf-8")).hexdigest()


def first_broken(genesis: str, entries: Iterable[Sequence[Any]]) -> int | None:
    """The position (0-based) of the first entry whose hash does not chain, or None."""
    head = genesis
    for i, e in enumerate(entries):
        head = chained(head, *e[:-1])
        if head != e[-1]:
            return i
    return None


def append(u: Unit, last: Any, insert: Any, genesis: str, log: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` (the log's fields but ``hash``, in their order) to the log ``log`` (a
    key of :data:`CHAINS`) in the unit ``u``, chained to its last entry (``last``: the statement
    that reads its hash; ``insert``: the one that writes an entry). One writer appends at a time
    (:meth:`Unit.chained`): two that read the same head would fork the chain."""
    u.chained(CHAINS[log])
    row = u.run(last, {}).fetchone()
    u.run(insert, {**entry, "hash": chained(row[0] if row else genesis, *entry.values())})


def entries(store: Store, log: Table, record: Any, **where: str) -> list[Any]:
    r"""The entries of a log (those whose columns equal ``where``: one round's, one spare's),
    oldest first, as ``record``\ s."""
    query = select(*[log.c[n] for n in record._fields]).order_by(log.c.seq)
    for column, value in where.items():
        query = query.where(log.c[column] == value)
    return [record._make(r) for r in store.query(query)]


def rewritten(
    store: Store, read: Callable[[Unit], Any], write: Callable[[Unit, Any], bool],
    change: Callable[[Any], Any], missing: str, what: str, retries: int = 8,
) -> Any:  # fmt: skip
    """Change one versioned row whose every change is logged (a round, a spare): ``read`` it in
    a unit of work (:class:`UnknownEntry` saying ``missing`` if there is none), ``change`` it
    (raise to refuse; ``None``: nothing to do, and ``None`` is returned), ``write`` it one
    version up with its log entry — again, from a fresh read, when another writer moved it
    meanwhile (``write`` says ``False``). The row as written."""
    for _ in range(retries):
        with store.unit() as u:
            current = read(u)
            if current is None:
                raise UnknownEntry(missing)
            new = change(current)
            if new is None:
                return None
            new = new._replace(version=current.version + 1)
            if write(u, new):
                return new
    raise ConcurrentUpdate(
        f"{what} kept changing under this change ({retries} tries); nothing was written: try again"
    )


def last_seq(store: Store, log: Table) -> int | None:
    """The number of a log's last entry (``None`` before the first): what tells a reader that
    its copy of what the log describes is out of date."""
    found = store.query(select(func.max(log.c.seq)))
    return found[0][0] if found else None
