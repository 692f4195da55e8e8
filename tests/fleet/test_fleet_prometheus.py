"""`ocpp-station fleet --metrics-listen`: a Prometheus endpoint, scraped and parsed with prometheus-client's parser."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocpp_station.cli import main


def _scrape(url: str) -> dict:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(families: dict, name: str, **labels) -> float:
    fam = families[name.removesuffix("_total")]  # a counter's family is named without _total, its sample with
    return sum(s.value for s in fam.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.timeout(90)
def test_the_endpoint_serves_the_fleets_figures(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[fleet]\nidentity_pattern = "PM{n:02d}"\nramp_rate = 20.0\n'
                        '[ocpp]\nWebSocketPingInterval = 0\nHeartbeatInterval = 2\n'
                        '[driver]\nsessions_per_hour = 3600.0\nsession_duration = { distribution = "uniform", min = 1, max = 2 }\n')
    proc = subprocess.Popen([sys.executable, "-m", "ocpp_station", "fleet", "--csms", "builtin", "--count", "6",
                             "--shard", "0/2", "--scenario", str(scenario), "--duration", "8", "--no-progress",
                             "--metrics-listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = None
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"Prometheus metrics on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None and url.endswith("/metrics")
        # wait for the condition, bounded: every station Accepted and a transaction reported
        deadline = time.monotonic() + 30
        while True:
            fam = _scrape(url)
            if (_value(fam, "ocpp_fleet_stations_accepted") == 3
                    and _value(fam, "ocpp_fleet_transactions_started_total") >= 1):
                break
            assert time.monotonic() < deadline, "the fleet never reported 3 Accepted stations and a transaction"
            time.sleep(0.2)
        assert _value(fam, "ocpp_fleet_stations") == 3
        assert _value(fam, "ocpp_fleet_stations_connected") == 3
        assert _value(fam, "ocpp_fleet_info", shard="0/2", seed="1") == 1
        assert fam["ocpp_fleet_calls_sent"].type == "counter"
        assert _value(fam, "ocpp_fleet_calls_sent_total", action="BootNotification") == 3
        assert _value(fam, "ocpp_fleet_calls_sent_total", action="StartTransaction") >= 1
        assert _value(fam, "ocpp_fleet_callerrors_total") == 0
        assert _value(fam, "ocpp_fleet_queued_transaction_messages") >= 0
        assert "ocpp_fleet_reconnects" in fam and "ocpp_fleet_calls_received" in fam
        hist = fam["ocpp_fleet_call_latency_seconds"]
        assert hist.type == "histogram"
        buckets = [s for s in hist.samples if s.name.endswith("_bucket")]
        count = [s.value for s in hist.samples if s.name.endswith("_count")][0]
        assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == count >= 3
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
        # low cardinality: no label names a station
        labels = {k for f in fam.values() for s in f.samples for k in s.labels}
        assert labels <= {"action", "le", "shard", "seed"}
        assert not any("PM0" in v for f in fam.values() for s in f.samples for v in s.labels.values())
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_metrics_listen_exits_2(capsys):
    assert main(["fleet", "--csms", "builtin", "--count", "1", "--metrics-listen", "nowhere"]) == 2
    assert capsys.readouterr().err == "ocpp-station: --metrics-listen: expected HOST:PORT, got \"nowhere\"\n"
