"""``waasp status|down|env``: show, stop or export the ``waasp up`` running on the data dir."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import time

import orjson

from waasp import instance
from waasp.cli.common import EXIT_FAILURE, EXIT_OK, error, say
from waasp.errors import WaaspError
from waasp.instance import Instance
from waasp.settings import Settings

DOWN_TIMEOUT = 90.0  # past the worker's 30 s drain and the servers' own stops
POLL_INTERVAL = 0.1


def _not_running(settings: Settings) -> str:
    return f"waasp up is not running (data dir {settings.data_dir.resolve()})"


def _describe(found: Instance) -> str:
    servers = found.servers
    lines = [
        f"waasp up is {found.state} (pid {found.pid}, since {found.started_at})",
        f"  API         {found.url}/api/v1",
        f"  dashboard   {found.dashboard_url}",
        f"  Redis       {found.redis_url or '-'}"
        + (f" (embedded, pid {servers['redis']})" if "redis" in servers else ""),
        f"  results     {found.result_url or '-'}",
        f"  PostgreSQL  {found.database_url or '-'}"
        + (f" (embedded, pid {servers['postgres']})" if "postgres" in servers else ""),
        f"  key prefix  {found.key_prefix or '-'}",
        f"  data dir    {found.data_dir}",
        f"  API token   {found.token_file or 'from WAASP_API_TOKEN'}",
    ]
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Say whether ``waasp up`` runs on the data dir, and what runs where; exit 1 if not."""
    found = instance.running(settings.data_dir.resolve())
    if args.json:
        document = {"running": False, "data_dir": str(settings.data_dir.resolve())}
        if found is not None:
            document = {"running": True, **found.as_dict()}
        say(orjson.dumps(document).decode())
    else:
        say(_not_running(settings) if found is None else _describe(found))
    return EXIT_OK if found is not None else EXIT_FAILURE


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    """Stop the ``waasp up`` running on the data dir (SIGTERM: it drains, then stops)."""
    found = instance.running(settings.data_dir.resolve())
    if found is None:
        say(orjson.dumps({"stopped": None}).decode() if args.json else _not_running(settings))
        return EXIT_OK
    if not args.json:
        say(f"stopping waasp up (pid {found.pid}, {found.url})")
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while instance.is_alive(found):
        if time.monotonic() > deadline:
            raise WaaspError(f"waasp up (pid {found.pid}) still runs after {args.timeout:g} s")
        time.sleep(POLL_INTERVAL)
    say(orjson.dumps({"stopped": found.pid}).decode() if args.json else "stopped")
    return EXIT_OK


def environment(found: Instance) -> dict[str, str]:
    """The variables that point a split-mode process at ``found``'s servers."""
    variables = {
        name: value
        for name, field_name in instance.VARIABLES.items()
        if (value := getattr(found, field_name))
    }
    return {**variables, "WAASP_DATA_DIR": found.data_dir}


def cmd_env(args: argparse.Namespace, settings: Settings) -> int:
    """Print ``export`` lines (for ``eval``) that point split-mode tools at the running up."""
    found = instance.running(settings.data_dir.resolve())
    if found is None:
        error(_not_running(settings))
        return EXIT_FAILURE
    variables = environment(found)
    if args.json:
        say(orjson.dumps({"environment": variables, "token_file": found.token_file}).decode())
        return EXIT_OK
    for name, value in variables.items():
        say(f"export {name}={shlex.quote(value)}")
    if found.token_file:
        # The token is read when the line is evaluated, so it is never printed.
        say(f'export WAASP_API_TOKEN="$(cat {shlex.quote(found.token_file)})"')
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register status, down and env."""
    status = sub.add_parser("status", help="what runs where (exit 1 when waasp up is not running)")
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(handler=cmd_status, error_exit=EXIT_FAILURE)

    down = sub.add_parser("down", help="stop the waasp up running on the data dir")
    down.add_argument(
        "--timeout", type=float, default=DOWN_TIMEOUT, help="seconds to wait for it to stop"
    )
    down.add_argument("--json", action="store_true", help="print one JSON document")
    down.set_defaults(handler=cmd_down, error_exit=EXIT_FAILURE)

    env = sub.add_parser("env", help='export lines for split-mode tools: eval "$(waasp env)"')
    env.add_argument("--json", action="store_true", help="print one JSON document")
    env.set_defaults(handler=cmd_env, error_exit=EXIT_FAILURE)
