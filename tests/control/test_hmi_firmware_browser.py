"""The HMI's firmware and diagnostics panel (control/hmi/firmware.js) in a real browser against a real
``ocpp-station run`` process and the dev CSMS: the version, an update waiting for its next attempt, an upload's
result."""

from __future__ import annotations

from datetime import datetime, timezone

from e2e.conftest import csms, free_port, station_factory  # noqa: F401  (the e2e fixtures, reused)
from control.test_hmi_browser import _load, desktop, expect, pytestmark  # noqa: F401

from ocpp_station.csms.files import FileServer


async def test_firmware_panel_shows_the_update_and_the_upload(csms, station_factory, desktop, tmp_path):  # noqa: F811
    page = desktop
    root = tmp_path / "files"
    root.mkdir()
    files = FileServer(root)
    await files.start_http("127.0.0.1", 0)
    try:
        st = await station_factory()
        link = await csms.wait_connected(st.identity)
        await _load(page, st)
        await expect(page.get_by_test_id("fw-version")).to_have_text("ocpp-station 0.1.0")
        await expect(page.get_by_test_id("fw-status")).to_have_text("Idle")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        await link.call("UpdateFirmware", {"location": f"{files.http_url}/firmware/missing.bin", "retrieveDate": now,
                                           "retries": 1, "retryInterval": 60})
        await expect(page.get_by_test_id("fw-status")).to_have_text("Downloading")
        await expect(page.get_by_test_id("fw-detail")).to_contain_text("attempt 1 of 2")
        await expect(page.get_by_test_id("fw-detail")).to_contain_text("next in")
        await link.call("GetDiagnostics", {"location": f"{files.http_url}/diagnostics", "retries": 0})
        await expect(page.get_by_test_id("diag-status")).to_have_text("Uploaded")
        await expect(page.get_by_test_id("diag-detail")).to_have_text("last upload: Uploaded")
        assert await st.stop() == 0
    finally:
        await files.stop()
