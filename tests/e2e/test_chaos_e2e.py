"""Seeded chaos (issue "nothing lost"): a real station process runs transactions while a driver drawn
from a seed drops the network, makes the CSMS answer CALLERROR or nothing, and SIGKILLs and restarts
the station. At the end every transaction the station started reached the CSMS exactly once as
StartTransaction and once as StopTransaction (a retry may repeat a message with the same message id,
which the spec allows, [JERRATA] 3.1), with its MeterValues in order.

CI runs CHAOS_CYCLES (default 50). The long run (documented in benchmarks/README.md):
    CHAOS_CYCLES=1000 .venv/bin/python -m pytest tests/e2e/test_chaos_e2e.py -s
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict

OCPP = {
    "MeterValueSampleInterval": 1,
    "MessageTimeout": 2,
    "TransactionMessageAttempts": 50,  # CALLERRORs are injected; never give up within a run
    "TransactionMessageRetryInterval": 1,
    "HeartbeatInterval": 30,
    "ConnectionTimeOut": 600,
    "StopTransactionOnEVSideDisconnect": True,
}
TX_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")


async def _until(predicate, timeout: float = 30.0, step: float = 0.1):
    """Wait for an observable condition of the station (its state document)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > end:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(step)


async def test_chaos_nothing_lost(csms, station_factory):
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(1 << 30)))
    cycles = int(os.environ.get("CHAOS_CYCLES", "50"))
    print(f"\nchaos: seed={seed} cycles={cycles}")
    rng = random.Random(seed)
    st = await station_factory(ocpp=OCPP)
    link = await csms.wait_connected("CP001")
    await link.expect("BootNotification")
    restarts = drops = faults = sessions = 0
    charging = False
    network_up = True
    for cycle in range(cycles):
        r = rng.random()
        if r < 0.30:
            if not charging:
                await st.plug_in()
                await st.card(f"TAG{rng.randrange(5)}")
                sessions += 1
            else:
                doc = await st.state()
                tag = doc["connectors"][1]["idTag"]
                if tag:
                    await st.card(tag)
                await st.plug_out()
            charging = not charging
        elif r < 0.45:
            await st.network(not network_up)
            network_up = not network_up
            drops += 1
        elif r < 0.60:
            action = rng.choice(TX_ACTIONS)
            (csms.fail_next if rng.random() < 0.5 else csms.drop_next)("CP001", action)
            faults += 1
        elif r < 0.70:
            await st.kill()  # a power cut
            st = await station_factory(ocpp=OCPP, config_name=f"CP001-{cycle}.toml")
            network_up = True
            restarts += 1
            doc = await st.state()
            charging = doc["connectors"][1]["hardware"]["evPlugged"]
            if charging and doc["connectors"][1]["transactionId"] is None and doc["connectors"][1]["idTag"] is None:
                await st.card(f"TAG{rng.randrange(5)}")  # the car is still plugged in: start again
                sessions += 1
        else:
            await asyncio.sleep(rng.uniform(0.1, 1.2))  # let the session run (meter values accrue)
    # settle: link up, session ended, queue drained
    if not network_up:
        await st.network(True)
    async def settled():
        # end whatever is going on (a session, or a card still waiting for its cable), then wait for
        # the queue to drain; an Authorize may still be under way, so look again each time
        doc = await st.state()
        c = doc["connectors"][1]
        if c["idTag"]:
            await st.card(c["idTag"])
        if c["hardware"]["evPlugged"]:
            await st.plug_out()
        return doc["connected"] and doc["queuedTransactionMessages"] == 0 and c["transactionId"] is None \
            and c["status"] == "Available" and not c["idTag"]

    try:
        await _until(settled, timeout=60)
    except TimeoutError:
        raise AssertionError(f"station did not settle: {await st.state()}") from None
    print(f"chaos: sessions={sessions} restarts={restarts} network drops={drops} injected faults={faults}")

    # -- what the CSMS saw, retries (same message id) counted once --------------------------------
    seen: dict[str, object] = {}
    for c in link.calls:
        if c.action in TX_ACTIONS:
            seen.setdefault(c.unique_id, c)
    starts = [c for c in seen.values() if c.action == "StartTransaction"]
    stops = [c for c in seen.values() if c.action == "StopTransaction"]
    start_ids = [link.starts[c.unique_id] for c in starts]
    assert len(set(start_ids)) == len(start_ids)
    stop_ids = [c.payload["transactionId"] for c in stops]
    assert sorted(stop_ids) == sorted(start_ids), (sorted(start_ids), sorted(stop_ids))
    assert -1 not in stop_ids
    values = defaultdict(list)
    for c in seen.values():
        if c.action == "MeterValues" and "transactionId" in c.payload:
            values[c.payload["transactionId"]].append(c.payload["meterValue"][0]["timestamp"])
    for tx_id, stamps in values.items():
        assert tx_id in start_ids
        assert stamps == sorted(stamps), f"MeterValues of transaction {tx_id} out of order"
    print(f"chaos: {len(starts)} transactions, each started and stopped exactly once; "
          f"{sum(len(v) for v in values.values())} MeterValues in order")
    assert len(starts) >= 1
    assert await st.stop() == 0
