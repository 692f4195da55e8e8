"""The HMI page in a real browser against a real ``ocpp-station run`` process and the dev CSMS.

Playwright drives Debian's Chromium (``apt-get install -y chromium``; never ``playwright install``).
Waiting is on page conditions (``expect``) and on the CSMS's frames (``link.expect``), never on sleeps.
The charging test takes a screenshot; with HMI_SCREENSHOT=docs/hmi.png it refreshes the README's.
"""

from __future__ import annotations

import os
import re

import pytest

from e2e.conftest import csms, free_port, station_factory  # noqa: F401  (the e2e fixtures, reused)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT = os.environ.get("HMI_SCREENSHOT")  # e.g. docs/hmi.png; unset: into the test's tmp_path
TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium) - HMI browser tests skipped"),
]

playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
async_playwright, expect = playwright_api.async_playwright, playwright_api.expect
expect.set_options(timeout=TIMEOUT_MS)


async def _open(viewport: dict[str, int]):
    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = await browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # nothing the page asks for is missing (the favicon included)
    page.on("response", lambda r: errors.append(f"404 {r.url}") if r.status == 404 else None)
    return pw, browser, page, errors


@pytest.fixture
async def desktop():
    pw, browser, page, errors = await _open({"width": 1280, "height": 1000})
    try:
        yield page
        assert errors == [], errors  # no JavaScript error on the page
    finally:
        await browser.close()
        await pw.stop()


@pytest.fixture
async def phone():
    pw, browser, page, errors = await _open({"width": 375, "height": 812})
    try:
        yield page
        assert errors == [], errors
    finally:
        await browser.close()
        await pw.stop()


async def _load(page, st) -> None:
    await page.goto(st.base + "/")
    await expect(page.get_by_test_id("live")).to_have_text("live")
    await expect(page.get_by_test_id("registration")).to_have_text("Accepted")
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Available")


async def test_plug_in_and_card_start_charging(csms, station_factory, desktop, tmp_path) -> None:  # noqa: F811
    page = desktop
    st = await station_factory()
    link = await csms.wait_connected(st.identity)
    await link.expect("BootNotification")
    await _load(page, st)
    await expect(page.get_by_test_id("connection")).to_have_text("connected")
    await expect(page.get_by_test_id("network")).to_have_text("up")
    status = page.get_by_test_id("connector-1-status")

    await page.get_by_role("button", name="Plug in connector 1").click()
    await expect(status).to_have_text("Preparing")
    await page.get_by_label("Card idTag").fill("04A2B3C4D5")
    await page.get_by_role("button", name="Present card", exact=True).click()

    start = await link.expect("StartTransaction", ignore=("StatusNotification", "Authorize", "Heartbeat"))
    assert start.payload["idTag"] == "04A2B3C4D5"
    await expect(status).to_have_text("Charging")
    tx = (await st.state())["connectors"][1]["transactionId"]
    await expect(page.locator("#c1-transactionId")).to_have_text(str(tx))
    await expect(page.locator("#c1-idTag")).to_have_text("04A2B3C4D5")
    await expect(page.get_by_role("alert")).to_have_count(0)  # nothing went wrong
    # the page brings its icon (no request for a missing /favicon.ico)
    icon = await page.locator('link[rel="icon"]').get_attribute("href")
    assert icon and icon.startswith("data:image/svg+xml,"), icon
    assert await page.evaluate("""(href) => new Promise((done) => {
        const img = new Image();
        img.onload = () => done(img.naturalWidth > 0);
        img.onerror = () => done(false);
        img.src = href;
    })""", icon)
    # energy moves without the page polling: the server pushes state while charging
    await expect(page.locator("#c1-power")).not_to_have_text(re.compile(r"^(–|0\.00)$"))
    energy = page.locator("#c1-energy")
    await expect(energy).to_have_text(re.compile(r"^\d+\.\d{3}$"))
    await expect(energy).not_to_have_text(await energy.text_content() or "")
    # the meter's register and the session's energy, each labelled
    session = page.locator("#c1-sessionEnergy")
    await expect(session).to_have_text(re.compile(r"^\d+\.\d{3}$"))
    assert float(await session.text_content() or "") < float(await energy.text_content() or "")
    facts = page.locator("#connector-1 .facts")
    await expect(facts.locator("dt")).to_contain_text(["Meter register", "Session energy"])
    await expect(facts.locator("div", has=session)).to_contain_text("kWh")
    # a fixed cable (the default hardware): no station-side plug-out button
    await expect(page.get_by_role("button", name="Plug out station side, connector 1")).to_be_hidden()
    await expect(page.get_by_role("button", name="Plug out EV side, connector 1")).to_be_visible()
    # a badge is as wide as its text, not as its column
    queued = await page.locator("#queued").bounding_box()
    column = await page.locator("#queued").locator("..").bounding_box()
    assert queued and column and queued["width"] < column["width"] / 2, (queued, column)

    # the frame log shows both directions; a click shows the payload
    frames = page.get_by_role("list", name=re.compile("OCPP frames"))
    await expect(frames.get_by_role("button", name=re.compile(r"out to CSMS StartTransaction$"))).to_have_count(1)
    await expect(frames.get_by_role("button", name=re.compile(r"in from CSMS StartTransaction\.conf$"))).to_have_count(1)
    await frames.get_by_role("button", name=re.compile(r"out to CSMS StartTransaction$")).click()
    await expect(page.locator("#payload")).to_contain_text('"idTag": "04A2B3C4D5"')
    await expect(page.locator("#payload-title")).to_contain_text("StartTransaction CALL")

    await page.screenshot(path=SCREENSHOT or str(tmp_path / "hmi.png"), full_page=True)

    # the EV pauses from the page: the CSMS hears SuspendedEV
    await page.get_by_role("button", name="EV suspended, connector 1").click()
    await expect(status).to_have_text("SuspendedEV")
    sn = await link.expect("StatusNotification", ignore=("MeterValues", "Heartbeat"))
    assert sn.payload["status"] == "SuspendedEV"


async def test_invalid_input_shows_the_api_error(csms, station_factory, phone) -> None:  # noqa: F811
    page = phone
    st = await station_factory(hardware={"fixed_cable": False})
    await _load(page, st)
    # a socket: the cable can come out at the station
    await expect(page.get_by_role("button", name="Plug out station side, connector 1")).to_be_visible()
    # at phone width nothing spills sideways
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375

    tag = "A" * 21
    status, doc = await st.api("POST", "/api/id-tag", {"idTag": tag})  # what the API itself says
    assert status == 422 and doc["field"] == "idTag", (status, doc)

    await page.get_by_label("Card idTag").fill(tag)
    await page.get_by_role("button", name="Present card", exact=True).click()
    alert = page.get_by_role("alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text(doc["error"])
    await expect(alert).to_contain_text("field idTag")
    await expect(alert).to_contain_text("422")
    await expect(page.get_by_label("Card idTag")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#card-form + #alert")).to_be_visible()  # next to the control that caused it
    await expect(alert).to_be_in_viewport()

    # the next action that succeeds clears the alert; its "done" line goes away by itself
    await page.get_by_role("button", name="Plug in connector 1").click()
    await expect(alert).to_have_count(0)
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Preparing")
    status_line = page.locator("#status")
    await expect(status_line).to_have_text("Plug in connector 1: done")
    await expect(status_line).to_have_text("")

    # the kW field's error speaks kW, next to the field, in view on a phone
    status, doc = await st.api("POST", "/api/connectors/1/ev", {"state": "charging", "powerW": 2_000_000})
    assert (status, doc["error"]) == (422, "powerW must be between 0 and 1000000"), (status, doc)
    await page.get_by_label("EV power in kW, connector 1").fill("2000")
    await page.get_by_role("button", name="EV charging, connector 1").click()
    await expect(alert).to_have_text("EV charging on connector 1 refused (HTTP 422) — field EV power (kW): "
                                     "EV power (kW) must be between 0 and 1000")
    await expect(page.locator('#connector-1 [data-group="ev"] + #alert')).to_be_visible()
    await expect(alert).to_be_in_viewport()
    await page.get_by_label("EV power in kW, connector 1").fill("")

    # every fault the page offers is one the API takes (ChargePointErrorCode that can go with Faulted)
    from ocpp_station.control.validation import ERROR_CODES, WARNING_ONLY_CODES

    options = await page.get_by_label("Fault error code, connector 1").locator("option").all_text_contents()
    assert len(options) == len(set(options)) and set(options) == ERROR_CODES - {"NoError"} - WARNING_ONLY_CODES, options

    # fault and clear from the page
    await page.get_by_label("Fault error code, connector 1").select_option("HighTemperature")
    await page.get_by_role("button", name="Raise fault, connector 1").click()
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Faulted")
    await expect(page.locator("#c1-errorCode")).to_have_text("HighTemperature")
    await page.get_by_role("button", name="Clear fault, connector 1").click()
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Preparing")

    # network down / up from the page
    await page.get_by_role("button", name="Network down").click()
    await expect(page.get_by_test_id("network")).to_have_text("down")
    await expect(page.get_by_test_id("connection")).to_have_text("disconnected")
    await page.get_by_role("button", name="Network up").click()
    await expect(page.get_by_test_id("connection")).to_have_text("connected")


async def test_page_drives_the_demo(tmp_path, desktop) -> None:
    """``ocpp-station demo --keep-running``: the page follows the scripted session, then drives the station;
    the demo's saved cards answer what their names say."""
    import asyncio
    import signal
    import sys

    page = desktop
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "demo", "--speed", "10", "--keep-running", "--control", f"127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
            assert line, "the demo ended before printing the page URL"
            m = re.search(r"HMI page: (http://\S+/)", line)
            url = m.group(1) if m else None
        assert url == f"http://127.0.0.1:{port}/"
        drain = asyncio.create_task(proc.stdout.read())  # keep the pipe flowing
        await page.goto(url)
        await expect(page.get_by_test_id("live")).to_have_text("live")
        frames = page.get_by_role("list", name=re.compile("OCPP frames"))
        # the scripted session, seen live: it starts, stops, and the cable is unplugged
        await expect(frames.get_by_role("button", name=re.compile(r"out to CSMS StopTransaction$"))).to_have_count(1)
        status = page.get_by_test_id("connector-1-status")
        await expect(status).to_have_text("Available")
        # then the page drives the station: a blocked card is refused, the good one starts a session
        await page.get_by_role("button", name="Plug in connector 1").click()
        await expect(status).to_have_text("Preparing")
        await page.get_by_role("button", name="Present saved card BLOCKED01").click()
        authorized = frames.get_by_role("button", name=re.compile(r"in from CSMS Authorize\.conf$"))
        await expect(authorized).to_have_count(2)  # the scripted session's, then this one
        await authorized.last.click()
        await expect(page.locator("#payload")).to_contain_text('"Blocked"')
        await expect(status).to_have_text("Preparing")
        await page.get_by_role("button", name="Present saved card 04A2B3C4D5").click()
        await expect(status).to_have_text("Charging")
        await expect(frames.get_by_role("button", name=re.compile(r"out to CSMS StartTransaction$"))).to_have_count(2)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    await drain
    assert proc.returncode == 0  # Ctrl-C with a page open still stops cleanly


async def test_lost_event_stream_marks_the_state_stale(csms, station_factory, desktop) -> None:  # noqa: F811
    """The station goes away: the page says its state is out of date and turns its controls off until the
    stream is back."""
    page = desktop
    st = await station_factory()
    await _load(page, st)
    plug_in = page.get_by_role("button", name="Plug in connector 1")
    stale = page.get_by_test_id("stale")
    await expect(stale).to_be_hidden()
    await expect(plug_in).to_be_enabled()

    await st.kill()
    await expect(stale).to_be_visible()
    await expect(stale).to_contain_text("Connection to the station lost")
    await expect(page.locator("body")).to_have_class("stale")
    await expect(page.get_by_test_id("live")).to_have_text("reconnecting…")
    for control in (plug_in, page.get_by_role("button", name="Present card", exact=True),
                    page.get_by_label("Card idTag"), page.get_by_role("button", name="Power cut"),
                    page.get_by_label("Fault error code, connector 1")):
        await expect(control).to_be_disabled()
    await expect(page.get_by_role("button", name="Clear frame log")).to_be_enabled()  # the page's own

    # the station comes back on the same address: the stream reconnects, the controls are on again
    await station_factory(control_port=int(st.base.rsplit(":", 1)[1]))
    await expect(page.get_by_test_id("live")).to_have_text("live")
    await expect(stale).to_be_hidden()
    await expect(page.locator("body")).not_to_have_class("stale")
    await expect(plug_in).to_be_enabled()
    await plug_in.click()
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Preparing")


async def test_page_shows_a_reservation_and_the_local_list(csms, station_factory, desktop) -> None:  # noqa: F811
    from datetime import datetime, timedelta, timezone

    page = desktop
    st = await station_factory()
    link = await csms.wait_connected(st.identity)
    await link.expect("BootNotification")
    await _load(page, st)
    await expect(page.get_by_test_id("local-list")).to_have_text("v0 · 0 entries")
    update = {"listVersion": 4, "updateType": "Full",
              "localAuthorizationList": [{"idTag": "AAA", "idTagInfo": {"status": "Accepted"}}]}
    assert await link.call("SendLocalList", update) == {"status": "Accepted"}
    await expect(page.get_by_test_id("local-list")).to_have_text("v4 · 1 entry")
    until = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()
    reserve = {"connectorId": 1, "expiryDate": until, "idTag": "RES1", "parentIdTag": "P1", "reservationId": 12}
    assert await link.call("ReserveNow", reserve) == {"status": "Accepted"}
    await expect(page.get_by_test_id("connector-1-status")).to_have_text("Reserved")
    await expect(page.locator("#c1-reservation")).to_have_text(re.compile(r"^RES1 \(parent P1\) until \d\d:\d\d:\d\d\.\d{3} · #12$"))
    assert await link.call("CancelReservation", {"reservationId": 12}) == {"status": "Accepted"}
    await expect(page.locator("#c1-reservation")).to_have_text("–")


# the end of a path's "d" (M x,y / L x,y / H x / V y): the point the line ends at
_PATH_END = """(id) => {
    const d = document.getElementById(id).getAttribute("d") || "";
    let x = null, y = null;
    for (const [, cmd, args] of d.matchAll(/([MLHV])([^MLHV]*)/g)) {
        const n = args.split(",").map(Number);
        if (cmd === "H") x = n[0]; else if (cmd === "V") y = n[0]; else { x = n[0]; y = n[1]; }
    }
    return [x, y];
}"""

# the y axis: kW value -> y, from the tick labels the page drew (a label sits 3.5 below its grid line)
_Y_AXIS = """(id) => [...document.querySelectorAll("#" + id + " text.ytick")]
    .map((t) => [Number(t.dataset.kw), Number(t.getAttribute("y")) - 3.5, t.textContent])"""


async def _kw_at(page, y: float) -> float:
    ticks = await page.evaluate(_Y_AXIS, "c1-chart")
    (v0, y0, _), (v1, y1, _) = ticks[0], ticks[-1]
    return v0 + (y - y0) * (v1 - v0) / (y1 - y0)


async def test_chart_shows_the_charging_limit_and_the_power(csms, desktop, tmp_path) -> None:  # noqa: F811
    """The connector's chart draws the Smart Charging limit of the state document (``limitW``) as a dashed step
    line at its height in kW, the power as a line that runs on and follows the EV; the readout says the limit.
    The limit is a TxDefaultProfile in W the CSMS sets on connector 1 (the Smart Charging feature of an
    in-process station), then replaces with a lower one."""
    import asyncio

    from ocpp_station.config import RunSettings
    from ocpp_station.core.settings import StationSettings
    from ocpp_station.features import features_for
    from ocpp_station.runtime.app import StationRuntime
    from ocpp_station.store import MemoryStore

    page = desktop
    port = free_port()
    settings = RunSettings(station=StationSettings(identity="CP-CHART"), csms_url=csms.url, data_dir=None,
                           control_listen=("127.0.0.1", port), config_path=None, reconnect_min=0.1, reconnect_max=0.5)
    rt = StationRuntime(settings, MemoryStore, features=features_for(None))

    def tx_default(watts: float) -> dict:
        return {"connectorId": 1, "csChargingProfiles": {
            "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute", "chargingSchedule": {
                "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}}}

    task = asyncio.create_task(rt.run())
    try:
        link = await csms.wait_connected("CP-CHART")
        await link.expect("BootNotification")
        assert await link.call("SetChargingProfile", tx_default(7400.0)) == {"status": "Accepted"}
        base = f"http://127.0.0.1:{port}"
        await page.goto(base + "/")
        await expect(page.get_by_test_id("registration")).to_have_text("Accepted")
        state = rt.station.state(rt.now())
        assert state["connectors"][1]["limitW"] == 7400.0
        limit = page.locator("#c1-limit")
        await expect(limit).to_have_text("7.40 kW")
        # the y axis is in kW; the dashed limit line sits at 7.4 kW
        chart = page.locator("#c1-chart")
        await expect(chart.locator("text.axis-unit")).to_have_text("kW")
        await expect(chart.locator("text.ytick").first).to_have_text("0")
        await page.wait_for_function("document.getElementById('c1-limit-line').getAttribute('d') !== ''")
        _, y = await page.evaluate(_PATH_END, "c1-limit-line")
        assert abs(await _kw_at(page, y) - 7.4) < 0.05, y
        assert await chart.locator(".limit-line").evaluate("e => getComputedStyle(e).strokeDasharray") != "none"

        # charging at 6 kW: the power line is drawn at 6 kW and moves on as time passes
        await page.get_by_role("button", name="Plug in connector 1").click()
        await page.get_by_label("EV power in kW, connector 1").fill("6")
        await page.get_by_role("button", name="EV charging, connector 1").click()
        await page.get_by_label("Card idTag").fill("04A2B3C4D5")
        await page.get_by_role("button", name="Present card", exact=True).click()
        await expect(page.get_by_test_id("connector-1-status")).to_have_text("Charging")
        await expect(page.locator("#c1-power")).to_have_text("6.00")
        await page.wait_for_function("""() => {
            const d = document.getElementById('c1-power-line').getAttribute('d');
            return d && (d.match(/L/g) || []).length >= 2; }""")
        _, y = await page.evaluate(_PATH_END, "c1-power-line")
        assert abs(await _kw_at(page, y) - 6.0) < 0.05, y
        before = await chart.locator(".power-line").get_attribute("d")
        await expect(chart.locator(".power-line")).not_to_have_attribute("d", before or "")  # it runs on

        # the EV draws less: the line follows; the CSMS's limit steps down: the step line follows
        await page.get_by_label("EV power in kW, connector 1").fill("3")
        await page.get_by_role("button", name="EV charging, connector 1").click()
        await page.wait_for_function(f"""() => {{
            const end = ({_PATH_END})('c1-power-line');
            return end[1] !== null && Math.abs(end[1] - {y}) > 5; }}""")
        _, y = await page.evaluate(_PATH_END, "c1-power-line")
        assert abs(await _kw_at(page, y) - 3.0) < 0.05, y
        assert await link.call("SetChargingProfile", tx_default(4000.0)) == {"status": "Accepted"}  # replaces it
        await expect(limit).to_have_text("4.00 kW")
        await page.wait_for_function(f"""() => {{
            const d = document.getElementById('c1-limit-line').getAttribute('d');
            return (d.match(/V/g) || []).length >= 1; }}""")
        _, y = await page.evaluate(_PATH_END, "c1-limit-line")
        assert abs(await _kw_at(page, y) - 4.0) < 0.05, y
        await page.locator("#connector-1").screenshot(path=os.environ.get("HMI_CHART_SCREENSHOT")
                                                       or str(tmp_path / "chart.png"))

        # no limit any more: the readout says so and the dashed line stops
        assert await link.call("ClearChargingProfile", {"id": 1}) == {"status": "Accepted"}
        await expect(limit).to_have_text("none")
    finally:
        rt.stop()
        await asyncio.wait_for(task, 15)
