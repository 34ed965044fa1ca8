"""Command line: follow the entities of the instances a user may read, or call a service.

    python -m odoo_ha_client watch --url URL --db DB --login LOGIN --key KEY
    python -m odoo_ha_client call --url URL --db DB --login LOGIN --key KEY \\
        [--instance ID] light.turn_off light.kitchen [--data '{"transition": 2}']

The key may come from the ODOO_HA_KEY environment variable instead of --key (command lines
are visible to other users of the machine). Exit codes: 0 success, 1 refused or failed
(one line on stderr), 2 usage error.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from .client import OdooHaClient
from .errors import OdooHaError
from .mirror import Change, Reloaded

KEY_ENV = "ODOO_HA_KEY"


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def build_parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--url", required=True, help="Odoo base URL, e.g. http://odoo:8069")
    connection.add_argument("--db", required=True, help="database name")
    connection.add_argument("--login", required=True, help="login of the device's user")
    connection.add_argument("--key", help=f"device key (default: ${KEY_ENV})")

    parser = argparse.ArgumentParser(prog="python -m odoo_ha_client", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "watch", parents=[connection], help="print one line per entity change, for ever"
    )
    call = commands.add_parser("call", parents=[connection], help="call a service")
    call.add_argument("--instance", type=int, help="instance id (default: the current one)")
    call.add_argument("--data", type=_json_object, help="service data, a JSON object")
    call.add_argument("service", help="domain.service, e.g. light.turn_off")
    call.add_argument("entity_id", nargs="+", help="entity ids, e.g. light.kitchen")
    return parser


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> argparse.Namespace:
    """Parse and check the arguments; exits with code 2 on a usage error."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    args.key = args.key or environ.get(KEY_ENV)
    if not args.key:
        parser.error(f"a device key is required: --key or ${KEY_ENV}")
    if args.command == "call":
        domain, _dot, service = args.service.partition(".")
        if not domain or not service:
            parser.error(f"service must be domain.service, not {args.service!r}")
        args.domain, args.service = domain, service
    return args


def _client(args: argparse.Namespace) -> OdooHaClient:
    return OdooHaClient(args.url, args.db, args.login, args.key)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


async def watch(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    client = _client(args)
    try:
        async for event in client.changes():
            instance = client.mirror.instances.get(event.instance_id, {})
            name = instance.get("name", event.instance_id)
            if isinstance(event, Change):
                state = "(removed)" if event.entity is None else event.entity.get("state")
                out.write(f"{_now()} {name} {event.entity_id} {state}\n")
                out.flush()
            elif isinstance(event, Reloaded):
                count = len(client.mirror.entities.get(event.instance_id, {}))
                err.write(f"{_now()} {name}: {count} entities read\n")
    finally:
        await client.close()
    return 0


async def call(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    client = _client(args)
    try:
        await client.login()
        instance_id = args.instance
        if instance_id is None:
            instance_id = (await client.instances()).get("current_instance_id")
            if instance_id is None:
                raise OdooHaError("no current instance: pass --instance")
        entity_id = args.entity_id[0] if len(args.entity_id) == 1 else args.entity_id
        result = await client.call_service(
            instance_id, args.domain, args.service, entity_id, args.data
        )
    finally:
        await client.close()
    out.write(json.dumps(result, indent=2, default=str) + "\n")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "watch": watch,
    "call": call,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except OdooHaError as error:
        # AuthenticationError, SessionExpired, ApiError, ConnectionFailed: one line, code 1.
        sys.stderr.write(f"odoo_ha_client: {type(error).__name__}: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
