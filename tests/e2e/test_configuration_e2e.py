"""Configuration end to end (TC_019_CS, TC_021_CS, TC_040_1_CS, TC_040_2_CS, TC_062_CS) with a real
``ocpp-station run`` process, a real websocket and a real SQLite store; plus persistence of a changed key
across a graceful restart."""

from __future__ import annotations

import pytest

from ocpp_station.csms import CallErrorReceived
from ocpp_station.features import implemented_profiles

# spec §2.4: the Core keys OCTT TC_019 looks for, with their access. None = "R or RW" (either is fine).
CORE_KEYS_READONLY: dict[str, bool | None] = {
    "AuthorizeRemoteTxRequests": None,
    "ClockAlignedDataInterval": False,
    "ConnectionTimeOut": False,
    "ConnectorPhaseRotation": False,
    "GetConfigurationMaxKeys": True,
    "HeartbeatInterval": False,
    "LocalAuthorizeOffline": False,
    "LocalPreAuthorize": False,
    "MeterValuesAlignedData": False,
    "MeterValuesSampledData": False,
    "MeterValueSampleInterval": False,
    "NumberOfConnectors": True,
    "ResetRetries": False,
    "StopTransactionOnInvalidId": False,
    "StopTxnAlignedData": False,
    "StopTxnSampledData": False,
    "SupportedFeatureProfiles": True,
    "TransactionMessageAttempts": False,
    "TransactionMessageRetryInterval": False,
    "UnlockConnectorOnEVSideDisconnect": None,  # fixed cable: R (2025-04 erratum)
}
# optional keys: when present, their access
OPTIONAL_KEYS_READONLY: dict[str, bool | None] = {
    "AllowOfflineTxForUnknownId": False,
    "AuthorizationCacheEnabled": False,
    "BlinkRepeat": False,
    "ConnectorPhaseRotationMaxLength": True,
    "LightIntensity": False,
    "MaxEnergyOnInvalidId": False,
    "MeterValuesAlignedDataMaxLength": True,
    "MeterValuesSampledDataMaxLength": True,
    "MinimumStatusDuration": False,
    "StopTransactionOnEVSideDisconnect": None,
    "StopTxnAlignedDataMaxLength": True,
    "StopTxnSampledDataMaxLength": True,
    "SupportedFeatureProfilesMaxLength": True,
    "WebSocketPingInterval": False,
    "MessageTimeout": False,
    "StopTransactionMaxMeterValues": True,
}


async def test_tc_019_cs_retrieve_configuration_e2e(booted):
    """TC_019_CS: GetConfiguration(SupportedFeatureProfiles), GetConfiguration(all),
    GetConfiguration(GetConfigurationMaxKeys), GetConfiguration(<= max keys)."""
    st, link = await booted(ocpp={"AuthorizationKey": "00112233445566778899aabbccddeeff00112233"})

    # 1. SupportedFeatureProfiles: exactly one key, read-only, the profiles the station has (by default every
    #    implemented one, in the spec's order)
    conf = await link.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    profiles = ",".join(implemented_profiles())
    assert conf == {"configurationKey": [{"key": "SupportedFeatureProfiles", "readonly": True, "value": profiles}]}
    assert "Core" in conf["configurationKey"][0]["value"].split(",")

    # 2. all keys: no unknownKey, every required key with the right access, AuthorizationKey never returned
    conf = await link.call("GetConfiguration", {})
    assert set(conf) == {"configurationKey"}
    entries = conf["configurationKey"]
    names = [e["key"] for e in entries]
    assert len(names) == len(set(names)), "a key is listed twice"
    for e in entries:
        assert set(e) == {"key", "readonly", "value"}, e
        assert isinstance(e["value"], str) and isinstance(e["readonly"], bool)
    by_name = {e["key"]: e for e in entries}
    for key, ro in CORE_KEYS_READONLY.items():
        assert key in by_name, f"required key {key} missing"
        if ro is not None:
            assert by_name[key]["readonly"] is ro, by_name[key]
    for key, ro in OPTIONAL_KEYS_READONLY.items():
        if key in by_name and ro is not None:
            assert by_name[key]["readonly"] is ro, by_name[key]
    assert "AuthorizationKey" not in by_name  # write-only ([OCPPJ] §6.2.2)
    assert by_name["NumberOfConnectors"]["value"] == "1"
    assert by_name["HeartbeatInterval"]["value"] == "30"  # from BootNotification.conf (csms fixture)
    assert by_name["UnlockConnectorOnEVSideDisconnect"] == {
        "key": "UnlockConnectorOnEVSideDisconnect", "readonly": True, "value": "false"
    }

    # 3. GetConfigurationMaxKeys >= 1
    conf = await link.call("GetConfiguration", {"key": ["GetConfigurationMaxKeys"]})
    assert conf == {"configurationKey": [{"key": "GetConfigurationMaxKeys", "readonly": True, "value": "19"}]}
    max_keys = int(conf["configurationKey"][0]["value"])
    assert max_keys >= 1

    # 4. a request of exactly max keys (one of them unknown) is answered completely
    asked = names[: max_keys - 1] + ["NoSuchKey"]
    conf = await link.call("GetConfiguration", {"key": asked})
    assert conf == {"configurationKey": [by_name[n] for n in asked[:-1]], "unknownKey": ["NoSuchKey"]}

    # above the limit: OccurenceConstraintViolation, and the station keeps answering
    with pytest.raises(CallErrorReceived) as err:
        await link.call("GetConfiguration", {"key": names[: max_keys + 1]})
    assert err.value.code == "OccurenceConstraintViolation"
    assert await link.call("GetConfiguration", {"key": ["NumberOfConnectors"]}) == {
        "configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]
    }
    assert await st.stop() == 0


async def test_tc_021_cs_change_configuration_e2e(booted):
    """TC_021_CS: ChangeConfiguration(MeterValueSampleInterval=<cfg>) -> Accepted; read back."""
    st, link = await booted(ocpp={"MeterValueSampleInterval": 20})
    conf = await link.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf == {"configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "20"}]}
    assert await link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "15"}) == {
        "status": "Accepted"
    }
    conf = await link.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf == {"configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "15"}]}
    # a read-only key is Rejected and unchanged
    assert await link.call("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "2"}) == {
        "status": "Rejected"
    }
    conf = await link.call("GetConfiguration", {"key": ["NumberOfConnectors"]})
    assert conf == {"configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]}
    await link.no_call(0.5, ignore=("Heartbeat",))  # a configuration change sends nothing
    assert await st.stop() == 0


async def test_tc_040_1_cs_key_not_supported_e2e(booted):
    """TC_040_1_CS: ChangeConfiguration of an unknown key -> NotSupported."""
    st, link = await booted()
    assert await link.call("ChangeConfiguration", {"key": "Testing", "value": "true"}) == {"status": "NotSupported"}
    assert await link.call("GetConfiguration", {"key": ["Testing"]}) == {
        "configurationKey": [], "unknownKey": ["Testing"]
    }
    assert await st.stop() == 0


async def test_tc_040_2_cs_invalid_value_e2e(booted):
    """TC_040_2_CS: ChangeConfiguration MeterValueSampleInterval="-1" -> Rejected; value unchanged."""
    st, link = await booted(ocpp={"MeterValueSampleInterval": 20})
    assert await link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "-1"}) == {
        "status": "Rejected"
    }
    for bad in ("abc", "1.5", ""):
        assert await link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": bad}) == {
            "status": "Rejected"
        }, bad
    conf = await link.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf == {"configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "20"}]}
    assert await st.stop() == 0


async def test_tc_062_cs_data_transfer_e2e(booted):
    """TC_062_CS: DataTransfer with an unknown vendorId -> UnknownVendorId, no data."""
    st, link = await booted()
    assert await link.call("DataTransfer", {"vendorId": "TestVendorId"}) == {"status": "UnknownVendorId"}
    assert await link.call(
        "DataTransfer", {"vendorId": "TestVendorId", "messageId": "TestMessageId", "data": "x"}
    ) == {"status": "UnknownVendorId"}
    assert await st.stop() == 0


async def test_changed_configuration_persists_across_graceful_restart_e2e(csms, booted, station_factory):
    """A value changed by the CSMS survives SIGTERM + restart with the same data_dir and wins over the
    value in the config file; the restart is a reboot (BootNotification again)."""
    ocpp = {"MeterValueSampleInterval": 20, "ConnectionTimeOut": 45}
    st, link = await booted(ocpp=ocpp)
    assert await link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "7"}) == {
        "status": "Accepted"
    }
    assert await st.stop() == 0
    await link.wait_disconnected()
    link.clear()

    before = link.connections
    st2 = await station_factory(ocpp=ocpp)  # same identity -> same data_dir and config file
    assert st2.config == st.config
    link2 = await csms.wait_connected("CP001", after=before)
    assert link2 is link
    await link.expect("BootNotification")
    s = await link.expect_unordered(["StatusNotification", "StatusNotification"])
    assert sorted((c.payload["connectorId"], c.payload["status"]) for c in s) == [(0, "Available"), (1, "Available")]
    conf = await link.call("GetConfiguration", {"key": ["MeterValueSampleInterval", "ConnectionTimeOut"]})
    assert conf == {
        "configurationKey": [
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "7"},  # persisted, wins over 20
            {"key": "ConnectionTimeOut", "readonly": False, "value": "45"},  # untouched: from the file
        ]
    }
    assert await st2.stop() == 0
