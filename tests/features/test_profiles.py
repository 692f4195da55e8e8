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
    assert {"ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
            "MaxChargingProfilesInstalled", "ConnectorSwitch3to1PhaseSupported"} <= set(keys)
    assert all(keys[k]["readonly"] for k in ("ChargeProfileMaxStackLevel", "MaxChargingProfilesInstalled"))


TX_DEFAULT = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
              "chargingProfileKind": "Relative",
              "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]}}


def test_station_without_smart_charging_answers_not_supported_and_ignores_a_remote_start_profile():
    """[ERRATA] 3.39: SetChargingProfile without the profile is CALLERROR NotSupported (ClearChargingProfile and
    GetCompositeSchedule likewise); [SPEC] §5.11: RemoteStartTransaction ignores its chargingProfile."""
    h = booted(StationSettings(profiles=("Core", "Reservation")), AuthorizeRemoteTxRequests=False)
    assert "ChargeProfileMaxStackLevel" not in _keys(h)
    for action, payload in [
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": TX_DEFAULT}),
        ("ClearChargingProfile", {}),
        ("GetCompositeSchedule", {"connectorId": 1, "duration": 60}),
    ]:
        answer = h.csms_call(action, payload)
        assert answer[0] == 4 and answer[2] == "NotSupported", answer
    p = dict(TX_DEFAULT, chargingProfilePurpose="TxDefaultProfile")  # not even a TxProfile: ignored all the same
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "AAA", "chargingProfile": p}) == {
        "status": "Accepted"}
    assert h.respond("StatusNotification", {}).payload["status"] == "Preparing"


def test_core_only_station_answers_optional_actions_not_supported_and_hides_their_keys():
    h = booted(StationSettings(profiles=("Core",)))
    keys = _keys(h)
    assert keys["SupportedFeatureProfiles"]["value"] == "Core"
    assert "LocalAuthListEnabled" not in keys
    assert "ReserveConnectorZeroSupported" not in keys
    for action, payload in [
        ("SendLocalList", {"listVersion": 1, "updateType": "Full"}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": TX_DEFAULT}),
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
