"""The app's durable store (SQLite): answer feedback, handoffs to a person, compare picks and conversations.

The UI writes a row before it confirms to the customer; training reads the rows back
(`FeedbackStore.feedback()`) to build preference pairs. Conversations (`turns`) are kept
here too, so a `conversation_id` survives a restart and is shared by every app process
on the same file. Emails, phone numbers and card
numbers are masked before anything is written, so the file never holds them.

    store = FeedbackStore("feedback.sqlite3")
    row_id = store.add_feedback(question=..., answer=..., rating=-1, passages=[...], adapter="latest")
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from retrieval.config import cache_home

from .errors import AssistantError

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD_RE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
PHONE_RE = re.compile(r"(?<![\w])\+?\(?\d[\d ().-]{6,}\d(?![\w])")

# Each entry upgrades the schema by one version (PRAGMA user_version); never edit old ones.
MIGRATIONS = [
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        conversation_id TEXT NOT NULL DEFAULT '',
        answer_id TEXT NOT NULL DEFAULT '',
        rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        better_answer TEXT NOT NULL DEFAULT '',
        passages TEXT NOT NULL DEFAULT '[]',
        citations TEXT NOT NULL DEFAULT '[]',
        adapter TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE handoffs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        conversation_id TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        transcript TEXT NOT NULL DEFAULT '[]'
    );
    """,
    """
    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        question TEXT NOT NULL,
        passages TEXT NOT NULL DEFAULT '[]',
        adapter_a TEXT NOT NULL DEFAULT '',
        answer_a TEXT NOT NULL,
        adapter_b TEXT NOT NULL DEFAULT '',
        answer_b TEXT NOT NULL,
        choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'written')),
        better_answer TEXT NOT NULL DEFAULT ''
    );
    """,
    """
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        answer_id TEXT NOT NULL DEFAULT '',
        citations TEXT NOT NULL DEFAULT '[]',
        passages TEXT NOT NULL DEFAULT '[]',
        adapter TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX turns_by_conversation ON turns (conversation_id, id);
    CREATE INDEX turns_by_answer ON turns (answer_id);
    """,
]


class FeedbackStoreError(AssistantError):
    """The feedback database cannot be opened or written."""


def default_path(configured: str = "") -> Path:
    """The feedback database: $DESKMATE_FEEDBACK_DB, else `configured` (the `feedback_db` setting), else
    $DESKMATE_HOME/feedback.sqlite3 (default ~/.cache/deskmate). The one place this path is decided."""
    if os.environ.get("DESKMATE_FEEDBACK_DB"):
        return Path(os.environ["DESKMATE_FEEDBACK_DB"])
    return Path(configured) if configured else cache_home() / "feedback.sqlite3"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if _luhn_ok(digits) else match.group(0)


def mask_personal_data(text: str) -> str:
    """Replace emails, card numbers (Luhn-valid) and phone numbers with placeholders."""
    text = EMAIL_RE.sub("[email]", text or "")
    text = CARD_RE.sub(_mask_card, text)
    return PHONE_RE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), text)


def _mask_deep(value):
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, list):
        return [_mask_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_deep(v) for k, v in value.items()}
    return value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """Thread-safe SQLite store; each write is committed before the call returns."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_path()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackStoreError(
                f"Cannot open the feedback database {self.path} ({exc}); set DESKMATE_FEEDBACK_DB to a writable file."
            ) from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def _write(self, sql: str, params: tuple) -> int:
        with self._lock:
            try:
                cursor = self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise FeedbackStoreError(f"Could not save to {self.path} ({exc}); check the disk and try again.") from exc
            return cursor.lastrowid

    def add_feedback(self, *, question: str, answer: str, rating: int, passages: list[dict] | None = None,
                     citations: list[dict] | None = None, adapter: str = "", better_answer: str = "",
                     conversation_id: str = "", answer_id: str = "") -> int:
        """Store one rating (+1 thumbs up, -1 thumbs down) with what was asked and shown; return its id."""
        if rating not in (-1, 1):
            raise FeedbackStoreError(f"Rating must be 1 (helpful) or -1 (not helpful), got {rating!r}.")
        return self._write(
            "INSERT INTO feedback (created_at, conversation_id, answer_id, rating, question, answer, better_answer,"
            " passages, citations, adapter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), conversation_id, answer_id, rating, mask_personal_data(question), mask_personal_data(answer),
             mask_personal_data(better_answer), json.dumps(_mask_deep(passages or [])),
             json.dumps(_mask_deep(citations or [])), adapter),
        )

    def set_better_answer(self, feedback_id: int, better_answer: str) -> None:
        """Attach the customer's better answer to an existing rating."""
        self._write("UPDATE feedback SET better_answer = ? WHERE id = ?", (mask_personal_data(better_answer), feedback_id))

    def add_handoff(self, *, transcript: list[dict], reason: str = "", conversation_id: str = "") -> int:
        """Record a conversation for a person to take over; return the ticket number."""
        turns = [{"role": m.get("role", ""), "content": str(m.get("content", ""))} for m in transcript]
        return self._write(
            "INSERT INTO handoffs (created_at, conversation_id, reason, transcript) VALUES (?, ?, ?, ?)",
            (_now(), conversation_id, mask_personal_data(reason), json.dumps(_mask_deep(turns))),
        )

    def add_comparison(self, *, question: str, answer_a: str, answer_b: str, choice: str,
                       adapter_a: str = "", adapter_b: str = "", passages: list[dict] | None = None,
                       better_answer: str = "") -> int:
        """Store a staff pick between two answers to one question ('a', 'b', or 'written' with `better_answer`)."""
        if choice not in ("a", "b", "written"):
            raise FeedbackStoreError(f"Choice must be 'a', 'b' or 'written', got {choice!r}.")
        if choice == "written" and not better_answer.strip():
            raise FeedbackStoreError("Write the better answer before saving it.")
        return self._write(
            "INSERT INTO comparisons (created_at, question, passages, adapter_a, answer_a, adapter_b, answer_b, choice,"
            " better_answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), mask_personal_data(question), json.dumps(_mask_deep(passages or [])), adapter_a,
             mask_personal_data(answer_a), adapter_b, mask_personal_data(answer_b), choice,
             mask_personal_data(better_answer)),
        )

    def add_turns(self, conversation_id: str, turns: list[dict]) -> None:
        """Append a conversation's turns (user and assistant messages; an answer also with `answer_id`,
        `citations`, `passages`, `adapter`) in one transaction: both turns of an exchange or neither."""
        rows = [(_now(), conversation_id, t["role"], mask_personal_data(str(t.get("content") or "")),
                 t.get("answer_id", ""), json.dumps(_mask_deep(t.get("citations") or [])),
                 json.dumps(_mask_deep(t.get("passages") or [])), t.get("adapter", "")) for t in turns]
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany(
                        "INSERT INTO turns (created_at, conversation_id, role, content, answer_id, citations, passages,"
                        " adapter) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except sqlite3.Error as exc:
                raise FeedbackStoreError(f"Could not save to {self.path} ({exc}); check the disk and try again.") from exc

    def conversation(self, conversation_id: str, last: int = 0) -> list[dict]:
        """The conversation's turns, oldest first (only the `last` ones when given)."""
        rows = self._rows("SELECT * FROM turns WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
                          (conversation_id, last or -1))
        return rows[::-1]

    def conversation_ids(self, since_id: int = 0) -> list[str]:
        """Every conversation with a turn after `since_id`, by first appearance."""
        with self._lock:
            found = self._db.execute("SELECT conversation_id, MIN(id) AS first FROM turns WHERE id > ? "
                                     "GROUP BY conversation_id ORDER BY first", (since_id,)).fetchall()
        return [row[0] for row in found]

    def answer_turn(self, answer_id: str) -> dict | None:
        """A stored answer with the customer message it answered (`question`), or None."""
        rows = self._rows("SELECT * FROM turns WHERE answer_id = ? AND role = 'assistant' LIMIT 1", (answer_id,))
        if not rows:
            return None
        asked = self._rows("SELECT content FROM turns WHERE conversation_id = ? AND id < ? AND role = 'user' "
                           "ORDER BY id DESC LIMIT 1", (rows[0]["conversation_id"], rows[0]["id"]))
        return {**rows[0], "question": asked[0]["content"] if asked else ""}

    def comparisons(self, since_id: int = 0) -> list[dict]:
        """All compare-view picks after `since_id`, oldest first."""
        return self._rows("SELECT * FROM comparisons WHERE id > ? ORDER BY id", (since_id,))

    def _rows(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            for key in ("passages", "citations", "transcript"):
                if key in item:
                    item[key] = json.loads(item[key])
            out.append(item)
        return out

    def feedback(self, since_id: int = 0) -> list[dict]:
        """All feedback rows after `since_id`, oldest first (what training reads)."""
        return self._rows("SELECT * FROM feedback WHERE id > ? ORDER BY id", (since_id,))

    def recent_feedback(self, limit: int = 50) -> list[dict]:
        return self._rows("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,))

    def handoffs(self, limit: int = 50) -> list[dict]:
        return self._rows("SELECT * FROM handoffs ORDER BY id DESC LIMIT ?", (limit,))

    def count(self, table: str = "feedback") -> int:
        if table not in ("feedback", "handoffs", "comparisons", "turns"):
            raise ValueError(f"unknown table {table!r}")
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
