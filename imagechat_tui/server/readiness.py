"""`/readyz`: whether this process can serve, i.e. its database and its pub/sub broker answer.
`/healthz` says only that the process is alive; a load balancer routes by this one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from .database import Database
from .pubsub import PubSub

CHECK_TIMEOUT = 2.0
"""Seconds each dependency has to answer: a health check must answer well within its own interval."""


async def unready(db: Database, pubsub: PubSub) -> list[str]:
    """Why this process is not ready (empty when it is), one reason per dependency that failed."""
    checks = {
        "database": db.lookup(lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one()),
        "pub/sub": pubsub.ping(),
    }
    results = await asyncio.gather(*(_answers(check) for check in checks.values()))
    return [f"{name}: {problem}" for name, problem in zip(checks, results, strict=True) if problem]


async def _answers(check: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:  # any failure of a dependency is a reason to be out of rotation
        return f"{type(exc).__name__}: {exc}".strip()
    return ""
