"""Time one ChangeConfiguration payload through three JSON-schema validators (why jsonschema-rs)."""

import json
import pathlib
import timeit

import jsonschema
import jsonschema_rs
import ocpp.v16

try:
    import fastjsonschema
except ImportError:  # optional: pip install fastjsonschema
    fastjsonschema = None

schema = json.loads((pathlib.Path(ocpp.v16.__file__).parent / "schemas" / "ChangeConfiguration.json").read_text())
payload = {"key": "MeterValueSampleInterval", "value": "30"}
runs = {
    "jsonschema-rs": (jsonschema_rs.Draft4Validator(schema).is_valid, 200_000),
    "jsonschema": (jsonschema.Draft4Validator(schema).is_valid, 5_000),
}
if fastjsonschema is not None:
    runs["fastjsonschema"] = (fastjsonschema.compile(schema), 200_000)
for name, (fn, n) in runs.items():
    t = timeit.timeit(lambda: fn(payload), number=n) / n
    print(f"{name:15s} {t * 1e6:7.2f} µs per payload")
