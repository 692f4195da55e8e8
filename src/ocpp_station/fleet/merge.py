"""``ocpp-station fleet merge RUN.json...``: one report (and plot) from the metrics files of a run's shards.

Counts are added up; the stations (``per_station``) are joined, and an identity in two files is refused;
per-action figures are recomputed from the stations, as a single run computes them. Latency percentiles
come from the files' ``latency_histogram`` buckets added together (never averaged): the merged p99 is the
upper bound of the bucket that holds the fleet's 99th percentile sample. The time series are joined
bucket by bucket (same ``t``): messages and gauges added, and each bucket's latency percentiles read from its
points' ``latency_hist`` added together in the same way (files of older versions have none: then the highest
shard's, with a warning).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .metrics import LATENCY_BOUNDS_S, dense_histogram, histogram_latency, histogram_percentile, station_totals

SUMMED = ("stations", "workers", "frames_in", "frames_out", "errors", "call_errors", "call_timeouts", "exceptions",
          "connects", "connect_failures", "disconnects", "network_drops", "power_cuts", "virtual_jumps")
GAUGE_SUMS = ("messages", "connected", "accepted", "charging_stations", "charging_connectors", "queued", "errors",
              "latency_count", "limited_stations")
POWER_SUMS = ("power_w", "limit_w", "limited_power_w")


class MergeError(ValueError):
    """The files cannot be one run's shards (the message names the file)."""


def load_runs(paths: list[Path]) -> list[dict[str, Any]]:
    runs = []
    for p in paths:
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise MergeError(f"{p}: cannot read a metrics file: {exc}") from exc
        if not isinstance(doc, dict) or "per_station" not in doc:
            raise MergeError(f"{p}: not a fleet metrics file (no per_station)")
        if "latency_histogram" not in doc:
            raise MergeError(f"{p}: no latency_histogram (written by an older ocpp-station): rerun that shard")
        if doc["latency_histogram"].get("bounds_ms") != [round(b * 1000, 6) for b in LATENCY_BOUNDS_S] + [None]:
            raise MergeError(f"{p}: latency_histogram has other buckets than this version's")
        doc["_path"] = str(p)
        runs.append(doc)
    return runs


def _add(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b)]


def merge_runs(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The merged metrics document, and warnings (missing shards...)."""
    if not runs:
        raise MergeError("no metrics file")
    first = runs[0]
    warnings: list[str] = []
    for r in runs[1:]:
        for key in ("seed", "time_base", "bucket_s"):
            if str(r.get(key)) != str(first.get(key)):
                raise MergeError(f"{r['_path']}: {key} {r.get(key)!r}, but {first['_path']} has {first.get(key)!r}: "
                                 "not shards of one run")
    stations: dict[str, Any] = {}
    for r in runs:
        for identity, st in r["per_station"].items():
            if identity in stations:
                raise MergeError(f"{r['_path']}: station {identity!r} is in another file too: the shards overlap")
            stations[identity] = st
    shards = [r.get("shard") for r in runs]
    if all(shards):
        n = {int(str(s).split("/")[1]) for s in shards}
        if len(n) > 1:
            raise MergeError(f"shards of different N: {', '.join(map(str, shards))}")
        total = n.pop()
        seen = {int(str(s).split("/")[0]) for s in shards}
        missing = sorted(set(range(total)) - seen)
        if missing:
            warnings.append(f"{len(missing)} of {total} shards missing: " + ", ".join(f"{i}/{total}" for i in missing))
    out: dict[str, Any] = {k: sum(r.get(k) or 0 for r in runs) for k in SUMMED}
    out["count"] = max((r.get("count") or r["stations"]) for r in runs)
    out["shard"] = None
    out["shards"] = shards
    out["merged_from"] = [r["_path"] for r in runs]
    out["seed"] = first.get("seed")
    out["csms"] = first.get("csms")
    out["scenario"] = first.get("scenario")
    out["drain_s"] = max((r.get("drain_s") or 0) for r in runs)
    out["drain_given_up"] = any(r.get("drain_given_up") for r in runs)
    out["wall_s"] = max(r.get("wall_s") or 0 for r in runs)
    virtual = [r.get("virtual_s") for r in runs if r.get("virtual_s") is not None]
    out["virtual_s"] = max(virtual) if virtual else None
    out["messages_per_s"] = round((out["frames_in"] + out["frames_out"]) / out["wall_s"], 1) if out["wall_s"] else 0
    out["accepted"] = sum(1 for s in stations.values() if s["accepted_at"] is not None)
    times = [r.get("time_to_all_accepted_s") for r in runs]
    out["time_to_all_accepted_s"] = None if any(t is None for t in times) else max(times)
    answered, failed, received, answers = station_totals(stations)
    out["answered"] = dict(sorted(answered.items()))
    out["failed"] = dict(sorted(failed.items()))
    out["received"] = dict(sorted(received.items()))
    out["csms_call_answers"] = {a: dict(sorted(c.items())) for a, c in sorted(answers.items())}
    out["queued_tx_at_end"] = sum(s["queued"] for s in stations.values())
    out["open_transactions_at_end"] = sum(s["open_transactions"] for s in stations.values())
    out["dropped_tx_messages"] = sum(s["dropped_tx_messages"] for s in stations.values())
    reasons: Counter = Counter()
    templates: Counter = Counter()
    faults: Counter = Counter()
    for r in runs:
        reasons.update(r.get("connect_failure_reasons") or {})
        templates.update(r.get("templates") or {})
        faults.update(r.get("csms_faults") or {})
    out["connect_failure_reasons"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    out["templates"] = dict(sorted(templates.items()))
    out["csms_faults"] = {"errors": faults.get("errors", 0), "silences": faults.get("silences", 0)}
    empty = [0] * (len(LATENCY_BOUNDS_S) + 1)
    drive, stop = list(empty), list(empty)
    for r in runs:
        drive = _add(drive, r["latency_histogram"]["driving"])
        stop = _add(stop, r["latency_histogram"]["stop"])
    out["latency_histogram"] = {"bounds_ms": first["latency_histogram"]["bounds_ms"], "driving": drive, "stop": stop}
    out["latency_ms"] = histogram_latency(drive)
    out["stop_latency_ms"] = histogram_latency(stop)
    out["latency_from"] = "histogram"  # bucket upper bounds (see docs/fleet.md, merging shards)
    out["steady_cpu"] = None
    out["steady_latency_ms"] = {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    cpu: Counter = Counter()
    for r in runs:
        cpu.update({k: v for k, v in (r.get("cpu") or {}).items() if k.endswith("_s")})
    out["cpu"] = {k: round(v, 2) for k, v in cpu.items()}
    out["rss_kib"] = {f"{r.get('shard') or i}/{w}": v for i, r in enumerate(runs) for w, v in (r.get("rss_kib") or {}).items()}
    out["time_base"] = first.get("time_base")
    out["bucket_s"] = first.get("bucket_s")
    out["time_series"] = merge_series([r.get("time_series") or [] for r in runs])
    old = [r["_path"] for r in runs if any("latency_hist" not in p for p in r.get("time_series") or [])]
    if old:
        warnings.append(f"{', '.join(old)}: time series without latency_hist (an older ocpp-station): the "
                        "merged buckets' latency p50/p99 are the highest shard's where a point has none")
    out["max_queued_tx"] = max([p["queued"] for p in out["time_series"]] or [0])
    out["per_station"] = dict(sorted(stations.items()))
    return out, warnings


def merge_series(series: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    by_t: dict[float, list[dict[str, Any]]] = {}
    for s in series:
        for p in s:
            by_t.setdefault(p["t"], []).append(p)
    out = []
    for t in sorted(by_t):
        ps = by_t[t]
        span = max(p.get("span_s") or 0 for p in ps)
        point: dict[str, Any] = {"t": t, "virtual_t": ps[0].get("virtual_t"), "span_s": span}
        for k in GAUGE_SUMS:
            point[k] = sum(p.get(k) or 0 for p in ps)
        point["messages_per_s"] = round(sum(p.get("messages_per_s") or 0 for p in ps), 3)
        if all("latency_hist" in p for p in ps):  # the bucket's histograms added up, as for the whole run
            hist: dict[str, int] = {}
            for p in ps:
                for k, c in p["latency_hist"].items():
                    hist[k] = hist.get(k, 0) + c
            counts = dense_histogram(hist)
            point["latency_p50_ms"] = histogram_percentile(counts, 50)
            point["latency_p99_ms"] = histogram_percentile(counts, 99)
            point["latency_hist"] = dict(sorted(hist.items(), key=lambda kv: int(kv[0])))
        else:  # a file of an older version: no histogram, the highest shard's
            for k in ("latency_p50_ms", "latency_p99_ms"):
                vals = [p[k] for p in ps if p.get(k) is not None]
                point[k] = max(vals) if vals else None
        for k in POWER_SUMS:
            vals = [p[k] for p in ps if p.get(k) is not None]
            point[k] = round(sum(vals), 1) if vals else None
        out.append(point)
    return out
