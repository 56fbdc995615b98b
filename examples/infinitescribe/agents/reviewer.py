"""The reviewer agent: approves every draft it can claim."""

from __future__ import annotations

from typing import Any

import aiohttp

from infinitescribe.agents.base import work


async def approve(session: aiohttp.ClientSession, gateway: str, job: dict[str, Any]) -> None:
    async with session.post(f"{gateway}/jobs/{job['id']}/review", json={"approve": True}) as response:
        response.raise_for_status()
    print(f"reviewer: approved job {job['id']} ({job['title']})", flush=True)


async def run() -> None:
    await work("reviewer", approve)
