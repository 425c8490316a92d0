"""docs/operations.md works as written: its least-privilege grants, on a real PostgreSQL."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import new_ticket
from faultflow import Engine

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def _grants() -> str:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if "CREATE ROLE faultflow_app" in b]
    return block


@pytest.mark.postgres
def test_the_least_privilege_role_of_the_docs_runs_a_ticket_and_cannot_rewrite_history(
    pg_url: str, travel: Any
) -> None:
    import psycopg

    database = pg_url.rsplit("/", 1)[1]
    role = f"ff_app_{uuid.uuid4().hex[:8]}"
    Engine.open(db=pg_url).close()  # `faultflow init`, as the owner
    sql = (
        _grants()
        .replace("faultflow_app", role)
        .replace("DATABASE faultflow", f'DATABASE "{database}"')
    )
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(sql)
    app_url = re.sub(r"//[^@]*@", f"//{role}:secret@", pg_url)
    try:
        with Engine.open(db=app_url, create=False) as engine:
            t = new_ticket(engine, "A")
            travel(minutes=16)
            assert [f.event for f in engine.tick()] == ["breach"]  # writes the outbox too
            engine.reclassify(t.id, kind="line", reason="a fibre cut", actor="li")  # clocks
            travel(minutes=1)
            for step in ("respond", "dispatch", "arrive", "resolve", "report"):
                engine.advance(t.id, step, actor="li")
            engine.add_entry("vendors", {"code": "HUAWEI", "name": "华为"}, actor="li")
            engine.edit_entry("vendors", "HUAWEI", {"hotline": "400-822-9999"}, actor="li")
            [draft] = engine.kb_entries(["draft"])  # reporting drafted an experience entry
            engine.kb_edit(draft.id, {"cause": "光纤被挖断", "fix": "熔接光纤"}, actor="li")
            engine.kb_approve(draft.id, actor="zhou")
            assert engine.kb_search(t.title)[0].entry.id == draft.id  # the search's own writes
            assert engine.search_tickets(t.title)[0].id == t.id
            assert engine.get(t.id).state == "reported" and engine.verify().ok
        for rewrite in (
            "DELETE FROM events",
            "UPDATE registry_log SET actor = 'x'",
            "DELETE FROM kb_log",
        ):
            with (
                psycopg.connect(app_url) as app,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                app.execute(rewrite)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as owner:
            owner.execute(f'DROP OWNED BY "{role}"')
        base = pg_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
