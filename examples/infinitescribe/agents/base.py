"""What both agents share: a loop that claims work from the gateway and handles it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

Handler = Callable[[aiohttp.ClientSession, str, dict[str, Any]], Awaitable[None]]


async def work(role: str, handle: Handler) -> None:
    gateway = os.environ["GATEWAY_URL"]
    interval = float(os.environ.get("AGENT_INTERVAL", "1"))
    print(f"{role}: working for {gateway}", flush=True)
    # trust_env=False: the gateway is local; a proxy from the environment must not apply.
    async with aiohttp.ClientSession(trust_env=False) as session:
        try:
            while True:
                async with session.post(f"{gateway}/jobs/claim", params={"role": role}) as response:
                    job = await response.json() if response.status == 200 else None
                if job:
                    await handle(session, gateway, job)
                else:
                    await asyncio.sleep(interval)
        finally:
            print(f"{role}: stopping", flush=True)
