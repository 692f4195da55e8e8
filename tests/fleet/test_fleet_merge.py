"""`ocpp-station fleet merge`: the merged report of N shards is the single run's report."""

from __future__ import annotations

import io
import json

import pytest

from ocpp_station.cli import main
from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.metrics import LATENCY_BOUNDS_S, histogram, histogram_latency, histogram_percentile

DOC = {
    "fleet": {"identity_pattern": "MG{n:03d}", "ramp_rate": 20.0},
    "station": {"connectors": 2},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 6.0, "session_duration": {"distribution": "uniform", "min": 300, "max": 900}},
    "faults": {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120}},
    "csms": {"boot_interval": 60, "error_rate": 0.03, "silence_rate": 0.02},
}
COUNT = 12
EXACT = ("stations", "accepted", "frames_in", "frames_out", "errors", "call_errors", "call_timeouts", "exceptions",
         "connects", "connect_failures", "disconnects", "network_drops", "power_cuts", "answered", "failed",
         "received", "csms_call_answers", "queued_tx_at_end", "open_transactions_at_end", "dropped_tx_messages",
         "templates", "csms_faults", "time_to_all_accepted_s", "seed")


def _run(tmp_path, name, shard=None):
    path = tmp_path / name
    run_fleet(FleetOptions(csms_url="builtin", count=COUNT, scenario=parse_scenario(DOC), seed=5, duration=1200.0,
                           drain_timeout=300.0, virtual_time=True, progress=False, err=io.StringIO(), shard=shard,
                           metrics_path=path))
    return path


def test_histogram_percentiles_take_the_bucket_of_the_samples_rank():
    samples = [0.001 * k for k in range(1, 101)]  # 1..100 ms
    counts = histogram(samples)
    assert sum(counts) == 100 and len(counts) == len(LATENCY_BOUNDS_S) + 1
    # the sample of rank 50 (51 ms) is in the bucket (50.1, 63.1] ms
    assert histogram_percentile(counts, 50) == 63.1
    assert histogram_percentile(counts, 100) == 100.0
    assert histogram_percentile(histogram([]), 50) is None
    split = _add(histogram(samples[::2]), histogram(samples[1::2]))
    assert histogram_latency(split) == histogram_latency(counts)


def _add(a, b):
    return [x + y for x, y in zip(a, b)]


@pytest.mark.timeout(180)
def test_merged_shards_equal_the_single_run(tmp_path, capsys):
    whole = json.loads(_run(tmp_path, "all.json").read_text())
    parts = [_run(tmp_path, f"s{i}.json", (i, 3)) for i in range(3)]
    merged_path, plot = tmp_path / "merged.json", tmp_path / "all.html"
    assert main(["fleet", "merge", *map(str, parts), "--plot", str(plot), "--metrics", str(merged_path)]) == 0
    err = capsys.readouterr().err
    assert f"fleet merge: 3 file(s), {COUNT} of {COUNT} stations" in err and "warning" not in err
    assert f"fleet: {COUNT} stations" in err  # the summary
    merged = json.loads(merged_path.read_text())
    assert whole["accepted"] == COUNT and whole["answered"]["StartTransaction"] > 0 and whole["network_drops"] > 0
    for key in EXACT:
        assert merged[key] == whole[key], key
    assert merged["per_station"] == whole["per_station"]
    assert merged["shards"] == ["0/3", "1/3", "2/3"] and merged["count"] == COUNT
    # latency: the same samples, counted into the same buckets; percentiles from the summed buckets
    assert merged["latency_ms"]["count"] + merged["stop_latency_ms"]["count"] == (
        whole["latency_ms"]["count"] + whole["stop_latency_ms"]["count"])
    docs = [json.loads(p.read_text()) for p in parts]
    drive = [sum(c) for c in zip(*(d["latency_histogram"]["driving"] for d in docs))]
    assert merged["latency_histogram"]["driving"] == drive
    assert merged["latency_ms"] == histogram_latency(drive)
    assert sum(whole["latency_histogram"]["driving"]) == whole["latency_ms"]["count"]
    # the virtual-time series, bucket by bucket while driving: messages and gauges add up to the single run's
    ws = {p["t"]: p for p in whole["time_series"] if p["t"] < 1200}
    ms = {p["t"]: p for p in merged["time_series"] if p["t"] < 1200}
    assert ws.keys() == ms.keys()
    for t, p in ws.items():
        for k in ("messages", "connected", "accepted", "charging_stations", "queued", "latency_count"):
            assert ms[t][k] == p[k], (t, k)
    assert plot.read_text().startswith("<!DOCTYPE html>") or "<svg" in plot.read_text()


def test_merge_refuses_overlapping_or_foreign_files(tmp_path, capsys):
    a = _run(tmp_path, "a.json", (0, 4))
    assert main(["fleet", "merge", str(a), str(a)]) == 2
    assert "the shards overlap" in capsys.readouterr().err
    assert main(["fleet", "merge", str(a)]) == 0
    assert "warning: 3 of 4 shards missing: 1/4, 2/4, 3/4" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["fleet", "merge", str(bad)]) == 2
    assert capsys.readouterr().err == f"ocpp-station fleet merge: {bad}: not a fleet metrics file (no per_station)\n"


def _snapshot(worker, wall, latencies, frames):
    return {"type": "snapshot", "worker": worker, "wall": wall, "phase": "drive", "latencies": latencies,
            "frames_in": frames, "frames_out": frames}


def test_merged_series_buckets_take_their_percentiles_from_the_summed_histograms():
    from ocpp_station.fleet.merge import merge_series
    from ocpp_station.fleet.metrics import Aggregator, percentile

    # the same samples, seen by one run of two workers and by two shards of one worker each
    rng = __import__("random").Random(3)
    samples = {(w, sec): [rng.lognormvariate(-4.5 + w, 0.8) for _ in range(70 - 30 * w)]
               for w in (0, 1) for sec in range(4)}
    whole = Aggregator(2, 2, 1000.0)
    shards = [Aggregator(1, 1, 1000.0), Aggregator(1, 1, 1000.0)]
    for sec in range(4):
        for w in (0, 1):
            lat = samples[w, sec]
            whole.handle(_snapshot(w, 1000.5 + sec, lat, 10 * sec))
            shards[w].handle(_snapshot(0, 1000.5 + sec, lat, 10 * sec))
    single = whole.time_series()
    merged = merge_series([s.time_series() for s in shards])
    assert [p["t"] for p in merged] == [p["t"] for p in single] == [0, 1, 2, 3]
    for m, p in zip(merged, single):
        assert m["latency_hist"] == p["latency_hist"] and sum(p["latency_hist"].values()) == p["latency_count"]
        counts = [0] * (len(LATENCY_BOUNDS_S) + 1)
        for k, c in p["latency_hist"].items():
            counts[int(k)] = c
        assert counts == histogram(samples[0, p["t"]] + samples[1, p["t"]])
        # the single run's bucket percentiles as fleet merge reads them: the bucket of the same rank
        for q in (50, 99):
            assert m[f"latency_p{q}_ms"] == histogram_percentile(counts, q)
            exact = percentile(sorted(samples[0, p["t"]] + samples[1, p["t"]]), q) * 1000
            assert p[f"latency_p{q}_ms"] == round(exact, 3)
            assert exact <= m[f"latency_p{q}_ms"] < exact * 1.26 + 0.001  # the bucket above the exact sample
        # not the highest shard's: shard 1's samples are slower (mu + 1) and fewer, the fleet's p50 is below its
        assert m["latency_p50_ms"] < max(s.time_series()[p["t"]]["latency_p50_ms"] for s in shards)


def test_merge_reads_series_of_older_files_with_a_warning(tmp_path, capsys):
    a = json.loads(_run(tmp_path, "a.json", (0, 2)).read_text())
    b = json.loads(_run(tmp_path, "b.json", (1, 2)).read_text())
    for p in b["time_series"]:  # as written before the points carried their histogram
        del p["latency_hist"]
    (tmp_path / "b.json").write_text(json.dumps(b))
    out = tmp_path / "m.json"
    assert main(["fleet", "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--metrics", str(out)]) == 0
    err = capsys.readouterr().err
    assert "b.json: time series without latency_hist (an older ocpp-station)" in err
    merged = {p["t"]: p for p in json.loads(out.read_text())["time_series"]}
    for p in b["time_series"]:
        q = next((x for x in a["time_series"] if x["t"] == p["t"]), None)
        if q is not None and p["latency_p99_ms"] is not None and q["latency_p99_ms"] is not None:
            assert merged[p["t"]]["latency_p99_ms"] == max(p["latency_p99_ms"], q["latency_p99_ms"])
