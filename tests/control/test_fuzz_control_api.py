"""Property-based fuzzing of the control API: never a 500, always JSON, 4xx name the problem.

An in-process StationRuntime (its loops not running) behind aiohttp's TestServer;
``power_cut`` is replaced by a recorder (the real one SIGKILLs the process).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inprocess_api import in_process_api

from ocpp_station.control.api import build_routes

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

ALLOWED = {200, 400, 404, 413, 422}

# every route of the API, as (method, path template)
ROUTES = [
    (r.method, r.path) for r in build_routes(lambda _req: None) if isinstance(r, web.RouteDef)
]
ROUTES_BY_PATH = {f"{m} {p}": (m, p) for m, p in ROUTES}
BODY_ROUTES = [(m, p) for m, p in ROUTES if m in ("POST", "DELETE")]

# the body fields each endpoint reads
FIELDS = {
    "plug-out": ["side"],
    "id-tag": ["idTag", "connectorId"],
    "ev": ["state", "powerW"],
    "fault": ["errorCode", "info", "vendorErrorCode"],
    "lock": ["failLock", "failUnlock"],
    "power-cut": ["backupPower"],
    "disconnect": ["mode"],
}
GOOD_VALUES = [
    "ev", "station", "both", "charging", "suspended", "GroundFailure", "NoError", "OtherError", "TAG1", "x" * 21,
    1, 2, 0, -1, 3, 7000, 1_000_001, 0.5, True, False, None, "", "1", "drop", "close",
]


# plausible values per endpoint field, so the fuzzing also reaches the hardware and the station
VALID = {
    "plug-out": {"side": ["ev", "station", "both"]},
    "id-tag": {"idTag": ["TAG1", "A", "x" * 20], "connectorId": [1, 2, None]},
    "ev": {"state": ["charging", "suspended"], "powerW": [0, 7000, 11000.5, 1_000_000]},
    "fault": {"errorCode": ["GroundFailure", "OtherError", "ReaderFailure"], "info": ["x", "y" * 50], "vendorErrorCode": ["E1"]},
    "lock": {"failLock": [True, False], "failUnlock": [True, False]},
    "power-cut": {"backupPower": [True, False]},
    "disconnect": {"mode": ["drop", "close"]},
}
REQUIRED = {"id-tag": {"idTag"}, "ev": {"state"}, "fault": {"errorCode"}}


def _valid_dicts(path: str):
    name = path.rsplit("/", 1)[-1]
    fields = VALID.get(name, {})
    req = REQUIRED.get(name, set())
    return st.fixed_dictionaries(
        {k: st.sampled_from(v) for k, v in fields.items() if k in req},
        optional={k: st.sampled_from(v) for k, v in fields.items() if k not in req},
    )


def _fields_of(path: str) -> list[str]:
    return FIELDS.get(path.rsplit("/", 1)[-1], [])


# -- strategies -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)

cids = (
    st.sampled_from(["1", "2"])
    | st.sampled_from(["1", "2", "0", "3", "-1", "abc", "99999999999999999999", "9" * 5000, "²", "١", "+1", " 1", "1.0"])
    | st.integers(min_value=-(10**30), max_value=10**30).map(str)
    | st.text(min_size=1, max_size=12)
).filter(lambda s: s.strip(".") != "")  # "." and ".." are path navigation, not a segment


def _field_dicts(path: str):
    names = _fields_of(path)
    keys = st.sampled_from(names) if names else st.text(max_size=10)
    values = st.sampled_from(GOOD_VALUES) | json_values
    return st.dictionaries(keys | st.text(max_size=10), values, max_size=4) | st.dictionaries(keys, values, max_size=4)


def bodies(path: str):
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(orjson.dumps),
        _field_dicts(path).map(orjson.dumps),
        _valid_dicts(path).map(orjson.dumps),
        _valid_dicts(path).map(orjson.dumps),
        st.just(b""),
        st.just(b"   \n"),
    )


@st.composite
def requests(draw):
    method, template = draw(st.sampled_from(ROUTES))
    cid = draw(cids)
    path = template.replace("{cid}", quote(cid, safe=""))
    if template.endswith("/frames"):
        since = draw(st.sampled_from(["0", "5", "-1", "abc", "²", "9" * 5000, ""]) | st.text(max_size=8))
        path += "?since=" + quote(since, safe="")
    return method, path, draw(bodies(template))


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
async def api():
    async with in_process_api(connectors=2, fixed_cable=False, connector_lock=True) as (client, rt):
        cuts: list = []
        rt.power_cut = lambda backup_power=False: cuts.append(backup_power)  # the real one SIGKILLs the process
        yield client, rt, cuts


STATUSES: dict[tuple[str, int], int] = {}  # (path template tail, status) -> count, to eyeball coverage


async def _check(client: TestClient, method: str, path: str, body: bytes) -> None:
    resp = await client.request(method, path, data=body, headers={"Content-Type": "application/json"})
    raw = await resp.read()
    assert resp.status in ALLOWED, (method, path[:200], body[:200], resp.status, raw[:300])
    key = (method + " " + path.split("?")[0].rsplit("/", 1)[-1][:20], resp.status)
    STATUSES[key] = STATUSES.get(key, 0) + 1
    doc = orjson.loads(raw)  # always JSON
    if resp.status >= 400:
        assert isinstance(doc, dict) and isinstance(doc.get("error"), str), (method, path, doc)
    if resp.status == 422:
        assert isinstance(doc.get("field"), str), (method, path, doc)


# hypothesis cannot wrap coroutine tests directly with an async fixture, so each test
# collects the examples first and then replays them against the server.


async def _fuzz(client, strategy) -> None:
    examples: list = []

    @FUZZ
    @given(strategy)
    def collect(example):
        examples.append(example)

    collect()
    for method, path, body in examples:
        await _check(client, method, path, body)


async def test_fuzz_every_endpoint(api) -> None:
    client, rt, _cuts = api
    await _fuzz(client, requests())
    resp = await client.get("/api/state")
    assert resp.status == 200
    doc = await resp.json()
    assert [c["connectorId"] for c in doc["connectors"]] == [0, 1, 2]


@pytest.mark.parametrize("route", sorted(ROUTES_BY_PATH))
async def test_fuzz_endpoint_bodies(api, route: str) -> None:
    """Per endpoint, on a valid connector: random bodies with its field names."""
    client, _rt, _cuts = api
    method, template = ROUTES_BY_PATH[route]

    @st.composite
    def reqs(draw):
        cid = draw(st.sampled_from(["1", "2"]))
        return method, template.replace("{cid}", cid), draw(bodies(template))

    examples: list = []

    @settings(FUZZ, max_examples=100)
    @given(reqs())
    def collect(example):
        examples.append(example)

    collect()
    for m, path, body in examples:
        await _check(client, m, path, body)
    assert (await client.get("/api/state")).status == 200


@pytest.mark.parametrize("route", sorted(ROUTES_BY_PATH))
async def test_oversize_body_is_413(api, route: str) -> None:
    client, _rt, cuts = api
    method, template = ROUTES_BY_PATH[route]
    path = template.replace("{cid}", "1")
    big = b'{"idTag": "' + b"x" * (70 * 1024) + b'"}'
    resp = await client.request(method, path, data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413, (route, resp.status, (await resp.read())[:200])
    doc = await resp.json()
    assert isinstance(doc["error"], str)
    assert cuts == []  # an oversize power-cut request does not cut the power


@pytest.mark.parametrize("route", sorted(r for r in ROUTES_BY_PATH if r.startswith("POST")))
async def test_oversize_chunked_body_is_413(api, route: str) -> None:
    """Without a Content-Length the body is read up to the limit, then refused."""
    client, _rt, cuts = api
    _method, template = ROUTES_BY_PATH[route]

    async def chunks():
        yield b'{"idTag": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    resp = await client.post(template.replace("{cid}", "1"), data=chunks())
    assert resp.status == 413, (route, resp.status, (await resp.read())[:200])
    assert isinstance((await resp.json())["error"], str)
    assert cuts == []


async def test_power_cut_is_recorded_not_executed(api) -> None:
    client, _rt, cuts = api
    resp = await client.post("/api/power-cut", data=b'{"backupPower": true}')
    assert resp.status == 200
    doc = await resp.json()
    assert doc["identity"] == "CP001" and "connectors" in doc  # the state document, like every action
    import asyncio

    await asyncio.sleep(0)
    assert cuts == [True]


def test_routes_discovered() -> None:
    assert len(ROUTES) >= 12
    assert all(re.match(r"^/api/", p) for _m, p in ROUTES)
