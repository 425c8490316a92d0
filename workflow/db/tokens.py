"""The tokens table: API tokens as stored (the digest of each secret, never the secret)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from ..errors import DatabaseError, InvalidInput
from .records import TokenRecord
from .store import Store
from .tables import TOKENS


def add(store: Store, token: TokenRecord) -> None:
    """Store a new token; :class:`InvalidInput` if the name is taken."""
    try:
        store.execute(insert(TOKENS).values(token._asdict()))
    except DatabaseError:
        if named(store, token.name) is not None:
            raise InvalidInput(
                f"a token named {token.name!r} exists (revoke it, or choose another name)"
            ) from None
        raise


def named(store: Store, name: str) -> TokenRecord | None:
    rows = store.query(select(*TOKENS.c).where(TOKENS.c.name == name))
    return TokenRecord(*rows[0]) if rows else None


def by_digest(store: Store, digest: str) -> TokenRecord | None:
    rows = store.query(select(*TOKENS.c).where(TOKENS.c.digest == digest))
    return TokenRecord(*rows[0]) if rows else None


def every(store: Store) -> list[TokenRecord]:
    return [TokenRecord(*r) for r in store.query(select(*TOKENS.c).order_by(TOKENS.c.name))]


def revoke(store: Store, name: str, at_us: int) -> bool:
    """Mark a token revoked (kept, for the record); whether it was active."""
    t = TOKENS
    done = update(t).where(t.c.name == name, t.c.revoked_us.is_(None)).values(revoked_us=at_us)
    return store.execute(done) == 1
