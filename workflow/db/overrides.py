"""The overrides table: who stands in for whom in a role, when (duty/overrides.py decides)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from .records import OverrideRecord
from .store import Store
from .tables import OVERRIDES


def add(store: Store, o: OverrideRecord) -> int:
    """Record an override; its id."""
    with store.transaction() as conn:
        key = conn.execute(insert(OVERRIDES).values(o._asdict())).inserted_primary_key
        assert key is not None
        return int(key[0])


def listed(store: Store, removed: bool = False) -> list[tuple[int, OverrideRecord]]:
    """Every override (by role, then start), with its id; removed ones only with ``removed``."""
    v = OVERRIDES
    query = select(v.c.id, *[v.c[n] for n in OverrideRecord._fields]).order_by(
        v.c.role, v.c.start_us
    )
    if not removed:
        query = query.where(v.c.removed_us.is_(None))
    return [(int(row[0]), OverrideRecord(*row[1:])) for row in store.query(query)]


def remove(store: Store, override_id: int, at_us: int) -> bool:
    """Mark an override removed (kept, for the record); whether it was in force."""
    v = OVERRIDES
    done = update(v).where(v.c.id == override_id, v.c.removed_us.is_(None)).values(removed_us=at_us)
    return store.execute(done) == 1
