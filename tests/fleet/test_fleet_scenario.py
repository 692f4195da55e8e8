"""Scenario keys: station templates, arrival distributions, power cuts, CSMS faults, identity patterns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ocpp_station.fleet import Driver, ScenarioError, load_scenario, parse_scenario
from ocpp_station.fleet.faults import CsmsFaults
from ocpp_station.fleet.scenario import check_identity_pattern

EXAMPLES = Path(__file__).parents[2] / "examples"

TEMPLATES = {
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "station": {"vendor": "Fleet Inc"},
    "template": [
        {"name": "ac", "weight": 3, "model": "AC22", "connectors": 2, "fixed_cable": False,
         "ocpp": {"MeterValueSampleInterval": 30}},
        {"name": "dc", "weight": 1, "vendor": "DC Corp", "model": "DC150", "connectors": 1},
    ],
}


def test_templates_are_picked_by_weight_from_the_seed_and_merged_over_the_defaults():
    sc = parse_scenario(TEMPLATES)
    d = Driver(sc, 9)
    picks = [d.template(n).name for n in range(1, 401)]
    assert picks == [Driver(sc, 9).template(n).name for n in range(1, 401)]  # the same seed, the same picks
    assert picks != [Driver(sc, 10).template(n).name for n in range(1, 401)]
    share = Counter(picks)["ac"] / 400
    assert 0.68 < share < 0.82  # weight 3 of 4
    ac, dc = sc.templates
    s = sc.settings("X1", ac)
    assert (s.vendor, s.model, s.connectors, s.fixed_cable) == ("Fleet Inc", "AC22", 2, False)
    assert s.ocpp == {"MeterValueSampleInterval": "30", "WebSocketPingInterval": "0"}
    s = sc.settings("X2", dc)
    assert (s.vendor, s.model, s.connectors, s.fixed_cable) == ("DC Corp", "DC150", 1, True)
    assert s.ocpp == {"MeterValueSampleInterval": "60", "WebSocketPingInterval": "0"}
    # each station's sessions run on its template's connectors
    plan = Driver(sc, 9).planned(40, 3 * 3600.0)
    used: dict[int, set[int]] = {}
    for ev in plan:
        used.setdefault(ev.index, set()).add(ev.connector)
    for n, conns in used.items():
        want = {1, 2} if d.template(n).name == "ac" else {1}
        assert conns == want, (n, conns)


def test_one_template_syntax_still_works():
    sc = parse_scenario({"station": {"vendor": "V", "model": "M", "connectors": 3}})
    assert [t.name for t in sc.all_templates()] == ["default"]
    s = sc.settings("A")
    assert (s.vendor, s.model, s.connectors) == ("V", "M", 3)
    assert {ev.connector for ev in Driver(sc, 1).planned(3, 36000.0)} == {1, 2, 3}


def test_template_errors_name_the_template_and_key():
    with pytest.raises(ScenarioError, match=r"^scenario: template\[2\]\.colour: unknown key"):
        parse_scenario({"template": [{"name": "a"}, {"colour": "red"}]})
    with pytest.raises(ScenarioError, match=r"^scenario: template\[1\]\.weight: expected a number > 0, got 0$"):
        parse_scenario({"template": [{"weight": 0}]})
    with pytest.raises(ScenarioError, match=r"^scenario: template\[2\]\.ocpp\.MeterValueSampleInterval: must be >= 0, "
                                            r"got -1$"):
        parse_scenario({"template": [{"name": "ac"}, {"name": "dc", "ocpp": {"MeterValueSampleInterval": -1}}]})
    with pytest.raises(ScenarioError, match=r"^scenario: template\[1\]\.connectors: expected a positive integer"):
        parse_scenario({"template": [{"connectors": 0}]})


def _gaps(sc, seed=4, until=20 * 3600.0):
    """Per connector, the time from the previous unplug (or the station's start) to each plug-in."""
    d = Driver(sc, seed)
    out = []
    for n in (1, 2, 3):
        last = d.start_offset(n)
        for ev in d.connector_plan(n, 1):
            if ev.t >= until:
                break
            if ev.kind == "plug_in":
                out.append(ev.t - last)
            elif ev.kind == "plug_out":
                last = ev.t
    return out


def test_arrival_distributions():
    base = {"driver": {"session_duration": 100, "plug_to_card": 1, "card_to_unplug": 1}}
    fixed = parse_scenario({"driver": {**base["driver"], "arrival": {"distribution": "fixed", "value": 600}}})
    assert fixed.arrival is not None and fixed.arrival.kind == "fixed"
    g = _gaps(fixed)
    assert len(g) > 100 and all(abs(x - 600) < 1e-6 for x in g)
    uni = parse_scenario({"driver": {**base["driver"], "arrival": {"distribution": "uniform", "min": 100, "max": 200}}})
    g = _gaps(uni)
    assert len(g) > 100 and min(g) >= 100 and max(g) <= 200 and max(g) - min(g) > 80
    normal = parse_scenario({"driver": {**base["driver"],
                                        "arrival": {"distribution": "normal", "mean": 300, "sd": 100, "min": 50}}})
    g = _gaps(normal)
    assert min(g) >= 50 and 270 < sum(g) / len(g) < 330
    expo = parse_scenario({"driver": {**base["driver"], "arrival": {"distribution": "exponential", "mean": 400}}})
    g = _gaps(expo)
    assert 340 < sum(g) / len(g) < 460
    # {distribution = "exponential"} without a mean is the default: its mean from sessions_per_hour
    rate = {"driver": {**base["driver"], "sessions_per_hour": 6.0}}
    default = parse_scenario(rate)
    same = parse_scenario({"driver": {**rate["driver"], "arrival": {"distribution": "exponential"}}})
    assert default.arrival is None and same.arrival is None
    assert Driver(default, 3).planned(5, 36000.0) == Driver(same, 3).planned(5, 36000.0)
    g = _gaps(default, until=200 * 3600.0)
    assert 520 < sum(g) / len(g) < 680  # 3600 / 6


def test_arrival_errors():
    with pytest.raises(ScenarioError, match=r"^scenario: driver.arrival: this distribution sets the gap between "
                                            r"sessions itself; leave out driver.sessions_per_hour"):
        parse_scenario({"driver": {"sessions_per_hour": 4, "arrival": {"distribution": "fixed", "value": 60}}})
    with pytest.raises(ScenarioError, match=r"^scenario: driver.arrival.distribution: expected one of fixed, "
                                            r"uniform, exponential, normal, lognormal, got 'poisson'$"):
        parse_scenario({"driver": {"arrival": {"distribution": "poisson"}}})
    with pytest.raises(ScenarioError, match=r"^scenario: driver.arrival: distribution normal needs 'sd'$"):
        parse_scenario({"driver": {"arrival": {"distribution": "normal", "mean": 60}}})
    with pytest.raises(ScenarioError, match=r"^scenario: driver.arrival.value: unknown key for distribution uniform"):
        parse_scenario({"driver": {"arrival": {"distribution": "uniform", "min": 1, "max": 2, "value": 3}}})


def test_power_cuts_are_planned_per_station_from_the_seed():
    sc = parse_scenario({"driver": {"sessions_per_hour": 0},
                         "faults": {"power_cut_rate": 2.0, "backup_power": 0.25}})
    plan = Driver(sc, 5).planned(50, 10 * 3600.0)
    assert plan == Driver(sc, 5).planned(50, 10 * 3600.0)
    assert {ev.kind for ev in plan} == {"power_cut"} and {ev.connector for ev in plan} == {0}
    assert 800 < len(plan) < 1200  # 2 per hour x 10 h x 50 stations
    backup = sum(1 for ev in plan if ev.arg is True)
    assert 0.18 < backup / len(plan) < 0.32
    # power cuts do not move the sessions: their draws come from their own generator
    with_sessions = parse_scenario({"faults": {"power_cut_rate": 2.0}})
    without = parse_scenario({})
    a = [ev for ev in Driver(with_sessions, 5).planned(5, 7200.0) if ev.kind != "power_cut"]
    assert a == Driver(without, 5).planned(5, 7200.0)


def test_fault_keys_are_checked():
    with pytest.raises(ScenarioError, match=r"^scenario: faults.backup_power: expected 0..1, got 1.5$"):
        parse_scenario({"faults": {"backup_power": 1.5}})
    with pytest.raises(ScenarioError, match=r"^scenario: faults.power_cut_rate: expected a number >= 0.0, got -1$"):
        parse_scenario({"faults": {"power_cut_rate": -1}})
    with pytest.raises(ScenarioError, match=r"^scenario: faults.power_cuts: unknown key \(expected one of: network_drop_probability, "
                                            r"network_outage, power_cut_rate, backup_power\)$"):
        parse_scenario({"faults": {"power_cuts": 1}})
    with pytest.raises(ScenarioError, match=r"^scenario: csms.error_rate \+ csms.silence_rate: expected less than 1, "
                                            r"got 1$"):
        parse_scenario({"csms": {"error_rate": 0.5, "silence_rate": 0.5}})
    with pytest.raises(ScenarioError, match=r"^scenario: csms.error_rate: expected 0..1, got 2$"):
        parse_scenario({"csms": {"error_rate": 2}})
    with pytest.raises(ScenarioError, match=r"^scenario: csms.errors: unknown key \(expected one of: boot_interval, error_rate, "
                                            r"silence_rate, local_list_fraction, local_list_size, "
                                            r"reservation_fraction, reservation_duration, smart_charging_fraction, "
                                            r"smart_charging_purpose, smart_charging_unit, smart_charging_periods, "
                                            r"smart_charging_stagger\)$"):
        parse_scenario({"csms": {"errors": 0.1}})
    sc = parse_scenario({"csms": {"error_rate": 0.1, "silence_rate": 0.05, "boot_interval": 30}})
    assert (sc.csms_error_rate, sc.csms_silence_rate, sc.csms_keys) == (0.1, 0.05, ["boot_interval", "error_rate",
                                                                                   "silence_rate"])


def test_csms_faults_are_seeded_and_hit_a_message_id_once():
    f = CsmsFaults(7, 0.1, 0.05)
    got = [f.decide(f"CP{n % 10}", f"id-{n}") for n in range(20000)]
    c = Counter(got)
    assert 0.09 < c["error"] / 20000 < 0.11 and 0.04 < c["silence"] / 20000 < 0.06
    twin = CsmsFaults(7, 0.1, 0.05)
    assert [twin.decide(f"CP{n % 10}", f"id-{n}") for n in range(20000)] == got  # the same seed, the same draws
    other = CsmsFaults(8, 0.1, 0.05)
    assert [other.decide(f"CP{n % 10}", f"id-{n}") for n in range(20000)] != got
    # a faulted message id, sent again (a transaction message's retry keeps its id), is answered
    hit = [n for n, x in enumerate(got) if x is not None]
    assert all(f.decide(f"CP{n % 10}", f"id-{n}") is None for n in hit)
    assert not CsmsFaults(1, 0.0, 0.0)


def test_identity_patterns_must_give_distinct_valid_identities():
    assert check_identity_pattern("CP{n:03d}", 3) == ["CP001", "CP002", "CP003"]
    assert check_identity_pattern("A B#{n}", 2) == ["A B#1", "A B#2"]  # percent-encoded into the URL
    assert check_identity_pattern("CP", 1) == ["CP"]
    with pytest.raises(ValueError, match=r"^pattern 'CP' gives several stations the identity 'CP'; it needs \{n\}"):
        check_identity_pattern("CP", 3)
    with pytest.raises(ValueError, match=r"^pattern 'X\{n:02d\}/' gives station 1 the identity 'X01/'; "
                                          r"expected a non-empty identity of printable characters without '/' "
                                          r"\(at most 48\)$"):
        check_identity_pattern("X{n:02d}/", 2)
    with pytest.raises(ValueError, match=r"^bad pattern 'CP\{m\}': KeyError"):
        check_identity_pattern("CP{m}", 2)
    with pytest.raises(ValueError, match=r"at most 48"):
        check_identity_pattern("X" * 48 + "{n}", 1)
    with pytest.raises(ScenarioError, match=r"^scenario: fleet.identity_pattern: bad pattern 'CP\{0\}'"):
        parse_scenario({"fleet": {"identity_pattern": "CP{0}"}})


def test_example_scenarios_load():
    basic = load_scenario(EXAMPLES / "fleet-basic.toml")
    assert basic.identity(7) == "SIM00007" and basic.drop_probability > 0
    faults = load_scenario(EXAMPLES / "fleet-faults.toml")
    assert [t.name for t in faults.templates] == ["ac-post", "dc-fast"]
    assert faults.arrival is not None and faults.arrival.kind == "normal"
    assert faults.power_cut_rate > 0 and 0 < faults.backup_power < 1
    assert faults.csms_error_rate > 0 and faults.csms_silence_rate > 0
    assert faults.identities(3) == ["DEPOT-0001", "DEPOT-0002", "DEPOT-0003"]
    peer = load_scenario(EXAMPLES / "fleet-peer-load.toml")  # benchmarks/fleet_peer_load.py's load
    assert (peer.arrival.kind, peer.arrival.params) == ("uniform", {"min": 15.0, "max": 30.0})
    assert (peer.session_duration.kind, peer.session_duration.params) == ("uniform", {"min": 60.0, "max": 80.0})
    assert peer.boot_interval == 29 and peer.ocpp["MeterValueSampleInterval"] == "60"
    assert peer.ocpp["AuthorizationCacheEnabled"] == "false" and peer.drop_probability == 0


def test_fleet_keys_are_checked():
    assert parse_scenario({}).timer_grain == 0.025
    assert parse_scenario({}).event_loop == "asyncio"
    assert parse_scenario({"fleet": {"event_loop": "uvloop"}}).event_loop == "uvloop"
    with pytest.raises(ScenarioError, match=r"fleet.event_loop: expected \"asyncio\" or \"uvloop\", got 'trio'"):
        parse_scenario({"fleet": {"event_loop": "trio"}})
    assert parse_scenario({"fleet": {"timer_grain": 0}}).timer_grain == 0.0
    with pytest.raises(ScenarioError, match=r"fleet.timer_grain: expected 0..1 s, got 2"):
        parse_scenario({"fleet": {"timer_grain": 2}})
    with pytest.raises(ScenarioError, match=r"fleet.timer_grain: expected a number >= 0"):
        parse_scenario({"fleet": {"timer_grain": "fast"}})
    with pytest.raises(ScenarioError, match=r"fleet.ramp: unknown key"):
        parse_scenario({"fleet": {"ramp": 10}})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"fleets": {}}, "scenario: fleets: unknown table (did you mean fleet?)"),
        ({"fleet": {"ramp_rat": 10}}, "scenario: fleet.ramp_rat: unknown key (did you mean ramp_rate?)"),
        ({"station": {"conectors": 2}}, "scenario: station.conectors: unknown key (did you mean connectors?)"),
        ({"template": [{"name": "a"}, {"fixed_cabel": True}]},
         "scenario: template[2].fixed_cabel: unknown key (did you mean fixed_cable?)"),
        ({"driver": {"plug_to_cards": 1}}, "scenario: driver.plug_to_cards: unknown key (did you mean plug_to_card?)"),
        ({"driver": {"session_duration": {"distribution": "normal", "mean": 300, "sdd": 60}}},
         "scenario: driver.session_duration.sdd: unknown key for distribution normal (did you mean sd?)"),
        ({"driver": {"ev_power_w": {"min": 1, "maxx": 2}}}, "scenario: driver.ev_power_w.maxx: unknown key "
                                                            "(did you mean max?)"),
        ({"faults": {"network_outage": {"min": 1, "mean": 2}}},
         "scenario: faults.network_outage.mean: unknown key (expected one of: min, max)"),
        ({"faults": {"backup_powr": 0.5}}, "scenario: faults.backup_powr: unknown key (did you mean backup_power?)"),
        ({"csms": {"boot_intervall": 5}}, "scenario: csms.boot_intervall: unknown key (did you mean boot_interval?)"),
        ({"ocpp": {"MeterValueSampleIntervall": 30}},
         "scenario: ocpp.MeterValueSampleIntervall: unknown OCPP configuration key (did you mean "
         "MeterValueSampleInterval?)"),
        ({"template": [{"name": "dc", "ocpp": {"HeartbeatIntervall": 30}}]},
         "scenario: template[1].ocpp.HeartbeatIntervall: unknown OCPP configuration key (did you mean "
         "HeartbeatInterval?)"),
        ({"ocpp": {"MeterValueSampleInterval": "often"}},
         "scenario: ocpp.MeterValueSampleInterval: expected an integer, got 'often'"),
        ({"fleet": 3}, "scenario: fleet: expected a table [fleet]"),
    ],
)
def test_scenario_errors_name_the_key_path_and_the_closest_valid_key(doc, message):
    """As the station config does (config.did_you_mean): one line, the dotted key path, the likely key."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert str(info.value) == message


def test_a_scenario_file_error_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[faults]\nnetwork_drop_probabilty = 0.1\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (f"{path}: faults.network_drop_probabilty: unknown key "
                               "(did you mean network_drop_probability?)")


def test_fleet_stations_do_not_advertise_firmware_management():
    from ocpp_station.assembly import build_station
    from ocpp_station.store.memory import MemoryStore

    sc = load_scenario(None)
    st = build_station(sc.settings("CP1"), MemoryStore())
    profiles = st.config.text("SupportedFeatureProfiles").split(",")
    assert "FirmwareManagement" not in profiles and "Core" in profiles  # the fleet performs no transfers
    assert "UpdateFirmware" not in st.handlers and "GetDiagnostics" not in st.handlers
