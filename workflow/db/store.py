"""Persistence: open a database, keep its schema, read and write tickets in one transaction each.

The store knows rows, not rules. The engine hands it a :class:`Change` — the ticket as it should
be, the events to append, the clocks and notifications to write — and the store commits all of
it or none of it. A stale ticket version refuses the whole change (:class:`ConcurrentUpdate`).

The schema is SQLModel (``tables.py``). The few statements on the hot path are compiled from those
tables once per database dialect and executed on the DBAPI connection: SQLAlchemy's per-call
machinery costs more than the statements themselves (see docs/performance.md).

Why this module is longer than the house's ~500 lines: it is the tickets', events' and clocks'
module as well as the connection's. Those three tables are written together in every change
(one :class:`Unit`, one kept DBAPI connection, prepared statements) and read together by every
view, so their statements stay beside the transaction that runs them; every other table has its
statements in a module of its own in this folder (outbox.py, tokens.py, overrides.py,
contracts.py, escalations.py, period.py).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine as SAEngine,
)
from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import (
    ConcurrentUpdate,
    DatabaseDamaged,
    DatabaseError,
    DatabaseUnavailable,
)
from ..secrets import redact
from . import migrations
from .failures import classify, first_line
from .records import (
    OPEN_IDLE_US,
    PLACES,
    Change,
    ClockRecord,
    EscalationRecord,
    EventRecord,
    OccurrenceRecord,
    OutboxRecord,
    TicketRecord,
    UrgencyKey,
)
from .tables import (
    CLOCKS,
    ESCALATIONS,
    EVENTS,
    META,
    OCCURRENCES,
    OUTBOX,
    ROUND_LOG,
    TICKETS,
)

Span = tuple["str | None", "str | None"]  # a range of ticket ids: [from, to), open ends None


class DuplicateExternalId(Exception):
    """Internal: the (channel, external id) already has a ticket; carries its id."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id)
        self.ticket_id = ticket_id


class TicketIdTaken(Exception):
    """Internal: the freshly drawn ticket id exists already; draw another."""


# ---------------------------------------------------------------------------------------------


def database_url(db: str | Path) -> str:
    """Turn ``--db`` (a URL or a path to an SQLite file) into an SQLAlchemy URL."""
    text_ = str(db)
    if "://" not in text_:
        return f"sqlite:///{Path(text_).expanduser().resolve()}"
    scheme, rest = text_.split("://", 1)
    # PostgreSQL without a driver means psycopg 3, the driver we depend on.
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return text_


def _columns(record_type: Any) -> list[str]:
    return list(record_type._fields)


_SCANS = itertools.count(1)  # names of PostgreSQL's server-side cursors


class _Statement:
    """A Core statement compiled for one dialect on first use, then run on a DBAPI cursor.

    Compiling costs a millisecond or so each; a command uses two or three of them, so none is
    compiled before it is needed.
    """

    __slots__ = ("_clause", "_defaults", "_dialect", "_getter", "_names", "_sql", "order")

    def __init__(self, clause: Any, dialect: Any) -> None:
        self._clause = clause
        self._dialect = dialect
        self._sql: str | None = None

    def _compile(self) -> str:
        compiled = self._clause.compile(dialect=self._dialect)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )
        # Parameters the compiler added with a value of its own (e.g. SQLite's OFFSET).
        self._defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self._names = self.order or tuple(compiled.binds)
        self._getter = attrgetter(*self._names) if len(self._names) > 1 else None
        self._sql = str(compiled)
        return self._sql

    @property
    def sql(self) -> str:
        return self._sql if self._sql is not None else self._compile()

    def params(self, values: dict[str, Any]) -> Any:
        if self._sql is None:
            self._compile()
        if self._defaults:
            values = {**self._defaults, **values}
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)

    def bind(self, record: Any) -> Any:
        """The DBAPI parameters for a record whose attributes are named like the parameters."""
        if self._sql is None:
            self._compile()
        assert self._getter is not None
        values = self._getter(record)
        if self.order is None:
            return dict(zip(self._names, values, strict=True))
        return values


class Store:
    """One database. Thread-safe: operations on one Store are serialised by a lock."""

    def __init__(self, url: str, sa_engine: SAEngine) -> None:
        self.url = url
        self.sa = sa_engine
        self.dialect = sa_engine.dialect.name
        self._lock = threading.RLock()
        self._fairy: Any = None
        self._dbapi = sa_engine.dialect.loaded_dbapi
        self.migrated: list[str] = []  # the migrations opening this store applied
        self._compiled_by: dict[str, Any] = {}  # statements the tables' modules compiled
        # When the unit of work now under way began (time.monotonic), for a caller that tells
        # its user "waiting for a lock" (see cli/app.py); None between units.
        self.busy_since: float | None = None
        self._outer: Unit | None = None  # the transaction of together(), while one is open
        self._compile()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, db: str | Path, *, create: bool = True, lock_timeout: float | None = None
    ) -> Store:
        """Open (and with ``create``, create or upgrade) the database at ``db``.

        ``lock_timeout``: seconds a statement may wait for a lock another process holds before
        it fails with :class:`DatabaseUnavailable` (default: 30 s on SQLite, PostgreSQL's own
        setting). Interactive commands set a short one; the scheduler keeps the default.
        """
        url = database_url(db)
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not create and not path.exists():
                raise DatabaseError(f"no database at {path}: create it with `faultflow init`")
            if not create and path.is_file() and path.stat().st_size == 0:
                raise DatabaseError(
                    f"{path} is an empty file, not a faultflow database (was it truncated? "
                    "restore it from a backup; `faultflow init` would start a new, empty one)"
                )
        shown = redact_url(url)
        try:
            sa_engine = _make_engine(url, lock_timeout)
        except ImportError as err:
            if "psycopg" in str(err):
                raise DatabaseError(
                    "PostgreSQL needs the psycopg driver: pip install 'faultflow[postgres]' "
                    "(from a checkout: pip install '.[postgres]')"
                ) from None
            raise DatabaseError(f"cannot use database {shown}: {err}") from None
        except (SQLAlchemyError, ValueError) as err:
            raise DatabaseError(f"cannot use database {shown}: {first_line(err)}") from None
        store = cls(url, sa_engine)
        try:
            store._ensure_schema(create)
        except SQLAlchemyError as err:
            sa_engine.dispose()
            raise classify(err, f"cannot open database {shown}") from None
        except DatabaseError:
            sa_engine.dispose()
            raise
        return store

    @property
    def safe_url(self) -> str:
        """The database URL as it may be shown or logged: the password masked."""
        return redact_url(self.url)

    def maintain(self, integrity: bool = False) -> None:
        """Checkpoint the WAL; with ``integrity``, first refuse a damaged file
        (:class:`DatabaseDamaged`), so that nothing more is written into it."""
        if integrity:
            try:
                problems = self.quick_check()
            except DatabaseDamaged as err:  # too damaged even to be checked
                problems = [str(err)]
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise DatabaseDamaged(
                    f"the database file is damaged: {problems[0]}{more}; stop every faultflow "
                    "process and restore a backup (docs/operations.md)"
                )
        self.checkpoint()

    def quick_check(self) -> list[str]:
        """The problems SQLite's ``PRAGMA quick_check`` finds in the file (none: ``[]``);
        PostgreSQL checks its own pages, so there it is always ``[]``."""
        if self.dialect != "sqlite":
            return []
        with self.unit() as u:
            rows = u.cursor.execute("PRAGMA quick_check").fetchall()
        return [str(r[0]) for r in rows if r[0] != "ok"]

    def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database and cut the WAL file back (a no-op elsewhere,
        and when a reader holds an old snapshot: the next checkpoint does it)."""
        if self.dialect == "sqlite":
            with self.unit() as u:
                u.cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        with self._lock:
            if self._fairy is not None:
                self._fairy.close()
                self._fairy = None
            self.sa.dispose()

    def _ensure_schema(self, create: bool) -> None:
        """Check the schema revision; with ``create``, create or upgrade the schema."""
        # The common case, in one query on the connection the engine keeps: a database at this
        # faultflow's revision. Anything else goes the long way, through the inspector (and
        # Alembic, which is imported only then).
        try:
            if self._revision() == migrations.HEAD:
                return
        except (DatabaseError, self._dbapi.Error):
            pass
        self.migrated = self._migrate(create)

    def _revision(self) -> str | None:
        """The schema revision Alembic recorded (one query on the kept connection)."""
        revision = _Statement(text("SELECT version_num FROM alembic_version"), self.sa.dialect)
        with self.unit() as u:
            found = u.cursor.execute(revision.sql).fetchone()
        return str(found[0]) if found is not None else None

    def check_revision(self) -> None:
        """Raise unless the database answers and is at this faultflow's schema revision."""
        found = self._revision()
        if found != migrations.HEAD:
            raise DatabaseError(
                f"the database schema is at revision {found or 'none'}; this "
                f"faultflow needs {migrations.HEAD}: run `faultflow init`"
            )

    def _migrate(self, create: bool) -> list[str]:
        with self.sa.connect() as conn:
            names = set(inspect(conn).get_table_names())
            current = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in names
                else None
            )
            legacy = current is None and "meta" in names and _legacy_version(conn) == "1"
        if current == migrations.HEAD:
            return []
        if current is not None and current not in migrations.revisions():
            raise DatabaseError(
                f"the database schema is at revision {current}, newer than this faultflow "
                f"knows ({migrations.HEAD}): upgrade faultflow"
            )
        if current is None and not legacy and names - {"alembic_version"}:
            raise DatabaseError("the database holds tables that are not faultflow's")
        if not create:
            if current is None and not legacy:
                raise DatabaseError("the database has no faultflow schema: run `faultflow init`")
            where = f"revision {current}" if current else "schema 1 (from before migrations)"
            raise DatabaseError(
                f"the database schema is at {where}; this faultflow needs revision "
                f"{migrations.HEAD}: run `faultflow init` to upgrade it (back it up first)"
            )
        sqlite = self.dialect == "sqlite"
        with self.sa.connect() as conn:
            if sqlite:
                # SQLite changes a table by copying it; its foreign keys must be off meanwhile,
                # which only takes effect outside a transaction (sqlite.org/lang_altertable).
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    adopted = []
                    if legacy:
                        migrations.adopt(conn)
                        adopted = [
                            f"{migrations.LEGACY_REVISION} (adopted: schema 1 from before "
                            "migrations)"
                        ]
                    applied = adopted + migrations.upgrade(conn)
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise DatabaseError(
                            "the upgrade would leave rows that name a missing ticket; nothing "
                            "was changed"
                        )
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
            return applied

    # -- the hot path -------------------------------------------------------------------------

    def _compile(self) -> None:
        d = self.sa.dialect
        t, e, c, o = (
            TICKETS,
            EVENTS,
            CLOCKS,
            OUTBOX,
        )

        def insert_all(table: Any, names: list[str]) -> _Statement:
            return _Statement(insert(table).values({n: bindparam(n) for n in names}), d)

        self._ticket_cols = _columns(TicketRecord)
        self._clock_cols = _columns(ClockRecord)
        self._event_cols = _columns(EventRecord)
        # Only what a trigger can change: setting an indexed column, even to its old value,
        # makes SQLite rewrite that index entry.
        mutable = [
            "state",
            "tier",
            "kind",
            "cause",
            "owner",
            "on_hold",
            "hold_reason",
            "last_seq",
            "last_us",
            "last_hash",
            "contract",
        ]
        self._insert_ticket = insert_all(t, self._ticket_cols)

        # Optimistic concurrency: the row must still be at the version before this change.
        def update_ticket(columns: list[str]) -> _Statement:
            return _Statement(
                update(t)
                .where(
                    t.c.id == bindparam("id"),
                    t.c.version + literal_column("1") == bindparam("version"),
                )
                .values({**{n: bindparam(n) for n in columns}, "version": bindparam("version")}),
                d,
            )

        self._update_ticket = update_ticket(mutable)
        # The urgency key is indexed: written only by the changes that move it.
        self._update_ticket_urgent = update_ticket([*mutable, "urgent_us"])
        # So are the place (the unit) and the group (parent): written by the changes that move
        # them (intake, locate, merge).
        self._update_ticket_placed = update_ticket([*mutable, "urgent_us", *PLACES, "parent"])
        # A parent's reports (merge), not the parent itself.
        self._select_reports = _Statement(
            select(t.c.id)
            .where(t.c.parent == bindparam("parent"), t.c.id != bindparam("parent"))
            .order_by(t.c.created_us, t.c.id),
            d,
        )
        self._insert_event = insert_all(e, self._event_cols)
        self._insert_clock = insert_all(c, self._clock_cols)
        clock_mutable = [n for n in self._clock_cols if n not in ("ticket_id", "name")]
        self._update_clock = _Statement(
            update(c)
            .where(c.c.ticket_id == bindparam("ticket_id"), c.c.name == bindparam("name"))
            .values({n: bindparam(n) for n in clock_mutable}),
            d,
        )
        self._delete_clock = _Statement(
            delete(c).where(c.c.ticket_id == bindparam("ticket_id"), c.c.name == bindparam("name")),
            d,
        )
        self._insert_outbox = insert_all(o, _columns(OutboxRecord))
        self._select_ticket = _Statement(
            select(*[t.c[n] for n in self._ticket_cols]).where(t.c.id == bindparam("id")), d
        )
        # A ticket and its clocks in one round trip (one row per clock, at least one row).
        self._select_loaded = _Statement(
            select(*[t.c[n] for n in self._ticket_cols], *[c.c[n] for n in self._clock_cols])
            .select_from(t.outerjoin(c, c.c.ticket_id == t.c.id))
            .where(t.c.id == bindparam("id")),
            d,
        )
        self._select_events = _Statement(
            select(*[e.c[n] for n in self._event_cols])
            .where(e.c.ticket_id == bindparam("id"), e.c.seq <= bindparam("upto"))
            .order_by(e.c.seq),
            d,
        )
        esc = ESCALATIONS
        self._select_escalation = _Statement(
            select(*[esc.c[n] for n in EscalationRecord._fields]).where(
                esc.c.ticket_id == bindparam("ticket_id")
            ),
            d,
        )
        self._insert_escalation = insert_all(esc, list(EscalationRecord._fields))
        self._update_escalation = _Statement(
            update(esc)
            .where(
                esc.c.ticket_id == bindparam("ticket_id"),
                esc.c.step == bindparam("was_step"),
                esc.c["round"] == bindparam("was_round"),
                esc.c.status == bindparam("was_status"),
            )
            .values({n: bindparam(n) for n in EscalationRecord._fields if n != "ticket_id"}),
            d,
        )
        self._select_external = _Statement(
            select(*[t.c[n] for n in self._ticket_cols])
            .where(t.c.channel == bindparam("channel"), t.c.external_id == bindparam("external_id"))
            .order_by(t.c.occurrence.desc())
            .limit(1),
            d,
        )
        occ = OCCURRENCES
        occ_cols = list(OccurrenceRecord._fields)
        self._select_occurrence = _Statement(
            select(*[occ.c[n] for n in occ_cols]).where(
                occ.c.channel == bindparam("channel"),
                occ.c.external_id == bindparam("external_id"),
            ),
            d,
        )
        self._insert_occurrence = insert_all(occ, occ_cols)
        self._update_occurrence = _Statement(
            update(occ)
            .where(
                occ.c.channel == bindparam("channel"),
                occ.c.external_id == bindparam("external_id"),
            )
            .values({n: bindparam(n) for n in occ_cols if n not in ("channel", "external_id")}),
            d,
        )
        self._select_occurrences = _Statement(
            select(*[occ.c[n] for n in occ_cols])
            .where(occ.c.ticket_id == bindparam("ticket_id"))
            .order_by(occ.c.first_us, occ.c.external_id),
            d,
        )
        self._count_opened = _Statement(
            select(func.count())
            .select_from(t)
            .where(t.c.channel == bindparam("channel"), t.c.created_us >= bindparam("since")),
            d,
        )
        self._select_due = _Statement(
            select(c.c.ticket_id, c.c.next_us)
            .where(c.c.next_us <= bindparam("now"))
            .order_by(c.c.next_us)
            .limit(bindparam("limit")),
            d,
        )
        self._select_next = _Statement(select(func.min(c.c.next_us)), d)

    def _connection(self) -> Any:
        if self._fairy is None:
            try:
                self._fairy = self.sa.raw_connection()
            except (SQLAlchemyError, self._dbapi.Error) as err:
                raise classify(err, "cannot connect to the database") from None
        return self._fairy

    def _drop_connection(self) -> None:
        """Forget a connection that failed: the next unit of work opens a new one."""
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            with contextlib.suppress(Exception):
                fairy.invalidate()

    def unit(self) -> Unit:
        """One unit of work, as a context manager: reads and at most one :class:`Change`,
        committed together when the block ends, rolled back if it raises."""
        return Unit(self)

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Group commit: the units of work this thread runs inside the block share one
        transaction, committed when the block ends — one write of the log for many small
        changes (a burst of intake). Each unit is a savepoint: one that raises is undone
        alone, and the others stay. Nothing of the block is committed before it ends, and
        none of it is if the commit fails (the block raises). Other threads wait for the
        block, as they wait for any unit of work."""
        with Unit(self) as outer:
            outer.begin()
            self._outer = outer
            try:
                yield
            finally:
                self._outer = None

    # -- reads outside the hot path -----------------------------------------------------------

    def next_due(self) -> int | None:
        """The earliest pending alarm (µs since the epoch), or ``None`` when nothing is pending."""
        with self.unit() as u:
            u.cursor.execute(self._select_next.sql, self._select_next.params({}))
            row = u.cursor.fetchone()
        return row[0] if row else None

    def due(self, now_us: int, limit: int) -> list[str]:
        """Tickets with an alarm due at or before ``now_us``, earliest first, without repeats."""
        with self.unit() as u:
            stmt = self._select_due
            u.cursor.execute(stmt.sql, stmt.params({"now": now_us, "limit": limit}))
            rows = u.cursor.fetchall()
        return list(dict.fromkeys(r[0] for r in rows))

    def query(self, statement: Any) -> Sequence[Any]:
        """Run a read-only Core statement (lists, reports) and return its rows."""
        with self._lock:
            try:
                with self.sa.connect() as conn:
                    return conn.execute(statement).all()
            except SQLAlchemyError as err:
                raise classify(err) from None

    def stream(self, statement: Any, size: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Rows (plain tuples) of a read-only Core statement, fetched ``size`` at a time on the
        DBAPI cursor, for big scans: a server-side cursor on PostgreSQL, so memory stays flat.
        SQLAlchemy's row objects would cost a third of ``verify``'s time."""
        compiled = _Statement(statement, self.sa.dialect)
        with self._lock:
            try:
                with self.sa.connect() as conn:
                    raw = conn.connection.dbapi_connection
                    assert raw is not None
                    if self.dialect == "postgresql":
                        cursor = raw.cursor(name=f"faultflow_scan_{next(_SCANS)}")
                    else:
                        cursor = raw.cursor()
                    try:
                        cursor.execute(compiled.sql, compiled.params({}))
                        while rows := cursor.fetchmany(size):
                            yield from rows
                    finally:
                        cursor.close()
                        raw.rollback()  # read only: end the snapshot the scan held
            except SQLAlchemyError as err:
                raise classify(err) from None
            except self._dbapi.Error as err:
                raise classify(err) from None

    def by_id(self, column: Any) -> Any:
        """``ORDER BY`` a text column in byte order on every database (PostgreSQL's default
        collation may not be), so that two ordered streams can be merged."""
        return column.collate("C") if self.dialect == "postgresql" else column

    @contextlib.contextmanager
    def transaction(self, constraints: bool = False) -> Iterator[Any]:
        """One SQLAlchemy transaction under the store's lock, for the statements of the tables
        beside the tickets (each in the module of its table); errors said as faultflow's —
        except, with ``constraints``, a constraint violation (:class:`IntegrityError`), left
        as it is for a caller that settles a race itself."""
        with self._lock:
            try:
                with self.sa.begin() as conn:
                    yield conn
            except SQLAlchemyError as err:
                if constraints and isinstance(err, IntegrityError):
                    raise
                raise classify(err) from None

    def rows(self, stmt: _Statement, values: dict[str, Any] | None = None) -> list[Any]:
        """The rows (plain tuples) of a read compiled once (:meth:`compiled`), in a unit of its
        own: for the questions the run loop asks on every pass, where building a Core
        statement, keying it for SQLAlchemy's cache and wrapping its rows cost more than the
        answer (an idle pass asked seven of them: 1.6 ms)."""
        with self.unit() as u:
            return list(u.run(stmt, values or {}).fetchall())

    def compiled(self, key: str, build: Any) -> Any:
        """Statements compiled once per store for this dialect: ``build(Statement, dialect)``'s
        result, kept under ``key`` (a table's module compiles its own)."""
        found = self._compiled_by.get(key)
        if found is None:
            found = self._compiled_by[key] = build(_Statement, self.sa.dialect)
        return found

    def execute(self, statement: Any) -> int:
        """Run one writing Core statement in its own transaction; the rows it touched."""
        with self._lock:
            try:
                with self.sa.begin() as conn:
                    return int(conn.execute(statement).rowcount)
            except SQLAlchemyError as err:
                raise classify(err) from None

    def tickets(
        self,
        now_us: int,
        *,
        state: str | None = None,
        tier: str | None = None,
        owner: str | None = None,
        finals: Iterable[str] = (),
        final: bool | None = None,
        breached: bool | None = None,
        limit: int | None = None,
        after: UrgencyKey | None = None,
        unit: str | None = None,
    ) -> list[tuple[TicketRecord, list[ClockRecord]]]:
        """Tickets with their clocks, most urgent first (``records.urgency``, ties oldest
        first), filtered, ordered and cut in the database: only the rows returned are read.
        ``final`` keeps the tickets in (``True``) or out of (``False``) the ``finals`` states;
        ``breached`` those with (or without) a broken promise at ``now_us``; ``after`` starts
        behind the ticket with that key (:meth:`urgency_key`), for the next page."""
        t = TICKETS
        key, query = self._listed(
            now_us, state, tier, owner, finals, final, breached,
            select(*[t.c[n] for n in self._ticket_cols]), unit,
        )  # fmt: skip
        if after is not None:
            query = query.where(tuple_(key, t.c.created_us, t.c.id) > tuple_(*after))
        query = query.order_by(key, t.c.created_us, t.c.id)
        if limit is not None:
            query = query.limit(limit)
        records = [TicketRecord(*row) for row in self.query(query)]
        clocks = self.clock_records(r.id for r in records)
        return [(r, clocks[r.id]) for r in records]

    def count_listed(
        self,
        now_us: int,
        *,
        state: str | None = None,
        tier: str | None = None,
        owner: str | None = None,
        finals: Iterable[str] = (),
        final: bool | None = None,
        breached: bool | None = None,
        unit: str | None = None,
    ) -> int:
        """How many tickets :meth:`tickets` would list without a limit."""
        _, query = self._listed(
            now_us,
            state,
            tier,
            owner,
            finals,
            final,
            breached,
            select(func.count()).select_from(TICKETS),
            unit,
        )
        return int(self.query(query)[0][0])

    def urgency_key(self, ticket_id: str) -> UrgencyKey | None:
        """Where ``ticket_id`` stands in the urgency order now (``None``: no such ticket)."""
        t = TICKETS
        rows = self.query(select(t.c.urgent_us, t.c.created_us, t.c.id).where(t.c.id == ticket_id))
        if not rows:
            return None
        urgent, created, tid = rows[0]
        return (OPEN_IDLE_US if urgent is None else int(urgent), int(created), str(tid))

    def _listed(
        self,
        now_us: int,
        state: str | None,
        tier: str | None,
        owner: str | None,
        finals: Iterable[str],
        final: bool | None,
        breached: bool | None,
        query: Any,
        unit: str | None = None,
    ) -> tuple[Any, Any]:
        """The sort key and ``query`` with the filters of a list. The open tickets are read
        along their index (``ix_tickets_urgent``); a list that takes in final tickets sorts
        them after the open ones' due times, by age, in the database."""
        t, k = TICKETS, CLOCKS
        if final is False:
            # Open = not final under its own contract version: exactly the partial index
            # (counted from the index alone).
            key: Any = t.c.urgent_us
            query = query.where(key.is_not(None))
        else:
            key = func.coalesce(t.c.urgent_us, OPEN_IDLE_US)
            if final:
                query = query.where(t.c.state.in_(sorted(finals)))
        if state is not None:
            query = query.where(t.c.state == state)
        if tier is not None:
            query = query.where(t.c.tier == tier)
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if unit is not None:
            query = query.where(t.c.unit == unit)
        if breached is not None:
            broken = exists().where(
                k.c.ticket_id == t.c.id,
                or_(k.c.breached, and_(k.c.status == "running", k.c.due_us < now_us)),
            )
            query = query.where(broken if breached else ~broken)
        return key, query

    def _in(self, column: Any, span: Span) -> Any:
        """``column`` (a ticket id) within ``span`` = (from, to), either end open when ``None``,
        compared in byte order like :meth:`by_id`."""
        column = self.by_id(column)
        low, high = span
        return and_(
            column >= low if low is not None else true(),
            column < high if high is not None else true(),
        )

    def event_rows(self, span: Span = (None, None)) -> Iterator[Any]:
        """Every event (of the tickets in ``span``), as rows in :class:`EventRecord` field
        order, by ticket and seq (the tickets in byte order of their ids)."""
        e = EVENTS
        return self.stream(
            select(*[e.c[n] for n in self._event_cols])
            .where(self._in(e.c.ticket_id, span))
            .order_by(self.by_id(e.c.ticket_id), e.c.seq)
        )

    def ticket_rows(self, span: Span = (None, None)) -> Iterator[Any]:
        """Every ticket (in ``span``), as rows in :class:`TicketRecord` field order, in byte
        order of ids."""
        t = TICKETS
        return self.stream(
            select(*[t.c[n] for n in self._ticket_cols])
            .where(self._in(t.c.id, span))
            .order_by(self.by_id(t.c.id))
        )

    def clock_rows(self, span: Span = (None, None)) -> Iterator[Any]:
        """Every clock (of the tickets in ``span``), as rows in :class:`ClockRecord` field
        order, by ticket (byte order)."""
        c = CLOCKS
        return self.stream(
            select(*[c.c[n] for n in self._clock_cols])
            .where(self._in(c.c.ticket_id, span))
            .order_by(self.by_id(c.c.ticket_id), c.c.name)
        )

    def first_sealed_us(self) -> int | None:
        """When the first event sealed with an audit key was recorded (µs), if any."""
        e = EVENTS
        sealed = e.c.hash.startswith("hmac:", autoescape=True)
        return self.query(select(func.min(e.c.recorded_us)).where(sealed))[0][0]

    def heads(self, span: Span = (None, None)) -> Iterator[Any]:
        """Every ticket's (id, last seq, last hash) (in ``span``), in byte order of the ids."""
        t = TICKETS
        return self.stream(
            select(t.c.id, t.c.last_seq, t.c.last_hash)
            .where(self._in(t.c.id, span))
            .order_by(self.by_id(t.c.id))
        )

    def count_tickets(self) -> int:
        """How many tickets there are."""
        return int(self.query(select(func.count()).select_from(TICKETS))[0][0])

    def open_and_alarms(
        self, finals: list[str]
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        """For monitoring: open tickets by (state, tier), and the alarms fired by (clock,
        warning|breach)."""
        t, c = TICKETS, CLOCKS
        opened = {
            (state, tier): int(n)
            for state, tier, n in self.query(
                select(t.c.state, t.c.tier, func.count())
                .where(t.c.state.not_in(finals))
                .group_by(t.c.state, t.c.tier)
            )
        }
        alarms: dict[tuple[str, str], int] = {}
        for name, warned, breached in self.query(
            select(
                c.c.name,
                func.sum(cast(c.c.warned, Integer)),
                func.sum(cast(c.c.breach_fired, Integer)),
            ).group_by(c.c.name)
        ):
            alarms[(name, "warning")] = int(warned or 0)
            alarms[(name, "breach")] = int(breached or 0)
        return opened, alarms

    def tickets_by_contract(self) -> dict[str, int]:
        """How many tickets run under each contract version."""
        t = TICKETS
        rows = self.query(select(t.c.contract, func.count()).group_by(t.c.contract))
        return {str(v): int(n) for v, n in rows if v is not None}

    def stamp(self) -> int:
        """The sum of every ticket's version and of the inspection rounds' changes: it grows
        with each change, each new ticket, each answer of a round."""
        tickets = select(func.coalesce(func.sum(TICKETS.c.version), 0)).scalar_subquery()
        rounds = select(func.coalesce(func.max(ROUND_LOG.c.seq), 0)).scalar_subquery()
        return int(self.query(select(tickets + rounds))[0][0])

    def taken_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are ticket ids already."""
        t = TICKETS
        return {row[0] for row in self.query(select(t.c.id).where(t.c.id.in_(list(ids))))}

    def clock_records(self, ticket_ids: Iterable[str]) -> dict[str, list[ClockRecord]]:
        """The clocks of many tickets at once (for lists)."""
        ids = list(ticket_ids)
        out: dict[str, list[ClockRecord]] = {i: [] for i in ids}
        c = CLOCKS
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.query(
                select(*[c.c[n] for n in self._clock_cols]).where(c.c.ticket_id.in_(chunk))
            )
            for row in rows:
                out[row[0]].append(ClockRecord(*row))
        return out


class Unit:
    """Reads and writes inside one transaction; made by :meth:`Store.unit`. Inside
    :meth:`Store.together`, a savepoint of the shared transaction."""

    __slots__ = ("_conn", "_lost", "_outer", "cursor", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lost: BaseException | None = None  # a savepoint of together() failed to end

    def __enter__(self) -> Unit:
        store = self.store
        store._lock.acquire()
        outer = self._outer = store._outer  # set by this thread: the lock is held
        if outer is not None:
            return self._save(outer)
        store.busy_since = time.monotonic()
        try:
            # The DBAPI connection under SQLAlchemy's pooled one: its commit and cursor skip
            # a wrapper each (a microsecond or so, per change).
            self._conn = store._connection().dbapi_connection
            self.cursor = self._conn.cursor()
        except store._dbapi.Error as err:
            store._drop_connection()
            store.busy_since = None
            store._lock.release()
            raise classify(err, "cannot use the database connection") from None
        except BaseException:
            store.busy_since = None
            store._lock.release()
            raise
        return self

    def chained(self, log: int) -> None:
        """Take the right to append to a hash-chained log (``log``: :data:`CHAINS`) for the
        rest of this transaction: two writers that both read the log's head would chain their
        entries to the same one — a fork that ``verify`` reports. On PostgreSQL, a transaction
        advisory lock; on SQLite, the write lock itself (``BEGIN IMMEDIATE``, or held already)."""
        if self.store.sa.dialect.name == "postgresql":
            self.cursor.execute("SELECT pg_advisory_xact_lock(%s)", (log,))
        else:
            self.begin()

    def begin(self) -> None:
        """Open the transaction now, as a writer. On SQLite, ``BEGIN IMMEDIATE``: the write
        lock is waited for here (with the busy timeout), not met at the first write after a
        read — where SQLite refuses at once when another connection wrote meanwhile."""
        if getattr(self._conn, "in_transaction", True) is False:
            self.cursor.execute("BEGIN IMMEDIATE")

    def _save(self, outer: Unit) -> Unit:
        self._conn = outer._conn
        try:
            self.cursor = self._conn.cursor()
            self.cursor.execute("SAVEPOINT unit")
        except self.store._dbapi.Error as err:
            self.store._lock.release()
            raise classify(err, "cannot use the database connection") from None
        except BaseException:
            self.store._lock.release()
            raise
        return self

    def _restore(self, kind: type[BaseException] | None, err: BaseException | None) -> None:
        """The end of a unit inside :meth:`Store.together`: its savepoint kept, or undone."""
        store = self.store
        try:
            try:
                if kind is None:
                    self.cursor.execute("RELEASE SAVEPOINT unit")
                    return
                self.cursor.execute("ROLLBACK TO SAVEPOINT unit")
                self.cursor.execute("RELEASE SAVEPOINT unit")
            except store._dbapi.Error as failed:
                # the shared transaction is lost: the block's commit must fail, not keep half
                assert self._outer is not None
                self._outer._lost = failed
                raise classify(failed) from None
            if isinstance(err, store._dbapi.Error) and not isinstance(
                err, store._dbapi.IntegrityError
            ):
                raise classify(err) from None
        finally:
            with contextlib.suppress(store._dbapi.Error):
                self.cursor.close()
            store._lock.release()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: Any
    ) -> None:
        if self._outer is not None:
            return self._restore(kind, err)
        store = self.store
        broken = False
        try:
            if kind is None and self._lost is not None:
                err = self._lost  # a savepoint inside together() could not end: undo it all
            elif kind is None:
                try:
                    self._conn.commit()
                    return
                except store._dbapi.Error as failed:
                    err = failed
            try:
                self._conn.rollback()
            except store._dbapi.Error:
                broken = True  # the connection is broken; open a new one next time
            if isinstance(err, store._dbapi.Error) and not isinstance(
                err, store._dbapi.IntegrityError
            ):  # a lost server, a busy file, a damaged one: faultflow's errors, by code
                failure = classify(err)
                broken = broken or isinstance(failure, DatabaseUnavailable)
                raise failure from None
        finally:
            with contextlib.suppress(store._dbapi.Error):
                self.cursor.close()
            if broken:
                store._drop_connection()
            store.busy_since = None
            store._lock.release()

    def run(self, stmt: _Statement, values: dict[str, Any]) -> Any:
        self.cursor.execute(stmt.sql, stmt.params(values))
        return self.cursor

    def ticket(self, ticket_id: str) -> TicketRecord | None:
        row = self.run(self.store._select_ticket, {"id": ticket_id}).fetchone()
        return TicketRecord(*row) if row else None

    def load(self, ticket_id: str) -> tuple[TicketRecord | None, list[ClockRecord]]:
        """A ticket and its clocks, read together; ``(None, [])`` if there is no such ticket."""
        rows = self.run(self.store._select_loaded, {"id": ticket_id}).fetchall()
        if not rows:
            return None, []
        split = len(self.store._ticket_cols)
        clocks = [ClockRecord(*row[split:]) for row in rows if row[split] is not None]
        return TicketRecord(*rows[0][:split]), clocks

    def reports(self, parent: str) -> list[str]:
        """The ids of the reports merged into ``parent``, oldest first."""
        return [r[0] for r in self.run(self.store._select_reports, {"parent": parent})]

    def escalation(self, ticket_id: str) -> EscalationRecord | None:
        row = self.run(self.store._select_escalation, {"ticket_id": ticket_id}).fetchone()
        return EscalationRecord(*row) if row else None

    def put_escalation(self, new: EscalationRecord, old: EscalationRecord | None) -> None:
        """Write a ticket's chain: insert it, or move it on from ``old`` — refused
        (:class:`ConcurrentUpdate`) if someone else moved it meanwhile."""
        s = self.store
        if old is None:
            try:
                self.cursor.execute(s._insert_escalation.sql, s._insert_escalation.bind(new))
            except s._dbapi.IntegrityError:  # a racer started the ticket's chain first
                raise ConcurrentUpdate(
                    f"the escalation of ticket {new.ticket_id} was started meanwhile", retry=True
                ) from None
            return
        values = {
            **new._asdict(),
            "was_step": old.step,
            "was_round": old.round,
            "was_status": old.status,
        }
        if self.run(s._update_escalation, values).rowcount != 1:
            raise ConcurrentUpdate(f"the escalation of ticket {old.ticket_id} moved meanwhile")

    def events(self, ticket_id: str, upto: int | None = None) -> list[EventRecord]:
        """The ticket's events, oldest first; with ``upto``, only those with seq <= upto."""
        values = {"id": ticket_id, "upto": upto if upto is not None else 2**31 - 1}
        rows = self.run(self.store._select_events, values).fetchall()
        return [EventRecord(*row) for row in rows]

    def latest_by_external(self, channel: str, external_id: str) -> TicketRecord | None:
        """The latest ticket (highest occurrence) of a channel's external id, if any."""
        row = self.run(
            self.store._select_external, {"channel": channel, "external_id": external_id}
        ).fetchone()
        return TicketRecord(*row) if row else None

    def occurrence(self, channel: str, external_id: str) -> OccurrenceRecord | None:
        """The alert ``external_id`` of ``channel`` if a ticket carries it as an occurrence."""
        values = {"channel": channel, "external_id": external_id}
        row = self.run(self.store._select_occurrence, values).fetchone()
        return OccurrenceRecord(*row) if row else None

    def put_occurrence(self, new: OccurrenceRecord, old: OccurrenceRecord | None) -> None:
        """Write an alert's occurrence row (insert it when ``old`` is ``None``). Rows are
        written beside their ticket's change, whose version check settles races; two
        processes inserting the same alert meet the primary key (:class:`DuplicateExternalId`,
        and the payload is read again)."""
        s = self.store
        if old is None:
            try:
                self.cursor.execute(s._insert_occurrence.sql, s._insert_occurrence.bind(new))
            except s._dbapi.IntegrityError:
                raise DuplicateExternalId(new.ticket_id) from None
            return
        self.run(s._update_occurrence, new._asdict())

    def occurrences(self, ticket_id: str) -> list[OccurrenceRecord]:
        """The alerts ``ticket_id`` carries, in the order they first came."""
        rows = self.run(self.store._select_occurrences, {"ticket_id": ticket_id}).fetchall()
        return [OccurrenceRecord(*row) for row in rows]

    def opened_since(self, channel: str, since_us: int) -> int:
        """How many tickets ``channel`` opened at or after ``since_us`` (the storm rule)."""
        values = {"channel": channel, "since": since_us}
        return int(self.run(self.store._count_opened, values).fetchone()[0])

    def write(self, change: Change) -> None:
        """Write a change; raise :class:`ConcurrentUpdate` if the ticket moved under us."""
        s = self.store
        cur = self.cursor
        if change.expected_version is None:
            try:
                cur.execute(s._insert_ticket.sql, s._insert_ticket.bind(change.ticket))
            except s._dbapi.IntegrityError:
                self._explain_insert_conflict(change.ticket)
                raise
        else:
            if change.ticket.version != change.expected_version + 1:
                raise ValueError("a change moves a ticket one version up")  # a bug, not input
            if change.placed:
                stmt = s._update_ticket_placed
            elif change.urgency_moved:
                stmt = s._update_ticket_urgent
            else:
                stmt = s._update_ticket
            cur.execute(stmt.sql, stmt.bind(change.ticket))
            if cur.rowcount != 1:
                raise ConcurrentUpdate(
                    f"ticket {change.ticket.id} was changed by someone else meanwhile "
                    f"(it is no longer version {change.expected_version}); nothing was written: "
                    "look at it again and retry"
                )
        self._many(s._insert_event, change.events)
        self._many(s._insert_clock, change.new_clocks)
        self._many(s._update_clock, change.changed_clocks)
        for name in change.dropped_clocks:
            self.run(s._delete_clock, {"ticket_id": change.ticket.id, "name": name})
        self._many(s._insert_outbox, change.outbox)

    def write_many(self, changes: list[Change]) -> None:
        """Write many new tickets at once (bulk loading): one ``executemany`` per table."""
        s = self.store
        if any(c.expected_version is not None for c in changes):
            raise ValueError("write_many writes new tickets only")
        for stmt, records in (
            (s._insert_ticket, [c.ticket for c in changes]),
            (s._insert_event, [e for c in changes for e in c.events]),
            (s._insert_clock, [k for c in changes for k in c.new_clocks]),
            (s._insert_outbox, [o for c in changes for o in c.outbox]),
        ):
            if records:
                self.cursor.executemany(stmt.sql, [stmt.bind(r) for r in records])

    def _many(self, stmt: _Statement, records: list[Any]) -> None:
        if len(records) == 1:  # the common case; executemany costs more for one row
            self.cursor.execute(stmt.sql, stmt.bind(records[0]))
        elif records:
            self.cursor.executemany(stmt.sql, [stmt.bind(r) for r in records])

    def _explain_insert_conflict(self, ticket: TicketRecord) -> None:
        # undo this unit's work so far (PostgreSQL refuses every statement after an error until
        # then) — inside together(), only this unit's: the batch's other changes stay
        if self._outer is not None:
            self.cursor.execute("ROLLBACK TO SAVEPOINT unit")
        else:
            self.store._connection().rollback()
        if ticket.external_id is not None:
            latest = self.latest_by_external(ticket.channel, ticket.external_id)
            if latest is not None and latest.occurrence >= ticket.occurrence:
                raise DuplicateExternalId(latest.id)
        if self.ticket(ticket.id) is not None:
            raise TicketIdTaken(ticket.id)


def _make_engine(url: str, lock_timeout: float | None = None) -> SAEngine:
    if url.startswith("sqlite"):
        wait_ms = int((lock_timeout if lock_timeout is not None else 30) * 1000)
        sa_engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": wait_ms / 1000},
        )

        @event.listens_for(sa_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL: readers never block the writer; NORMAL: durable at checkpoints, never corrupt.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={wait_ms}")
            # Bound the WAL file: after a checkpoint it is cut back to 64 MiB (a burst, or a
            # disk that ran full, must not leave it holding the space for ever).
            cursor.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            cursor.close()

        return sa_engine
    connect_args: dict[str, Any] = {}
    if lock_timeout is not None:
        # A held row lock fails the statement after lock_timeout; a statement that runs on
        # (a lock on a table, a stuck server) is cancelled well after it.
        lock_ms = int(lock_timeout * 1000)
        connect_args["options"] = (
            f"-c lock_timeout={lock_ms} -c statement_timeout={max(lock_ms * 6, 60_000)}"
        )
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


WAL_LIMIT = 64 * 1024 * 1024

CHAINS = {
    "registry_log": 0x66660001, "kb_log": 0x66660002, "round_log": 0x66660003,
    "spare_log": 0x66660004, "maintenance_log": 0x66660005,
}  # fmt: skip
"""The hash-chained logs beside the tickets, each with the number of its advisory lock."""


def chain_lock(conn: Any, log: str) -> None:
    """:meth:`Unit.chained` for a SQLAlchemy connection in a transaction (SQLite's write lock
    is taken by the first write; a writer that read an older head is refused there)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAINS[log]})


def redact_url(url: str) -> str:
    """``url`` with its password (if any) masked as ``***``."""
    return redact(url)


def _legacy_version(conn: Any) -> str | None:
    """The ``meta`` schema version of a database made before migrations, if any."""
    value = conn.execute(select(META.c.value).where(META.c.key == "schema_version")).scalar()
    return str(value) if value is not None else None
