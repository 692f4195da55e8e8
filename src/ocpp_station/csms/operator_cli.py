"""``ocpp-station operator``: the command line of the dev CSMS's operator API.

Each subcommand is one HTTP request to the operator API of a running
``ocpp-station csms``; the JSON answer is printed on stdout. Exit status: 0 when
the request succeeded (for ``call``: the station answered CALLRESULT), 1 when the
station answered CALLERROR, the API refused the request (its error on stderr) or
could not be reached, 2 for a bad option or argument.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

DEFAULT_URL = "http://127.0.0.1:9001"
URL_ENV = "OCPP_OPERATOR_URL"


def add_operator_parser(sub: Any) -> None:
    """Add the ``operator`` subcommand to the ``ocpp-station`` parser's subparsers ``sub``."""
    url_help = (f"the operator API of `ocpp-station csms` (default: ${URL_ENV}, else {DEFAULT_URL}); "
                "as printed by csms ('Operator API on ...'), with or without /api")
    op = sub.add_parser(
        "operator",
        help="drive a running dev CSMS: stations, calls, messages, policy",
        description="Talk to the operator API of a running `ocpp-station csms` (docs/dev-csms.md) and print its "
        "JSON answer. Exit status: 0 on success (for call: the station answered CALLRESULT), 1 when the "
        "station answered CALLERROR or the API refused the request or could not be reached, 2 for a bad "
        "option or argument.",
    )
    op.add_argument("--url", help=url_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help=url_help)
    cmds = op.add_subparsers(dest="operator_command", required=True, parser_class=type(op))

    cmds.add_parser("stations", parents=[common], help="list the stations seen (GET /api/stations)",
                    description="List the stations seen so far: identity, connected, boot, registration, last "
                    "seen, open transactions (GET /api/stations).")
    st = cmds.add_parser("station", parents=[common], help="one station (GET /api/stations/ID)",
                         description="Show one station (GET /api/stations/ID).")
    st.add_argument("identity", metavar="ID")

    call = cmds.add_parser(
        "call", parents=[common], help="send an OCPP action to a station and print its answer",
        description="Send any CSMS-initiated OCPP 1.6 action (Core, optional profiles, security extension) to a "
        "connected station and print its answer (POST /api/stations/ID/call). The payload is checked against "
        "the OCPP 1.6 schema first (--no-validate sends it as it is). Exit 0 on CALLRESULT, 1 on CALLERROR.")
    call.add_argument("identity", metavar="ID")
    call.add_argument("action", metavar="ACTION", help="e.g. Reset, TriggerMessage, SendLocalList")
    call.add_argument("payload", metavar="PAYLOAD", nargs="?", default="{}",
                      help="the payload as a JSON object (default: {}), or @FILE to read it from FILE")
    call.add_argument("--timeout", type=_timeout, default=30.0, metavar="S",
                      help="how long to wait for the station's answer, 0 < S <= 300 (default: 30)")
    call.add_argument("--no-validate", action="store_true",
                      help="send the payload even when it breaks the schema (to test the station's CALLERROR)")

    msgs = cmds.add_parser("messages", parents=[common], help="the recent frames of a station",
                           description="Print the recent frames exchanged with a station, oldest first "
                           "(GET /api/stations/ID/messages); pass the answer's next as --since to get only later ones.")
    msgs.add_argument("identity", metavar="ID")
    msgs.add_argument("--since", type=_non_negative, default=0, metavar="N", help="only frames after sequence number N")
    msgs.add_argument("--limit", type=_non_negative, metavar="N", help="at most N frames (default: 500, at most 5000)")
    msgs.add_argument("--action", metavar="ACTION", help="only the CALLs of ACTION and their answers")
    msgs.add_argument("--wait", type=_non_negative, metavar="S",
                      help="when there is none yet, wait up to S seconds (at most 60) for one to come")

    pol = cmds.add_parser("policy", parents=[common], help="show or change the answer policy",
                          description="Without JSON: print the answer policy (GET /api/policy). With JSON: change "
                          "it (PUT /api/policy), e.g. '{\"boot\": {\"status\": \"Pending\", \"interval\": 5}}'.")
    pol.add_argument("json", metavar="JSON", nargs="?", help="the policy parts to change, or @FILE")

    tag = cmds.add_parser("id-tag", parents=[common], help="set or reset the answer for one idTag",
                          description="Set the idTagInfo answered for one idTag (PUT /api/policy/id-tags/TAG), or "
                          "with --delete give it the default answer again (DELETE).")
    tag.add_argument("tag", metavar="TAG")
    tag.add_argument("status", metavar="STATUS", nargs="?",
                     help="Accepted, Blocked, Expired, Invalid or ConcurrentTx")
    tag.add_argument("--parent-id-tag", metavar="P", help="parentIdTag of the idTagInfo")
    tag.add_argument("--expiry-date", metavar="DATE", help="expiryDate of the idTagInfo (ISO 8601)")
    tag.add_argument("--delete", action="store_true", help="back to the default idTagInfo")

    cmds.add_parser("status", parents=[common], help="the CSMS's own CPU, memory, CALLs and gc pauses",
                    description="Show what the CSMS process(es) cost since start (GET /api/status).")
    cmds.add_parser("files", parents=[common], help="the dev CSMS's file server and the uploads it received",
                    description="Show the file server's address and the diagnostics uploads received (GET /api/files).")

    fw = cmds.add_parser("update-firmware", parents=[common], help="send UpdateFirmware to a station",
                         description="Send UpdateFirmware (POST /api/stations/ID/call) and print the answer; the "
                         "station reports its progress with FirmwareStatusNotification (see messages).")
    fw.add_argument("identity", metavar="ID")
    fw.add_argument("location", metavar="URL",
                    help="the firmware file: ftp://, ftps://, http:// or https://, e.g. the dev CSMS's "
                    "http://127.0.0.1:PORT/firmware/manifest/2.0")
    fw.add_argument("--retrieve-date", metavar="DATE", help="when to download, ISO 8601 (default: now)")
    fw.add_argument("--retries", type=_non_negative, metavar="N", help="attempts after the first (default: the station's)")
    fw.add_argument("--retry-interval", type=_non_negative, metavar="S", help="seconds between attempts (default: the station's)")

    sf = cmds.add_parser("signed-update-firmware", parents=[common], help="sign a file and send SignedUpdateFirmware",
                         description="Sign FILE of the file server's directory with the CSMS's firmware signer and send "
                         "SignedUpdateFirmware for it (POST /api/stations/ID/signed-update-firmware); the station "
                         "reports with SignedFirmwareStatusNotification. The station needs the signer's root as "
                         "ManufacturerRootCertificate (see firmware-signing).")
    sf.add_argument("identity", metavar="ID")
    sf.add_argument("file", metavar="FILE", help="a file name in the CSMS's --files-dir")
    sf.add_argument("--request-id", type=_non_negative, default=1, metavar="N", help="requestId (default: 1)")
    sf.add_argument("--retrieve-date", metavar="DATE", help="retrieveDateTime, ISO 8601 (default: now)")
    sf.add_argument("--install-date", metavar="DATE", help="installDateTime, ISO 8601 (default: none, at once)")
    sf.add_argument("--retries", type=_non_negative, metavar="N", help="attempts after the first (default: the station's)")
    sf.add_argument("--retry-interval", type=_non_negative, metavar="S", help="seconds between attempts (default: the station's)")
    sf.add_argument("--signature", metavar="BASE64", help="send this signature instead (default: the file's own)")

    cmds.add_parser("firmware-signing", parents=[common], help="the CSMS's manufacturer root and signing certificate",
                    description="Print the firmware signer's ManufacturerRootCertificate and signing certificate "
                    "(GET /api/firmware-signing); made on first use.")

    gl = cmds.add_parser("get-log", parents=[common], help="send GetLog to a station",
                         description="Send GetLog (POST /api/stations/ID/call) and print the answer (its filename); "
                         "the station reports the upload with LogStatusNotification.")
    gl.add_argument("identity", metavar="ID")
    gl.add_argument("log_type", metavar="TYPE", choices=("DiagnosticsLog", "SecurityLog"),
                    help="DiagnosticsLog or SecurityLog")
    gl.add_argument("location", metavar="URL",
                    help="the directory to upload to, e.g. the dev CSMS's http://127.0.0.1:PORT/diagnostics")
    gl.add_argument("--request-id", type=_non_negative, default=1, metavar="N", help="requestId (default: 1)")
    gl.add_argument("--oldest", metavar="DATE", help="oldestTimestamp, ISO 8601 (default: all)")
    gl.add_argument("--latest", metavar="DATE", help="latestTimestamp, ISO 8601 (default: now)")
    gl.add_argument("--retries", type=_non_negative, metavar="N", help="re-tries after the first attempt (default: the station's)")
    gl.add_argument("--retry-interval", type=_non_negative, metavar="S", help="seconds between attempts (default: the station's)")

    dg = cmds.add_parser("get-diagnostics", parents=[common], help="send GetDiagnostics to a station",
                         description="Send GetDiagnostics (POST /api/stations/ID/call) and print the answer (its "
                         "fileName); the station reports the upload with DiagnosticsStatusNotification.")
    dg.add_argument("identity", metavar="ID")
    dg.add_argument("location", metavar="URL",
                    help="the directory to upload to, e.g. the dev CSMS's http://127.0.0.1:PORT/diagnostics")
    dg.add_argument("--start-time", metavar="DATE", help="log from then on, ISO 8601 (default: all)")
    dg.add_argument("--stop-time", metavar="DATE", help="log up to then, ISO 8601 (default: now)")
    dg.add_argument("--retries", type=_non_negative, metavar="N", help="re-tries after the first attempt (default: the station's)")
    dg.add_argument("--retry-interval", type=_non_negative, metavar="S", help="seconds between attempts (default: the station's)")


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0 and <= 300, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


class _Usage(Exception):
    """A bad argument: exit 2 with one line."""


def _json_arg(name: str, text: str) -> Any:
    if text.startswith("@"):
        try:
            with open(text[1:], "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError as exc:
            raise _Usage(f"{name}: cannot read {text[1:]!r}: {exc.strerror or exc}") from None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _Usage(f"{name}: not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _Usage(f"{name}: expected a JSON object, got {text[:60]!r}")
    return value


def _request(args: argparse.Namespace) -> tuple[str, str, Any, float]:
    """(method, path, body or None, timeout) of the subcommand."""
    q = urllib.parse.quote
    c = args.operator_command
    if c == "stations":
        return "GET", "/api/stations", None, 10
    if c == "status":
        return "GET", "/api/status", None, 10
    if c == "station":
        return "GET", f"/api/stations/{q(args.identity, safe='')}", None, 10
    if c == "call":
        body = {"action": args.action, "payload": _json_arg("PAYLOAD", args.payload), "timeout": args.timeout}
        if args.no_validate:
            body["validate"] = False
        return "POST", f"/api/stations/{q(args.identity, safe='')}/call", body, args.timeout + 10
    if c in ("update-firmware", "get-diagnostics"):
        payload: dict[str, Any] = {"location": args.location}
        if c == "update-firmware":
            from datetime import datetime, timezone

            payload["retrieveDate"] = args.retrieve_date or datetime.now(timezone.utc).isoformat(
                timespec="seconds").replace("+00:00", "Z")
        else:
            for opt, key in (("start_time", "startTime"), ("stop_time", "stopTime")):
                if getattr(args, opt) is not None:
                    payload[key] = getattr(args, opt)
        if args.retries is not None:
            payload["retries"] = args.retries
        if args.retry_interval is not None:
            payload["retryInterval"] = args.retry_interval
        action = "UpdateFirmware" if c == "update-firmware" else "GetDiagnostics"
        return "POST", f"/api/stations/{q(args.identity, safe='')}/call", {"action": action, "payload": payload}, 40
    if c == "signed-update-firmware":
        body = {"file": args.file, "requestId": args.request_id}
        for opt, key in (("retrieve_date", "retrieveDateTime"), ("install_date", "installDateTime"),
                         ("retries", "retries"), ("retry_interval", "retryInterval"), ("signature", "signature")):
            if getattr(args, opt) is not None:
                body[key] = getattr(args, opt)
        return "POST", f"/api/stations/{q(args.identity, safe='')}/signed-update-firmware", body, 40
    if c == "firmware-signing":
        return "GET", "/api/firmware-signing", None, 10
    if c == "get-log":
        spec: dict[str, Any] = {"remoteLocation": args.location}
        if args.oldest is not None:
            spec["oldestTimestamp"] = args.oldest
        if args.latest is not None:
            spec["latestTimestamp"] = args.latest
        payload = {"logType": args.log_type, "requestId": args.request_id, "log": spec}
        if args.retries is not None:
            payload["retries"] = args.retries
        if args.retry_interval is not None:
            payload["retryInterval"] = args.retry_interval
        return "POST", f"/api/stations/{q(args.identity, safe='')}/call", {"action": "GetLog", "payload": payload}, 40
    if c == "files":
        return "GET", "/api/files", None, 10
    if c == "messages":
        query: dict[str, Any] = {"since": args.since}
        if args.limit is not None:
            query["limit"] = args.limit
        if args.action is not None:
            query["action"] = args.action
        if args.wait is not None:
            query["wait"] = args.wait
        path = f"/api/stations/{q(args.identity, safe='')}/messages?{urllib.parse.urlencode(query)}"
        return "GET", path, None, 10 + (args.wait or 0)
    if c == "policy":
        if args.json is None:
            return "GET", "/api/policy", None, 10
        return "PUT", "/api/policy", _json_arg("JSON", args.json), 10
    if c == "id-tag":
        path = f"/api/policy/id-tags/{q(args.tag, safe='')}"
        if args.delete:
            if args.status is not None or args.parent_id_tag is not None or args.expiry_date is not None:
                raise _Usage("--delete: takes no STATUS, --parent-id-tag or --expiry-date")
            return "DELETE", path, None, 10
        if args.status is None:
            raise _Usage("STATUS: required (Accepted, Blocked, Expired, Invalid or ConcurrentTx) unless --delete")
        info = {"status": args.status}
        if args.parent_id_tag is not None:
            info["parentIdTag"] = args.parent_id_tag
        if args.expiry_date is not None:
            info["expiryDate"] = args.expiry_date
        return "PUT", path, info, 10
    raise AssertionError(c)


def _base_url(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _Usage(f"--url: expected an http:// URL such as {DEFAULT_URL}, got {url!r}")
    base = url.rstrip("/")
    return base[: -len("/api")] if base.endswith("/api") else base


def cmd_operator(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        base = _base_url(args)
        method, path, body, timeout = _request(args)
    except _Usage as exc:
        print(f"ocpp-station operator: {exc}", file=err)
        return 2
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"ocpp-station operator: cannot reach {base}: {reason}", file=err)
        return 1
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        print(f"ocpp-station operator: HTTP {status} from {base}{path}: not a JSON answer", file=err)
        return 1
    if status >= 400:
        field = f" (field {doc['field']})" if isinstance(doc, dict) and doc.get("field") else ""
        message = doc.get("error") if isinstance(doc, dict) else doc
        print(f"ocpp-station operator: HTTP {status}: {message}{field}", file=err)
        return 1
    out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    out.flush()
    if isinstance(doc, dict) and doc.get("type") == "CALLERROR":
        return 1
    return 0
