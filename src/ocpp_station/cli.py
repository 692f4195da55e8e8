"""``ocpp-station``: run a station, the demo, or the development CSMS."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from . import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ocpp-station", description="EV charging station software speaking OCPP 1.6-J.")
    p.add_argument("--version", action="version", version=f"ocpp-station {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run one station until SIGINT/SIGTERM",
        description="Run one charging station against a CSMS until SIGINT/SIGTERM (graceful stop, exit 0). "
        "A bad config file or option exits with status 2 and one line naming the file, the key and what "
        "was expected.",
    )
    run.add_argument("--config", type=Path, metavar="FILE", help="TOML config file (see INTERFACE.md)")
    run.add_argument("--csms", metavar="URL", help="CSMS endpoint URL, ws:// or wss:// (identity is appended)")
    run.add_argument("--identity", metavar="ID", help="charge point identity")
    run.add_argument("--data-dir", metavar="DIR", help="persistent state directory (SQLite)")
    run.add_argument("--control", metavar="HOST:PORT", help="serve the control API and HMI here")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    demo = sub.add_parser(
        "demo",
        help="dev CSMS + one simulated station + a scripted charging session",
        description="Start the development CSMS and one simulated station, play a scripted charging "
        "session (boot, plug in, card, charge with meter values, stop, unplug) and print the OCPP timeline.",
    )
    demo.add_argument("--control", metavar="HOST:PORT", default="127.0.0.1:8180",
                      help="where the station's control API and HMI listen (default 127.0.0.1:8180)")
    demo.add_argument("--keep-running", action="store_true", help="stay up after the scripted session (Ctrl-C ends)")
    demo.add_argument("--speed", type=float, default=1.0, help="divide the script's pauses by this factor")
    demo.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    csms = sub.add_parser(
        "csms",
        help="run the development central system",
        description="Run the development CSMS: accepts stations on ws://HOST:PORT/ocpp/<identity>, answers "
        "every charge point request and logs every frame.",
    )
    csms.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    csms.add_argument("--port", type=int, default=9000, help="listen port (default 9000)")
    csms.add_argument("--boot-interval", type=int, default=10, help="interval in BootNotification.conf (s)")
    csms.add_argument("--quiet", action="store_true", help="do not print every frame")
    csms.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_settings
    from .runtime.app import StationRuntime
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
    data_dir = settings.data_dir
    try:
        SqliteStore(data_dir).close()
    except Exception as exc:
        print(f"ocpp-station: data_dir {data_dir}: cannot open the store: {exc}", file=sys.stderr)
        return 2
    rt = StationRuntime(settings, lambda: SqliteStore(data_dir))
    return asyncio.run(rt.run())


def cmd_demo(args: argparse.Namespace) -> int:
    from .config import parse_host_port
    from .demo import run_demo

    try:
        control = parse_host_port(args.control)
    except ValueError as exc:
        print(f"ocpp-station: --control: {exc}", file=sys.stderr)
        return 2
    _logging(args.log_level)
    return asyncio.run(run_demo(control=control, keep_running=args.keep_running, speed=args.speed))


def cmd_csms(args: argparse.Namespace) -> int:
    from .csms.server import serve_forever

    _logging(args.log_level)
    try:
        asyncio.run(serve_forever(args.host, args.port, boot_interval=args.boot_interval, print_frames=not args.quiet))
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"run": cmd_run, "demo": cmd_demo, "csms": cmd_csms}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
