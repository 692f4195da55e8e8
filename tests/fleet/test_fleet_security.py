"""[fleet] security_profile: each station's own AuthorizationKey (1, 2), wss:// from a fleet CA (2, 3), client
certificates signed by that CA (3), against the builtin CSMS; a wrong key or a missing certificate is refused."""

from __future__ import annotations

import io
import re
import ssl

import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from ocpp_station.cli import main
from ocpp_station.csms.pki import server_context
from ocpp_station.fleet import FleetOptions, ScenarioError, parse_scenario, run_fleet
from ocpp_station.fleet.csms_main import FleetCsms
from ocpp_station.fleet.link import Link
from ocpp_station.fleet.security import (FleetSecurity, SeededKeys, authorization_key, basic_auth_header,
                                         make_pki)


def _doc(profile: int) -> dict:
    return {"fleet": {"identity_pattern": "SEC{n:03d}", "security_profile": profile},
            "ocpp": {"WebSocketPingInterval": 0}, "driver": {"sessions_per_hour": 600.0,
                                                            "session_duration": 2, "plug_to_card": 0.2,
                                                            "card_to_unplug": 0.2}}


def test_authorization_keys_are_seeded_hex_and_per_station():
    k1, k2 = authorization_key(1, "SEC001"), authorization_key(1, "SEC002")
    assert re.fullmatch(r"[0-9a-f]{40}", k1) and k1 != k2
    assert authorization_key(1, "SEC001") == k1 != authorization_key(2, "SEC001")


@pytest.mark.parametrize("bad", [4, -1, "2", True, 1.5])
def test_a_bad_security_profile_names_the_key(bad, tmp_path, capsys):
    with pytest.raises(ScenarioError, match=r"fleet\.security_profile: expected 0, 1, 2 or 3"):
        parse_scenario({"fleet": {"security_profile": bad}})
    f = tmp_path / "bad.toml"
    f.write_text(f"[fleet]\nsecurity_profile = {bad!r}\n".replace("True", "true").replace("'", '"'))
    assert main(["fleet", "--csms", "builtin", "--count", "1", "--scenario", str(f)]) == 2
    assert "fleet.security_profile" in capsys.readouterr().err


def test_tls_profiles_need_a_wss_csms_and_a_readable_ca_file(tmp_path, capsys):
    f = tmp_path / "p2.toml"
    f.write_text("[fleet]\nsecurity_profile = 2\n")
    assert main(["fleet", "--csms", "ws://127.0.0.1:1/ocpp", "--count", "1", "--scenario", str(f)]) == 2
    assert "fleet.security_profile: 2 needs a wss:// CSMS" in capsys.readouterr().err
    (tmp_path / "junk.pem").write_text("not a certificate")
    assert main(["fleet", "--csms", "wss://127.0.0.1:1/ocpp", "--count", "1", "--ca-file",
                 str(tmp_path / "junk.pem")]) == 2
    assert "--ca-file" in capsys.readouterr().err


@pytest.mark.timeout(90)
@pytest.mark.parametrize("profile", [0, 1, 2, 3])
def test_every_station_is_accepted_at_each_profile(profile, tmp_path):
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url="builtin", count=6, scenario=parse_scenario(_doc(profile)), seed=4,
                                    duration=2.0, drain_timeout=20.0, progress=False, err=err,
                                    pki_dir=tmp_path / "pki" if profile == 3 else None))
    assert result["accepted"] == 6 and result["errors"] == 0, err.getvalue()
    assert result["connect_failures"] == 0, err.getvalue()
    scheme = "wss://" if profile >= 2 else "ws://"
    assert f"-> {scheme}127.0.0.1" in err.getvalue()
    if profile == 3:  # each station's certificate, signed by the fleet CA, kept for the run
        assert (tmp_path / "pki" / "fleet-ca.pem").exists()
        assert sorted(p.name for p in (tmp_path / "pki" / "stations").glob("*-cert.pem")) == [
            f"SEC{n:03d}-cert.pem" for n in range(1, 7)]


async def test_a_wrong_key_is_refused_at_profile_1():
    # [SEC] A00.FR.202-204: the CSMS checks the Basic-auth password; a wrong one gets HTTP 401
    async with FleetCsms("127.0.0.1", 0, log_frames=False, keep_history=False, basic_auth=SeededKeys(9)) as csms:
        url = f"{csms.url}/SEC001"
        right = {"Authorization": basic_auth_header("SEC001", authorization_key(9, "SEC001"))}
        link = await Link.open(url, 1 << 20, headers=right, timeout=10)
        assert link.subprotocol == "ocpp1.6"
        await link.close()
        for headers in ({"Authorization": basic_auth_header("SEC001", authorization_key(8, "SEC001"))},
                        {"Authorization": basic_auth_header("SEC001", authorization_key(9, "SEC002"))}, {}):
            with pytest.raises(InvalidStatus) as exc:
                await Link.open(url, 1 << 20, headers=headers, timeout=10)
            assert exc.value.response.status_code == 401


async def test_a_station_without_a_client_certificate_is_refused_at_profile_3(tmp_path):
    d = make_pki(tmp_path)
    ctx = server_context(d / "csms-cert.pem", d / "csms-key.pem", (d / "fleet-ca.pem").read_text(),
                         require_client_cert=True)
    async with FleetCsms("127.0.0.1", 0, log_frames=False, keep_history=False, ssl=ctx) as csms:
        url = f"{csms.url}/SEC001"
        sec3 = FleetSecurity(3, 1, str(d))
        link = await Link.open(url, 1 << 20, ssl=sec3.ssl_context("SEC001"), timeout=10)
        await link.close()
        no_cert = FleetSecurity(2, 1, str(d)).ssl_context("SEC001")  # trusts the CA, presents no certificate
        # TLS 1.3: the server's refusal of the handshake arrives after the client's Finished, so it surfaces
        # while the websocket handshake is read
        with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
            await Link.open(url, 1 << 20, ssl=no_cert, timeout=10)
        untrusting = ssl.create_default_context()  # the system's roots do not include the fleet CA
        with pytest.raises(ssl.SSLCertVerificationError):
            await Link.open(url, 1 << 20, ssl=untrusting, timeout=10)


def test_a_ca_in_the_pki_dir_is_kept_from_run_to_run(tmp_path):
    d = make_pki(tmp_path)
    ca = (d / "fleet-ca.pem").read_text()
    cert, _ = FleetSecurity(3, 1, str(d)).station_files("SEC001")
    make_pki(tmp_path)
    assert (d / "fleet-ca.pem").read_text() == ca and cert.exists()
    (d / "fleet-ca-key.pem").unlink()  # a new CA: the old one's station certificates go
    make_pki(tmp_path)
    assert (d / "fleet-ca.pem").read_text() != ca and not cert.exists()
