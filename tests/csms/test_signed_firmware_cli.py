"""``ocpp-station operator firmware-signing / signed-update-firmware / get-log`` against a real ``ocpp-station csms
--files-dir`` process: the CSMS's firmware signer, the signature it sends, a signer given through the API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import signal

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import connect

from ocpp_station.features.security import certificates as certs
from pki import CA, key_pem, pem
from .conftest import RawStation
from .test_files_cli import _start
from .test_operator_cli import BOOT


async def test_signed_update_firmware_and_get_log_from_the_operator_cli(tmp_path) -> None:
    image = b"firmware image " * 1000
    (tmp_path / "fw.bin").write_bytes(image)
    csms, http, _ftp = await _start(tmp_path)
    try:
        rc, out, err = await csms.operator("firmware-signing")
        assert rc == 0, err
        doc = json.loads(out)
        root = certs.load_one(doc["manufacturerRootCertificate"])
        signer = certs.load_one(doc["signingCertificate"])
        assert certs.signed_by(signer, root)
        async with connect(f"{csms.ws_url}/CP1", subprotocols=["ocpp1.6"]) as ws:
            st = RawStation(ws)
            await st.call("BootNotification", BOOT)

            async def answer(payload):
                frame = await st.recv(timeout=15)
                await st.send([3, frame[1], payload])
                return frame

            answering = asyncio.create_task(answer({"status": "Accepted"}))
            rc, out, err = await csms.operator("signed-update-firmware", "CP1", "fw.bin", "--request-id", "12",
                                               "--install-date", "2030-01-01T00:00:00Z")
            assert (rc, err) == (0, "")
            assert json.loads(out)["payload"] == {"status": "Accepted"}
            frame = await answering
            assert frame[2] == "SignedUpdateFirmware" and frame[3]["requestId"] == 12
            fw = frame[3]["firmware"]
            assert fw["location"] == f"{http}/firmware/fw.bin" and fw["installDateTime"] == "2030-01-01T00:00:00Z"
            assert fw["signingCertificate"] == doc["signingCertificate"]
            certs.verify_signature(signer, hashlib.sha256(image).digest(), base64.b64decode(fw["signature"]))

            answering = asyncio.create_task(answer({"status": "Accepted", "filename": "s.log"}))
            rc, out, err = await csms.operator("get-log", "CP1", "SecurityLog", f"{http}/diagnostics",
                                               "--request-id", "3")
            assert rc == 0 and json.loads(out)["payload"] == {"status": "Accepted", "filename": "s.log"}
            frame = await answering
            assert frame[2:] == ["GetLog", {"logType": "SecurityLog", "requestId": 3,
                                            "log": {"remoteLocation": f"{http}/diagnostics"}}]

            # a file the server does not have: 404, nothing sent
            rc, out, err = await csms.operator("signed-update-firmware", "CP1", "nothing.bin")
            assert rc == 1 and "no file 'nothing.bin'" in err

        # a signer given (a maker's own key): the certificate is its own trust anchor
        key = ec.generate_private_key(ec.SECP256R1())
        own = CA("Maker Signing Root")
        cert = pem(own.issue(key.public_key(), "Maker Signer"))
        async with aiohttp.ClientSession() as s:
            body = {"signingCertificate": cert, "signingKey": key_pem(key), "manufacturerRootCertificate": own.pem}
            async with s.put(f"{csms.operator_url}/firmware-signing", json=body) as r:
                assert r.status == 200
                got = await r.json()
            assert got == {"manufacturerRootCertificate": own.pem, "signingCertificate": cert}
            assert "PRIVATE" not in json.dumps(got)
            body["signingKey"] = key_pem(ec.generate_private_key(ec.SECP256R1()))  # not the certificate's key
            async with s.put(f"{csms.operator_url}/firmware-signing", json=body) as r:
                assert r.status == 422 and (await r.json())["field"] == "signingCertificate"
    finally:
        csms.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(csms.proc.communicate(), 10)
    assert csms.proc.returncode == 0
