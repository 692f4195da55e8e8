"""The end of a run: the drain lasts long enough for the stations' retry policy, and a run that leaves
transactions unreported says so and exits 3."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocpp_station.cli import main
from ocpp_station.fleet import load_scenario, parse_scenario
from ocpp_station.fleet.runner import EXIT_FAILED, EXIT_OK, EXIT_UNREPORTED, default_drain, exit_status

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# every session's link drops once and stays down 5,000 s: when the driving ends the stations are offline
# with their StopTransactions (and MeterValues) queued
OFFLINE = """
[fleet]
identity_pattern = "OFF{n}"
[ocpp]
WebSocketPingInterval = 0
[driver]
sessions_per_hour = 60.0
session_duration = 400
[faults]
network_drop_probability = 1.0
network_outage = 5000
"""


def test_the_default_drain_follows_the_retry_policy_reconnect_and_outage():
    # A x MessageTimeout + RetryInterval x A(A-1)/2, + 30 s reconnect, + the longest outage with drops
    assert default_drain(parse_scenario({})) == 3 * 30 + 60 * 3 + 30 == 300
    sc = parse_scenario({"ocpp": {"TransactionMessageAttempts": 4, "TransactionMessageRetryInterval": 10,
                                  "MessageTimeout": 5}})
    assert default_drain(sc) == 4 * 5 + 10 * 6 + 30
    # the longest over the templates
    sc = parse_scenario({"ocpp": {"TransactionMessageAttempts": 1},
                         "template": [{"name": "a"}, {"name": "b", "ocpp": {"TransactionMessageAttempts": 5}}]})
    assert default_drain(sc) == 5 * 30 + 60 * 10 + 30
    # examples/fleet-faults.toml: 3 x 30 + 30 x 3, a reconnect, network outages of up to 300 s
    assert default_drain(load_scenario(EXAMPLES / "fleet-faults.toml")) == 180 + 30 + 300


def _run(tmp_path, capsys, *extra):
    sc = tmp_path / "offline.toml"
    sc.write_text(OFFLINE)
    status = main(["fleet", "--csms", "builtin", "--count", "2", "--scenario", str(sc), "--duration", "600",
                   "--virtual-time", "--no-progress", *extra])
    return status, capsys.readouterr().err.splitlines()


def _row(lines, name):
    return next(ln for ln in lines if ln.startswith(f"  {name} "))


@pytest.mark.timeout(60)
def test_by_default_the_drain_outlasts_the_outage_and_every_transaction_is_reported(tmp_path, capsys):
    status, lines = _run(tmp_path, capsys)
    assert "then a drain of up to 5300 s" in lines[1]
    row = _row(lines, "transactions")
    started, stopped = map(int, re.match(r"  transactions +(\d+) started, (\d+) stopped; ", row).groups())
    assert started == stopped > 0
    assert row.endswith("at the end 0 open, 0 messages queued, 0 dropped")
    assert not any("UNREPORTED" in ln for ln in lines)
    assert status == EXIT_OK


@pytest.mark.timeout(60)
def test_a_run_that_ends_with_queued_transaction_messages_says_so_and_exits_3(tmp_path, capsys):
    status, lines = _run(tmp_path, capsys, "--drain-timeout", "60")
    queued = int(re.search(r"at the end 0 open, (\d+) messages queued, 0 dropped$", _row(lines, "transactions"))[1])
    assert queued > 0
    assert _row(lines, "UNREPORTED") == (
        f"  UNREPORTED         {queued} queued transaction messages after the drain of 60 s virtual: the CSMS was "
        "not told of every transaction (exit status 3)")
    assert status == EXIT_UNREPORTED == 3


def _result(**changes):
    r = {"stations": 5, "accepted": 5, "errors": 0, "open_transactions_at_end": 0, "queued_tx_at_end": 0,
         "dropped_tx_messages": 0}
    r.update(changes)
    return r


def test_exit_status_unreported_transactions_first():
    assert exit_status(_result()) == EXIT_OK == 0
    assert exit_status(_result(accepted=4)) == EXIT_FAILED == 1
    assert exit_status(_result(errors=2)) == EXIT_FAILED
    assert exit_status(_result(open_transactions_at_end=1)) == EXIT_UNREPORTED
    assert exit_status(_result(dropped_tx_messages=1)) == EXIT_UNREPORTED
    assert exit_status(_result(queued_tx_at_end=3, accepted=4, errors=1)) == EXIT_UNREPORTED


def test_unreported_names_each_kind():
    from ocpp_station.fleet.metrics import unreported

    assert unreported(_result()) == ""
    assert unreported(_result(open_transactions_at_end=1, queued_tx_at_end=1, dropped_tx_messages=2)) == (
        "1 open transaction, 1 queued transaction message, 2 transaction messages dropped after their last attempt")


@pytest.mark.timeout(60)
def test_a_second_stop_ends_the_drain_and_the_undelivered_messages_are_reported():
    """SIGINT/SIGTERM call Worker.stop: the first ends the driving phase, a second one the drain."""
    import asyncio
    import time

    from ocpp_station.fleet.runner import BuiltinCsms
    from ocpp_station.fleet.sim import Worker

    sc = parse_scenario({
        "fleet": {"identity_pattern": "SIG{n}"},
        "ocpp": {"WebSocketPingInterval": 0},
        "driver": {"arrival": 0.2, "plug_to_card": 0.1, "session_duration": 1.0, "card_to_unplug": 0.1},
        "faults": {"network_drop_probability": 1.0, "network_outage": 1000},  # offline for the rest of the run
    })
    assert default_drain(sc) == 270 + 30 + 1000
    csms = BuiltinCsms(boot_interval=60)
    url = csms.start()
    try:
        async def main():
            w = Worker(0, [1, 2], sc, 1, url, time.time(), duration=2.5, drain_timeout=default_drain(sc))
            loop = asyncio.get_running_loop()
            loop.call_later(2.0, w.stop)  # ends the driving phase early
            ended = loop.create_future()

            def second():
                assert w.ending  # the drain is under way
                w.stop()
                ended.set_result(time.monotonic())

            loop.call_later(3.0, second)
            final = await w.run()
            return final, time.monotonic() - ended.result()

        final, after = asyncio.run(main())
    finally:
        csms.stop()
    assert after < 3.0  # not the 1,300 s drain
    queued = sum(s["queued"] for s in final["stations"].values())
    assert queued > 0  # what the offline stations could not deliver is reported, not lost
    assert final["drain_given_up"] is True


def test_the_summary_says_a_signal_ended_the_drain():
    from ocpp_station.fleet.metrics import summary_text

    r = {"stations": 2, "workers": 1, "wall_s": 8.0, "virtual_s": None, "virtual_jumps": 0, "accepted": 2,
         "time_to_all_accepted_s": 0.2, "frames_in": 26, "frames_out": 26, "messages_per_s": 6.5,
         "latency_ms": {"count": 0, "p50": None, "p90": None, "p99": None, "max": None},
         "stop_latency_ms": {"count": 0, "p50": None, "p90": None, "p99": None, "max": None},
         "errors": 0, "call_errors": 0, "call_timeouts": 0, "exceptions": 0, "connect_failures": 0,
         "network_drops": 2, "open_transactions_at_end": 0, "queued_tx_at_end": 5, "dropped_tx_messages": 0,
         "answered": {"StartTransaction": 2}, "cpu": {}, "rss_kib": {"0": None}, "drain_s": 1300.0}
    row = "  UNREPORTED         5 queued transaction messages after the drain{}: the CSMS was not told of every " \
          "transaction (exit status 3)"
    assert row.format(" of 1300 s") in summary_text(r).splitlines()
    assert row.format(" (ended early by a signal)") in summary_text({**r, "drain_given_up": True}).splitlines()
