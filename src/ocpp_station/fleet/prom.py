"""``ocpp-station fleet --metrics-listen HOST:PORT``: the fleet process's figures for Prometheus.

The exporter costs the stations nothing: the aggregator already receives each worker's snapshot once a
second (cumulative counters, gauges, the latency samples since the last one); after each, :meth:`update`
takes a copy of the totals, and a scrape turns the latest copy into metric families (a custom collector,
so no Prometheus object is touched per CALL). Labels are low-cardinality: ``action`` (the OCPP actions)
and the run's ``shard``; no per-station label.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import start_http_server

from .metrics import LATENCY_BOUNDS_S, Aggregator


class FleetCollector:
    """Metric families from the aggregator's latest totals (see the module's docstring)."""

    def __init__(self, stations: int, shard: str | None, seed: Any) -> None:
        self.stations = stations
        self.shard = shard or "0/1"
        self.seed = str(seed)
        self.state: dict[str, Any] = {}

    def update(self, agg: Aggregator) -> None:
        def per_action(key: str) -> dict[str, int]:
            c: Counter = Counter()
            for s in agg.snap.values():
                c.update(s.get(key) or {})
            return dict(c)

        hist = [a + b for a, b in zip(agg.hist_drive, agg.hist_stop)]
        self.state = {  # replaced whole: a scrape (another thread) sees one update or the next
            "connected": agg.total("connected"), "accepted": agg.total("accepted"),
            "charging": agg.total("charging_stations"), "queued": agg.total("queued"),
            "call_errors": agg.total("call_errors"), "call_timeouts": agg.total("call_timeouts"),
            "connects": agg.total("connects"), "reconnects": agg.total("reconnects"),
            "disconnects": agg.total("disconnects"), "connect_failures": agg.total("connect_failures"),
            "sent": per_action("sent"), "received": per_action("received_calls"),
            "answered": per_action("answered"), "failed": per_action("failed"),
            "hist": hist, "latency_sum": agg.latency_sum,
        }

    def describe(self) -> list:
        return []

    def collect(self) -> Any:
        s = self.state
        info = GaugeMetricFamily("ocpp_fleet_info", "The fleet run of this process", labels=["shard", "seed"])
        info.add_metric([self.shard, self.seed], 1)
        yield info
        yield GaugeMetricFamily("ocpp_fleet_stations", "Stations this process simulates", value=self.stations)
        for name, key, text in (("connected", "connected", "Stations with their websocket open"),
                                ("accepted", "accepted", "Stations whose last BootNotification was Accepted"),
                                ("charging", "charging", "Stations with at least one transaction running")):
            yield GaugeMetricFamily(f"ocpp_fleet_stations_{name}", text, value=s.get(key, 0))
        yield GaugeMetricFamily("ocpp_fleet_queued_transaction_messages",
                                "Transaction messages queued in the stations", value=s.get("queued", 0))
        answered = s.get("answered", {})
        yield CounterMetricFamily("ocpp_fleet_transactions_started", "StartTransaction CALLs answered",
                                  value=answered.get("StartTransaction", 0))
        yield CounterMetricFamily("ocpp_fleet_transactions_stopped", "StopTransaction CALLs answered",
                                  value=answered.get("StopTransaction", 0))
        for name, key, text in (("calls_sent", "sent", "CALLs the stations sent (retries included)"),
                                ("calls_received", "received", "CALLs the stations received from the CSMS"),
                                ("callresults_received", "answered", "CALLRESULTs the stations received"),
                                ("calls_failed", "failed", "CALLs answered by a CALLERROR or timed out")):
            c = CounterMetricFamily(f"ocpp_fleet_{name}", text, labels=["action"])
            for action, n in sorted(s.get(key, {}).items()):
                c.add_metric([action], n)
            yield c
        for name, key, text in (("callerrors", "call_errors", "CALLERRORs received (injected faults included)"),
                                ("call_timeouts", "call_timeouts", "CALLs left unanswered past MessageTimeout"),
                                ("connects", "connects", "Websocket connections opened"),
                                ("reconnects", "reconnects", "Connections of a station after its first"),
                                ("disconnects", "disconnects", "Websocket connections lost or closed"),
                                ("connect_failures", "connect_failures", "Connection attempts that failed")):
            yield CounterMetricFamily(f"ocpp_fleet_{name}", text, value=s.get(key, 0))
        counts = s.get("hist") or [0] * (len(LATENCY_BOUNDS_S) + 1)
        buckets, cum = [], 0
        for bound, n in zip([*(repr(b) for b in LATENCY_BOUNDS_S), "+Inf"], counts):
            cum += n
            buckets.append((bound, cum))
        yield HistogramMetricFamily("ocpp_fleet_call_latency_seconds", "CALL to CALLRESULT/CALLERROR time",
                                    buckets=buckets, sum_value=s.get("latency_sum", 0.0))


def start_exporter(agg: Aggregator, listen: tuple[str, int], stations: int, shard: str | None,
                   seed: Any) -> tuple[Any, str]:
    """Serve ``/metrics`` on ``listen`` (port 0: a free one) in a daemon thread; returns (server, URL)."""
    collector = FleetCollector(stations, shard, seed)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    agg.listeners.append(collector.update)
    server, _thread = start_http_server(listen[1], listen[0], registry)
    host = listen[0] if ":" not in listen[0] else f"[{listen[0]}]"
    return server, f"http://{host}:{server.server_port}/metrics"
