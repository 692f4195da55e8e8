"""Real parts in a real ``ocpp-station run`` process: a charging session metered by a Modbus meter (pymodbus's
own server on 127.0.0.1, laid out by the shipped SDM630 map) that stops answering mid-transaction, and the
one-line refusals at start-up. The relay, cables and the EV stay simulated (control API). And an EVSE
controller board (pymodbus's server laid out as the EVSE-DIN table) whose control pilot state starts and
ends the charging, and whose current setting follows a charging profile."""

from __future__ import annotations

import asyncio
import sys

from e2e_steps import SN, split, status
from modbus_meter import MeterSim

MV_ITEMS = "Energy.Active.Import.Register,Power.Active.Import,Voltage.L1,Energy.Active.Export.Register"


def sampled(mv) -> dict[str, str]:
    return {(v.get("measurand", "Energy.Active.Import.Register") + ("." + v["phase"] if "phase" in v else "")): v["value"]
            for m in mv.payload["meterValue"] for v in m["sampledValue"]}


async def test_a_session_metered_by_a_modbus_meter_that_stops_answering_mid_transaction_e2e(csms, booted):
    sim = MeterSim()
    port = await sim.start_tcp()
    try:
        sim.set(energy=123456.0)
        st, link = await booted(
            hardware={"meter": "modbus-tcp", "meter_host": "127.0.0.1", "meter_port": port,
                      "meter_poll_interval": 0.1, "meter_timeout": 0.3},
            ocpp={"MeterValueSampleInterval": 1, "MeterValuesSampledData": MV_ITEMS,
                  "AuthorizeRemoteTxRequests": False},
        )
        await st.plug_in()
        assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
        await st.card("TAG1")
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
        got = split(await link.expect_unordered(["StartTransaction", SN]))
        assert got["StartTransaction"].payload["meterStart"] == 123456  # the meter's register
        assert status(got[SN]) == (1, "Charging", "NoError")
        tx = link.last_transaction_id

        sim.set(energy=124000.0, power=7360.0)  # the meter counts on
        while True:  # sampled every second; the reading shows once the next poll has it
            values = sampled(await link.expect("MeterValues", timeout=4))
            if values["Energy.Active.Import.Register"] == "124000":
                break
        assert values == {"Energy.Active.Import.Register": "124000", "Power.Active.Import": "7360.0",
                          "Voltage.L1": "230.0", "Energy.Active.Export.Register": "0"}

        sim.fail = "silent"  # the meter stops answering
        sim.set(energy=130000.0)  # never read
        fault = await link.expect(SN, ignore=("MeterValues",), timeout=5)
        assert status(fault) == (1, "Faulted", "PowerMeterFailure")
        state = await st.state()
        assert next(c for c in state["connectors"] if c["connectorId"] == 1)["transactionId"] == tx  # it goes on

        await st.card("TAG1")  # the driver ends it: stopped with the last good reading
        stop = await link.expect("StopTransaction", ignore=("MeterValues", SN), timeout=5)
        assert stop.payload["transactionId"] == tx
        assert stop.payload["meterStop"] == 124000
        assert stop.payload["idTag"] == "TAG1"

        sim.fail = None  # the meter answers again: the fault clears
        cleared = await link.expect(SN, ignore=("MeterValues",), timeout=5)
        assert cleared.payload["connectorId"] == 1 and cleared.payload["errorCode"] == "NoError"
        assert await st.stop() == 0
    finally:
        await sim.stop()


async def run_station(tmp_path, hardware: str) -> tuple[int, str]:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nidentity = "CP001"\ncsms_url = "ws://127.0.0.1:9/ocpp"\n'
                   f'data_dir = "{tmp_path / "data"}"\n[hardware]\n{hardware}\n')
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ocpp_station", "run", "--config", str(cfg),
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode, err.decode()


async def test_a_meter_that_does_not_answer_at_start_up_exits_2_with_one_line_e2e(tmp_path):
    sim = MeterSim()
    port = await sim.start_tcp()
    await sim.stop()  # nothing listens there any more
    code, err = await run_station(tmp_path, f'meter = "modbus-tcp"\nmeter_host = "127.0.0.1"\nmeter_port = {port}\n'
                                            "meter_timeout = 0.3")
    assert code == 2
    assert err.startswith(f"ocpp-station: {tmp_path / 'station.toml'}: hardware.meter_host: no Modbus meter "
                          f"answers at 127.0.0.1:{port}: cannot connect"), err
    assert len(err.strip().splitlines()) == 1, err


async def test_a_missing_serial_device_exits_2_naming_the_key_e2e(tmp_path):
    code, err = await run_station(tmp_path, 'rfid = "serial"\nrfid_device = "/dev/ttyNOPE9"')
    assert code == 2
    assert err == (f"ocpp-station: {tmp_path / 'station.toml'}: hardware.rfid_device: expected a device path, "
                   'got "/dev/ttyNOPE9" (no such device)\n')


async def test_a_card_on_a_serial_reader_starts_and_stops_a_session_e2e(csms, booted):
    import os

    master, slave = os.openpty()  # the reader's end is the pseudo-terminal the station opens
    try:
        st, link = await booted(hardware={"rfid": "serial", "rfid_device": os.ttyname(slave), "rfid_format": "hex",
                                          "rfid_connector": 1, "rfid_debounce": 0})
        await st.plug_in()
        assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
        os.write(master, b"04a1b2c3\r\n")
        assert (await link.expect("Authorize")).payload == {"idTag": "04A1B2C3"}
        got = split(await link.expect_unordered(["StartTransaction", SN]))
        assert got["StartTransaction"].payload["idTag"] == "04A1B2C3"
        assert status(got[SN]) == (1, "Charging", "NoError")
        await st.line("card 04A1B2C3 presented at connector 1")  # the session log shows the card's arrival
        # rfid_debounce = 0: the same card again is a new presentation (the debounce is tested with a clock)
        os.write(master, b"zz-not-hex\r\n04A1B2C3\r\n")
        stop = await link.expect("StopTransaction", ignore=(SN, "MeterValues"))
        assert stop.payload["idTag"] == "04A1B2C3" and stop.payload["reason"] == "Local"
        assert await st.stop() == 0
    finally:
        os.close(master)
        os.close(slave)


async def test_an_evse_board_starts_charging_and_a_charging_profile_sets_its_current_e2e(csms, booted):
    from evse_board import BoardSim

    board = BoardSim()
    port = await board.start_tcp()
    try:
        st, link = await booted(
            hardware={"ev": "modbus-tcp", "ev_host": "127.0.0.1", "ev_port": port, "ev_poll_interval": 0.1,
                      "ev_timeout": 0.3},
            ocpp={"AuthorizeRemoteTxRequests": False, "StopTransactionOnEVSideDisconnect": True},
        )
        await asyncio.wait_for(board.written(32), 5)  # no limit: the board's maximum
        board.state[1] = "B"  # the EV is plugged in
        assert status(await link.expect(SN, timeout=5)) == (1, "Preparing", "NoError")
        await st.card("TAG1")
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
        got = split(await link.expect_unordered(["StartTransaction", SN]))
        assert status(got[SN]) == (1, "SuspendedEV", "NoError")  # B: the EV does not ask for energy yet
        tx = link.last_transaction_id

        board.state[1] = "C"  # the EV asks for energy
        assert status(await link.expect(SN, timeout=5)) == (1, "Charging", "NoError")

        profile = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                   "chargingProfileKind": "Relative", "transactionId": tx,
                   "chargingSchedule": {"chargingRateUnit": "A",
                                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}}
        conf = await link.call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
        assert conf == {"status": "Accepted"}
        await asyncio.wait_for(board.written(10), 5)  # 10 A x 230 V x 3 phases, back to 10 A on the board

        board.state[1] = "A"  # the EV leaves
        stop = await link.expect("StopTransaction", ignore=(SN,), timeout=5)
        assert (stop.payload["transactionId"], stop.payload["reason"]) == (tx, "EVDisconnected")
        await asyncio.wait_for(board.written(32), 5)  # the transaction's profile ended with it
        assert [a for _, a in board.writes] == [32, 10, 32]
        assert await st.stop() == 0
    finally:
        await board.stop()
