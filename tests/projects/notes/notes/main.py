"""The API: `GET /health`, `GET /notes`, `POST /notes`."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from pydantic import BaseModel

from notes import db, settings

app = FastAPI(title="notes")


class Note(BaseModel):
    text: str


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "database": settings.DATABASE_URL}


@app.get("/notes")
def list_notes() -> list[dict[str, object]]:
    with contextlib.closing(db.connect()) as connection:
        rows = connection.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
    return [{"id": row[0], "text": row[1]} for row in rows]


@app.post("/notes", status_code=201)
def add_note(note: Note) -> dict[str, object]:
    with contextlib.closing(db.connect()) as connection, connection:
        note_id = connection.execute("INSERT INTO notes (text) VALUES (?)", (note.text,)).lastrowid
    return {"id": note_id, "text": note.text}
