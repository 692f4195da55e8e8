"""Which OCPP feature profiles a station has is configuration ([station] profiles; [SPEC] §3.3, §9.1.29)."""

import pytest
from charging import booted

from ocpp_station.core.settings import StationSettings
from ocpp_station.features import features_for, implemented_profiles


def _keys(h):
    return {k["key"]: k for k in h.csms_conf("GetConfiguration", {})["configurationKey"]}


def test_default_station_has_every_implemented_profile():
    h = booted()
    keys = _keys(h)
    assert keys["SupportedFeatureProfiles"]["value"] == ",".join(implemented_profiles())
    assert implemented_profiles()[0] == "Core"
    assert {"LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength"} <= set(keys)
    assert "ReserveConnectorZeroSupported" in keys


def test_core_only_station_answers_optional_actions_not_supported_and_hides_their_keys():
    h = booted(StationSettings(profiles=("Core",)))
    keys = _keys(h)
    assert keys["SupportedFeatureProfiles"]["value"] == "Core"
    assert "LocalAuthListEnabled" not in keys
    assert "ReserveConnectorZeroSupported" not in keys
    for action, payload in [
        ("SendLocalList", {"listVersion": 1, "updateType": "Full"}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ]:
        answer = h.csms_call(action, payload)
        assert answer[0] == 4 and answer[2] == "NotSupported", answer
    # [SPEC] §5.10, TC_042_1: GetLocalListVersion without the profile is -1
    assert h.csms_conf("GetLocalListVersion", {}) == {"listVersion": -1}
    h.no_call()


def test_profiles_are_ordered_and_core_is_required():
    names = [c.__name__ for c in features_for(("RemoteTrigger", "Core"))]
    assert names[0] == "StatusReporting"
    assert names[-3:] == ["RemoteTrigger", "LocalListAbsent", "ReservationAbsent"]
    with pytest.raises(ValueError, match="Core"):
        features_for(("RemoteTrigger",))
    with pytest.raises(ValueError, match="not implemented: Bogus"):
        features_for(("Core", "Bogus"))
