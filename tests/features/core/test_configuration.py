"""GetConfiguration / ChangeConfiguration at core level (TC_019_CS, TC_021_CS, TC_040_1_CS, TC_040_2_CS)."""

from harness import CoreHarness

from ocpp_station.store import MemoryStore

# spec §2.4: what TC_019 checks for the readonly flag
READ_ONLY = {"GetConfigurationMaxKeys", "NumberOfConnectors", "SupportedFeatureProfiles"}
# errata 3.84/3.85: R or RW; with a fixed cable (the seed station) UnlockConnectorOnEVSideDisconnect is R
EITHER = {"AuthorizeRemoteTxRequests", "UnlockConnectorOnEVSideDisconnect"}
REQUIRED_CORE = {
    "AuthorizeRemoteTxRequests", "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation",
    "GetConfigurationMaxKeys", "HeartbeatInterval", "LocalAuthorizeOffline", "LocalPreAuthorize",
    "MeterValuesAlignedData", "MeterValuesSampledData", "MeterValueSampleInterval", "NumberOfConnectors",
    "ResetRetries", "StopTransactionOnInvalidId", "StopTxnAlignedData", "StopTxnSampledData",
    "SupportedFeatureProfiles", "TransactionMessageAttempts", "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
}
SEED = {  # the certified station's table (shared/seed), as INTERFACE.md reads it
    "AllowOfflineTxForUnknownId": "true", "AuthorizationCacheEnabled": "true", "AuthorizeRemoteTxRequests": "true",
    "BlinkRepeat": "5", "ClockAlignedDataInterval": "0", "ConnectionTimeOut": "60", "ConnectorPhaseRotation": "RST",
    "ConnectorPhaseRotationMaxLength": "1", "GetConfigurationMaxKeys": "19", "HeartbeatInterval": "10",
    "LightIntensity": "0", "LocalAuthorizeOffline": "true", "LocalPreAuthorize": "false",
    "MaxEnergyOnInvalidId": "0", "MessageTimeout": "30", "MeterValuesAlignedData": "Energy.Active.Import.Register",
    "MeterValuesAlignedDataMaxLength": "10", "MeterValuesSampledData": "Energy.Active.Import.Register",
    "MeterValuesSampledDataMaxLength": "10", "MeterValueSampleInterval": "20", "MinimumStatusDuration": "0",
    "NumberOfConnectors": "1", "ResetRetries": "3", "StopTransactionMaxMeterValues": "500",
    "StopTransactionOnEVSideDisconnect": "false", "StopTransactionOnInvalidId": "false",
    "StopTxnAlignedData": "Energy.Active.Import.Register", "StopTxnAlignedDataMaxLength": "10",
    "StopTxnSampledData": "Energy.Active.Import.Register", "StopTxnSampledDataMaxLength": "10",
    "SupportedFeatureProfilesMaxLength": "10", "TransactionMessageAttempts": "3",
    "TransactionMessageRetryInterval": "60", "UnlockConnectorOnEVSideDisconnect": "false",
    "WebSocketPingInterval": "10",
}


def _booted(**kw) -> CoreHarness:
    h = CoreHarness(**kw)
    h.boot()
    return h


def test_tc_019_cs_retrieve_configuration():
    """TC_019_CS: SupportedFeatureProfiles contains Core; all keys with the right readonly flags;
    GetConfigurationMaxKeys >= 1; a request of up to that many keys is answered completely."""
    h = _booted()
    conf = h.csms_conf("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "unknownKey" not in conf
    [entry] = conf["configurationKey"]
    assert entry["readonly"] is True and "Core" in entry["value"].split(",")

    everything = h.csms_conf("GetConfiguration", {})
    keys = {k["key"]: k for k in everything["configurationKey"]}
    assert REQUIRED_CORE <= set(keys)
    for name in REQUIRED_CORE - EITHER:
        assert keys[name]["readonly"] is (name in READ_ONLY), name
    assert keys["UnlockConnectorOnEVSideDisconnect"]["readonly"] is True
    for name, value in SEED.items():
        assert keys[name]["value"] == value, name
    assert "AuthorizationKey" not in keys  # write-only: never revealed

    max_keys = int(h.csms_conf("GetConfiguration", {"key": ["GetConfigurationMaxKeys"]})["configurationKey"][0]["value"])
    assert max_keys >= 1
    wanted = sorted(REQUIRED_CORE)[:max_keys]
    conf = h.csms_conf("GetConfiguration", {"key": wanted})
    assert [k["key"] for k in conf["configurationKey"]] == wanted and "unknownKey" not in conf


def test_get_configuration_unknown_keys_and_limit():
    h = _booted()
    conf = h.csms_conf("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]})
    assert conf == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "10"}],
        "unknownKey": ["NoSuchKey"],
    }
    ans = h.csms_call("GetConfiguration", {"key": [f"K{i}" for i in range(20)]})
    assert ans[0] == 4 and ans[2] == "OccurenceConstraintViolation"


def test_tc_021_cs_change_set_configuration():
    """TC_021_CS: ChangeConfiguration(MeterValueSampleInterval) Accepted and read back."""
    h = _booted()
    assert h.csms_conf("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "33"}) == {
        "status": "Accepted"
    }
    conf = h.csms_conf("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf["configurationKey"] == [{"key": "MeterValueSampleInterval", "readonly": False, "value": "33"}]


def test_tc_040_1_cs_configuration_key_not_supported():
    """TC_040_1_CS: an unknown key -> NotSupported."""
    h = _booted()
    assert h.csms_conf("ChangeConfiguration", {"key": "Testing", "value": "true"}) == {"status": "NotSupported"}


def test_tc_040_2_cs_configuration_key_invalid_value():
    """TC_040_2_CS: MeterValueSampleInterval = -1 -> Rejected, old value kept."""
    h = _booted()
    assert h.csms_conf("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "-1"}) == {
        "status": "Rejected"
    }
    assert h.station.config["MeterValueSampleInterval"] == 20


def test_change_configuration_rules():
    h = _booted()
    cc = lambda k, v: h.csms_conf("ChangeConfiguration", {"key": k, "value": v})["status"]
    assert cc("NumberOfConnectors", "2") == "Rejected"  # read-only
    assert cc("HeartbeatInterval", "abc") == "Rejected"
    assert cc("WebSocketPingInterval", "-5") == "Rejected"  # [JERRATA] 3.11
    assert cc("LocalPreAuthorize", "TRUE") == "Accepted"  # booleans are case-insensitive
    assert h.station.config["LocalPreAuthorize"] is True
    # an unsupported measurand rejects the whole list and keeps the old value ([ERRATA] 3.13)
    assert cc("MeterValuesSampledData", "Energy.Active.Import.Register,Foo.Bar") == "Rejected"
    assert h.station.config.text("MeterValuesSampledData") == "Energy.Active.Import.Register"
    assert cc("MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import,Voltage.L1") == "Accepted"
    assert cc("AuthorizationKey", "00112233445566778899aabbccddeeff00112233") == "Accepted"
    conf = h.csms_conf("GetConfiguration", {"key": ["AuthorizationKey"]})
    assert conf["configurationKey"] == [{"key": "AuthorizationKey", "readonly": False}]  # value never revealed


def test_keys_are_case_insensitive():
    """Keys are CiString50 (spec §2.3): ChangeConfiguration and GetConfiguration find a key in any letter
    case, apply it to the canonical key (observers included) and report it under its canonical name;
    unknown keys come back in unknownKey exactly as sent."""
    store = MemoryStore()
    h = _booted(store=store)
    cc = lambda k, v: h.csms_conf("ChangeConfiguration", {"key": k, "value": v})["status"]
    assert cc("metervaluesampleinterval", "33") == "Accepted"
    assert h.station.config["MeterValueSampleInterval"] == 33
    assert store.items("config")["MeterValueSampleInterval"] == "33"
    assert cc("MESSAGETIMEOUT", "7") == "Accepted"
    assert h.station.session.message_timeout == 7  # the canonical key's observers ran
    assert cc("numberofconnectors", "2") == "Rejected"  # still read-only
    assert cc("heartbeatINTERVAL", "abc") == "Rejected"  # still checked
    assert cc("testing", "true") == "NotSupported"
    conf = h.csms_conf("GetConfiguration", {"key": ["METERVALUESAMPLEINTERVAL", "numberOfConnectors", "noSuchKey"]})
    assert conf == {
        "configurationKey": [
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "33"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
        ],
        "unknownKey": ["noSuchKey"],
    }
    conf = h.csms_conf("GetConfiguration", {"key": ["authorizationkey"]})
    assert conf["configurationKey"] == [{"key": "AuthorizationKey", "readonly": False}]  # still never revealed


def test_changed_values_persist_and_win_over_the_file():
    store = MemoryStore()
    h = CoreHarness(store=store, HeartbeatInterval=99)
    h.boot()
    assert h.station.config["HeartbeatInterval"] == 10  # BootNotification.conf interval wins
    h.csms_conf("ChangeConfiguration", {"key": "ConnectionTimeOut", "value": "45"})
    h2 = CoreHarness(store=store, ConnectionTimeOut=90)
    assert h2.station.config["ConnectionTimeOut"] == 45
    assert h2.station.config["HeartbeatInterval"] == 10


def test_message_timeout_change_applies_to_the_session():
    h = _booted()
    h.csms_conf("ChangeConfiguration", {"key": "MessageTimeout", "value": "7"})
    assert h.station.session.message_timeout == 7
