"""Two FastAPI apps with lifespans (and a stream that never ends), a task that works, a task
that crashes, an app whose lifespan fails when $FAIL_LIFESPAN names it, and tasks that say
when they are ready (one after a while, one never)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

import launcher


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

    @app.get("/")
    async def root(request: Request) -> dict[str, Any]:
        return {"app": name, "url": str(request.url), "pid": os.getpid()}

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        return {"app": name, "state_owner": request.state.owner, "pid": os.getpid()}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def forever() -> AsyncIterator[bytes]:
            while True:
                yield b"tick\n"
                await asyncio.sleep(0.1)

        return StreamingResponse(forever(), media_type="text/plain")

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


@launcher.reports_ready
async def connector() -> None:
    record("connector.connecting")
    await asyncio.sleep(1.0)  # connecting to what it needs
    record("connector.ready")
    launcher.ready()
    launcher.ready()  # a second call does nothing
    await asyncio.sleep(3600)


async def after_connector() -> None:
    record("after_connector.started")
    await asyncio.sleep(3600)


@launcher.reports_ready
async def never_ready() -> None:
    await asyncio.sleep(3600)
