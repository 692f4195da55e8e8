"""Authorization: Authorize.req, the authorization cache and the offline rules.

* [SPEC] §3.5 / §4.1: an idTag not authorized locally is sent in Authorize.req;
  LocalPreAuthorize lets a cached Accepted idTag start at once while online.
* The cache (AuthorizationCacheEnabled) is updated from every IdTagInfo
  (Authorize, StartTransaction and StopTransaction confirmations) and
  persisted ([ERRATA] 3.4: it survives resets and power loss). ClearCache
  empties it ([ERRATA] 3.23: Rejected only where no cache exists).
* Offline ([SPEC] §3.5.4, spec §2.7): LocalAuthorizeOffline accepts idTags
  valid in the cache (Accepted or ConcurrentTx, [SPEC] §3.5.2);
  AllowOfflineTxForUnknownId accepts unknown ones, and valid cached ones when
  LocalAuthorizeOffline is off (the cache then authorizes nothing, so they
  count as unknown); an idTag known as not valid, or expired, is refused.
  The same rules apply while registration is Pending or Rejected, but only
  for a station Accepted at least once: one never Accepted refuses every
  idTag (spec §2.7: deny charging before the first Accepted boot).
* An Authorize.req that gets no answer within MessageTimeout (or a
  CALLERROR) is decided by the offline rules: a silent CSMS never blocks a
  driver for longer than that. When the link drops, an Authorize.req still
  waiting to be sent is taken out of the queue and decided by the offline
  rules at once: the driver is at the station now, not when the link is back.
* idTags compare case-insensitively ([SPEC] §3.5.1 IdToken).

A local authorization list (LocalAuthListManagement) plugs in through
``local_lists``: each is asked first, and an idTag it knows never goes into
the cache ([SPEC] §3.5.3).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ...core.clock import parse_iso
from ...core.outbox import Request
from ..base import Feature

log = logging.getLogger(__name__)

NS = "auth_cache"

Decision = Callable[[dict[str, Any], float], None]  # (IdTagInfo, now)


def tag_key(id_tag: str) -> str:
    return id_tag.upper()


class Authorization(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.local_lists: list[Any] = []  # objects with lookup(id_tag, now) -> IdTagInfo | None

    def handlers(self):
        return {"ClearCache": self.clear_cache}

    # -- the cache -------------------------------------------------------------------------

    @property
    def cache_enabled(self) -> bool:
        return self.station.config["AuthorizationCacheEnabled"]

    def _valid(self, info: dict[str, Any] | None, now: float) -> bool:
        if info is None or info.get("status") != "Accepted":
            return False
        expiry = info.get("expiryDate")
        if expiry:
            try:
                return parse_iso(expiry) > self.station.clock.wall(now)
            except ValueError:
                return False
        return True

    def cached(self, id_tag: str) -> dict[str, Any] | None:
        if not self.cache_enabled:
            return None
        return self.station.store.get(NS, tag_key(id_tag))

    def remember(self, id_tag: str, info: dict[str, Any], now: float) -> None:
        """Update the cache from an IdTagInfo (unless the local list knows the idTag)."""
        if self._listed(id_tag, now) is not None:
            for lst in self.local_lists:  # [SPEC] §3.5.2: a listed idTag never enters the cache
                lst.conflict(id_tag, info, now)
            return
        if not self.cache_enabled:
            return
        self.station.store.put(NS, tag_key(id_tag), info)

    def clear_cache(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        self.station.store.clear(NS)
        return {"status": "Accepted"}

    def _listed(self, id_tag: str, now: float) -> dict[str, Any] | None:
        for lst in self.local_lists:
            info = lst.lookup(id_tag, now)
            if info is not None:
                return info
        return None

    # -- deciding --------------------------------------------------------------------------

    def local_info(self, id_tag: str, now: float) -> dict[str, Any] | None:
        """What the station knows of an idTag without asking: local list first, then the cache."""
        listed = self._listed(id_tag, now)
        if listed is not None:
            return listed
        return self.cached(id_tag)

    def authorize(self, id_tag: str, now: float, decide: Decision, *, skip_local: bool = False) -> None:
        """Find out whether ``id_tag`` may charge; ``decide(idTagInfo, now)`` is called once."""
        st = self.station
        known = None if skip_local else self.local_info(id_tag, now)
        online = st.connected and st.accepted
        if online:
            if known is not None and self._valid(known, now) and st.config["LocalPreAuthorize"]:
                decide(known, now)  # [SPEC] §3.5: locally pre-authorized, no Authorize.req
                return
            self._ask(id_tag, decide)
            return
        decide(self.offline_decision(id_tag, known, now), now)

    def offline_decision(self, id_tag: str, known: dict[str, Any] | None, now: float) -> dict[str, Any]:
        """The offline rules ([SPEC] §3.5, §3.5.4; spec §2.7), for every combination of LocalAuthorizeOffline
        and AllowOfflineTxForUnknownId:

        * known as not valid (Blocked, Expired, Invalid, or Accepted past its expiryDate): refused, whatever
          the keys say ([SPEC] §3.5.4: such identifiers MUST be rejected);
        * known as valid: accepted with LocalAuthorizeOffline; without it the cache and the list do not
          authorize offline, so the idTag is as good as unknown ([SPEC] §3.5.4: "unknown" = cannot be
          explicitly authorized by list or cache entries) and AllowOfflineTxForUnknownId decides;
        * unknown: AllowOfflineTxForUnknownId decides.
        """
        cfg = self.station.config
        boot = self.station.feature.get("Boot")
        if boot is not None and not boot.ever_accepted:
            # spec §2.7: transactions before the first Accepted boot are advisable to deny
            log.info("idTag %s refused: the station has never been accepted by a CSMS", id_tag)
            return {"status": "Invalid"}
        if known is not None:
            if not self._valid_offline(known, now):
                if known.get("status") in ("Accepted", "ConcurrentTx"):
                    return {"status": "Expired"}  # valid once, expired by the passage of time
                return known
            if cfg["LocalAuthorizeOffline"]:
                # [SPEC] §3.5.2: ConcurrentTx is a valid identifier; offline the charge point cannot know
                # whether that other transaction still runs, so it is accepted like Accepted
                return {**known, "status": "Accepted"}
        if cfg["AllowOfflineTxForUnknownId"]:
            return {"status": "Accepted", "offlineUnknown": True}
        return {"status": "Invalid"}

    def _valid_offline(self, info: dict[str, Any], now: float) -> bool:
        """Valid for the offline rules: Accepted or ConcurrentTx ([SPEC] §3.5.2 lists both as "valid") and not
        past its expiryDate. Online a cached ConcurrentTx is not pre-authorized (see :meth:`_valid`): the CSMS is
        asked, as it knows whether the other transaction has ended."""
        if info.get("status") == "ConcurrentTx":
            info = {**info, "status": "Accepted"}
        return self._valid(info, now)

    def on_disconnected(self, now: float) -> None:
        # spec §2.7: offline, idTags are decided by the offline rules; one queued behind another CALL is too
        for req in self.station.requests.discard(lambda r: r.action == "Authorize"):
            if req.on_failure is not None:
                req.on_failure(None, now)

    def _ask(self, id_tag: str, decide: Decision) -> None:
        def answered(payload: dict[str, Any], now: float) -> None:
            info = payload["idTagInfo"]
            self.remember(id_tag, info, now)
            decide(info, now)

        def failed(_error: Any, now: float) -> None:
            decide(self.offline_decision(id_tag, self.local_info(id_tag, now), now), now)

        self.station.send(Request("Authorize", {"idTag": id_tag}, answered, failed))
