"""The contract file: the seed contract as data, and clear refusals of bad files."""

from __future__ import annotations

import copy
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from faultflow import ConfigError, load_contract
from faultflow.contract.compile import compile_contract, default_contract_path
from faultflow.contract.model import Classification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SEED = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))


def data() -> dict[str, Any]:
    return copy.deepcopy(SEED)


def refusal(d: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        compile_contract(d, source="test.toml")
    message = str(err.value)
    assert message.startswith("test.toml: ")
    assert "\n" not in message
    return message


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_the_packaged_contract_is_the_top_level_states_toml() -> None:
    top = Path(__file__).resolve().parents[1] / "states.toml"
    assert default_contract_path().read_bytes() == top.read_bytes()


def test_seed_contract_holds_every_promise() -> None:
    c = load_contract()
    assert set(c.tiers) == {"A", "B", "C"}  # P1
    assert set(c.kinds) == {"equipment", "line"}
    assert c.finals == {"reported", "cancelled"}
    assert str(c.timezone) == "Asia/Shanghai"

    def limit(
        clock: str,
        tier: str,
        channel: str = "web",
        kind: str = "equipment",
        cause: str | None = None,
    ) -> timedelta:
        return c.clocks[clock].limit_for(Classification(tier, kind, channel, cause))

    assert [limit("response", t) for t in "ABC"] == [minutes(15), minutes(30), minutes(45)]  # P2
    assert [limit("response", t, "customer_manager") for t in "ABC"] == [minutes(15)] * 3  # P3
    assert [limit("arrival", t) for t in "ABC"] == [minutes(60), minutes(120), minutes(240)]  # P8
    assert [limit("resolution", t) for t in "ABC"] == [timedelta(hours=h) for h in (5, 8, 24)]
    assert limit("report", "A") == timedelta(hours=24)  # P11
    line = c.clocks["line_repair"]  # P12
    assert not line.applies_to(Classification("C", "equipment", "web", None))
    assert limit("line_repair", "C", kind="line") == timedelta(hours=24)
    assert limit("line_repair", "C", kind="line", cause="external") == timedelta(days=7)
    assert c.clocks["arrival"].pausable and not c.clocks["response"].pausable
    assert c.clocks["response"].warning_share == 0.8
    assert c.clocks["resolution"].stop == {"resolve", "substitute"}
    assert c.triggers == (
        "respond",
        "remote",
        "dispatch",
        "arrive",
        "resolve",
        "substitute",
        "report",
        "cancel",
    )


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (
            lambda d: d["machine"]["transitions"][0].update(dest="nowhere"),
            "machine.transitions[0].dest",
            "unknown state 'nowhere'",
        ),
        (
            lambda d: d["machine"]["transitions"][0].update(source="limbo"),
            "machine.transitions[0].source",
            "unknown state 'limbo'",
        ),
        (
            lambda d: d["machine"]["states"].append({"name": "orphan"}),
            "machine.states[9]",
            "cannot be reached",
        ),
        (
            lambda d: (
                d["machine"]["transitions"].append(
                    {"trigger": "park", "source": "remote", "dest": "parked"}
                )
                or d["machine"]["states"].append({"name": "parked"})
                or d["machine"]["transitions"][8].update(source=["received", "responded"])
            ),
            "machine.states[9]",
            "no way to a final state",
        ),
        (
            lambda d: d["clocks"]["arrival"]["limit"].pop("C"),
            "clocks.arrival.limit",
            "no limit for tier 'C'",
        ),
        (
            lambda d: d["clocks"]["arrival"]["limit"].update(B="2 hours"),
            "clocks.arrival.limit",
            "B: cannot read duration '2 hours'",
        ),
        (
            lambda d: d["machine"]["states"].append({"name": "received"}),
            "machine.states[9].name",
            "duplicate state 'received'",
        ),
        (
            lambda d: d["machine"]["transitions"][8].update(guard={"weather": "sunny"}),
            "machine.transitions[8].guard.weather",
            "unknown guard",
        ),
        (
            lambda d: d["clocks"]["response"].update(limt="5m"),
            "clocks.response.limt",
            "unknown key",
        ),
        (
            lambda d: d["clocks"]["response"].update(start=["teleport"]),
            "clocks.response.start",
            "unknown trigger 'teleport'",
        ),
        (
            lambda d: d["machine"]["transitions"][8].update(guard={"clock_breached": "nap"}),
            "machine.transitions[8].guard.clock_breached",
            "unknown clock 'nap'",
        ),
        (
            lambda d: d["machine"]["transitions"][4].update(guard={"tier": ["Z"]}),
            "machine.transitions[4].guard.tier",
            "unknown tier 'Z'",
        ),
        (
            lambda d: d["contract"].update(timezone="Mars/Olympus"),
            "contract.timezone",
            "unknown time zone",
        ),
        (
            lambda d: d["contract"].update(warning_share=1.5),
            "contract.warning_share",
            "between 0 and 1",
        ),
        (
            lambda d: d["contract"].update(owner="whoever"),
            "contract.owner",
            "'whoever': use responder or intake",
        ),
        (
            lambda d: d["contract"].update(language="fr"),
            "contract.language",
            "no words for 'fr'",
        ),
        (
            lambda d: d["contract"].update(default_tier="D"),
            "contract.default_tier",
            "unknown tier 'D'",
        ),
        (
            lambda d: d["machine"]["transitions"].append(
                {"trigger": "respond", "source": "received", "dest": "remote"}
            ),
            "machine.transitions[9]",
            "duplicate",
        ),
        (
            lambda d: d["machine"]["transitions"][0].update(trigger="hold"),
            "machine.transitions[0].trigger",
            "reserved",
        ),
        (lambda d: d.pop("tiers"), "tiers", "missing"),
        (
            lambda d: d["notifiers"]["log"].update(events=["gossip"]),
            "notifiers.log.events",
            "unknown kind 'gossip'",
        ),
        (lambda d: d.update(merge={"window": "0m"}), "merge.window", "longer than zero"),
        (lambda d: d.update(merge={"windo": "1h"}), "merge.windo", "unknown key"),
        (lambda d: d.update(spares={"ratio": 2}), "spares.ratio", "0 < r ≤ 1"),
        (lambda d: d.update(spares={"reserve": ["Z"]}), "spares.reserve[0]", "unknown tier 'Z'"),
        (
            lambda d: d.update(spares={"reserve": ["A"], "reserve_on": "fly"}),
            "spares.reserve_on",
            "unknown trigger 'fly'",
        ),
        (
            lambda d: d["machine"]["transitions"][0].update(trigger="merge"),
            "machine.transitions[0].trigger",
            "reserved",
        ),
    ],
)
def test_bad_contracts_are_refused_naming_the_key(mutate: Any, path: str, words: str) -> None:
    d = data()
    mutate(d)
    message = refusal(d)
    assert f": {path}: " in message, message
    assert words in message, message


def test_iso_durations_are_accepted() -> None:
    d = data()
    d["clocks"]["arrival"]["limit"] = {"A": "PT60M", "B": "PT2H", "C": "1h30m"}
    c = compile_contract(d)
    assert c.clocks["arrival"].limit_for(
        Classification("C", "equipment", "web", None)
    ) == timedelta(minutes=90)


def test_another_customer_is_another_file(tmp_path: Path) -> None:
    """A four-tier contract with its own clock: no code change."""
    text = default_contract_path().read_text(encoding="utf-8")
    text = text.replace(
        'limit = { A = "15m", B = "30m", C = "45m" }',
        'limit = { A = "10m", B = "30m", C = "45m", D = "2d" }',
    )
    text = text.replace(
        'limit = { A = "60m", B = "2h", C = "4h" }',
        'limit = { A = "60m", B = "2h", C = "4h", D = "3d" }',
    )
    text = text.replace(
        'limit = { A = "5h", B = "8h", C = "24h" }',
        'limit = { A = "5h", B = "8h", C = "24h", D = "10d" }',
    )
    text += '\n[tiers.D]\nlabel = "cosmetic"\n'
    path = tmp_path / "other.toml"
    path.write_text(text, encoding="utf-8")
    c = load_contract(path)
    assert c.clocks["response"].limit_for(
        Classification("D", "equipment", "web", None)
    ) == timedelta(days=2)


def test_file_errors_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such contract file"):
        load_contract(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[contract\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_contract(broken)


# -- property: any mutation of the seed loads or raises ConfigError, never anything else ---------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["15m", "A", "received", "*", "resolution", "PT1H"]),
    st.lists(st.sampled_from(["A", "B", "x", "respond", "received"]), max_size=3),
    st.dictionaries(
        st.sampled_from(["A", "B", "C", "tier", "any"]), st.text(max_size=4), max_size=3
    ),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


ALL_PATHS = _paths(SEED)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(ALL_PATHS), st.sampled_from(["set", "delete"]), VALUES),
        min_size=1,
        max_size=4,
    )
)
def test_mutations_load_or_raise_config_error(edits: list[tuple[Any, str, Any]]) -> None:
    d = data()
    for path, action, value in edits:
        parent: Any = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            if action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    try:
        compile_contract(d)
    except ConfigError as err:
        assert str(err).startswith("<contract>: ")


def _with_calendar(**table: Any) -> dict[str, Any]:
    d = data()
    d["calendars"] = {"office": {"hours": ["08:30-12:00", "13:30-17:30"], **table}}
    d["clocks"]["response"]["calendar"] = "office"
    return d


@pytest.mark.parametrize(
    ("table", "path", "words"),
    [
        ({"hours": ["08:30-12:00", "11:30-13:00"]}, "calendars.office.hours[1]", "overlaps"),
        ({"hours": ["17:30-08:30"]}, "calendars.office.hours[0]", "ends before it starts"),
        ({"hours": []}, "calendars.office", "no working time at all"),
        ({"weekdays": [], "open": []}, "calendars.office", "no working time at all"),
        ({"weekdays": ["mon", "funday"]}, "calendars.office.weekdays[1]", "'funday'"),
        ({"timezone": "Mars/Olympus"}, "calendars.office.timezone", "unknown time zone"),
        ({"closed": ["2026-02-30"]}, "calendars.office.closed[0]", "is not a date"),
        ({"open": ["2026-10-08..2026-10-01"]}, "calendars.office.open[0]", "ends before"),
        ({"holidays": "XX"}, "calendars.office.holidays", "known sources are CN"),
        (
            {"weekday_hours": {"sat": ["09:00-12:00"]}},
            "calendars.office.weekday_hours.sat",
            "not one of",
        ),
    ],
)
def test_bad_calendars_name_the_key(table: dict[str, Any], path: str, words: str) -> None:
    message = refusal(_with_calendar(**table))
    assert f": {path}: " in message, message
    assert words in message, message


def test_a_clock_names_a_calendar_that_exists() -> None:
    d = _with_calendar()
    d["clocks"]["arrival"]["calendar"] = "nights"
    message = refusal(d)
    assert ": clocks.arrival.calendar: unknown calendar 'nights' (known: office)" in message


def test_a_year_the_holiday_library_does_not_know_is_a_warning() -> None:
    from datetime import datetime

    from faultflow.timekeeping.calendars import official

    contract = compile_contract(_with_calendar(holidays="CN"), source="test.toml")
    assert contract.clocks["response"].calendar.name == "office"
    unknown = datetime.now().year + 1 > official("CN").years[1]  # today: chinesecalendar ends 2026
    said = [w for w in contract.warnings if w.startswith("calendars.office.holidays:")]
    assert bool(said) == unknown
    if unknown:
        assert str(datetime.now().year + 1) in said[0] and "only the weekdays" in said[0]
    assert not compile_contract(_with_calendar(), source="t.toml").warnings


# -- the compiled lifecycle fires as the transitions machine does ------------------------------


class _Model:
    """A model the ``transitions`` machine moves (the oracle of the compiled table)."""

    def __init__(self, state: str, facts: Any) -> None:
        self.state, self.facts = state, facts


@pytest.mark.parametrize("name", ["seed", "office-hours.toml", "service-desk.toml"])
def test_fire_takes_the_transition_the_machine_takes(name: str) -> None:
    """Every state x trigger x guard situation of a contract: the compiled table (the hot
    path) and the ``transitions`` machine it was compiled from agree — same destination, or
    both refuse (illegal, or a guard)."""
    from faultflow import GuardRefused, IllegalTransition
    from faultflow.contract.machine import GuardFacts, Lifecycle
    from faultflow.contract.model import Classification
    from transitions import MachineError

    examples = Path(__file__).parent.parent / "docs" / "examples"
    contract = load_contract() if name == "seed" else load_contract(examples / name)
    lifecycle = Lifecycle(contract)
    machine = lifecycle._machine
    checked = 0
    for state in contract.states:
        for trigger in contract.triggers:
            for tier in contract.tiers:
                for reason in (None, "remote failed", "the unit asked"):
                    for breached in (frozenset(), frozenset(contract.clocks)):
                        facts = GuardFacts(
                            Classification(tier, "equipment", "hotline", None),
                            reason,
                            lambda b=breached: b,  # type: ignore[misc]
                        )
                        model = _Model(state, facts)
                        try:
                            moved = machine.events[trigger].trigger(model)
                            expected: str | None = model.state if moved else "guard"
                        except MachineError:
                            expected = None
                        try:
                            got: str | None = lifecycle.fire(state, trigger, facts)
                        except IllegalTransition:
                            got = None
                        except GuardRefused:
                            got = "guard"
                        assert got == expected, (state, trigger, tier, reason, breached)
                        checked += 1
    assert checked > 100
