"""The connector status transition table ([SPEC] §4.9, [ERRATA] 3.20; spec §2.5)."""

import pytest

from ocpp_station.core.connector import (
    TRANSITIONS,
    Conditions,
    Connector,
    IllegalTransition,
    Status,
    Transaction,
    derive_status,
)

S = Status


@pytest.mark.parametrize(
    "old,new",
    [
        (S.AVAILABLE, S.FINISHING),
        (S.FINISHING, S.CHARGING),
        (S.RESERVED, S.CHARGING),
        (S.PREPARING, S.RESERVED),
        (S.UNAVAILABLE, S.FINISHING),
        (S.CHARGING, S.PREPARING),
    ],
)
def test_illegal_transition_raises_and_changes_nothing(old, new):
    c = Connector(1, old, "NoError", "before")
    with pytest.raises(IllegalTransition):
        c.set_status(new)
    assert (c.status, c.error_code, c.info) == (old, "NoError", "before")


def test_errata_3_20_preparing_to_finishing_is_legal():
    c = Connector(1, S.PREPARING)
    assert c.set_status(S.FINISHING) is True


def test_faulted_returns_to_any_state():
    for target in Status:
        if target != S.FAULTED:
            c = Connector(1, S.FAULTED, "GroundFailure")
            c.set_status(target)
            assert c.status == target and c.error_code == "NoError"


def test_same_status_is_a_no_op_but_error_details_count_as_a_change():
    c = Connector(1, S.CHARGING)
    assert c.set_status(S.CHARGING) is False
    assert c.set_status(S.CHARGING, "HighTemperature") is True  # a warning is a change to report


def test_connector_zero_knows_only_available_unavailable_faulted():
    c0 = Connector(0)
    for bad in (S.PREPARING, S.CHARGING, S.RESERVED, S.FINISHING):
        with pytest.raises(IllegalTransition):
            c0.set_status(bad)
    c0.set_status(S.UNAVAILABLE)
    c0.set_status(S.FAULTED, "PowerMeterFailure")
    c0.set_status(S.AVAILABLE)
    assert c0.status == S.AVAILABLE


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(Status)


def test_preparing_is_the_only_status_without_an_edge_to_unavailable():
    """Why ChangeAvailability(Inoperative) is Scheduled on a Preparing connector (features/core/availability.py);
    Unavailable has no edge to Finishing (nor to Reserved) either."""
    assert {s for s, to in TRANSITIONS.items() if S.UNAVAILABLE not in to} == {S.PREPARING, S.UNAVAILABLE}
    assert TRANSITIONS[S.UNAVAILABLE] == _all_but(S.UNAVAILABLE, S.FINISHING, S.RESERVED)


def _all_but(*statuses: Status) -> frozenset:
    return frozenset(Status) - set(statuses)


def _tx(**kw) -> Transaction:
    return Transaction("L1", 1, "TAG", None, 1000, 0.0, **kw)


@pytest.mark.parametrize(
    "cond,expected",
    [
        (Conditions(), (S.AVAILABLE, None)),
        (Conditions(ev_plugged=True), (S.PREPARING, None)),
        (Conditions(pending_id="TAG"), (S.PREPARING, None)),
        (Conditions(ev_plugged=True, tx=_tx()), (S.CHARGING, None)),
        (Conditions(ev_plugged=True, ev_charging=False, tx=_tx()), (S.SUSPENDED_EV, None)),
        (Conditions(ev_plugged=False, tx=_tx()), (S.SUSPENDED_EV, "EV side disconnected")),
        (Conditions(ev_plugged=True, tx=_tx(invalid=True)), (S.SUSPENDED_EVSE, None)),
        (Conditions(ev_plugged=True, finishing=True), (S.FINISHING, None)),
        (Conditions(operative=False), (S.UNAVAILABLE, None)),
        (Conditions(operative=False, ev_plugged=True, tx=_tx()), (S.CHARGING, None)),  # Scheduled
        (Conditions(ev_plugged=True, scheduled="Inoperative"), (S.PREPARING, None)),  # Scheduled while Preparing
        (Conditions(operative=False, ev_plugged=True, finishing=True), (S.UNAVAILABLE, None)),
        (Conditions(fault=("GroundFailure", "x", None), tx=_tx()), (S.FAULTED, "x")),
    ],
)
def test_status_derived_from_conditions(cond, expected):
    status, _code, info, _vendor = derive_status(cond)
    assert (status, info) == expected
