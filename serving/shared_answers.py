"""Stored-mode answers shared by the workers of one ``payrisk serve``: a SQLite file.

Each worker keeps its answers in memory (``serving.answer_cache``). Alone, that costs a
change twice: every worker's warmer (``serving.answer_warmer``) scores it again, and a
question that reaches a worker whose warmer has not scored it yet is a miss, although
the other worker already knows the answer. Under ``make soak`` (2 workers on 2 cores,
~25 changes a second, 120 s) the misses fell from 59-107 a run (mean 73, six runs) to
28-75 (mean 52, ten runs) of ~4,500 scoring answers; on that machine the p99 of scoring
stayed within the noise between runs (53-118 ms before, 50-80 ms with it).

Here the workers share two tables in one SQLite file (WAL: readers never wait):

- ``answers``: an answer under its whole key (the question, whose model part is its run,
  the same in every worker; the customer; its revision), as the in-memory cache keys it.
  A worker that misses in memory looks here before computing; what a worker computes,
  it stores here too. The key is exact, so nothing here can be stale; entries go after
  ``max_age_seconds`` and beyond ``max_entries``, oldest first.
- ``claims``: which answers a warmer computes now, and until when. A warmer computes
  only what it could claim, and leaves what another one claimed to that one; a question
  whose answer another worker is computing waits for it (``wait_for``) instead of
  computing it a second time. A claim lapses after ``CLAIM_SECONDS``: a worker that dies
  mid-computation holds nothing up for long.

``payrisk serve`` makes the file in a new temporary folder at each start, so nothing in
it outlives the models and ledger it answered for, and removes the folder at its exit;
the workers find it in ``PAYRISK_SHARED_ANSWERS_PATH``. Without it (one worker, tests)
nothing is shared. A cache must not fail a request: an error of the file is logged
(once until it clears) and the tier answers "nothing here" meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from payrisk.settings import Settings

logger = logging.getLogger("serving.shared_answers")

CachedAnswer = tuple[str | None, bytes]  # (risk tier, the JSON body)
Result = TypeVar("Result")

# A warming batch takes tens of ms (hundreds under load): a claim that outlives this is
# a worker that died or hangs, and the answer is computed by whoever asks next.
CLAIM_SECONDS = 2.0
# How often a question waiting for another worker's answer looks again.
WAIT_POLL_SECONDS = 0.005
# Writes between two prunings of expired and surplus answers.
PRUNE_EVERY = 256
BUSY_TIMEOUT_SECONDS = 1.0

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers ("
    " key TEXT PRIMARY KEY, tier TEXT, body BLOB NOT NULL, stored_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS answers_by_age ON answers (stored_at)",
    "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " until REAL NOT NULL)",
)
CLAIM_SQL = (
    "INSERT INTO claims (key, owner, until) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
    " SET owner = excluded.owner, until = excluded.until WHERE claims.until < ?"
)


def shared_key(key: tuple[object, ...], tables: object) -> str:
    """The text key of an answer: the in-memory cache's key and the customer's revision."""
    return repr((*key, tables))


class SharedAnswers:
    """The shared tables of one file (module doc); thread-safe, one connection a thread."""

    def __init__(
        self,
        path: Path,
        max_entries: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self.path = path
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self.owner = owner or uuid.uuid4().hex  # one per worker
        self._clock = clock
        # a connection per thread: no thread waits for another's query; a thread's
        # connection closes when the thread ends, or when ``close`` drops them all
        self._local = threading.local()
        self._writes = 0  # approximate across threads: it only paces the pruning
        self._failing: str | None = None

    def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key`` by any worker, unless expired."""
        since = self._clock() - self.max_age_seconds
        sql = "SELECT tier, body FROM answers WHERE key = ? AND stored_at >= ?"
        row = self._run(lambda db: db.execute(sql, (key, since)).fetchone(), None)
        return None if row is None else (row[0], bytes(row[1]))

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Store ``answer`` under ``key`` and end this worker's claim on it."""

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO answers (key, tier, body, stored_at) VALUES (?,?,?,?)",
                    (key, answer[0], answer[1], self._clock()),
                )
                db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))
                self._writes += 1
                if self._writes % PRUNE_EVERY == 0:
                    self._prune(db)

        self._run(write, None)

    def claim(self, keys: Sequence[str]) -> list[bool]:
        """Claim each answer of ``keys`` for this worker to compute: False where a claim
        still holds, another worker's or this one's (that answer is on its way). A
        failing file claims everything: each worker then computes what it needs, as
        without sharing."""
        now = self._clock()

        def write(db: sqlite3.Connection) -> list[bool]:
            claimed = []
            with db:
                for key in keys:
                    cursor = db.execute(CLAIM_SQL, (key, self.owner, now + CLAIM_SECONDS, now))
                    claimed.append(cursor.rowcount == 1)
            return claimed

        return self._run(write, [True] * len(keys))

    def release(self, keys: Sequence[str]) -> None:
        """End this worker's claims on ``keys`` (those it did not store an answer for)."""

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(
                    "DELETE FROM claims WHERE key = ? AND owner = ?",
                    [(key, self.owner) for key in keys],
                )

        if keys:
            self._run(write, None)

    def claimed_elsewhere(self, key: str) -> bool:
        """Whether another worker's claim on ``key`` holds: it is computing that answer."""
        sql = "SELECT 1 FROM claims WHERE key = ? AND owner != ? AND until >= ?"
        found = self._run(
            lambda db: db.execute(sql, (key, self.owner, self._clock())).fetchone(), None
        )
        return found is not None

    async def wait_for(self, key: str, longest_seconds: float) -> CachedAnswer | None:
        """The answer under ``key`` once another worker has stored it; None at once when no
        other worker is computing it, or when its claim lapses or ``longest_seconds``
        pass first (the caller then computes it)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + longest_seconds
        while self.claimed_elsewhere(key) and loop.time() < give_up:
            await asyncio.sleep(WAIT_POLL_SECONDS)
            answer = self.get(key)
            if answer is not None:
                return answer
        return None

    def __len__(self) -> int:
        """How many answers the file holds (expired ones until the next pruning)."""
        count = self._run(lambda db: db.execute("SELECT count(*) FROM answers").fetchone(), None)
        return 0 if count is None else int(count[0])

    def _prune(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        db.execute("DELETE FROM answers WHERE stored_at < ?", (now - self.max_age_seconds,))
        db.execute("DELETE FROM claims WHERE until < ?", (now,))
        db.execute(
            "DELETE FROM answers WHERE key IN (SELECT key FROM answers"
            " ORDER BY stored_at DESC LIMIT -1 OFFSET ?)",
            (self.max_entries,),
        )

    def _run(self, work: Callable[[sqlite3.Connection], Result], failed: Result) -> Result:
        """``work`` on this thread's connection; ``failed`` (logged) if the file fails."""
        try:
            result = work(self._connect())
        except sqlite3.Error as error:
            if str(error) != self._failing:
                logger.warning(
                    "shared answers unavailable",
                    extra={"fields": {"path": str(self.path), "error": str(error)}},
                )
            self._failing = str(error)
            return failed
        self._failing = None
        return result

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if db is None:
            db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                # a write opens a transaction, which its ``with db`` block commits
            )
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = OFF")  # a cache: losing it loses nothing
            for statement in SCHEMA:
                db.execute(statement)
            self._local.connection = db
        return db

    def close(self) -> None:
        """Drop every thread's connection: each closes once no thread is using it."""
        self._local = threading.local()


def open_shared_answers(settings: Settings) -> SharedAnswers | None:
    """The file the workers of this ``payrisk serve`` share, if there is one."""
    path = settings.shared_answers_path
    if path is None or settings.score_cache_entries <= 0:
        return None
    return SharedAnswers(path, settings.score_cache_entries, settings.score_cache_max_age_seconds)
