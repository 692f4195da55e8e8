"""``ocpp-station``: run a station, the demo, or the development CSMS."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__


LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVEL = "INFO"  # the same default for every command
REFERENCE = "docs/reference.md"  # the outside contract, in the source repository


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, exit status 2
        self.exit(2, f"{self.prog}: {message}\n")


class _Formatter(argparse.HelpFormatter):
    """Every option's help ends with its default: argparse's own value, or the help's own "(default: ...)"
    when the default is not a plain value (taken from the config file, computed...)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("(default" in text or not action.option_strings or action.required
                or action.default is argparse.SUPPRESS):
            return text
        if action.default is None:
            return text + " (default: none)"
        if action.default is False:
            return text + " (default: off)"
        return text + " (default: %(default)s)"


def _log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default=LOG_LEVEL, choices=LOG_LEVELS,
                        help="the least severe log records written to stderr")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ocpp-station", description="EV charging station software speaking OCPP 1.6-J.",
                epilog=f"The reference (config file, control API, logging, OCPP keys): {REFERENCE} in the "
                "source repository. `ocpp-station COMMAND --help` lists the options of a command.")
    p.add_argument("--version", action="version", version=f"ocpp-station {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run one station until SIGINT/SIGTERM",
        description="Run one charging station against a CSMS until SIGINT/SIGTERM (graceful stop, exit 0: open "
        "transactions are stopped with reason Reboot and their StopTransaction gets [station] stop_grace seconds, "
        "default 5, to reach the CSMS; what is not delivered stays queued for the next start; a second signal "
        "stops waiting; see docs/persistence.md). "
        "A bad config file or option exits with status 2 and one line naming the file, the key and what "
        "was expected. The options win over the config file. A [security] table in the config file gives the "
        "station the OCPP 1.6 security extension (security profiles 0-3, certificates, security events; "
        "docs/security.md). The hardware is simulated unless [hardware] names real parts: meter = \"modbus-tcp\" "
        "or \"modbus-rtu\", rfid = \"serial\" or \"evdev\" (docs/hardware.md); a part that cannot be opened or "
        "does not answer at start-up exits with status 2 naming its key. Under systemd (Type=notify) the "
        "station sends READY=1, STOPPING=1 and the watchdog (docs/deploy.md).",
        epilog=f"The config file's keys, the control API and the log: {REFERENCE} in the source repository.",
    )
    run.add_argument("--config", type=Path, metavar="FILE",
                     help=f"TOML config file, see {REFERENCE} (default: none, every key at its default)")
    run.add_argument("--csms", metavar="URL",
                     help="CSMS endpoint URL, ws:// or wss:// (identity is appended) (default: the config file's "
                     "station.csms_url, else ws://127.0.0.1:9000/ocpp)")
    run.add_argument("--identity", metavar="ID",
                     help="charge point identity (default: the config file's station.identity, else CP001)")
    run.add_argument("--data-dir", metavar="DIR",
                     help="persistent state directory (SQLite), relative to the current directory (default: the "
                     "config file's station.data_dir, relative to the file, else var/<identity> beside the file "
                     "or in the current directory)")
    run.add_argument("--control", metavar="HOST:PORT",
                     help="serve the control API and HMI here; port 0 picks a free one (default: the config "
                     "file's control.listen, else no control API)")
    _log_level(run)

    demo = sub.add_parser(
        "demo",
        help="dev CSMS + one simulated station + a scripted charging session",
        description="Start the development CSMS and one simulated station, play a scripted charging "
        "session (boot, plug in, card, charge with meter values, stop, unplug) and print the OCPP timeline. "
        "The HMI page (http://HOST:PORT/ of --control) shows the station live and drives it.",
    )
    demo.add_argument("--control", metavar="HOST:PORT", default="127.0.0.1:8180",
                      help="where the station's control API and HMI listen; port 0 picks a free one (printed)")
    demo.add_argument("--keep-running", action="store_true",
                      help="stay up after the scripted session (Ctrl-C ends), e.g. to use the HMI page")
    demo.add_argument("--speed", type=float, default=1.0,
                      help="divide the script's pauses by this factor, > 0")
    demo.add_argument("--security-profile", type=int, choices=[0, 1, 2, 3], metavar="N",
                      help="give the station the security extension at profile N (0-3): Basic auth (1, 2), wss:// "
                      "with a CA made for the demo (2, 3), the station's own certificate (3) (default: none)")
    _log_level(demo)

    csms = sub.add_parser(
        "csms",
        help="run the development central system",
        description="Run the development CSMS: accepts stations on ws://HOST:PORT/ocpp/<identity>, answers "
        "every charge point request by its answer policy and prints every frame. Its operator API (HTTP, "
        "--operator-listen) lists the stations, sends them any CSMS-initiated OCPP 1.6 action, shows what they "
        "sent and changes the policy; `ocpp-station operator` is its command line (docs/dev-csms.md). idTags "
        "are answered Accepted except the test cards INVALID01, BLOCKED01, EXPIRED01. A bad option exits 2 "
        "with one line naming it.",
    )
    csms.add_argument("--host", default="127.0.0.1", help="listen address (default: 127.0.0.1)")
    csms.add_argument("--port", type=_port, default=9000, help="listen port, 0 = any free one (default: 9000)")
    csms.add_argument("--operator-listen", metavar="HOST:PORT|off",
                      help="where the operator API listens; port 0 = any free one (printed); 'off' = no operator API "
                      "(default: 127.0.0.1:9001, or 127.0.0.1:0 with --port 0)")
    csms.add_argument("--boot-status", choices=["Accepted", "Pending", "Rejected"],
                      help="status in BootNotification.conf (default: Accepted)")
    csms.add_argument("--boot-interval", type=_interval, metavar="S",
                      help="interval in BootNotification.conf, integer seconds >= 0 (default: 10)")
    csms.add_argument("--id-tag", action="append", type=_id_tag_rule, metavar="TAG=STATUS", default=[],
                      help="answer idTag TAG with STATUS (Accepted, Blocked, Expired, Invalid, ConcurrentTx); "
                      "repeatable; wins over --policy")
    csms.add_argument("--policy", type=Path, metavar="FILE",
                      help="answer policy as JSON, the body of PUT /api/policy (boot, defaultIdTagInfo, idTags, "
                      "stations); --boot-status, --boot-interval and --id-tag win over it")
    csms.add_argument("--message-log", type=_count, default=10_000, metavar="N",
                      help="frames kept for the operator API's messages endpoint, all stations together "
                      "(default: 10000, 0 = none)")
    csms.add_argument("--quiet", action="store_true", help="do not print every frame")
    csms.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                      help="N processes accepting on the same port (SO_REUSEPORT, Linux), for more stations than one "
                      "process's open-file limit or core holds; the operator API forwards to the worker holding a "
                      "station (docs/dev-csms.md#several-worker-processes); not with --tls or --files-dir (default: 1)")
    csms.add_argument("--worker", type=_worker_slot, help=argparse.SUPPRESS)  # I/N: set by --workers for each one
    csms.add_argument("--stats-file", type=Path, metavar="FILE",
                      help="write the CSMS's CPU, memory, CALL count and garbage-collector pauses as JSON to FILE "
                      "every second and when it stops (the operator API's GET /api/status) (default: none)")
    csms.add_argument("--files-dir", type=Path, metavar="DIR",
                      help="serve the firmware files in DIR and store diagnostics uploads in DIR/diagnostics "
                      "(docs/dev-csms.md#firmware-files-and-diagnostics-uploads) (default: no file server)")
    csms.add_argument("--files-listen", metavar="HOST:PORT",
                      help="where the file server's HTTP(S) listens, with --files-dir; port 0 = any free one "
                      "(printed) (default: HOST of --host, port 0)")
    csms.add_argument("--files-rate", type=_count, metavar="BYTES", default=0,
                      help="bytes per second of each HTTP(S) firmware download, to watch progress and try power cuts "
                      "mid-download; 0 = unlimited (default: 0)")
    csms.add_argument("--ftp", metavar="HOST:PORT",
                      help="serve --files-dir over FTP too (FTPS with --https-cert); port 0 = any free one "
                      "(default: no FTP)")
    csms.add_argument("--ftp-user", metavar="USER:PASSWORD", default="ocpp:ocpp",
                      help="the FTP server's login (default: ocpp:ocpp)")
    csms.add_argument("--https-cert", type=Path, metavar="PEM",
                      help="certificate chain: the file server speaks HTTPS (and FTPS) (default: plain HTTP)")
    csms.add_argument("--https-key", type=Path, metavar="PEM",
                      help="the private key of --https-cert, if not in the same file (default: none)")
    tls = csms.add_argument_group("security extension (docs/security.md)")
    tls.add_argument("--tls", action="store_true",
                     help="serve wss:// with a CA and a server certificate for --host made at start; the CA's "
                     "certificate is written to --ca-out, and the CA signs the stations' CSRs (default: ws://)")
    tls.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve wss:// with this PEM certificate (chain)")
    tls.add_argument("--tls-key", type=Path, metavar="FILE", help="the private key of --tls-cert (PEM)")
    tls.add_argument("--ca-cert", type=Path, metavar="FILE",
                     help="the CA (PEM) that signs the stations' CSRs and verifies their client certificates "
                     "(security profile 3); with --ca-key")
    tls.add_argument("--ca-key", type=Path, metavar="FILE", help="the private key of --ca-cert (PEM)")
    tls.add_argument("--ca-out", type=Path, metavar="FILE",
                     help="with --tls: where to write the CA's certificate, the stations' CSMS root certificate "
                     "(default: csms-root-ca.pem in a new temporary directory, printed)")
    tls.add_argument("--client-cert", choices=["optional", "required"], default="optional",
                     help="with a CA: whether stations must present a client certificate (default: optional)")
    tls.add_argument("--basic-auth", action="append", type=_basic_auth_rule, metavar="IDENTITY:KEY", default=[],
                     help="accept station IDENTITY ('*' = any other) only with this AuthorizationKey (32 to 40 hex "
                     "digits) as HTTP Basic password; repeatable (default: no Basic auth checked)")
    _log_level(csms)

    from .csms.operator_cli import add_operator_parser

    add_operator_parser(sub)

    fleet = sub.add_parser(
        "fleet",
        help="simulate a fleet of stations against a CSMS (load test)",
        description="Run N simulated stations, each a full station on the same core as `run` (in-memory "
        "store, simulated hardware), sharing one event loop per worker process, driven by a seeded scenario "
        "(station templates, sessions, EV power, idTags; network drops, power cuts, and with --csms builtin "
        "CSMS errors and silence). Shows live progress on stderr (a small table redrawn in place on a "
        "terminal, one line a second otherwise), a "
        "summary at the end, and optionally a metrics JSON file. Raises the open-file limit to the hard "
        "limit (and says so if that is not enough). SIGINT/SIGTERM end the driving phase early: sessions "
        "are stopped and reported before the stations disconnect. The scenario format is documented in "
        "docs/fleet.md (examples/fleet-basic.toml, examples/fleet-faults.toml). Exit status: 0 when every station "
        "was Accepted, no error was seen and every transaction was reported; 1 when a station was never Accepted "
        "or errors were seen; 2 for a bad option or scenario; 3 when transactions were left unreported (still open, "
        "or transaction messages queued or dropped at the end), checked first. `ocpp-station fleet merge RUN.json... "
        "[--plot FILE.html] [--metrics FILE]` makes one report of the --metrics files of --shard runs.",
    )
    fleet.add_argument("--csms", metavar="URL", required=True,
                       help="CSMS endpoint URL (the identity is appended), or 'builtin' to start the "
                       "development CSMS in a subprocess")
    fleet.add_argument("--count", type=int, metavar="N", required=True, help="number of stations")
    fleet.add_argument("--scenario", type=Path, metavar="FILE", help="scenario TOML file (default: built-in defaults)")
    fleet.add_argument("--seed", default="1", metavar="S",
                       help="seed of every random draw (templates, schedule, power, idTags, drops, power cuts, "
                       "CSMS faults); same seed, same schedule (default: 1)")
    fleet.add_argument("--duration", type=float, default=60.0, metavar="D",
                       help="seconds of driving from the first station's start, > 0 (default: 60); then open "
                       "sessions are stopped and the queues drained")
    fleet.add_argument("--workers", type=int, default=1, metavar="K",
                       help="worker processes to spread the stations over (default: 1)")
    fleet.add_argument("--shard", metavar="I/N",
                       help="run only shard I of N (0 <= I < N, e.g. a Kubernetes Job's completion index): stations "
                       "I+1, I+1+N, I+1+2N... of the --count. Every draw is seeded from the seed and the station's "
                       "identity, so the N shards together are the single run, and a shard can be rerun alone; "
                       "`ocpp-station fleet merge` makes one report of their --metrics files (default: the whole run)")
    fleet.add_argument("--start-at", metavar="ISO-TIME",
                       help="real time: start driving (t = 0, the first station of the ramp) at this wall-clock "
                       "instant, an ISO 8601 time with its UTC offset (e.g. 2026-12-02T10:00:00Z), so that the "
                       "shards of one run start together (a Kubernetes Job passes every pod the same value); the "
                       "fleet waits until then; a time already past starts now with a warning (default: at once)")
    fleet.add_argument("--ramp", type=float, metavar="RATE",
                       help="stations started per second (default: the scenario's fleet.ramp_rate, 100)")
    fleet.add_argument("--identity-pattern", metavar="PATTERN",
                       help="identity pattern, str.format with n = 1..N (default: the scenario's, SIM{n:05d}); "
                       "it must give every station its own identity (so contain {n...}) of printable characters "
                       "without '/' (at most 48); it is percent-encoded into the URL")
    fleet.add_argument("--drain-timeout", type=float, metavar="S",
                       help="at the end, how long (s, virtual with --virtual-time) to wait for the transaction "
                       "messages to be delivered; a second SIGINT/SIGTERM ends the wait (default: long enough for "
                       "the retry policy, A x MessageTimeout + TransactionMessageRetryInterval x A(A-1)/2 with A = "
                       "TransactionMessageAttempts (the longest over the templates), plus 30 s for a reconnect, "
                       "plus the scenario's longest network outage when it has drops: 300 s with the defaults)")
    fleet.add_argument("--metrics", type=Path, metavar="FILE",
                       help="write the metrics (JSON, fields in docs/fleet.md) here at the end, with a time_series "
                       "per wall-clock second, or with --virtual-time per bucket of virtual seconds (1 s, wider for "
                       "runs over 1,000 s): messages/s, latency p50/p99, stations connected and charging, queued "
                       "transaction messages")
    fleet.add_argument("--no-progress", action="store_true",
                       help="no progress (by default a small table on stderr, redrawn in place when stderr is a "
                       "terminal, else one line per second)")
    fleet.add_argument("--virtual-time", action="store_true",
                       help="with --csms builtin only: whenever no station waits for the CSMS, jump the stations' "
                       "clock to the next timer instead of sleeping (--duration is then virtual seconds). Each worker "
                       "has its own virtual clock: the same seed and the same --workers give the identical trace. "
                       "Not with --control")
    fleet.add_argument("--control", metavar="HOST:PORT",
                       help="serve the control API of every station: the single station's endpoints under "
                       "/api/stations/<identity>/ (state, connectors/<n>/plug-in, id-tag, power-cut, frames...) and "
                       "GET /api/stations (identities with registration, connected, status). Port 0 picks a free "
                       "port (printed on stderr). A power cut restarts that station on its in-memory store, the "
                       "process lives on. Only with --workers 1 and without --virtual-time: refused (exit 2) otherwise")
    fleet.add_argument("--metrics-listen", metavar="HOST:PORT",
                       help="serve Prometheus metrics on http://HOST:PORT/metrics while the fleet runs: stations "
                       "connected, accepted and charging, transactions started and stopped, CALLs sent and received "
                       "per action, CALLERRORs, timeouts, reconnects, queued transaction messages, the CALL latency "
                       "histogram; updated once a second, no per-station label; port 0 picks a free port (printed "
                       "on stderr) (default: no endpoint)")
    fleet.add_argument("--trace", type=Path, metavar="FILE",
                       help="write every CALL the stations send, one line each: '<time> <identity> <messageId> "
                       "<action> <payload>' (the identity percent-encoded as in the URL), ordered by time, then identity. With --virtual-time the same seed "
                       "gives the identical file")
    fleet.add_argument("--plot", type=Path, metavar="FILE.html",
                       help="write a self-contained HTML page (inline SVG, no script) with messages/s, latency "
                       "p50/p99 and stations connected and charging over the run (virtual seconds with "
                       "--virtual-time); the same time series is in --metrics under time_series")
    fleet.add_argument("--ca-file", type=Path, metavar="FILE",
                       help="the root certificate (PEM) of a wss:// CSMS under test (default: the fleet CA for "
                       "--csms builtin, else the system's trust store)")
    fleet.add_argument("--pki-dir", type=Path, metavar="DIR",
                       help="write the fleet CA (fleet-ca.pem: what a CSMS under test trusts at security profile 3) "
                       "and the stations' keys and certificates here (default: a temporary directory)")
    _log_level(fleet)

    keys = sub.add_parser(
        "keys",
        help="list the OCPP configuration keys the station accepts",
        description="Print every OCPP configuration key the station accepts (GetConfiguration / "
        "ChangeConfiguration / the config file's [ocpp] table) with its type, access (R read-only, RW "
        "read-write, W write-only), default and range, read from the station's own key registry. With "
        "--config, for a station of that file's hardware shape, and the file's [ocpp] values are shown.",
        epilog=f"The meaning of each key: {REFERENCE} in the source repository and the OCPP 1.6 specification §9.",
    )
    keys.add_argument("--config", type=Path, metavar="FILE",
                      help="a station's TOML config file (default: none, the default station)")
    keys.add_argument("--json", action="store_true",
                      help="a JSON array of {key, type, access, default, profile, ...} (default: a table)")
    return p


def _logging(level: str, quiet: tuple[str, ...] = ()) -> None:
    """Log records of ``level`` and above to stderr. The websockets library's own INFO lines (server
    listening, closing...) repeat ours: shown at DEBUG only, as are those of the loggers in ``quiet``."""
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        for name in ("websockets", *quiet):
            logging.getLogger(name).setLevel(max(logging.WARNING, getattr(logging, level)))


def cmd_keys(args: argparse.Namespace) -> int:
    import orjson

    from .config import ConfigError, load_settings
    from .keylist import format_table, key_rows

    try:
        settings = load_settings(args.config) if args.config is not None else None
    except ConfigError as exc:
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return 2
    rows = key_rows(settings.station if settings is not None else None)
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(format_table(rows))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_settings
    from .runtime.app import ControlListenError, StationRuntime
    from .store.sqlite import SqliteStore

    overrides = {
        k: v
        for k, v in {
            "csms_url": args.csms,
            "identity": args.identity,
            "data_dir": args.data_dir,
            "control": args.control,
        }.items()
        if v is not None
    }
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return 2
    _logging(args.log_level)
    from .runtime import journal

    journal.install(settings.station.identity)  # under systemd: the journal's native protocol, with fields
    data_dir = settings.data_dir
    where = (f"{settings.config_path}: station.data_dir" if args.data_dir is None and settings.config_path is not None
             else "--data-dir")
    try:
        SqliteStore(data_dir).close()
    except Exception as exc:
        print(f"ocpp-station: {where}: expected a writable directory for the station's store, got {str(data_dir)!r} "
              f"({exc})", file=sys.stderr)
        return 2
    lock = _lock_data_dir(data_dir)  # held until the process ends (a power cut releases it too)
    if lock is None:
        print(f"ocpp-station: {where}: {str(data_dir)!r} is in use by another ocpp-station process "
              "(two stations on one store would send each other's transactions)", file=sys.stderr)
        return 2
    from .hardware.parts import HardwareError

    rt = StationRuntime(settings, lambda: SqliteStore(data_dir))
    try:
        return asyncio.run(rt.run())
    except HardwareError as exc:  # a real part of [hardware] that cannot be opened or does not answer
        where = f"{settings.config_path}: {exc.key}" if settings.config_path is not None else exc.key
        print(f"ocpp-station: {where}: {exc}", file=sys.stderr)
        return 2
    except ControlListenError as exc:
        from_file = args.control is None and settings.config_path is not None
        where = f"{settings.config_path}: control.listen" if from_file else "--control"
        print(f"ocpp-station: {where}: {exc}", file=sys.stderr)
        return 2


def _lock_data_dir(data_dir: Any) -> int | None:
    """An exclusive lock on ``data_dir/station.lock``; None when another process holds it."""
    import fcntl

    fd = os.open(os.path.join(data_dir, "station.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def cmd_demo(args: argparse.Namespace) -> int:
    from .config import parse_host_port
    from .demo import run_demo

    try:
        control = parse_host_port(args.control)
    except ValueError as exc:
        print(f"ocpp-station: --control: {exc}", file=sys.stderr)
        return 2
    if not (args.speed > 0 and args.speed != float("inf")):
        print(f"ocpp-station: --speed: expected a number > 0, got {args.speed:g}", file=sys.stderr)
        return 2
    _logging(args.log_level, quiet=("ocpp_station.csms",))  # the demo prints the CSMS's side in its timeline
    return asyncio.run(run_demo(control=control, keep_running=args.keep_running, speed=args.speed,
                                security_profile=args.security_profile))


class _OptionError(Exception):
    """A bad option of ``csms``: ``str()`` names it."""


def _basic_auth_rule(text: str) -> tuple[str, bytes]:
    from .core.keys import authorization_key_ok

    identity, sep, key = text.rpartition(":")
    if not sep or not identity or not authorization_key_ok(key):
        raise argparse.ArgumentTypeError(f"expected IDENTITY:KEY with KEY 32 to 40 hex digits, got {text!r}")
    return identity, bytes.fromhex(key)


def _csms_tls(args: argparse.Namespace) -> tuple[Any, Any]:
    """The TLS context and the CA of ``ocpp-station csms`` from its security options."""
    from .csms.pki import DevCa, server_context

    ca = None
    if (args.ca_cert is None) != (args.ca_key is None):
        raise _OptionError("--ca-cert and --ca-key go together")
    if args.ca_cert is not None:
        try:
            ca = DevCa.load(args.ca_cert, args.ca_key)
        except (OSError, ValueError) as exc:
            raise _OptionError(f"--ca-cert/--ca-key: {getattr(exc, 'strerror', None) or exc}") from None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise _OptionError("--tls-cert and --tls-key go together")
    if args.tls and args.tls_cert is not None:
        raise _OptionError("--tls makes its own certificate: leave out --tls-cert/--tls-key")
    if not args.tls and args.tls_cert is None:
        if ca is not None or args.ca_out is not None:
            raise _OptionError("--ca-cert/--ca-out need --tls or --tls-cert")
        return None, None
    if args.tls:
        import tempfile

        ca = ca or DevCa()
        directory = Path(tempfile.mkdtemp(prefix="ocpp-csms-tls-"))
        cert, key = ca.server_files(args.host, directory)
        out = args.ca_out or directory / "csms-root-ca.pem"
        out.write_text(ca.pem)
        print(f"CSMS root certificate (the stations' [security] csms_root_ca): {out}", flush=True)
    else:
        cert, key = args.tls_cert, args.tls_key
    try:
        ctx = server_context(cert, key, ca.pem if ca is not None else None, args.client_cert == "required")
    except (OSError, ValueError) as exc:
        raise _OptionError(f"--tls-cert/--tls-key: {getattr(exc, 'strerror', None) or exc}") from None
    return ctx, ca


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return n


def _worker_slot(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, got {text!r}")
    return i, n


def cmd_csms(args: argparse.Namespace) -> int:
    import resource

    from .config import parse_host_port
    from .csms.errors import RequestError
    from .csms.policy import parse_policy
    from .csms.server import FilesListenError, OperatorListenError, serve_forever

    operator: tuple[str, int] | None
    if args.operator_listen is None:
        operator = ("127.0.0.1", 9001 if args.port != 0 else 0)
    elif args.operator_listen.strip().lower() == "off":
        operator = None
    else:
        try:
            operator = parse_host_port(args.operator_listen)
        except ValueError as exc:
            print(f"ocpp-station: --operator-listen: {exc} or 'off'", file=sys.stderr)
            return 2
    doc: dict[str, Any] = {}
    if args.policy is not None:
        import orjson

        try:
            doc = orjson.loads(args.policy.read_bytes())
        except OSError as exc:
            print(f"ocpp-station: --policy: cannot read {str(args.policy)!r}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except orjson.JSONDecodeError as exc:
            print(f"ocpp-station: --policy: {args.policy}: not valid JSON: {exc}", file=sys.stderr)
            return 2
    try:
        policy = parse_policy(doc)
    except RequestError as exc:
        print(f"ocpp-station: --policy: {args.policy}: {exc}", file=sys.stderr)
        return 2
    files: dict[str, Any] = {}
    for name in ("files_listen", "ftp"):
        if getattr(args, name) is not None:
            try:
                files[name] = parse_host_port(getattr(args, name))
            except ValueError as exc:
                print(f"ocpp-station: --{name.replace('_', '-')}: {exc}", file=sys.stderr)
                return 2
    user, sep, password = args.ftp_user.partition(":")
    if not sep or not user:
        print(f"ocpp-station: --ftp-user: expected USER:PASSWORD, got {args.ftp_user!r}", file=sys.stderr)
        return 2
    if args.files_dir is None and (files or args.https_cert is not None):
        print("ocpp-station: --files-listen, --ftp and --https-cert need --files-dir", file=sys.stderr)
        return 2
    if args.files_dir is not None and not args.files_dir.is_dir():
        print(f"ocpp-station: --files-dir: {str(args.files_dir)!r} is not a directory", file=sys.stderr)
        return 2
    for name in ("https_cert", "https_key"):
        f = getattr(args, name)
        if f is not None and not f.is_file():
            print(f"ocpp-station: --{name.replace('_', '-')}: cannot read {str(f)!r}", file=sys.stderr)
            return 2
    boot = policy.setdefault("boot", {})
    boot.setdefault("status", "Accepted")
    boot.setdefault("interval", 10)
    if args.boot_status is not None:
        boot["status"] = args.boot_status
    if args.boot_interval is not None:
        boot["interval"] = args.boot_interval
    if args.id_tag:
        from .csms.cards import default_id_tags

        tags = policy.setdefault("idTags", default_id_tags())
        for tag, status in args.id_tag:
            for known in [t for t in tags if t.lower() == tag.lower()]:  # idTags compare case-insensitively
                del tags[known]
            tags[tag] = {"status": status}
    _logging(args.log_level)
    # the listening address is printed on stdout; without websockets' own lines about it, a bad
    # --operator-listen (bound after the websocket endpoint) still exits with one line on stderr
    logging.getLogger("websockets.server").addFilter(
        lambda record: record.msg not in ("server listening on %s", "server closing", "server closed"))
    # one descriptor per station: as many as the hard limit allows (10,000 stations need ~10,100)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
        except (ValueError, OSError):
            pass
    try:
        ssl_context, ca = _csms_tls(args)
    except _OptionError as exc:
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return 2
    basic_auth = dict(args.basic_auth) if args.basic_auth else None
    if args.workers > 1 and (args.tls or args.files_dir is not None):
        print("ocpp-station: --workers: not with --tls or --files-dir (each worker would make its own CA or "
              "file server)", file=sys.stderr)
        return 2

    async def main() -> None:
        if args.workers > 1:
            from .csms.workers import run_workers

            serving = asyncio.ensure_future(
                run_workers(getattr(args, "argv", []), args.workers, args.host, args.port, operator,
                            args.stats_file, lambda line: print(line, flush=True)))
        else:
            serving = asyncio.ensure_future(serve_forever(
                args.host, args.port, boot_status=boot["status"], boot_interval=boot["interval"],
                print_frames=not args.quiet, operator_listen=operator, policy=policy,
                message_log=args.message_log, files_dir=args.files_dir,
                files_listen=files.get("files_listen"), ftp_listen=files.get("ftp"),
                ftp_user=(user, password), https_cert=args.https_cert, https_key=args.https_key,
                files_rate=args.files_rate or None, ssl=ssl_context, basic_auth=basic_auth, ca=ca,
                stats_file=args.stats_file, worker=args.worker))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a graceful stop: the links are closed, exit 0
            loop.add_signal_handler(sig, serving.cancel)
        try:
            await serving
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(main())
    except OperatorListenError as exc:
        print(f"ocpp-station: --operator-listen: {exc}", file=sys.stderr)
        return 2
    except FilesListenError as exc:
        print(f"ocpp-station: {exc.option}: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # --workers: a worker did not start or exited
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        what = (f"address {args.host}:{args.port} is in use" if exc.errno == errno.EADDRINUSE
                else f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        # a taken or privileged port is the port's fault; an address that is not local or not found, the host's
        option = "--port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
        print(f"ocpp-station: {option}: {what}", file=sys.stderr)
        return 2
    return 0


def _interval(text: str) -> int:
    from .csms.policy import MAX_INTERVAL

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_INTERVAL:
        raise argparse.ArgumentTypeError(f"expected an integer of seconds from 0 to {MAX_INTERVAL}, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 10000000, got {text!r}")
    return value


def _id_tag_rule(text: str) -> tuple[str, str]:
    from .csms.policy import AUTHORIZATION_STATUSES, ID_TAG_MAX

    tag, sep, status = text.rpartition("=")
    if not sep or not 1 <= len(tag) <= ID_TAG_MAX or status not in AUTHORIZATION_STATUSES:
        raise argparse.ArgumentTypeError(
            f"expected TAG=STATUS, TAG of 1 to {ID_TAG_MAX} characters and STATUS one of "
            f"{', '.join(AUTHORIZATION_STATUSES)}, got {text!r}")
    return tag, status


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return port


def cmd_fleet(args: argparse.Namespace) -> int:
    from .fleet import FleetOptions, ScenarioError, load_scenario, run_fleet
    from .fleet.runner import exit_status

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return 2
    if args.count < 1:
        print("ocpp-station: --count: expected a positive integer", file=sys.stderr)
        return 2
    if not args.duration > 0 or args.duration == float("inf"):
        print(f"ocpp-station: --duration: expected a number of seconds > 0, got {args.duration:g}", file=sys.stderr)
        return 2
    if args.drain_timeout is not None and (not args.drain_timeout >= 0 or args.drain_timeout == float("inf")):
        print(f"ocpp-station: --drain-timeout: expected a number of seconds >= 0, got {args.drain_timeout:g}",
              file=sys.stderr)
        return 2
    if args.workers < 1:
        print("ocpp-station: --workers: expected a positive integer", file=sys.stderr)
        return 2
    shard = None
    if args.shard is not None:
        from .fleet.runner import parse_shard

        try:
            shard = parse_shard(args.shard)
        except ValueError as exc:
            print(f"ocpp-station: --shard: {exc}", file=sys.stderr)
            return 2
        if shard[0] >= args.count:
            print(f"ocpp-station: --shard: shard {args.shard} of {args.count} stations has no station "
                  f"(expected I < --count)", file=sys.stderr)
            return 2
    start_at = None
    if args.start_at is not None:
        from datetime import datetime

        try:
            when = datetime.fromisoformat(args.start_at.strip())
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            print(f"ocpp-station: --start-at: expected an ISO 8601 time with its UTC offset (e.g. "
                  f"2026-12-02T10:00:00Z), got {args.start_at!r}", file=sys.stderr)
            return 2
        if args.virtual_time:
            print("ocpp-station: --start-at: for real time only (with --virtual-time the stations' clock starts at "
                  "its own epoch)", file=sys.stderr)
            return 2
        start_at = when.timestamp()
    if args.ramp is not None:
        if args.ramp <= 0:
            print("ocpp-station: --ramp: expected a positive number", file=sys.stderr)
            return 2
        scenario.ramp_rate = args.ramp
    if args.identity_pattern is not None:
        scenario.identity_pattern = args.identity_pattern
    try:
        scenario.identities(args.count)
    except ValueError as exc:
        where = "--identity-pattern" if args.identity_pattern is not None else f"{args.scenario}: fleet.identity_pattern"
        print(f"ocpp-station: {where}: {exc}", file=sys.stderr)
        return 2
    if args.csms != "builtin" and not args.csms.startswith(("ws://", "wss://")):
        print(f"ocpp-station: --csms: expected a ws:// or wss:// URL or 'builtin', got {args.csms!r}", file=sys.stderr)
        return 2
    if args.virtual_time and args.csms != "builtin":
        print("ocpp-station: --virtual-time needs --csms builtin", file=sys.stderr)
        return 2
    if scenario.event_loop != "asyncio":
        from .fleet.scenario import new_event_loop

        try:
            new_event_loop(scenario.event_loop).close()
        except ImportError as exc:
            print(f"ocpp-station: {args.scenario or 'scenario'}: {exc}", file=sys.stderr)
            return 2
    if args.ca_file is not None:
        try:
            import ssl as ssl_module

            ssl_module.create_default_context(cafile=str(args.ca_file))
        except (OSError, ssl_module.SSLError) as exc:
            print(f"ocpp-station: --ca-file: not a readable PEM certificate: {getattr(exc, 'strerror', None) or exc}",
                  file=sys.stderr)
            return 2
    if scenario.security_profile >= 2 and args.csms.startswith("ws://"):
        where = args.scenario or "scenario"
        print(f"ocpp-station: {where}: fleet.security_profile: {scenario.security_profile} needs a wss:// CSMS, "
              f"got {args.csms}", file=sys.stderr)
        return 2
    control = None
    if args.control is not None:
        from .config import parse_host_port
        from .fleet.runner import CONTROL_VIRTUAL

        if args.virtual_time:
            print(f"ocpp-station: {CONTROL_VIRTUAL}", file=sys.stderr)
            return 2
        try:
            control = parse_host_port(args.control)
        except ValueError as exc:
            print(f"ocpp-station: --control: {exc}", file=sys.stderr)
            return 2
        if args.workers > 1:
            print("ocpp-station: --control needs --workers 1 (the control API serves the stations of one "
                  "process); drop --workers or --control", file=sys.stderr)
            return 2
    metrics_listen = None
    if args.metrics_listen is not None:
        from .config import parse_host_port

        try:
            metrics_listen = parse_host_port(args.metrics_listen)
        except ValueError as exc:
            print(f"ocpp-station: --metrics-listen: {exc}", file=sys.stderr)
            return 2
    _logging(args.log_level)
    from .fleet.runner import MetricsListenError
    from .runtime.app import ControlListenError

    try:
        result = run_fleet(
            FleetOptions(
                csms_url=args.csms,
                count=args.count,
                scenario=scenario,
                seed=args.seed,
                duration=args.duration,
                workers=args.workers,
                drain_timeout=args.drain_timeout,
                metrics_path=args.metrics,
                progress=not args.no_progress,
                virtual_time=args.virtual_time,
                control=control,
                trace_path=args.trace,
                plot_path=args.plot,
                shard=shard,
                metrics_listen=metrics_listen,
                pki_dir=args.pki_dir,
                ca_file=args.ca_file,
                start_at=start_at,
            )
        )
    except ControlListenError as exc:
        print(f"ocpp-station: --control: {exc}", file=sys.stderr)
        return 2
    except MetricsListenError as exc:
        print(f"ocpp-station: --metrics-listen: {exc}", file=sys.stderr)
        return 2
    return exit_status(result)


def fleet_merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ocpp-station fleet merge",
        description="One report from the --metrics files of a run's shards (`fleet --shard I/N`): counts added up, "
        "the stations joined (an identity in two files is refused), latency percentiles from the files' histograms "
        "added together, never averaged, for the whole run and for each time-series bucket (files of older versions "
        "without bucket histograms: the highest shard's, with a warning). Prints the summary on stderr; warns when shards are missing. Exit status as "
        "a run's (0, 1, 3), 2 for a file that cannot be merged. See docs/fleet.md.",
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN.json", help="the shards' metrics files")
    p.add_argument("--plot", type=Path, metavar="FILE.html", help="write the merged plot here (default: no plot)")
    p.add_argument("--metrics", type=Path, metavar="FILE",
                   help="write the merged metrics document here (default: not written)")
    return p


def cmd_fleet_merge(argv: list[str]) -> int:
    from .fleet.merge import MergeError, load_runs, merge_runs
    from .fleet.metrics import plot_html, summary_text
    from .fleet.runner import exit_status, faults_line

    args = fleet_merge_parser().parse_args(argv)
    try:
        merged, warnings = merge_runs(load_runs(args.runs))
    except MergeError as exc:
        print(f"ocpp-station fleet merge: {exc}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"fleet merge: warning: {w}", file=sys.stderr)
    print(f"fleet merge: {len(args.runs)} file(s), {merged['stations']} of {merged['count']} stations", file=sys.stderr)
    print(summary_text(merged), file=sys.stderr)
    print(faults_line(merged), file=sys.stderr)
    if args.plot is not None:
        args.plot.write_text(plot_html(merged))
        print(f"fleet merge: plot written to {args.plot}", file=sys.stderr)
    if args.metrics is not None:
        args.metrics.write_text(json.dumps(merged, indent=1))
        print(f"fleet merge: metrics written to {args.metrics}", file=sys.stderr)
    return exit_status(merged)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["fleet", "merge"]:
        return cmd_fleet_merge(argv[2:])
    args = build_parser().parse_args(argv)
    if args.command == "csms":
        args.argv = argv[argv.index("csms") + 1:]  # --workers starts each worker with the same options
    if args.command == "operator":
        from .csms.operator_cli import cmd_operator

        return cmd_operator(args)
    commands = {"run": cmd_run, "demo": cmd_demo, "csms": cmd_csms, "fleet": cmd_fleet, "keys": cmd_keys}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
