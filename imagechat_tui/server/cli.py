"""`imagechat-server`: serve (the default), and administer tenants and tokens."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from ..protocol.limits import CLOSE_GOING_AWAY, MAX_FRAME_BYTES
from ..protocol.models import ROLES
from . import admin
from .app import ImageChatServer
from .config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, default_data_dir, sqlite_url
from .schema import SchemaError, make_engine, prepare

DATABASE_ENV = "IMAGECHAT_DATABASE_URL"


class _Server(uvicorn.Server):
    """uvicorn, plus: one line naming the URL once listening, and WebSockets closed with 1001
    (going away) on shutdown instead of uvicorn's own 1012."""

    def __init__(self, config: uvicorn.Config, app: ImageChatServer) -> None:
        super().__init__(config)
        self.imagechat = app

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            scheme = "https" if self.config.ssl_certfile else "http"
            host = f"[{host}]" if ":" in host else host
            print(f"imagechat-server serving on {scheme}://{host}:{port}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.imagechat.hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
        await super().shutdown(sockets)


def _database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return sqlite_url(data_dir)


def serve(args: argparse.Namespace) -> int:
    config = ServerConfig(database_url=_database_url(args), write_rate=args.write_rate, write_burst=args.write_burst)
    try:  # here, not in the lifespan, so that a refusal is one clear line rather than a traceback
        asyncio.run(_with_engine(config.database_url, _schema_ready))
    except SchemaError as exc:
        print(f"imagechat-server: {exc}", file=sys.stderr)
        return 2
    app = ImageChatServer(config)
    uv_config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,  # frames are under 1 KB: compression costs memory, saves little
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_level=args.log_level,
        access_log=args.log_level == "debug",
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        timeout_graceful_shutdown=5,
        backlog=4096,
    )
    server = _Server(uv_config, app)
    server.run()
    return 0 if server.started else 1


async def _with_engine(url: str, action: Callable[[Any], Awaitable[int]]) -> int:
    engine = make_engine(url)
    try:
        await prepare(engine)
        return await action(engine)
    finally:
        await engine.dispose()


async def _schema_ready(_engine: Any) -> int:
    return 0


async def _tenant_create(args: argparse.Namespace, engine: Any) -> int:
    tenant_id = await admin.create_tenant(engine, args.name)
    print(f"tenant {args.name!r} created: {tenant_id}")
    return 0


async def _token_create(args: argparse.Namespace, engine: Any) -> int:
    token_id, token = await admin.create_token(engine, args.tenant, args.user, args.name, args.role)
    print(f"token {token_id} for {args.name} ({args.role}); shown only now:", file=sys.stderr)
    print(token)
    return 0


async def _token_list(args: argparse.Namespace, engine: Any) -> int:
    rows = await admin.list_tokens(engine, args.tenant)
    print(f"{'ID':18} {'TENANT':16} {'USER':16} {'NAME':20} {'ROLE':10} {'CREATED':25} REVOKED")
    for t in rows:
        print(f"{t.id:18} {t.tenant:16} {t.user_id:16} {t.user_name:20} {t.role:10} {t.created_at:25} "
              f"{t.revoked_at or '-'}")
    return 0


async def _token_revoke(args: argparse.Namespace, engine: Any) -> int:
    await admin.revoke_token(engine, args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def _storage_options(defaults: bool) -> argparse.ArgumentParser:
    """--data-dir and --database-url, accepted before and after a subcommand: the subcommand's
    copies have no defaults, so that they don't overwrite what was given before it."""
    storage = argparse.ArgumentParser(add_help=False)
    storage.add_argument("--data-dir", default=None if defaults else argparse.SUPPRESS,
                         help=f"where the SQLite database lives (default: {default_data_dir()})")
    storage.add_argument(
        "--database-url", default=os.environ.get(DATABASE_ENV) if defaults else argparse.SUPPRESS,
        help=f"any SQLAlchemy async URL, e.g. postgresql+asyncpg://host/db (env {DATABASE_ENV})",
    )
    return storage


def _parser() -> argparse.ArgumentParser:
    storage = _storage_options(defaults=False)
    parser = argparse.ArgumentParser(parents=[_storage_options(defaults=True)],
        prog="imagechat-server",
        description="The Image Chat server: REST and live WebSocket API, SQLite by default, PostgreSQL for teams.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--certfile", help="TLS certificate (PEM): serve HTTPS and WSS")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument("--write-rate", type=float, default=10.0, help="writes per second per user (default 10)")
    parser.add_argument("--write-burst", type=float, default=60.0, help="writes per user at once (default 60)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve (the default)")

    tenant = commands.add_parser("tenant", help="manage tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", parents=[storage], help="create a tenant")
    create.add_argument("name")
    create.set_defaults(run=_tenant_create)

    token = commands.add_parser("token", help="manage tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", parents=[storage], help="create a token and print it once")
    create.add_argument("--tenant", required=True, help="tenant name or id")
    create.add_argument("--user", required=True, help="user id")
    create.add_argument("--name", required=True, help="display name")
    create.add_argument("--role", choices=ROLES, default="member")
    create.set_defaults(run=_token_create)
    listing = token.add_parser("list", parents=[storage], help="list tokens (never the tokens themselves)")
    listing.add_argument("--tenant", help="only this tenant's")
    listing.set_defaults(run=_token_list)
    revoke = token.add_parser("revoke", parents=[storage], help="revoke a token, closing its open connections")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=_token_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        if bool(args.certfile) != bool(args.keyfile):
            print("imagechat-server: --certfile and --keyfile go together", file=sys.stderr)
            return 2
        return serve(args)
    try:
        return asyncio.run(_with_engine(_database_url(args), lambda engine: args.run(args, engine)))
    except (admin.AdminError, SchemaError) as exc:
        print(f"imagechat-server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
