"""The plugin's own tests, using the fixtures faultflow ships for plugin authors."""

import faultflow_sms
import pytest
from faultflow import IntakeError


@pytest.fixture
def faultflow_plugins():
    return (faultflow_sms,)


def test_an_sms_opens_a_ticket(faultflow_engine, faultflow_clock):
    t = faultflow_engine.intake(
        "sms", {"id": "g-1", "from": "+8613900000000", "text": "机房断电\n请速来"}, actor="duty"
    )
    assert (t.title, t.tier, t.contact) == ("机房断电", "C", "+8613900000000")
    faultflow_clock.advance(minutes=46)
    assert [f.event for f in faultflow_engine.tick()] == ["breach"]


def test_an_empty_sms_is_refused(faultflow_engine):
    with pytest.raises(IntakeError, match="text: missing"):
        faultflow_engine.intake("sms", {"id": "g-2", "text": ""}, actor="duty")
