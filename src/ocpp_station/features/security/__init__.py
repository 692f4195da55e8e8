"""The OCPP 1.6 security extension ([SEC]: the OCA white paper "Improved security for OCPP 1.6-J", edition 3).

Part of a station when the config file has a ``[security]`` table (``StationSettings.security``); it adds
no name to SupportedFeatureProfiles ([SEC] §7). What lives where:

* :mod:`.profiles` — the security profiles' rules (which upgrade is allowed, the AuthorizationKey rule,
  the Basic-auth header, the cipher suites); the runtime builds the TLS context from :meth:`Security.link`.
* :mod:`.certificates` — the crypto: chains, hash data, keys, CSRs.
* :mod:`.roots` — the root certificate store: InstallCertificate, GetInstalledCertificateIds, DeleteCertificate.
* :mod:`.events` — security events: the security log and SecurityEventNotification.
* :mod:`.files` — the certificate bundles, the station's certificate and key (mode 0600), the log.
* :mod:`.logs` — GetLog and LogStatusNotification (the security log or the diagnostics archive, uploaded).
* SignedUpdateFirmware (L01): the signing certificate is checked here against the ManufacturerRootCertificates
  before the answer (L01.FR.23); the update itself is the Firmware Management job
  (:mod:`ocpp_station.features.firmware`) with a requestId.

Theory of operation of a change of credentials (SecurityProfile upgrade, new AuthorizationKey, A01/A05):
the ChangeConfiguration is answered Accepted, the previous values are stored as the *fallback* (store
namespace ``security``), and the station reconnects with the new ones (A01 steps 3-4, A05.FR.05-07). The
first connection that opens commits them (the fallback is forgotten: TC_083 fails a station that goes back
after that, digest §10 item 22). If :data:`FALLBACK_AFTER` attempts in a row fail first, the station goes
back to the fallback values (A05.FR.08) and raises ReconfigurationOfSecurityParameters: a bad push never
leaves a station unable to reach its CSMS.

The station's own certificate (A02/A03): ExtendedTriggerMessage(SignChargePointCertificate) or a certificate
ending within 30 days makes a new key pair (kept as ``new_key``) and a CSR; a CertificateSigned that passes
every check replaces certificate and key (a not-yet-valid one waits for its notBefore as ``next_cert``), and
on profile 3 the station reconnects with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ...core.clock import parse_iso
from ...core.commands import Reconnect
from ...core.configuration import KeySpec
from ...core.events import ConnectFailed
from ...core.outbox import Request
from ...ocpp.rpc import ErrorCode, OcppError
from ...core.settings import SecuritySettings, StationSettings
from ..base import Feature
from . import certificates as certs
from .events import SecurityEvents
from .files import SecurityFiles
from .logs import LogUploads
from .roots import ROOT_ITEM as _ROOT_ITEM, RootStore
from .profiles import Credentials, authorization_key_ok, profile_change, uses_basic_auth, uses_tls

log = logging.getLogger(__name__)

NS = "security"  # store namespace: "fallback" -> the credentials to go back to
FALLBACK_AFTER = 3  # failed connection attempts with new credentials before going back to the previous ones
NEXT_CERT_TIMER = "security.next_cert"  # a signed certificate waiting for its notBefore
RENEW_TIMER = "security.renew"  # the next look at the station certificate's end date (A03)
RENEW_BEFORE = 30 * 86400.0  # s: a certificate ending within this is renewed by the station itself (A03.FR.02)
RENEW_RETRY = 86400.0  # s between two renewal attempts without an answer (no quick retry: libocpp #970)
CLOCK_STEP = 10.0  # s: a clock change by more than this is a SettingSystemTime event ([SEC] §8)

# ConnectFailed.cause -> the security event it raises ([SEC] §8, A00.FR.309/.315/.322, A01)
_CAUSE_EVENT = {
    "auth": "FailedToAuthenticateAtCentralSystem",
    "certificate": "InvalidCentralSystemCertificate",
    "tls_version": "InvalidTLSVersion",
    "cipher": "InvalidTLSCipherSuite",
}


class Security(Feature):
    profile = "Core"  # the extension has no feature-profile name of its own ([SEC] §7)

    def __init__(self, station) -> None:
        super().__init__(station)
        cfg = station.settings.security or SecuritySettings()
        self.files = SecurityFiles(cfg, on_write=self._files_changed)  # certificates, keys, the security log
        self.events = SecurityEvents(station, self.files)  # the security log + SecurityEventNotification
        self.roots = RootStore(self)  # InstallCertificate, DeleteCertificate, GetInstalledCertificateIds
        self.logs = LogUploads(self)  # GetLog, LogStatusNotification
        self._after: list[Any] = []  # what to do once the current CALL's confirmation is queued
        self._reported: set[str] = set()  # ConnectFailed causes reported since the last connection (libocpp #1156)
        self._reset_raised = False  # ResetOrReboot raised for the reset under way
        self._files_summary: dict[str, Any] | None = None  # the state document's view of the files (cached)
        self._clock_offset = station.clock.offset  # to tell a clock step from a Heartbeat's small correction
        from ..trigger import RemoteTrigger

        self._trigger = RemoteTrigger(station)  # the messages ExtendedTriggerMessage shares with TriggerMessage
        station.config.set_accept("SecurityProfile", self._accept_profile)
        station.config.set_accept("AuthorizationKey", self._accept_key)
        station.clock.on_change.append(self._clock_changed)

    def _files_changed(self) -> None:
        self._files_summary = None

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        sec = settings.security or SecuritySettings()
        p = "Security"
        return [
            KeySpec("SecurityProfile", "int", str(sec.profile), minimum=0, maximum=3, profile=p),  # [SEC] §7
            KeySpec("CpoName", "str", "", profile=p),  # subject O of the station's CSRs (A02.FR.13)
            KeySpec("CertificateSignedMaxChainSize", "int", "10000", readonly=True, maximum=10000, profile=p),
            KeySpec("CertificateStoreMaxLength", "int", "10", readonly=True, minimum=1, profile=p),
            # one CentralSystemRootCertificate replacing another is not checked against the old one (M05.FR.08 off)
            KeySpec("AdditionalRootCertificateCheck", "bool", "false", readonly=True, profile=p),
        ]

    def handlers(self):
        handlers = {
            "ExtendedTriggerMessage": self.extended_trigger_message,
            "CertificateSigned": self.certificate_signed,
            "InstallCertificate": self.roots.install_certificate,
            "DeleteCertificate": self.roots.delete_certificate,
            "GetInstalledCertificateIds": self.roots.get_installed_certificate_ids,
        }
        if "Firmware" in self.station.feature:
            # both need the file transfers of Firmware Management; without it they are NotSupported
            handlers["SignedUpdateFirmware"] = self.signed_update_firmware
            handlers["GetLog"] = self.logs.get_log
        return handlers

    # -- what the runtime connects with -------------------------------------------------------

    @property
    def security_profile(self) -> int:
        return self.station.config["SecurityProfile"]

    @property
    def tls(self) -> bool:
        return uses_tls(self.security_profile)

    @property
    def basic_auth(self) -> bool:
        return uses_basic_auth(self.security_profile)

    def link(self) -> dict[str, Any]:
        """The connection's security settings: ``profile``; ``basic_auth`` (True for 1 and 2); ``tls`` (2, 3);
        ``ca_pem`` the installed CentralSystemRootCertificates; ``client_cert`` / ``client_key`` the file
        paths of the station's certificate and key (profile 3). No secret is in it but paths."""
        p = self.security_profile
        return {
            "profile": p,
            "basic_auth": uses_basic_auth(p),
            "tls": uses_tls(p),
            "ca_pem": self.files.read("csms_root_ca") if uses_tls(p) else "",
            "client_cert": self.files.path("cert") if p == 3 else None,
            "client_key": self.files.path("key") if p == 3 else None,
        }

    # -- hooks ---------------------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        self.events.raise_event("StartupOfTheDevice", now, f"security profile {self.security_profile}")
        self._schedule_next_cert(now)
        self.logs.on_start(now)

    def on_accepted(self, now: float) -> None:
        self.logs.on_accepted(now)
        if RENEW_TIMER not in self.station.timers:
            self._check_renewal(now)

    def _check_renewal(self, now: float) -> None:
        """A03.FR.02: a station certificate that ends within 30 days is renewed by the station itself (a new
        key pair and a CSR, as A02), once a day until a certificate comes."""
        st = self.station
        st.timers.set(RENEW_TIMER, now + RENEW_RETRY, self._check_renewal)
        if not (st.accepted and st.connected) or not st.config.text("CpoName"):
            return
        try:
            leaf = certs.load_chain(self.files.read("cert"))[0]
        except certs.CertificateError:
            return  # no certificate of its own: the CSMS asks for one with ExtendedTriggerMessage
        left = leaf.not_valid_after_utc.timestamp() - st.clock.wall(now)
        if left < RENEW_BEFORE and not self.files.read("next_cert"):
            self.events.log(now, f"the Charge Point certificate ends in {left / 86400:.1f} days: renewing it")
            self._send_csr(now)

    def on_connected(self, now: float) -> None:
        self._reported.clear()
        fb = self.station.store.get(NS, "fallback")
        if fb is not None:
            # the new credentials opened a link: they are the station's now ([SEC] A05.FR.09)
            self.station.store.delete(NS, "fallback")
            self.events.log(now, f"security profile {self.security_profile} connected; the previous credentials are dropped")

    def on_event(self, event, now: float) -> None:
        self.logs.on_event(event, now)
        if not isinstance(event, ConnectFailed):
            return
        kind = _CAUSE_EVENT.get(event.cause)
        if kind is not None and event.cause not in self._reported:
            self._reported.add(event.cause)  # once per failure episode, not per attempt (libocpp #1156)
            self.events.raise_event(kind, now, event.detail)
        fb = self.station.store.get(NS, "fallback")
        if fb is None:
            return
        fb["failures"] = fb.get("failures", 0) + 1
        if fb["failures"] < FALLBACK_AFTER:
            self.station.store.put(NS, "fallback", fb)
            return
        self._fall_back(fb, event, now)

    def _fall_back(self, fb: dict[str, Any], event: ConnectFailed, now: float) -> None:
        """A05.FR.08: the new credentials could not connect; go back to the ones that worked."""
        config = self.station.config
        failed = config["SecurityProfile"]
        with self.station.store.batch():
            config.set_internal("SecurityProfile", str(fb["profile"]))
            config.set_internal("AuthorizationKey", fb["authorizationKey"])
            self.station.store.delete(NS, "fallback")
        self.events.raise_event(
            "ReconfigurationOfSecurityParameters",
            now,
            f"fell back to security profile {fb['profile']} and its credentials after {fb['failures']} failed "
            f"attempts with profile {failed} ({event.cause}: {event.detail})",
        )
        log.warning("security: back to profile %s after %s failed attempts", fb["profile"], fb["failures"])

    def after_call(self, action: str, now: float) -> None:
        self._run_after(now)
        self._trigger.after_call(action, now)
        if action == "Reset" and self.station.feature["Reset"].under_way and not self._reset_raised:
            self._reset_raised = True
            self.events.raise_event("ResetOrReboot", now, f"Reset {self.station.feature['Reset'].pending} from the CSMS")

    def describe(self, doc: dict[str, Any], now: float) -> None:
        entry: dict[str, Any] = {"securityProfile": self.security_profile}
        entry["fallbackPending"] = self.station.store.get(NS, "fallback") is not None
        if self._files_summary is None:  # the files change only through this feature: parse them once
            try:
                leaf = certs.load_chain(self.files.read("cert"))[0]
                cert: dict[str, Any] | None = {"subject": leaf.subject.rfc4514_string(),
                                               "notAfter": leaf.not_valid_after_utc.isoformat()}
            except certs.CertificateError:
                cert = None
            roots = {t: len(self._roots(item)) for t, item in _ROOT_ITEM.items()}
            self._files_summary = {"certificate": cert, "installedRoots": roots}
        entry.update(self._files_summary)
        upload = self.logs.describe()
        if upload is not None:
            entry["logUpload"] = upload
        doc["security"] = entry  # never a key, a password or a certificate's PEM

    # -- credential changes (ChangeConfiguration) ---------------------------------------------

    def _credentials(self) -> Credentials:
        key = self.station.config.text("AuthorizationKey")
        return Credentials(
            authorization_key=authorization_key_ok(key),
            csms_root=bool(self._roots("csms_root_ca")),
            station_cert=self._station_cert_ok(),
        )

    def _accept_profile(self, requested: int) -> str | None:
        status, why = profile_change(self.security_profile, requested, self._credentials())
        if status != "Accepted":
            log.info("SecurityProfile %s rejected: %s", requested, why)
            self._after.append(lambda t: self.events.log(t, f"SecurityProfile {requested} rejected: {why}"))
            return status
        self._keep_fallback()
        self._after.append(lambda t: self._reconnect(t, f"security profile {self.security_profile}"))
        return None

    def _accept_key(self, key: str) -> str | None:
        # A01.FR.11/12: the change is logged, never the value
        if not self.basic_auth:
            # profiles 0 and 3 send no password: the key waits for an upgrade to 1 or 2, the link stays
            self._after.append(lambda t: self.events.raise_event(
                "ReconfigurationOfSecurityParameters", t, "new AuthorizationKey (not used on this profile)"))
            return None
        self._keep_fallback()
        self._after.append(lambda t: self._reconnect(t, "new AuthorizationKey"))
        return None

    def _keep_fallback(self) -> None:
        if self.station.store.get(NS, "fallback") is None:
            cfg = self.station.config
            self.station.store.put(
                NS, "fallback",
                {"profile": cfg["SecurityProfile"], "authorizationKey": cfg.text("AuthorizationKey"), "failures": 0},
            )

    def _reconnect(self, now: float, what: str) -> None:
        self.events.raise_event("ReconfigurationOfSecurityParameters", now, f"{what}; reconnecting")
        self.station.command(Reconnect(what))

    def _clock_changed(self, now: float) -> None:
        step = self.station.clock.offset - self._clock_offset
        self._clock_offset = self.station.clock.offset
        if abs(step) > CLOCK_STEP:
            self.events.raise_event("SettingSystemTime", now, f"clock set by the CSMS, moved {step:+.0f} s")

    # -- ExtendedTriggerMessage (A02 trigger, [SEC] §5.5) ---------------------------------------

    def extended_trigger_message(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        what = payload["requestedMessage"]
        if what == "SignChargePointCertificate":
            if not self.station.config.text("CpoName"):
                return {"status": "Rejected"}  # A02.FR.13: no subject O without CpoName (libocpp raises an event too)
            self._after.append(self._send_csr)
            return {"status": "Accepted"}
        if what == "LogStatusNotification":
            # Uploading with the GetLog's requestId, or Idle without one (N01.FR.12)
            self._after.append(self.logs.send_triggered)
            return {"status": "Accepted"}
        if what == "FirmwareStatusNotification":
            # [SEC] §5.5: here it asks for a SignedFirmwareStatusNotification (L01.FR.28/29)
            firmware = self.station.feature.get("Firmware")
            if firmware is None:
                return {"status": "NotImplemented"}
            self._after.append(firmware.send_signed_status)
            return {"status": "Accepted"}
        return self._trigger.trigger_message(payload, now)

    def _send_csr(self, now: float) -> None:
        """A02.FR.02-05: a new key pair (kept, never sent), a CSR with CN = serial number, O = CpoName."""
        st = self.station
        key = certs.new_key()
        self.files.write("new_key", certs.key_pem(key))
        csr = certs.make_csr(key, self._common_name(), st.config.text("CpoName"))
        self.events.log(now, "new key pair made; SignCertificate sent")

        def answered(conf: dict[str, Any], t: float) -> None:
            if conf.get("status") != "Accepted":
                self.events.log(t, "SignCertificate Rejected by the CSMS")  # no quick retry (libocpp #970)

        st.send(Request("SignCertificate", {"csr": csr}, answered))

    def _common_name(self) -> str:
        # [SEC] A00.FR.511: the Charge Point's unique serial number; the identity when none is configured
        return self.station.settings.serial_number or self.station.settings.identity

    # -- CertificateSigned (A02.FR.06-10) ---------------------------------------------------------

    def certificate_signed(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        chain_text = payload["certificateChain"]
        limit = self.station.config["CertificateSignedMaxChainSize"]
        try:
            if len(chain_text) > limit:
                raise certs.CertificateError(f"chain of {len(chain_text)} characters, CertificateSignedMaxChainSize is {limit}")
            chain = certs.load_chain(chain_text)
            leaf = chain[0]
            key_item = self._key_for(leaf)
            # A02.FR.08: a certificate not valid yet is kept and used from its notBefore: check it as of then
            at = max(self._wall(now), leaf.not_valid_before_utc)
            certs.check_chain(chain, self._roots("csms_root_ca"), at)
            certs.check_key_strength(leaf)
            cn = certs.common_name(leaf)
            if cn != self._common_name():
                raise certs.CertificateError(f"subject CN {cn!r} is not the station's serial number {self._common_name()!r}")
        except certs.CertificateError as exc:
            # A02.FR.07: Rejected, discarded, InvalidChargePointCertificate (sent: TC_077)
            self.events.raise_event("InvalidChargePointCertificate", now, str(exc))
            return {"status": "Rejected"}
        if at > self._wall(now):
            self.files.write("next_cert", chain_text)
            self.events.log(now, f"Charge Point certificate {leaf.subject.rfc4514_string()} kept until its notBefore")
            self._schedule_next_cert(now)
            return {"status": "Accepted"}
        self._install_cert(chain_text, key_item, now)
        return {"status": "Accepted"}

    def _install_cert(self, chain_text: str, key_item: str, now: float) -> None:
        leaf = certs.load_chain(chain_text)[0]
        if key_item == "new_key":
            self.files.write("key", self.files.read("new_key"))
        self.files.write("cert", chain_text)
        if key_item == "new_key":
            self.files.delete("new_key")
        self.events.log(now, f"new Charge Point certificate {leaf.subject.rfc4514_string()} installed")
        if self.security_profile == 3:
            self._after.append(lambda t: self._reconnect(t, "new Charge Point certificate"))  # TC_074 step 7

    def _schedule_next_cert(self, now: float) -> None:
        """A02.FR.08: the kept certificate replaces the station's at its notBefore (also after a restart)."""
        text = self.files.read("next_cert")
        if not text:
            return
        try:
            leaf = certs.load_chain(text)[0]
        except certs.CertificateError:
            self.files.delete("next_cert")
            return
        due = self.station.clock.to_now(leaf.not_valid_before_utc.timestamp())
        self.station.timers.set(NEXT_CERT_TIMER, max(due, now), self._next_cert_due)

    def _next_cert_due(self, now: float) -> None:
        text = self.files.read("next_cert")
        self.files.delete("next_cert")
        try:
            leaf = certs.load_chain(text)[0]
            key_item = self._key_for(leaf)
        except certs.CertificateError as exc:
            self.events.log(now, f"the kept Charge Point certificate cannot be used: {exc}")
            return
        self._install_cert(text, key_item, now)
        self._run_after(now)  # no confirmation to wait for: reconnect now

    def _run_after(self, now: float) -> None:
        after, self._after = self._after, []
        for fn in after:
            fn(now)

    def _key_for(self, leaf) -> str:
        for item in ("new_key", "key"):
            text = self.files.read(item)
            if text and certs.same_public_key(leaf, certs.load_key(text)):
                return item
        raise certs.CertificateError("the certificate does not match the station's key")

    def _station_cert_ok(self) -> bool:
        try:
            leaf = certs.load_chain(self.files.read("cert"))[0]
            return certs.same_public_key(leaf, certs.load_key(self.files.read("key")))
        except certs.CertificateError:
            return False

    # -- SignedUpdateFirmware (L01) ------------------------------------------------------------------------

    def signed_update_firmware(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        fw = payload["firmware"]
        dates = []
        for name in ("retrieveDateTime", "installDateTime"):
            try:
                dates.append(parse_iso(fw[name]) if name in fw else None)
            except ValueError:
                raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{name} is not a date-time") from None
        retries, interval = payload.get("retries"), payload.get("retryInterval")
        if (retries is not None and retries < 0) or (interval is not None and interval < 0):
            # [JERRATA] 2.5 as UpdateFirmware: a negative count or interval has no meaning
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "retries and retryInterval must be >= 0")
        try:
            # L01.FR.23: against the installed ManufacturerRootCertificates before answering; no intermediates
            # for firmware signing, so the leaf alone; a root used directly as signing certificate passes
            leaf = certs.load_chain(fw["signingCertificate"])[0]
            certs.check_chain([leaf], self._roots("manufacturer_root_ca"), self._wall(now),
                              root_type="ManufacturerRootCertificate")
            certs.check_key_strength(leaf)
        except certs.CertificateError as exc:
            # L01.FR.02: InvalidCertificate and the InvalidFirmwareSigningCertificate event (sent, digest §10.14);
            # nothing is stored, the update under way (if any) goes on
            self.events.raise_event("InvalidFirmwareSigningCertificate", now, str(exc))
            return {"status": "InvalidCertificate"}
        status = self.station.feature["Firmware"].signed_update_firmware(payload, dates[0], dates[1], now)
        if status != "Rejected":
            self.events.log(now, f"SignedUpdateFirmware {payload['requestId']} signed by "
                                 f"{leaf.subject.rfc4514_string()}: {status}")
        return {"status": status}

    # -- the CA store: Install / Get / Delete (M03-M05), in .roots ------------------------------------

    def _roots(self, item: str) -> list:
        return self.roots.certificates(item)

    def _wall(self, now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.station.clock.wall(now), dt.timezone.utc)


__all__ = ["Security", "FALLBACK_AFTER"]
