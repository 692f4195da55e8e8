"""Fleet security profiles: the extra memory and CPU of N stations at security profile 2 (wss:// + Basic auth)
and 3 (mutual TLS, each station's EC P-256 key and certificate made and signed by the fleet CA at its first
connection) against profile 0 (ws://), and the handshake ramp rate.

Each profile runs N one-connector stations against the builtin CSMS (its own process) with a ramp of
``--ramp`` stations a second (above what the handshakes allow, so the ramp rate measured is the handshake
capacity), heartbeats only, for ``--duration`` s. Reported per profile: the peak RSS of the fleet process(es),
the fleet's and the CSMS's CPU seconds, the time until every station was Accepted and N / that time (the ramp
rate reached), and the difference to profile 0.

    .venv/bin/python benchmarks/fleet_tls.py --count 2000 --duration 30
"""

from __future__ import annotations

import argparse
import io
import sys

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet


def scenario(profile: int, ramp: float):
    return parse_scenario({
        "fleet": {"identity_pattern": "TLS{n:05d}", "ramp_rate": ramp, "security_profile": profile},
        "ocpp": {"WebSocketPingInterval": 0, "MeterValueSampleInterval": 0},
        "driver": {"sessions_per_hour": 0.001},  # no sessions: the cost of the links themselves
        "csms": {"boot_interval": 60},
    })


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ramp", type=float, default=2000.0, help="stations started per second")
    ap.add_argument("--profiles", default="0,2,3")
    args = ap.parse_args()
    rows = {}
    for p in (int(x) for x in args.profiles.split(",")):
        err = io.StringIO()
        r = run_fleet(FleetOptions(csms_url="builtin", count=args.count, scenario=scenario(p, args.ramp), seed=1,
                                   duration=args.duration, workers=args.workers, drain_timeout=30.0,
                                   progress=False, err=err))
        if r["accepted"] != args.count:
            print(err.getvalue(), file=sys.stderr)
        t = r["time_to_all_accepted_s"]
        rows[p] = {"rss_mib": sum(r["rss_kib"].values()) / 1024, "fleet_cpu_s": r["cpu"]["fleet_cpu_s"],
                   "csms_cpu_s": r["cpu"].get("csms_cpu_s", 0.0), "all_accepted_s": t, "accepted": r["accepted"],
                   "ramp_per_s": args.count / t if t else None, "failures": r["connect_failures"]}
    base = rows.get(0)
    print(f"{args.count} stations, {args.workers} worker(s), ramp {args.ramp:g}/s, {args.duration:g} s")
    for p, row in rows.items():
        extra = ""
        if base is not None and p != 0:
            extra = (f"  (+{row['rss_mib'] - base['rss_mib']:.1f} MiB = "
                     f"{(row['rss_mib'] - base['rss_mib']) * 1024 / args.count:.1f} KiB/station, "
                     f"fleet CPU +{row['fleet_cpu_s'] - base['fleet_cpu_s']:.1f} s, "
                     f"CSMS CPU +{row['csms_cpu_s'] - base['csms_cpu_s']:.1f} s)")
        ramp = f"{row['ramp_per_s']:.0f}/s" if row["ramp_per_s"] else "-"
        print(f"profile {p}: {row['accepted']} accepted after {row['all_accepted_s']} s ({ramp}), "
              f"{row['failures']} connect failures, RSS {row['rss_mib']:.1f} MiB, fleet CPU {row['fleet_cpu_s']:.1f} s, "
              f"CSMS CPU {row['csms_cpu_s']:.1f} s{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
