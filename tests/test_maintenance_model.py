"""What a maintenance window covers and when two collide: pure functions, as properties."""

from __future__ import annotations

import pytest
from faultflow.maintenance.model import ALL, KINDS, Scope, collide, overlap
from hypothesis import given
from hypothesis import strategies as st

codes = st.sampled_from(["U1", "U2", "S1", "S2", "L1", "D1", "D2"])
places = st.fixed_dictionaries({k: st.one_of(st.none(), codes) for k in KINDS})
scopes = st.one_of(st.just(Scope(ALL)), st.builds(Scope, st.sampled_from(KINDS), codes))
spans = st.tuples(st.integers(0, 100), st.integers(1, 50)).map(lambda t: (t[0], t[0] + t[1]))


@given(scopes)
def test_a_scope_reads_back_as_it_is_written(scope: Scope) -> None:
    assert Scope.parse(str(scope)) == scope


@pytest.mark.parametrize("text", ["", "unit", "unit:", "room:X", "all:X", ":X"])
def test_a_scope_that_names_no_part_is_refused_in_words(text: str) -> None:
    with pytest.raises(ValueError, match="unit:CODE, site:CODE"):
        Scope.parse(text)


@given(places)
def test_all_covers_every_place_and_a_part_covers_what_names_it(place: dict) -> None:
    assert Scope(ALL).covers(place)
    for kind in KINDS:
        code = place[kind]
        if code is not None:
            assert Scope(kind, code).covers(place)
            assert not Scope(kind, code + "x").covers(place)


@given(spans, spans)
def test_overlap_is_symmetric_and_half_open(a: tuple[int, int], b: tuple[int, int]) -> None:
    assert overlap(a, b) == overlap(b, a)
    assert not overlap(a, (a[1], a[1] + 5))  # one ends as the other begins: no collision
    assert overlap(a, a)


@given(scopes, places, scopes, places)
def test_collision_is_symmetric_and_all_collides_with_everything(
    a: Scope, pa: dict, b: Scope, pb: dict
) -> None:
    assert collide(a, pa, b, pb) == collide(b, pb, a, pa)
    assert collide(Scope(ALL), {}, b, pb)
    if a.kind != ALL and a.covers(pb):
        assert collide(a, pa, b, pb)
