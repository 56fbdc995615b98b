"""The API gateway: jobs that agents claim, draft and review; chapters that come out of it."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel

from infinitescribe import db

log = logging.getLogger("uvicorn.error")
NEXT_STATE = {"writer": ("new", "writing"), "reviewer": ("drafted", "reviewing")}


class NewJob(BaseModel):
    title: str


class Draft(BaseModel):
    text: str


class Review(BaseModel):
    approve: bool


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.db = db.connect()
    app.state.lock = threading.Lock()
    log.info("gateway: database %s open", db.path())
    yield
    app.state.db.close()
    log.info("gateway: database closed")


app = FastAPI(title="InfiniteScribe gateway", lifespan=lifespan)


def query(sql: str, *args: Any) -> list[dict[str, Any]]:
    with app.state.lock:
        return [dict(row) for row in app.state.db.execute(sql, args).fetchall()]


@app.get("/health")
def health() -> dict[str, str]:
    query("SELECT 1")
    return {"status": "ok"}


@app.post("/jobs", status_code=201)
def create_job(job: NewJob) -> dict[str, Any]:
    with app.state.lock:
        cursor = app.state.db.execute("INSERT INTO jobs (title) VALUES (?)", (job.title,))
    return {"id": cursor.lastrowid, "title": job.title, "state": "new"}


@app.get("/jobs")
def list_jobs() -> list[dict[str, Any]]:
    return query("SELECT id, title, state FROM jobs ORDER BY id")


@app.post("/jobs/claim", response_model=None)
def claim(role: Literal["writer", "reviewer"]) -> dict[str, Any] | Response:
    wanted, taken = NEXT_STATE[role]
    with app.state.lock:
        row = app.state.db.execute(
            "UPDATE jobs SET state = ? WHERE id = (SELECT id FROM jobs WHERE state = ? ORDER BY id LIMIT 1)"
            " RETURNING id, title, state, draft",
            (taken, wanted),
        ).fetchone()
    return dict(row) if row else Response(status_code=204)


@app.post("/jobs/{job_id}/draft")
def submit_draft(job_id: int, draft: Draft) -> dict[str, Any]:
    rows = query(
        "UPDATE jobs SET draft = ?, state = 'drafted' WHERE id = ? AND state = 'writing' RETURNING id",
        draft.text,
        job_id,
    )
    if not rows:
        raise HTTPException(409, "that job is not being written")
    return {"id": job_id, "state": "drafted"}


@app.post("/jobs/{job_id}/review")
def review(job_id: int, verdict: Review) -> dict[str, Any]:
    state = "approved" if verdict.approve else "new"
    rows = query(
        "UPDATE jobs SET state = ? WHERE id = ? AND state = 'reviewing' RETURNING id, title, draft",
        state,
        job_id,
    )
    if not rows:
        raise HTTPException(409, "that job is not being reviewed")
    if verdict.approve:
        query(
            "INSERT INTO chapters (job_id, title, text) VALUES (?, ?, ?)",
            job_id,
            rows[0]["title"],
            rows[0]["draft"],
        )
    return {"id": job_id, "state": state}


@app.get("/chapters")
def chapters() -> list[dict[str, Any]]:
    return query("SELECT id, job_id, title, text, approved_at FROM chapters ORDER BY id")
