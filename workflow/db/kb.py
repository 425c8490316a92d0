"""The experience base's tables: entries, the hash-chained log of their changes, and the words
entries and tickets are searched by, with each database's own full-text search — SQLite's
FTS5 (bm25), PostgreSQL's tsvector over a GIN index (ts_rank). kb/ decides what is written;
the words come segmented (``kb/text.py``) and are indexed as they are.

Writes take the caller's open :class:`~faultflow.db.store.Unit`, so that an entry drafted
when a ticket is reported is written in that change's own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, insert, literal_column, select, text, update

from .ledger import append, entries, first_broken, last_seq
from .records import KBEntryRecord, KBLogRecord
from .store import Store, Unit
from .tables import EVENTS, KB_ENTRIES, KB_LOG, KB_TERMS, TICKET_TERMS, TICKETS

GENESIS = "faultflow:kb"
FIELDS = KBEntryRecord._fields


@dataclass(frozen=True, slots=True)
class _Statements:
    add: Any
    change: Any
    last: Any
    log: Any
    put_terms: Any
    one: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    e, lg, tm = KB_ENTRIES, KB_LOG, KB_TERMS
    values: dict[str, Any] = {n: bindparam(n) for n in FIELDS if n != "id"}
    newer = e.c.version + literal_column("1") == bindparam("version")
    return _Statements(
        add=statement(insert(e).values(values).returning(e.c.id), dialect),
        change=statement(
            update(e)
            .where(e.c.id == bindparam("id"), newer)
            .values({n: bindparam(n) for n in FIELDS if n not in ("id", "created_us", "author")}),
            dialect,
        ),
        last=statement(select(lg.c.hash).order_by(lg.c.seq.desc()).limit(1), dialect),
        log=statement(insert(lg).values({n: bindparam(n) for n in KBLogRecord._fields}), dialect),
        put_terms=statement(
            insert(tm).values(key=bindparam("key"), seq=bindparam("seq"), body=bindparam("body")),
            dialect,
        ),
        one=statement(select(*[e.c[n] for n in FIELDS]).where(e.c.id == bindparam("id")), dialect),
    )


def _s(store: Store) -> _Statements:
    s: _Statements = store.compiled("kb", _compile)
    return s


def _logged(u: Unit, s: _Statements, entry: KBEntryRecord, action: str, data: Any,
            actor: str, at_us: int) -> None:  # fmt: skip
    text_ = json.dumps(data, ensure_ascii=False, sort_keys=True)
    said = {"entry": entry.id, "action": action, "data": text_, "actor": actor, "at_us": at_us}
    append(u, s.last, s.log, GENESIS, "kb_log", said)


def add(u: Unit, entry: KBEntryRecord) -> KBEntryRecord:
    """Insert a new entry (its ``id`` is the database's) and its log entry; its words are
    indexed by the next search (:func:`stale_entries`), so that writing needs no segmenter."""
    s = _s(u.store)
    values = entry._asdict()
    del values["id"]
    new_id = int(u.run(s.add, values).fetchone()[0])
    written = entry._replace(id=new_id)
    u.run(s.put_terms, {"key": str(new_id), "seq": 0, "body": ""})
    _logged(u, s, written, "created", written._asdict(), written.author, written.created_us)
    return written


def change(u: Unit, entry: KBEntryRecord, action: str, data: Any = None) -> bool:
    """Write ``entry`` (one version up from the stored one; ``False`` if someone else moved it
    meanwhile) and its log entry (``data``, default the entry); the next search indexes it."""
    s = _s(u.store)
    if u.run(s.change, entry._asdict()).rowcount != 1:
        return False
    payload = entry._asdict() if data is None else data
    _logged(u, s, entry, action, payload, entry.changed_by, entry.changed_us)
    return True


def get(store: Store, entry_id: int) -> KBEntryRecord | None:
    with store.unit() as u:
        row = u.run(_s(store).one, {"id": entry_id}).fetchone()
    return KBEntryRecord(*row) if row else None


def many(store: Store, ids: Iterable[int]) -> dict[int, KBEntryRecord]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    e = KB_ENTRIES
    rows = store.query(select(*[e.c[n] for n in FIELDS]).where(e.c.id.in_(wanted)))
    return {int(r[0]): KBEntryRecord(*r) for r in rows}


def listed(store: Store, states: Sequence[str] | None, limit: int) -> list[KBEntryRecord]:
    """Entries, newest first (of ``states``, if given)."""
    e = KB_ENTRIES
    query = select(*[e.c[n] for n in FIELDS]).order_by(e.c.id.desc()).limit(limit)
    if states is not None:
        query = query.where(e.c.state.in_(list(states)))
    return [KBEntryRecord(*r) for r in store.query(query)]


def approved_count(store: Store) -> int:
    e = KB_ENTRIES
    return int(store.query(select(func.count()).where(e.c.state == "approved"))[0][0])


def head(store: Store) -> int | None:
    """The number of the base's last change (every write logs one): what tells a search that
    entries may need indexing."""
    return last_seq(store, KB_LOG)


def log(store: Store) -> list[KBLogRecord]:
    return entries(store, KB_LOG, KBLogRecord)


def broken_log(entries: Iterable[KBLogRecord]) -> int | None:
    """The position (0-based) of the first log entry whose hash does not chain, or None."""
    return first_broken(GENESIS, entries)


# -- search ----------------------------------------------------------------------------------


def _fts5_word(w: str) -> str:
    return '"' + w.replace('"', '""') + '"' + ("*" if w.isascii() else "")


def _ts_word(w: str) -> str:
    return "'" + w.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if w.isascii() else "")


def _query(groups: Sequence[Sequence[str]], need: int, postgres: bool) -> str:
    """A full-text question: rows with a word of at least ``need`` of the groups (all of
    them, two of them, or any), a Latin word also as a prefix — FTS5's syntax, or a tsquery of
    exact lexemes (cast, not parsed) for PostgreSQL."""
    word, either, both = (_ts_word, " | ", " & ") if postgres else (_fts5_word, " OR ", " AND ")
    ors = ["(" + either.join(word(w) for w in g) + ")" for g in groups]
    if need >= len(ors):
        return both.join(ors)
    if need == 1:
        return either.join(ors)
    pairs = [f"({a}{both}{b})" for i, a in enumerate(ors) for b in ors[i + 1 :]]
    return either.join(pairs)


def search(store: Store, terms_table: str, groups: Sequence[Sequence[str]], limit: int,
           keys: Sequence[str] | None = None, enough: int | None = None,
           ) -> list[tuple[str, float]]:  # fmt: skip
    """The best ``limit`` keys of ``terms_table`` (``kb_terms`` or ``ticket_terms``) for the
    query's word groups, best first, each with its score (higher is better); ``keys``: only
    among those. Asked in rounds, each only while fewer than ``enough`` (default ``limit``)
    were found: rows with every word of the query (few to rank, the closest), then with two of
    them, then with any — the loosest question ranks the most rows, and over a big base costs
    the most."""
    if not groups:
        return []
    enough = limit if enough is None else enough
    found = _search(store, terms_table, groups, limit, keys, len(groups))
    if len(found) >= enough or len(groups) == 1:
        return found
    seen = {k for k, _ in found}
    loose = _telling(store, terms_table, groups)
    for need in [2] * (len(loose) >= 2) + [1] * (len(loose) >= 1):
        more = _search(store, terms_table, loose, limit + len(found), keys, need)
        found += [(k, score) for k, score in more if k not in seen][: limit - len(found)]
        seen.update(k for k, _ in found)
        if len(found) >= enough:
            break
    return found


COMMON = 0.05  # a word in more than this share of the base (and of 50 rows) tells little
TELLING = 4  # the loose rounds ask at most this many words (two of four: six pairs)


def _telling(store: Store, terms_table: str, groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The query's word groups worth a loose round, rarest first: on SQLite, by how many rows
    hold each word (the ``fts5vocab`` table of migration 0012) — groups no row holds are left
    out, and so are those more than :data:`COMMON` of the base holds (while two or more others
    remain), and at most :data:`TELLING` are kept. Elsewhere, the groups as they are."""
    if store.sa.dialect.name != "sqlite":
        return [list(g) for g in groups]
    vocab = "kb_vocab" if terms_table == "kb_terms" else "ticket_vocab"
    words = sorted({w.casefold() for g in groups for w in g})
    marks = ", ".join(f":w{i}" for i in range(len(words)))
    rows = store.query(
        text(f"SELECT term, doc FROM {vocab} WHERE term IN ({marks})").bindparams(
            **{f"w{i}": w for i, w in enumerate(words)}
        )
    )
    docs = {str(t): int(d) for t, d in rows}
    size = store.query(text(f"SELECT max(n) FROM {terms_table}"))[0][0] or 1

    def held(group: Sequence[str]) -> int:  # a Latin word also counts as a prefix: kept
        return max(docs.get(w.casefold(), 0 if not w.isascii() else size) for w in group)

    ranked = sorted((held(g), i) for i, g in enumerate(groups))
    present = [(n, i) for n, i in ranked if n > 0]
    telling = [(n, i) for n, i in present if n <= max(COMMON * size, 50)]
    if len(telling) < 2:
        telling = present[:2]
    return [list(groups[i]) for _, i in telling[:TELLING]]


def _search(store: Store, terms_table: str, groups: Sequence[Sequence[str]], limit: int,
            keys: Sequence[str] | None, need: int) -> list[tuple[str, float]]:  # fmt: skip
    table = KB_TERMS if terms_table == "kb_terms" else TICKET_TERMS
    among = ""
    params: dict[str, Any] = {"limit": limit}
    if keys is not None:
        if not keys:
            return []
        names = [f"k{i}" for i in range(len(keys))]
        among = f" AND t.key IN ({', '.join(':' + n for n in names)})"
        params.update(zip(names, keys, strict=True))
    postgres = store.sa.dialect.name == "postgresql"
    params["q"] = _query(groups, need, postgres)
    fts = "kb_fts" if table is KB_TERMS else "ticket_fts"
    if postgres:
        vector = "array_to_tsvector(string_to_array(t.body, ' '))"
        sql = (
            f"SELECT t.key, ts_rank({vector}, CAST(:q AS tsquery)) AS score FROM {table.name} t "
            f"WHERE {vector} @@ CAST(:q AS tsquery){among} ORDER BY score DESC, t.key LIMIT :limit"
        )
    elif keys is not None:  # among some keys: joined before the cut
        sql = (
            f"SELECT t.key, -bm25({fts}) AS score FROM {fts} JOIN {table.name} t ON "
            f"t.n = {fts}.rowid WHERE {fts} MATCH :q{among} ORDER BY score DESC, t.key "
            "LIMIT :limit"
        )
    else:  # FTS5 ranks and cuts by itself (its rank is bm25): only the rows kept are joined
        sql = (
            f"SELECT t.key, -r.rank AS score FROM (SELECT rowid, rank FROM {fts} WHERE {fts} "
            f"MATCH :q ORDER BY rank LIMIT :limit) r JOIN {table.name} t ON t.n = r.rowid "
            "ORDER BY r.rank, t.n"
        )
    rows = store.query(text(sql).bindparams(**params))
    return [(str(k), float(score)) for k, score in rows]


# -- the words of tickets, kept up to date by the searches that read them ----------------------


def stale_tickets(store: Store, limit: int) -> list[tuple[str, int]]:
    """Tickets whose words are not indexed up to their last event: (id, last_seq)."""
    t, w = TICKETS, TICKET_TERMS
    return [
        (str(i), int(q))
        for i, q in store.query(
            select(t.c.id, t.c.last_seq)
            .select_from(t.outerjoin(w, w.c.key == t.c.id))
            .where((w.c.seq.is_(None)) | (w.c.seq < t.c.last_seq))
            .limit(limit)
        )
    ]


def ticket_texts(store: Store, ids: Sequence[str]) -> dict[str, list[str]]:
    """The texts a ticket is searched by: its title, description and notes, by ticket."""
    t, e = TICKETS, EVENTS
    out: dict[str, list[str]] = {}
    for i, title, description in store.query(
        select(t.c.id, t.c.title, t.c.description).where(t.c.id.in_(list(ids)))
    ):
        out[str(i)] = [title, description or ""]
    for i, note in store.query(
        select(e.c.ticket_id, e.c.note).where(
            e.c.ticket_id.in_(list(ids)), e.c.trigger == "note", e.c.note.is_not(None)
        )
    ):
        out.setdefault(str(i), []).append(note)
    return out


def stale_entries(store: Store, limit: int) -> list[KBEntryRecord]:
    """Entries whose words are not indexed as they stand now."""
    e, w = KB_ENTRIES, KB_TERMS
    rows = store.query(
        select(*[e.c[n] for n in FIELDS])
        .select_from(e.join(w, w.c.key == cast(e.c.id, Text)))
        .where(w.c.seq != e.c.version)
        .limit(limit)
    )
    return [KBEntryRecord(*r) for r in rows]


def put_words(store: Store, table: str, words: Sequence[tuple[str, int, str]]) -> None:
    """Index words (``table``: ``kb_terms`` or ``ticket_terms``): (key, seq, body), each
    replacing what was there."""
    w = KB_TERMS if table == "kb_terms" else TICKET_TERMS
    with store.transaction() as conn:
        known = {
            str(k)
            for (k,) in conn.execute(select(w.c.key).where(w.c.key.in_([i for i, _, _ in words])))
        }
        fresh = [{"key": i, "seq": q, "body": b} for i, q, b in words if i not in known]
        if fresh:
            conn.execute(insert(w), fresh)
        for i, q, b in words:
            if i in known:
                conn.execute(update(w).where(w.c.key == i).values(seq=q, body=b))
