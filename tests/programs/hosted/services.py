"""Two FastAPI apps with lifespans, a task that works, a task that crashes and an app whose
lifespan fails when $FAIL_LIFESPAN names it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request


def record(event: str) -> None:
    with open(os.environ["EVENTS"], "a") as out:
        out.write(f"{event} {os.getpid()}\n")


def make_app(name: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if os.environ.get("FAIL_LIFESPAN") == name:
            raise RuntimeError(f"{name}: the database is unreachable")
        record(f"{name}.startup")
        print(f"{name}: lifespan started", flush=True)
        yield {"owner": name}
        record(f"{name}.shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        return {"app": name, "state_owner": request.state.owner, "pid": os.getpid()}

    return app


alpha = make_app("alpha")
beta = make_app("beta")


async def worker() -> None:
    record("worker.started")
    print("worker: working", flush=True)
    try:
        await asyncio.sleep(3600)
    finally:
        record("worker.cancelled")


async def crasher() -> None:
    record("crasher.started")
    await asyncio.sleep(1.5)  # past the first second: a crash after ready
    raise RuntimeError("crasher: boom")
