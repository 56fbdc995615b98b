"""The writer agent: drafts a chapter for each new job (and seeds one job on an empty gateway)."""

from __future__ import annotations

from typing import Any

import aiohttp

from infinitescribe.agents.base import work


async def draft(session: aiohttp.ClientSession, gateway: str, job: dict[str, Any]) -> None:
    text = f"Chapter for '{job['title']}': it was a dark and stormy night."
    async with session.post(f"{gateway}/jobs/{job['id']}/draft", json={"text": text}) as response:
        response.raise_for_status()
    print(f"writer: drafted job {job['id']} ({job['title']})", flush=True)


async def run() -> None:
    import os

    async with aiohttp.ClientSession(trust_env=False) as session:
        gateway = os.environ["GATEWAY_URL"]
        async with session.get(f"{gateway}/jobs") as response:
            empty = not await response.json()
        if empty:
            async with session.post(f"{gateway}/jobs", json={"title": "The first chapter"}) as created:
                created.raise_for_status()
            print("writer: the gateway had no jobs; created one", flush=True)
    await work("writer", draft)
