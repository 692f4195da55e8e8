"""`ocpp-station fleet` options: bad values exit 2 with one line naming the option; identities in URLs."""

from __future__ import annotations

import io
import resource

import pytest

from ocpp_station.cli import main
from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.runner import raise_nofile


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "-5"], "ocpp-station: --duration: expected a number of seconds > 0, got -5"),
        (["--duration", "0"], "ocpp-station: --duration: expected a number of seconds > 0, got 0"),
        (["--drain-timeout", "-1"], "ocpp-station: --drain-timeout: expected a number of seconds >= 0, got -1"),
        (["--virtual-time", "--control", "127.0.0.1:0"],
         "ocpp-station: --control cannot be combined with --virtual-time: virtual time runs the whole scenario in a "
         "few seconds of wall time, before a client could use the control API"),
        (["--identity-pattern", "CP"],
         "ocpp-station: --identity-pattern: pattern 'CP' gives several stations the identity 'CP'; it needs {n} "
         "(e.g. CP{n:04d})"),
        (["--identity-pattern", "CP/{n}"],
         "ocpp-station: --identity-pattern: pattern 'CP/{n}' gives station 1 the identity 'CP/1'; expected a "
         "non-empty identity of printable characters without '/' (at most 48)"),
        (["--identity-pattern", "CP{x}"], "ocpp-station: --identity-pattern: bad pattern 'CP{x}': KeyError: 'x'"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv, message, capsys):
    assert main(["fleet", "--csms", "builtin", "--count", "3", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n"


def test_a_scenario_pattern_without_n_is_refused_for_several_stations(tmp_path, capsys):
    sc = tmp_path / "one.toml"
    sc.write_text('[fleet]\nidentity_pattern = "DEPOT"\n')
    assert main(["fleet", "--csms", "builtin", "--count", "2", "--scenario", str(sc)]) == 2
    assert capsys.readouterr().err == (
        f"ocpp-station: {sc}: fleet.identity_pattern: pattern 'DEPOT' gives several stations the identity 'DEPOT'; "
        "it needs {n} (e.g. CP{n:04d})\n")


def test_run_fleet_refuses_what_the_cli_refuses():
    sc = parse_scenario({"fleet": {"identity_pattern": "CP"}})
    with pytest.raises(ValueError, match=r"gives several stations the identity 'CP'"):
        run_fleet(FleetOptions(csms_url="builtin", count=2, scenario=sc, err=io.StringIO()))
    with pytest.raises(ValueError, match=r"^--control cannot be combined with --virtual-time"):
        run_fleet(FleetOptions(csms_url="builtin", count=1, scenario=parse_scenario({}), virtual_time=True,
                               control=("127.0.0.1", 0), err=io.StringIO()))


@pytest.mark.timeout(60)
def test_identities_with_spaces_and_hashes_are_percent_encoded_into_the_url(tmp_path):
    """[OCPPJ] §3.1: the identity is the last path segment of the URL, percent-encoded (as `run` does)."""
    trace = tmp_path / "trace.txt"
    sc = parse_scenario({"fleet": {"identity_pattern": "A B#{n}"}, "driver": {"sessions_per_hour": 0}})
    result = run_fleet(FleetOptions(csms_url="builtin", count=2, scenario=sc, duration=120.0, drain_timeout=10.0,
                                    virtual_time=True, trace_path=trace, progress=False, err=io.StringIO()))
    assert result["accepted"] == 2 and result["errors"] == 0 and result["exceptions"] == 0
    assert sorted(result["per_station"]) == ["A B#1", "A B#2"]
    # the trace has one field per identity: percent-encoded as in the URL
    idents = {line.split(" ")[1] for line in trace.read_text().splitlines()}
    assert idents == {"A%20B%231", "A%20B%232"}


def test_open_file_warning_names_the_stations(monkeypatch):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    monkeypatch.setattr(resource, "setrlimit", lambda *a: (_ for _ in ()).throw(ValueError("not allowed")))
    err = io.StringIO()
    needed = soft + 10
    assert raise_nofile(needed, err, stations=150) == (soft, hard)
    assert err.getvalue().splitlines()[-1] == (
        f"fleet: open-file limit {soft} (hard {hard}) is below the ~{needed} descriptors 150 stations need here; "
        "raise it (ulimit -Hn) or use fewer stations")


def test_control_address_in_use_is_one_line_before_anything_starts(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["fleet", "--csms", "builtin", "--count", "2", "--duration", "5",
                     "--control", f"127.0.0.1:{port}"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"ocpp-station: --control: address 127.0.0.1:{port} is in use\n"  # no CSMS started
