"""`imagechat-server`: serve (the default), and administer tenants, tokens and images."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from ..protocol.models import ROLES
from ..protocol.safe import visible
from . import admin
from .app import ImageChatServer
from .config import ServerConfig, default_data_dir, sqlite_url
from .database import Database
from .notification_pruning import Retention
from .options import RETENTION, SERVE, STORAGE, add_options
from .pubsub import PubSub
from .runner import build_runner
from .schema import SchemaError, prepare


def _database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return sqlite_url(data_dir)


def serve(args: argparse.Namespace) -> int:
    config = ServerConfig(database_url=_database_url(args), write_rate=args.write_rate, write_burst=args.write_burst,
                          metrics_token=args.metrics_token, body_timeout=args.body_timeout,
                          header_timeout=args.header_timeout, max_header_bytes=args.max_header_bytes,
                          max_connections=args.max_connections, notifications_kept=args.notifications_kept,
                          notifications_read_days=args.notifications_read_days)
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        print("imagechat-server: --loop uvloop needs uvloop installed (pip install uvloop; not on Windows)",
              file=sys.stderr)
        return 2
    try:  # here, not in the lifespan, so that a refusal is one clear line rather than a traceback
        asyncio.run(_with_database(config.database_url, _schema_ready))
        if args.redis_url:
            asyncio.run(_redis_ready(args.redis_url))
    except (SchemaError, ConnectionError) as exc:
        print(f"imagechat-server: {exc}", file=sys.stderr)
        return 2
    pubsub = limiter = tally = None
    if args.redis_url:  # fan-out, write limits and usage figures across every process
        from .cluster_usage import RedisTally
        from .ratelimit import RedisRateLimiter
        from .redis_pubsub import RedisPubSub  # the scale-out extra

        pubsub = RedisPubSub(args.redis_url)
        limiter = RedisRateLimiter(args.redis_url, config.write_rate, config.write_burst)
        tally = RedisTally(args.redis_url)
    app = ImageChatServer(config, pubsub, limiter, tally)
    server = build_runner(app, host=args.host, port=args.port, certfile=args.certfile, keyfile=args.keyfile,
                          log_level=args.log_level, exit_when_idle=args.exit_when_idle, loop=args.loop)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; the shutdown is done
        pass
    return 0 if server.started else 1


async def _with_database(url: str, action: Callable[[Database], Awaitable[int]]) -> int:
    db = Database(url)
    try:
        await db.run(prepare)
        return await action(db)
    finally:
        await db.dispose()


async def _schema_ready(_db: Database) -> int:
    return 0


async def _redis_ready(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        raise ConnectionError(f"can't reach Redis at {url}: {exc}") from None
    finally:
        await client.aclose()


async def _tenant_create(args: argparse.Namespace, db: Database) -> int:
    tenant_id = await admin.create_tenant(db, args.name)
    print(f"tenant {args.name!r} created: {tenant_id}")
    return 0


async def _token_create(args: argparse.Namespace, db: Database) -> int:
    token_id, token = await admin.create_token(db, args.tenant, args.user, args.name, args.role)
    print(f"token {token_id} for {visible(args.name)} ({args.role}); shown only now:", file=sys.stderr)
    print(token)
    return 0


async def _token_list(args: argparse.Namespace, db: Database) -> int:
    rows = await admin.list_tokens(db, args.tenant)
    print(f"{'ID':18} {'TENANT':16} {'USER':16} {'NAME':20} {'ROLE':10} {'CREATED':25} REVOKED")
    for t in rows:
        print(f"{t.id:18} {visible(t.tenant):16} {visible(t.user_id):16} {visible(t.user_name):20} {t.role:10} "
              f"{t.created_at:25} {t.revoked_at or '-'}")
    return 0


async def _token_revoke(args: argparse.Namespace, db: Database) -> int:
    await admin.revoke_token(db, args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


async def _image_delete(args: argparse.Namespace, db: Database) -> int:
    pubsub = await _admin_pubsub(args.redis_url)
    try:
        seq = await admin.delete_image(db, args.tenant, args.key, pubsub)
    finally:
        if pubsub is not None:
            await pubsub.close()
    told = "its live viewers were told" if pubsub else "no --redis-url: live viewers learn of it when they resync"
    print(f"image {args.key.strip().lower()} deleted with its conversation (seq {seq}); {told}")
    return 0


async def _notifications_prune(args: argparse.Namespace, db: Database) -> int:
    rules = Retention(args.notifications_kept, args.notifications_read_days)
    deleted = await admin.prune_notifications(db, rules)
    print(f"{deleted} notifications deleted (each user's newest {rules.kept or 'all'} kept; read ones "
          + (f"older than {rules.read_days} days deleted)" if rules.read_days else "kept)"))
    return 0


async def _admin_pubsub(url: str | None) -> PubSub | None:
    """The servers' Redis fan-out, for a command whose change live viewers must hear of."""
    if not url:
        return None
    from .redis_pubsub import RedisPubSub  # the scale-out extra

    await _redis_ready(url)
    return RedisPubSub(url)  # publishing only: not started, so it subscribes to nothing


def _storage_options(defaults: bool) -> argparse.ArgumentParser:
    """--data-dir and --database-url, accepted before and after a subcommand: the subcommand's
    copies have no defaults, so that they don't overwrite what was given before it."""
    storage = argparse.ArgumentParser(add_help=False)
    add_options(storage, STORAGE, defaults=defaults)
    return storage


def _parser() -> argparse.ArgumentParser:
    storage = _storage_options(defaults=False)
    parser = argparse.ArgumentParser(parents=[_storage_options(defaults=True)],
        prog="imagechat-server",
        description="The Image Chat server: REST and live WebSocket API, SQLite by default, PostgreSQL for teams. "
                    "Every option can also be given by the environment variable named with it; a flag wins.",
    )
    add_options(parser, SERVE)
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

    image = commands.add_parser("image", help="manage stored images").add_subparsers(dest="action", required=True)
    delete = image.add_parser("delete", parents=[storage],
                              help="delete an image with its whole conversation; live viewers are told (--redis-url)")
    delete.add_argument("--tenant", required=True, help="tenant name or id")
    delete.add_argument("key", metavar="KEY", help="the image's sha256:<hex> key")
    delete.set_defaults(run=_image_delete)

    retention = argparse.ArgumentParser(add_help=False)
    add_options(retention, RETENTION, defaults=False)  # as for storage: what was given before it stands
    notes = commands.add_parser("notifications", help="manage stored notifications").add_subparsers(
        dest="action", required=True)
    prune = notes.add_parser("prune", parents=[storage, retention],
                             help="delete now the notifications the retention options drop (servers do it hourly)")
    prune.set_defaults(run=_notifications_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        if bool(args.certfile) != bool(args.keyfile):
            print("imagechat-server: --certfile and --keyfile go together", file=sys.stderr)
            return 2
        return serve(args)
    try:
        return asyncio.run(_with_database(_database_url(args), lambda db: args.run(args, db)))
    except (admin.AdminError, SchemaError, ConnectionError) as exc:
        print(f"imagechat-server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
