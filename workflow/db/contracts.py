"""The contracts and meta tables: the text of every contract version the database has run,
which one is current, and facts about the database itself (its site keys)."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import DatabaseError
from .records import ContractRecord
from .store import Store
from .tables import CONTRACTS, META, TICKETS


def meta(store: Store, key: str) -> str | None:
    """A value of the ``meta`` table, if set."""
    rows = store.query(select(META.c.value).where(META.c.key == key))
    return str(rows[0][0]) if rows else None


def current(store: Store) -> str | None:
    """The version the database runs new tickets under, if one was recorded."""
    return meta(store, "contract")


def version(store: Store, name: str) -> ContractRecord | None:
    """The record of one version, if kept."""
    rows = store.query(select(*CONTRACTS.c).where(CONTRACTS.c.version == name))
    return ContractRecord(*rows[0]) if rows else None


def every(store: Store) -> list[ContractRecord]:
    """Every version kept, oldest first."""
    c = CONTRACTS
    return [ContractRecord(*r) for r in store.query(select(*c.c).order_by(c.c.recorded_us))]


def keep(store: Store, record: ContractRecord, pin_unversioned: bool = False) -> None:
    """Keep ``record`` (once) and make it the current version, in one transaction; with
    ``pin_unversioned``, tickets that name no version (from before versions) get it — the one
    statement on the tickets table here, so that it is in the same transaction."""
    for _ in range(2):
        try:
            with store.transaction(constraints=True) as conn:
                known = conn.execute(
                    select(CONTRACTS.c.version).where(CONTRACTS.c.version == record.version)
                ).first()
                if known is None:
                    conn.execute(insert(CONTRACTS).values(record._asdict()))
                had = conn.execute(select(META.c.value).where(META.c.key == "contract")).first()
                if had is None:
                    conn.execute(insert(META).values(key="contract", value=record.version))
                else:
                    conn.execute(
                        update(META).where(META.c.key == "contract").values(value=record.version)
                    )
                if pin_unversioned:
                    conn.execute(
                        update(TICKETS).where(TICKETS.c.contract.is_(None))
                        .values(contract=record.version)
                    )  # fmt: skip
            return
        except IntegrityError:
            continue  # another process recorded it (or the current pointer) first: look again
    raise DatabaseError("could not record the contract version")  # pragma: no cover


def site_key(store: Store, name: str) -> bytes:
    """A secret of this database (256 random bits, made on first use and kept in ``meta``): the
    key that signs the web portal's tracking links and the board's sessions, the same in every
    process that uses the database and across restarts."""
    key = f"key:{name}"
    for _ in range(2):
        value = meta(store, key)
        if value is not None:
            return bytes.fromhex(value)
        try:
            store.execute(insert(META).values(key=key, value=secrets.token_hex(32)))
        except DatabaseError:
            continue  # another process made it first: read theirs
    raise DatabaseError(f"could not make the site key {name!r}")


SPENT = "form-used:"
"""The ``meta`` keys of spent web form nonces (``claim``; their value: when the form's token
expires, after which the run loop's maintenance forgets them)."""


def claim(store: Store, key: str, value: str) -> bool:
    """Write ``key`` in ``meta`` if no one has: ``True`` for the first writer, in any process
    (the primary key settles a race), ``False`` after."""
    try:
        with store.transaction(constraints=True) as conn:
            conn.execute(insert(META).values(key=key, value=value))
    except IntegrityError:
        return False
    return True


def forget_claims(store: Store, prefix: str, before: int) -> int:
    """Delete the claims under ``prefix`` whose value (a Unix time) is before ``before``."""
    found = store.query(select(META.c.key, META.c.value).where(META.c.key.startswith(prefix)))
    stale = [k for k, v in found if v.isdigit() and int(v) < before]
    for start in range(0, len(stale), 500):
        store.execute(delete(META).where(META.c.key.in_(stale[start : start + 500])))
    return len(stale)


def forget(store: Store, key: str, value: str) -> bool:
    """Give a claim back (``claim``) if it still says ``value``: ``True`` for the one writer
    that did, so that the next ``claim`` is again a race with one winner."""
    return store.execute(delete(META).where(META.c.key == key, META.c.value == value)) == 1


def set_meta(store: Store, key: str, value: str) -> None:
    """Set a value of the ``meta`` table (insert or replace)."""
    with store.transaction() as conn:
        done = conn.execute(update(META).where(META.c.key == key).values(value=value))
        if done.rowcount == 0:
            conn.execute(insert(META).values(key=key, value=value))
