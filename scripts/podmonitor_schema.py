"""Writes tests/data/podmonitor.schema.json: the JSON schema of the Prometheus Operator's PodMonitor
(monitoring.coreos.com/v1), strict (an unknown field anywhere is an error), for tests/test_deploy.py.

The Kubernetes schemas kubernetes-validate bundles have no custom resources, so the PodMonitor's schema is kept here.
It comes from the models that cloudcoil-models-prometheus-operator (Apache-2.0) generates from the Prometheus
Operator's CRD openAPIV3Schema (Apache-2.0). Not a dependency of the project; to regenerate:

    python -m venv /tmp/cc && /tmp/cc/bin/pip install cloudcoil-models-prometheus-operator==0.80.1.0
    /tmp/cc/bin/python scripts/podmonitor_schema.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from cloudcoil.models.prometheus_operator.v1 import PodMonitor

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "podmonitor.schema.json"


def _strict(node):
    if isinstance(node, dict):
        node.pop("title", None)
        node.pop("description", None)
        node.pop("default", None)
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node


def main() -> None:
    schema = _strict(PodMonitor.model_json_schema(by_alias=True))
    schema["properties"]["apiVersion"] = {"const": "monitoring.coreos.com/v1"}
    schema["properties"]["kind"] = {"const": "PodMonitor"}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    doc = {"$comment": ("PodMonitor monitoring.coreos.com/v1 from the Prometheus Operator CRD (Apache-2.0) via "
                        f"cloudcoil-models-prometheus-operator {version('cloudcoil-models-prometheus-operator')} "
                        "(Apache-2.0); written by scripts/podmonitor_schema.py"),
           "$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
