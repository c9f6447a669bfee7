"""Tenants and tokens: what `imagechat-server tenant …` and `token …` do to the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..protocol.models import ROLES, Role, now_iso
from .schema import tenants, tokens
from .store import new_id, token_hash

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


async def create_tenant(engine: AsyncEngine, name: str) -> str:
    name = name.strip()
    if not name:
        raise AdminError("a tenant needs a name")
    async with engine.begin() as conn:
        if (await conn.execute(select(tenants.c.id).where(tenants.c.name == name))).first():
            raise AdminError(f"tenant {name!r} exists already")
        tenant_id = new_id("t")
        await conn.execute(tenants.insert().values(id=tenant_id, name=name, created_at=now_iso()))
    return tenant_id


async def find_tenant(engine: AsyncEngine, name_or_id: str) -> str:
    async with engine.connect() as conn:
        query = select(tenants.c.id).where(or_(tenants.c.id == name_or_id, tenants.c.name == name_or_id))
        tenant_id = (await conn.execute(query)).scalar()
    if tenant_id is None:
        raise AdminError(f"no tenant {name_or_id!r}; create it with `imagechat-server tenant create NAME`")
    return tenant_id


async def create_token(engine: AsyncEngine, tenant: str, user_id: str, name: str, role: Role) -> tuple[str, str]:
    """A new token's id and the token itself, which is shown once and stored only as a hash."""
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if not user_id.strip() or not name.strip():
        raise AdminError("a token needs a user id and a display name")
    tenant_id = await find_tenant(engine, tenant)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id("tok")
    async with engine.begin() as conn:
        await conn.execute(
            tokens.insert().values(
                id=token_id, tenant_id=tenant_id, user_id=user_id.strip(), user_name=name.strip(), role=role,
                token_hash=token_hash(token), created_at=now_iso(), revision=0,
            )
        )
    return token_id, token


async def list_tokens(engine: AsyncEngine, tenant: str | None = None) -> list[TokenInfo]:
    query = select(tokens, tenants.c.name.label("tenant_name")).join(tenants).order_by(tokens.c.created_at)
    if tenant is not None:
        query = query.where(tokens.c.tenant_id == await find_tenant(engine, tenant))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [TokenInfo(r.id, r.tenant_name, r.user_id, r.user_name, r.role, r.created_at, r.revoked_at) for r in rows]


async def revoke_token(engine: AsyncEngine, token_id: str) -> None:
    async with engine.begin() as conn:
        revoked = (await conn.execute(select(tokens.c.revoked_at).where(tokens.c.id == token_id))).first()
        if revoked is None:
            raise AdminError(f"no token {token_id!r}")
        if revoked.revoked_at is not None:
            return
        revision = (await conn.execute(select(func.coalesce(func.max(tokens.c.revision), 0)))).scalar_one() + 1
        await conn.execute(
            tokens.update().where(tokens.c.id == token_id).values(revoked_at=now_iso(), revision=revision)
        )
