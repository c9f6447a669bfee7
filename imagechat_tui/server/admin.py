"""Tenants, tokens and images: what `imagechat-server tenant …`, `token …` and `image …` do to the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from ..protocol.imagekey import content_key
from ..protocol.models import ROLES, Role, now_iso
from .database import Database
from .domain_errors import NotFound
from .notification_pruning import PruneStatements, Retention, sweep
from .pubsub import PubSub
from .schema import tenants, tokens
from .store import Store, new_id, token_hash

TOKEN_PREFIX = "ict_"


class AdminError(ValueError):
    """A refused admin command, with a message for the operator."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    tenant: str
    user_id: str
    user_name: str
    role: str
    created_at: str
    revoked_at: str | None


async def create_tenant(db: Database, name: str) -> str:
    name = name.strip()
    if not name:
        raise AdminError("a tenant needs a name")

    def work(conn: Connection) -> str:
        if conn.execute(select(tenants.c.id).where(tenants.c.name == name)).first():
            raise AdminError(f"tenant {name!r} exists already")
        tenant_id = new_id("t")
        conn.execute(tenants.insert().values(id=tenant_id, name=name, created_at=now_iso()))
        return tenant_id

    return await db.run(work)


def _find_tenant(conn: Connection, name_or_id: str) -> str:
    query = select(tenants.c.id).where(or_(tenants.c.id == name_or_id, tenants.c.name == name_or_id))
    tenant_id = conn.execute(query).scalar()
    if tenant_id is None:
        raise AdminError(f"no tenant {name_or_id!r}; create it with `imagechat-server tenant create NAME`")
    return tenant_id


async def create_token(db: Database, tenant: str, user_id: str, name: str, role: Role) -> tuple[str, str]:
    """A new token's id and the token itself, which is shown once and stored only as a hash."""
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if not user_id.strip() or not name.strip():
        raise AdminError("a token needs a user id and a display name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id("tok")

    def work(conn: Connection) -> None:
        conn.execute(
            tokens.insert().values(
                id=token_id, tenant_id=_find_tenant(conn, tenant), user_id=user_id.strip(), user_name=name.strip(),
                role=role, token_hash=token_hash(token), created_at=now_iso(), revision=0,
            )
        )

    await db.run(work)
    return token_id, token


async def list_tokens(db: Database, tenant: str | None = None) -> list[TokenInfo]:
    def work(conn: Connection) -> list[TokenInfo]:
        query = select(tokens, tenants.c.name.label("tenant_name")).join(tenants).order_by(tokens.c.created_at)
        if tenant is not None:
            query = query.where(tokens.c.tenant_id == _find_tenant(conn, tenant))
        return [
            TokenInfo(r.id, r.tenant_name, r.user_id, r.user_name, r.role, r.created_at, r.revoked_at)
            for r in conn.execute(query)
        ]

    return await db.run(work)


async def revoke_token(db: Database, token_id: str) -> None:
    def work(conn: Connection) -> None:
        # Servers poll for "revoked after revision N": revisions must be distinct and committed in
        # order, so revokes take them one at a time (SQLite's writes already do, BEGIN IMMEDIATE).
        # This lock lets readers of tokens through, and waits only for other writers of tokens.
        if not db.is_sqlite:
            conn.exec_driver_sql("LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE")
        revoked = conn.execute(select(tokens.c.revoked_at).where(tokens.c.id == token_id)).first()
        if revoked is None:
            raise AdminError(f"no token {token_id!r}")
        if revoked.revoked_at is not None:
            return
        revision = conn.execute(select(func.coalesce(func.max(tokens.c.revision), 0))).scalar_one() + 1
        conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=now_iso(), revision=revision))

    await db.run(work)


async def delete_image(db: Database, tenant: str, key: str, pubsub: PubSub | None) -> int:
    """Delete a tenant's image with its whole conversation, as `DELETE /images/{key}` does, and
    tell its live viewers through `pubsub` (the servers' own); the seq of the deletion."""
    try:
        key = content_key(key)
    except ValueError as exc:
        raise AdminError(f"KEY {exc}") from None
    tenant_id = await db.run(lambda conn: _find_tenant(conn, tenant), snapshot=True)
    try:
        committed = await Store(db).delete_image(tenant_id, key)
    except NotFound:
        raise AdminError(f"tenant {tenant!r} has no image {key}") from None
    if pubsub is not None and committed.topic is not None and committed.event is not None:
        await pubsub.publish(committed.topic, committed.seq, committed.event)
    return committed.seq


async def prune_notifications(db: Database, rules: Retention) -> int:
    """Apply the retention rules to every user's notifications now, as each server does hourly;
    how many were deleted."""
    return await sweep(db, PruneStatements(rules))
