"""The review database: SQLite in WAL mode, one row per decision, edits as new versions.

Durability: every decision is its own transaction, committed (synchronous=FULL) before the web page
is answered, so a decision the browser saw acknowledged survives a killed server or machine.
Concurrency: several reviewers, in one server or in several servers on the same file, write through
SQLite's locking (WAL lets readers go on while one writer commits; busy_timeout waits for the lock).
Every statement is parameterised: reviewer names and texts never become SQL.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from proteinlm.benchgen.review.questions import Item
from proteinlm.errors import ProteinLMError

ACTIONS = ("accept", "reject", "edit", "skip")
FINAL_ACTIONS = ("accept", "reject")  # the ones that count as a review
REASONS = {
    "wrong_answer": "wrong answer",
    "ambiguous": "ambiguous",
    "several_correct": "more than one correct option",
    "not_answerable": "not answerable from general knowledge",
    "trivial": "trivial",
    "duplicate": "duplicate",
    "other": "other",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS questions (
    qid TEXT PRIMARY KEY, position INTEGER NOT NULL UNIQUE,
    extra TEXT NOT NULL, provenance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    qid TEXT NOT NULL REFERENCES questions(qid), version INTEGER NOT NULL,
    content TEXT NOT NULL, author TEXT, created TEXT NOT NULL, PRIMARY KEY (qid, version));
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, qid TEXT NOT NULL REFERENCES questions(qid),
    version INTEGER NOT NULL, reviewer TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
    reason TEXT, note TEXT, before TEXT, after TEXT);
CREATE INDEX IF NOT EXISTS decisions_by_question ON decisions (qid, reviewer);
CREATE TABLE IF NOT EXISTS claims (
    qid TEXT NOT NULL, reviewer TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (qid, reviewer));
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class ReviewStore:
    """One review database file; a connection per thread (the web server answers on several)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        if not self.path.parent.is_dir():
            raise ProteinLMError(f"review database {self.path}: folder {self.path.parent} does not exist")
        try:
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ProteinLMError(f"review database {self.path}: {e}") from None

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- settings --------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def secret_key(self) -> str:
        """The key that signs browser sessions; kept in the database so a restarted server (even a
        second server on the same file) honours the sessions it issued."""
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)",
                              (secrets.token_hex(32),))
        return self.meta("secret_key") or ""

    @property
    def reviews_needed(self) -> int:
        return int(self.meta("reviews_needed", "1") or 1)

    # --- questions -------------------------------------------------------------------------
    def import_items(self, items: Iterable[Item]) -> tuple[int, int]:
        """Add the questions the database lacks; (added, kept) where kept ones differ from the file
        (the database's original is kept: decisions were made on it)."""
        added = differ = 0
        created = _now()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            position = self.conn.execute("SELECT COALESCE(MAX(position), -1) FROM questions").fetchone()[0]
            for item in items:
                row = self.conn.execute("SELECT content FROM versions WHERE qid = ? AND version = 0",
                                        (item.qid,)).fetchone()
                if row is not None:
                    differ += json.loads(row["content"]) != item.content
                    continue
                position += 1
                self.conn.execute("INSERT INTO questions (qid, position, extra, provenance) VALUES (?, ?, ?, ?)",
                                  (item.qid, position, _dumps(item.extra), _dumps(item.provenance)))
                self.conn.execute("INSERT INTO versions (qid, version, content, author, created) VALUES (?, 0, ?, NULL, ?)",
                                  (item.qid, _dumps(item.content), created))
                added += 1
        return added, differ

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0]

    def order(self) -> list[str]:
        """Question ids in file order."""
        return [row["qid"] for row in self.conn.execute("SELECT qid FROM questions ORDER BY position")]

    def position(self, qid: str) -> int | None:
        row = self.conn.execute("SELECT position FROM questions WHERE qid = ?", (qid,)).fetchone()
        return None if row is None else row["position"]

    def _question(self, row: sqlite3.Row | None) -> dict | None:
        if row is None:
            return None
        latest = self.conn.execute("SELECT version, content FROM versions WHERE qid = ? ORDER BY version DESC LIMIT 1",
                                   (row["qid"],)).fetchone()
        return {"qid": row["qid"], "position": row["position"], "version": latest["version"],
                "content": json.loads(latest["content"]), "extra": json.loads(row["extra"]),
                "provenance": json.loads(row["provenance"])}

    def question(self, qid: str) -> dict | None:
        """The question with its latest version's content."""
        return self._question(self.conn.execute("SELECT * FROM questions WHERE qid = ?", (qid,)).fetchone())

    def question_at(self, position: int) -> dict | None:
        return self._question(self.conn.execute("SELECT * FROM questions WHERE position = ?", (position,)).fetchone())

    def questions(self) -> list[dict]:
        """Every question (latest versions) in file order."""
        rows = self.conn.execute("SELECT * FROM questions ORDER BY position").fetchall()
        return [q for q in map(self._question, rows) if q is not None]

    def version(self, qid: str, version: int) -> dict | None:
        row = self.conn.execute("SELECT content FROM versions WHERE qid = ? AND version = ?", (qid, version)).fetchone()
        return None if row is None else json.loads(row["content"])

    # --- decisions -------------------------------------------------------------------------
    def decide(self, qid: str, version: int, reviewer: str, action: str, reason: str | None = None,
               note: str | None = None) -> int:
        """Record accept / reject / skip of one version; committed when this returns."""
        if action not in ("accept", "reject", "skip"):
            raise ProteinLMError(f"unknown review action {action!r}")
        if action == "reject" and reason not in REASONS:
            raise ProteinLMError(f"a rejection needs one of the reasons {', '.join(REASONS)}, got {reason!r}")
        content = self.version(qid, version)
        if content is None:
            raise ProteinLMError(f"question {qid!r} has no version {version}")
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO decisions (qid, version, reviewer, at, action, reason, note, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (qid, version, reviewer, _now(), action, reason if action == "reject" else None, note or None,
                 _dumps(content)))
        return int(cur.lastrowid)

    def edit(self, qid: str, base_version: int, reviewer: str, content: dict, note: str | None = None) -> int:
        """Store `content` as a new version (the earlier ones stay) with its "edit" decision."""
        before = self.version(qid, base_version)
        if before is None:
            raise ProteinLMError(f"question {qid!r} has no version {base_version}")
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            new = self.conn.execute("SELECT MAX(version) FROM versions WHERE qid = ?", (qid,)).fetchone()[0] + 1
            at = _now()
            self.conn.execute("INSERT INTO versions (qid, version, content, author, created) VALUES (?, ?, ?, ?, ?)",
                              (qid, new, _dumps(content), reviewer, at))
            self.conn.execute(
                "INSERT INTO decisions (qid, version, reviewer, at, action, reason, note, before, after) "
                "VALUES (?, ?, ?, ?, 'edit', NULL, ?, ?, ?)",
                (qid, new, reviewer, at, note or None, _dumps(before), _dumps(content)))
        return new

    def decisions(self, qid: str | None = None) -> list[dict]:
        """Decision rows oldest first (all, or of one question), before/after parsed."""
        sql, args = "SELECT * FROM decisions ORDER BY id", ()
        if qid is not None:
            sql, args = "SELECT * FROM decisions WHERE qid = ? ORDER BY id", (qid,)
        rows = []
        for row in self.conn.execute(sql, args):
            record = dict(row)
            for key in ("before", "after"):
                record[key] = None if record[key] is None else json.loads(record[key])
            rows.append(record)
        return rows

    def finals(self) -> dict[str, dict[str, dict]]:
        """{question id: {reviewer: that reviewer's latest accept/reject row}}: what counts.

        Only decisions on a question's latest version count: after an edit the question is another
        text, and whoever accepted the earlier one has to see the new one (the editor included).
        """
        found: dict[str, dict[str, dict]] = {}
        for row in self.conn.execute(
                "SELECT d.id, d.qid, d.version, d.reviewer, d.at, d.action, d.reason, d.note FROM decisions d "
                "JOIN (SELECT qid, MAX(version) AS latest FROM versions GROUP BY qid) v "
                "ON d.qid = v.qid AND d.version = v.latest "
                "WHERE d.action IN ('accept', 'reject') ORDER BY d.id"):
            found.setdefault(row["qid"], {})[row["reviewer"]] = dict(row)
        return found

    def skipped_by(self, reviewer: str) -> set[str]:
        """Questions whose latest action by `reviewer` is a skip."""
        rows = self.conn.execute(
            "SELECT qid, action FROM decisions WHERE reviewer = ? AND action != 'edit' ORDER BY id", (reviewer,))
        latest = {row["qid"]: row["action"] for row in rows}
        return {qid for qid, action in latest.items() if action == "skip"}

    # --- who is looking at what (so two reviewers are not handed the same question) ----------
    def claim(self, qid: str, reviewer: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO claims (qid, reviewer, at) VALUES (?, ?, ?)",
                              (qid, reviewer, _now()))

    def claimed_by_others(self, reviewer: str, minutes: int = 10) -> set[str]:
        since = (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
        rows = self.conn.execute("SELECT qid FROM claims WHERE reviewer != ? AND at >= ?", (reviewer, since))
        return {row["qid"] for row in rows}
