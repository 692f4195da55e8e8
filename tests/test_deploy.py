"""deploy/kubernetes and the Dockerfile: the manifests parse, with the kinds and the wiring docs/distributed.md
describes (completion index -> --shard, the scenario ConfigMap, the metrics port, resources)."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from ocpp_station.cli import build_parser
from ocpp_station.fleet import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"


def _docs() -> dict[str, dict]:
    out = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["apiVersion"] and doc["metadata"]["name"], path
            out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def test_the_manifests_parse_with_the_expected_kinds():
    docs = _docs()
    assert set(docs) == {"ConfigMap/ocpp-fleet-scenario", "Job/ocpp-fleet", "Job/ocpp-fleet-merge",
                         "PodMonitor/ocpp-fleet", "PersistentVolumeClaim/ocpp-fleet-results"}
    assert docs["PodMonitor/ocpp-fleet"]["apiVersion"] == "monitoring.coreos.com/v1"
    assert docs["Job/ocpp-fleet"]["apiVersion"] == "batch/v1"


def test_the_indexed_job_runs_shard_i_of_n_with_the_scenario_and_the_metrics_port():
    docs = _docs()
    job = docs["Job/ocpp-fleet"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
    pod = job["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["SHARD"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']")
    args = c["args"]
    assert args[0] == "fleet"
    opts = dict(zip(args[1::2], args[2::2]))
    assert opts["--shard"] == f"$(SHARD)/{job['completions']}"
    # the arguments are the CLI's (the values after substitution)
    cm = docs["ConfigMap/ocpp-fleet-scenario"]["data"]
    assert env["START_AT"]["valueFrom"]["configMapKeyRef"] == {"name": "ocpp-fleet-scenario", "key": "start_at"}
    concrete = [a.replace("$(SHARD)", "3").replace("$(CSMS_URL)", "ws://csms:9000/ocpp")
                .replace("$(START_AT)", cm["start_at"]) for a in args]
    parsed = build_parser().parse_args(concrete)
    assert parsed.shard == f"3/{job['completions']}" and parsed.metrics_listen == "0.0.0.0:9108"
    # the shards' common start: a time with its UTC offset, as fleet --start-at takes it
    assert datetime.fromisoformat(parsed.start_at).tzinfo is not None
    port = int(parsed.metrics_listen.rsplit(":", 1)[1])
    assert c["ports"] == [{"name": "metrics", "containerPort": port}]
    (spread,) = pod["topologySpreadConstraints"]  # a shard per node where possible (docs/distributed.md)
    assert spread["labelSelector"]["matchLabels"].items() <= job["template"]["metadata"]["labels"].items()
    annotations = job["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(port)
    monitor = docs["PodMonitor/ocpp-fleet"]["spec"]
    assert monitor["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor["selector"]["matchLabels"].items() <= job["template"]["metadata"]["labels"].items()
    # the scenario comes from the ConfigMap and is a valid scenario
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["scenario"]["configMap"]["name"] == "ocpp-fleet-scenario"
    key = "scenario.toml"
    assert volumes["scenario"]["configMap"].get("items") is None  # the whole ConfigMap: scenario.toml is a file
    assert str(parsed.scenario) == f"{mounts['scenario']}/{key}"
    scenario = parse_scenario(tomllib.loads(cm[key]))
    # the ramp is the whole run's (station n starts (n-1)/ramp_rate s in, whichever shard): all connected early
    assert int(opts["--count"]) / scenario.ramp_rate <= float(opts["--duration"]) / 4
    assert str(parsed.metrics).startswith(mounts["results"] + "/")
    assert volumes["results"]["persistentVolumeClaim"]["claimName"] == "ocpp-fleet-results"
    # resources, non-root
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    # the merge job reads what the shards write
    merge = docs["Job/ocpp-fleet-merge"]["spec"]["template"]["spec"]["containers"][0]
    assert "ocpp-station fleet merge /results/shard-*.json" in merge["args"][0]


def test_the_dockerfile_is_slim_and_runs_as_a_user():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    user = re.search(r"^USER (\S+)$", text, re.M)
    assert user and user.group(1).split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["ocpp-station"]' in text


def test_the_grafana_dashboard_queries_only_metrics_the_fleet_exports():
    import json

    from ocpp_station.fleet.metrics import Aggregator
    from ocpp_station.fleet.prom import FleetCollector

    collector = FleetCollector(1, None, 1)
    collector.update(Aggregator(1, 1, 0.0))
    exported = set()
    for fam in collector.collect():
        exported.add(fam.name)
        exported.update(s.name for s in fam.samples)
    exported.update(f"{f}_total" for f in list(exported))
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    used = {m for p in dash["panels"] for t in p["targets"] for m in re.findall(r"ocpp_fleet_\w+", t["expr"])}
    assert used and used <= exported, used - exported


# --- the manifests against the schemas of a pinned Kubernetes version, offline ------------------------------------
# kubernetes-validate bundles the JSON schemas of the Kubernetes API (strict: an unknown field is an error). The
# PodMonitor is a custom resource of the Prometheus Operator: its schema is kept in tests/data (see
# scripts/podmonitor_schema.py for where it comes from).

KUBERNETES_VERSION = "1.33.0"
PODMONITOR_SCHEMA = ROOT / "tests" / "data" / "podmonitor.schema.json"


def _validate(doc: dict) -> None:
    """Raises if `doc` does not validate (kubernetes_validate.ValidationError or jsonschema.ValidationError)."""
    import jsonschema
    import kubernetes_validate

    if doc["apiVersion"] == "monitoring.coreos.com/v1":
        import json

        schema = json.loads(PODMONITOR_SCHEMA.read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _all_documents() -> list[tuple[str, dict]]:
    return [(f"{path.name}#{i}", doc) for path in sorted(DEPLOY.glob("*.yaml"))
            for i, doc in enumerate(yaml.safe_load_all(path.read_text())) if doc is not None]


def test_every_manifest_validates_against_the_kubernetes_schemas_strictly():
    docs = _all_documents()
    assert len(docs) == 5
    for where, doc in docs:
        try:
            _validate(doc)
        except Exception as exc:  # the name of the file in the failure
            raise AssertionError(f"{where}: {exc}") from exc


def test_a_broken_manifest_is_rejected():
    import copy

    import jsonschema
    import kubernetes_validate

    docs = _docs()
    job = docs["Job/ocpp-fleet"]

    def broken(change) -> dict:
        doc = copy.deepcopy(job)
        change(doc, doc["spec"]["template"]["spec"]["containers"][0])
        return doc

    bad = [
        broken(lambda d, c: c.update(resourcez=c.pop("resources"))),             # a misspelled field
        broken(lambda d, c: d["spec"].update(completions="10")),                 # a string for an integer
        broken(lambda d, c: c["ports"][0].update(containerPort="9108")),
        broken(lambda d, c: d["spec"]["template"]["spec"].update(restartPolicy=["Never"])),
    ]
    for doc in bad:
        with pytest.raises(kubernetes_validate.ValidationError):
            _validate(doc)
    monitor = docs["PodMonitor/ocpp-fleet"]
    for change in (lambda s: s.update(podMetricEndpoints=s.pop("podMetricsEndpoints")),  # misspelled
                   lambda s: s["podMetricsEndpoints"][0].update(interval="15 seconds"),  # not a duration
                   lambda s: s["selector"].update(matchLabel=s["selector"].pop("matchLabels"))):
        doc = copy.deepcopy(monitor)
        change(doc["spec"])
        with pytest.raises(jsonschema.ValidationError):
            _validate(doc)
    _validate(copy.deepcopy(monitor))  # the copies are sound until changed
