"""Refresh-ahead of stored-mode answers: a changed customer is scored again before it is asked.

A cached answer (``serving.answer_cache``) is keyed by the customer's revision, so any
ingest that touches the customer turns the next question about it into a miss: a
scoring call of ~10-20 ms of CPU, several times that in a busy worker, where a hit
costs a small query. A collections system that pushes a customer's invoices and then
asks for its risk, or a second worker that has never seen the change, pays it.

Each worker therefore runs one background task that, every ``interval_seconds``, and at
once after a write of its own has committed (``wake``, which names the customers written):

0. after a model swap, asks the new model the questions asked lately of the old one
   (every cached answer named the old one); then scores the customers its own writes
   named since the last round (as in step 4), before any query about what changed: a
   collections system that writes and then asks goes through the same worker half the
   time, and its question then waits the least;
1. asks whether anything was committed at all (``serving.ledger_cache``'s database
   revision: one tiny query) and stops there if not;
2. reads which customers' rows changed since its last round
   (``serving.ledger_changes``, with its watermark rule: no committed write is missed),
   and the newest refresh's time: when it is one it has not seen (at the worker's start
   too), it asks that refresh's customers ahead (the worklist's, at its as-of date, in
   English). A start, a deploy, a refresh or a promotion then costs a few batched
   scoring calls here, not one scoring call per first question in every worker;
3. keeps those it has been asked about lately (``AskedKeys``: per customer, the model,
   as-of date and language of recent questions, for the model now served);
4. reads their revisions (before their rows, the cache's rule), and scores the ones
   whose answer under that revision no worker has kept yet, in one batch per question
   kind, with the very code a miss runs (``serving.answers.score_misses``). A revision
   that is not settled yet (SQLite's clock: ``serving.ledger_reads``) is tried again next
   round, and so is an answer another worker's warmer has claimed: with several workers
   (``serving.shared_answers``) a change is scored by the first warmer to claim it, and
   its answer serves every worker.

A question that comes while a round computes its very answer (same customer, same
revision) waits for that answer instead of computing it a second time (``warming``):
under ``make soak`` about 40% of the misses left were such questions.

Nothing here decides what an answer is: a warmed answer is stored exactly as a miss
would store it, under the revision read before its rows, so a write that lands in
between only leaves a useless entry. The cost is bounded: at most ``max_customers`` per
round, only customers asked about within ``remember_seconds``, and rounds run one at a
time. A round that fails (database away) is logged and the next one tries again.

The interval (``PAYRISK_SCORE_WARM_SECONDS``) is 0.1 s: a question asked between a change
and the round after it is a miss, and under ``make soak`` (150 customers, 10 s warm-up,
each customer changed every ~7 s) the p99 of scoring was 125-180 ms over four runs at
0.1 s against 165-206 ms over four at 0.5 s, with no loss of throughput: better on the
whole, within the noise of one run. An idle round costs one tiny query.

Tried and not adopted (``make soak``, 150 customers, PostgreSQL, 10 s warm-up):
waking the warmer by ``LISTEN``/``NOTIFY`` on every ledger commit, with the workers also
telling each other what they were asked so each warmed the others' questions. Misses fell
(from 14-25% to 6-17% of scoring answers over the first minute, to ~1.5% after 45 s),
but every change was then scored by every worker, in rounds of one or two customers: the
server's throughput fell from 42-59 to 29-45 requests/s (29-33 in the runs taken in turns
with it off), and the p99 of scoring was no better (350-980 ms over eight runs, 93-640 ms
over four without). Under that load (every customer changed about as often as it is
asked) warming costs what the misses it saves cost, twice over.

Also tried (``make soak``, 200 customers, 120 s, with ``serving.shared_answers``): a
second task per worker that scores what its writes name at once, beside the rounds,
instead of first thing in the next round. A change was scored ~15 ms sooner (p50 from
commit to scoring, traced), the misses stayed within the noise (31-58 a run over four
runs, against 28-75 over six), and cached answers were slower (p99 42-59 ms against
39-47): two computations at a time share one interpreter lock with the event loop. Not
adopted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from ledger.scores_store import latest_refresh_customers, latest_scored_at
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.answer_cache import AnswerCache, CachedAnswer
from serving.answers import score_misses
from serving.ledger_cache import ledger_cache
from serving.ledger_changes import Watermark, changed_owners, read_watermark
from serving.ledger_reads import CustomerRevision, read_customer_revisions, read_snapshot
from serving.model_holder import ModelHolder, ModelSnapshot
from serving.schemas.scores import DEFAULT_LANG, Lang

logger = logging.getLogger("serving.answer_warmer")
# Customers scored per call: tens of ms each, so the worker's own misses, which compete
# with these for the interpreter lock, never wait behind one long call.
WARM_BATCH = 32

# (model name, version, identity, as-of date, language): what an answer is about besides
# its customer; the answer cache's key is this plus the customer id.
Question = tuple[str, str, Any, date, Lang]
Served = tuple[str, str, Any]  # (model name, version, identity): a question's first three


def served_by(snapshot: ModelSnapshot) -> Served:
    """The model part of the questions ``snapshot`` answers (``ModelSnapshot.identity``)."""
    return (snapshot.name, snapshot.version, snapshot.identity)


@dataclass
class AskedKeys:
    """Per customer, the questions asked about it lately (most recently asked last)."""

    max_customers: int
    remember_seconds: float
    clock: Callable[[], float] = time.monotonic
    _asked: OrderedDict[str, dict[Question, float]] = field(default_factory=OrderedDict)

    def note(self, question: Question, customer_id: str) -> None:
        """Remember that ``customer_id`` was asked ``question`` now."""
        questions = self._asked.pop(customer_id, {})
        questions.pop(question, None)
        questions[question] = self.clock()
        while len(questions) > 4:  # a few as-of dates or languages per customer at most
            questions.pop(next(iter(questions)))
        self._asked[customer_id] = questions
        while len(self._asked) > self.max_customers:
            self._asked.popitem(last=False)

    def recent(self, customer_id: str, snapshot: ModelSnapshot) -> list[Question]:
        """The questions about ``customer_id`` asked lately of the model now served."""
        since = self.clock() - self.remember_seconds
        served = served_by(snapshot)
        return [
            question
            for question, at in self._asked.get(customer_id, {}).items()
            if at >= since and question[:3] == served
        ]

    def carry_over(self, served: Served) -> list[str]:
        """Ask each question of another model again of ``served``, as if at the same moment,
        and forget that model's: after a model swap every cached answer is for the old
        one. The customers with a recent question that moved."""
        since = self.clock() - self.remember_seconds
        moved = []
        for customer_id, questions in self._asked.items():
            renamed: dict[Question, float] = {}
            for question, at in sorted(questions.items(), key=lambda item: item[1]):
                key: Question = (*served, question[3], question[4])
                renamed.pop(key, None)
                renamed[key] = at  # oldest first, as ``note`` keeps them
            if any(question[:3] != served and at >= since for question, at in questions.items()):
                moved.append(customer_id)
            self._asked[customer_id] = renamed
        return moved

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._asked


@dataclass(frozen=True)
class _Warming:
    """An answer a round is computing now, for this revision; ``done`` when it is."""

    revision: CustomerRevision
    done: asyncio.Future[CachedAnswer | None]


@dataclass
class AnswerWarmer:
    """The refresh-ahead task of one worker (module doc); ``run`` it on the worker's loop."""

    store: LedgerStore
    holder: ModelHolder
    cache: AnswerCache
    settings: Settings
    interval_seconds: float
    max_customers: int = 256
    asked: AskedKeys = field(init=False)
    warmed: int = 0  # answers computed ahead, for tests and curiosity
    _last_error: str | None = None
    _database: Hashable = None
    _watermark: Watermark | None = None
    _pending: set[str] = field(default_factory=set)
    _served: Served | None = None  # the model of the last round
    _newest_refresh: datetime | None = None  # the newest refresh's scored_at, last seen
    _refresh_asked: datetime | None = None  # the refresh whose customers were asked ahead
    _woken: asyncio.Event | None = None  # set by ``wake``: a round now
    _written: set[str] = field(default_factory=set)  # by this worker's writes, first
    _computing: dict[tuple[Question, str], _Warming] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.asked = AskedKeys(
            max_customers=max(self.cache.answers.max_entries, 1),
            remember_seconds=self.settings.score_cache_max_age_seconds,
        )

    async def run(self) -> None:
        """Warm every ``interval_seconds``, or at once when woken, until cancelled."""
        self._woken = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.interval_seconds)
            self._woken.clear()
            try:
                await self.warm_once()
                self._last_error = None
            except Exception as error:  # the database may be away: next round retries
                if str(error) != self._last_error:  # once per outage, not twice a second
                    logger.warning("answer warming failed", extra={"fields": {"error": str(error)}})
                self._last_error = str(error)

    def wake(self, written: Iterable[str] = ()) -> None:
        """Start the next round now, not at the end of the interval: a write of this worker
        has just committed the ``written`` customers' rows, which the round scores first
        (on the worker's loop; without ``run``, the next ``warm_once`` does)."""
        self._written.update(written)
        if self._woken is not None:
            self._woken.set()

    async def warm_once(self) -> int:
        """One round: the answers computed ahead (0 when nothing changed)."""
        snapshot = self.holder.current()
        if snapshot is None or not self.cache.enabled:
            return 0
        if served_by(snapshot) != self._served:
            self._ask_again(snapshot)
        # this worker's own writes first: no need to wait for the changes query to find them
        written, self._written = self._written, set()
        warmed = await self._warm(snapshot, sorted(written)[: self.max_customers])
        changed = await run_in_threadpool(self._changed_customers)
        if self._newest_refresh != self._refresh_asked:
            self._pending.update(await self._ask_refreshed(served_by(snapshot)))
        due = sorted(changed | self._pending)
        self._pending = set(due[self.max_customers :])
        warmed += await self._warm(snapshot, due[: self.max_customers])
        self.warmed += warmed
        return warmed

    async def _warm(self, snapshot: ModelSnapshot, customers: list[str]) -> int:
        """Score ahead the questions asked lately about ``customers`` whose answer at their
        current revision is not kept yet; the answers computed."""
        wanted = {
            customer_id: questions
            for customer_id in customers
            if (questions := self.asked.recent(customer_id, snapshot))
        }
        if not wanted:
            return 0
        revisions, to_score = await run_in_threadpool(self._to_score, wanted)
        warmed = 0
        for question, todo in to_score.items():
            warmed += await self._score(snapshot, question, todo, revisions)
        return warmed

    def _ask_again(self, snapshot: ModelSnapshot) -> None:
        """Another model came: ask it the questions asked lately of the old one (scored
        this round and the next); at the worker's first model there are none."""
        served = served_by(snapshot)
        if self._served is not None:
            self._pending.update(self.asked.carry_over(served))
        self._served = served

    async def _ask_refreshed(self, served: Served) -> list[str]:
        """Note the newest refresh's customers as asked now (none when nothing was scored):
        the worklist's, riskiest first, at its as-of date in English. At a worker's start
        (a deploy) and after each new refresh, the first question about each is then
        answered from the cache instead of costing a scoring call in every worker."""
        self._refresh_asked = self._newest_refresh
        found = await run_in_threadpool(
            latest_refresh_customers, self.store, self.asked.max_customers
        )
        if found is None:
            return []
        as_of, customers = found
        for customer_id in reversed(customers):  # the riskiest noted last: kept longest
            self.asked.note((*served, as_of, DEFAULT_LANG), customer_id)
        return customers

    def _changed_customers(self) -> set[str]:
        """Customers whose rows changed since the last round (empty on the first)."""
        database = ledger_cache(self.store).revision()
        if database == self._database and self._watermark is not None:
            return set()
        with read_snapshot(self.store) as connection:  # its own, before the snapshot
            watermark = read_watermark(connection, self.store.dialect_name)
            self._newest_refresh = latest_scored_at(connection)
        since, self._watermark, self._database = self._watermark, watermark, database
        if since is None:
            return set()
        with read_snapshot(self.store) as connection:
            owners = changed_owners(connection, self.store.dialect_name, since)
        return {
            str(customer_id)
            for frame in owners.values()
            if "customer_id" in frame
            for customer_id in frame["customer_id"].dropna()
        }

    def _to_score(
        self, wanted: dict[str, list[Question]]
    ) -> tuple[dict[str, CustomerRevision], dict[Question, list[str]]]:
        """The customers' revisions and, per question, the customers whose answer at their
        revision is kept by no worker yet (in a thread: it queries)."""
        revisions = read_customer_revisions(self.store, list(wanted))
        todo: dict[Question, list[str]] = {}
        for customer_id, questions in wanted.items():
            revision = revisions[customer_id]
            if not revision.exists:
                continue
            if not revision.settled:
                self._pending.add(customer_id)
                continue
            for question in questions:
                if not self.cache.has((*question, customer_id), revision):
                    todo.setdefault(question, []).append(customer_id)
        return revisions, todo

    def warming(
        self, question: Question, customer_id: str, revision: CustomerRevision
    ) -> asyncio.Future[CachedAnswer | None] | None:
        """This very answer (question, customer, revision) while a round computes it, on the
        running loop: a question that finds its answer being warmed waits for it instead
        of computing it a second time (its result: the answer, or None if it failed)."""
        warming = self._computing.get((question, customer_id))
        if warming is None or warming.revision.tables != revision.tables:
            return None
        if warming.done.get_loop() is not asyncio.get_running_loop():
            return None
        return warming.done

    async def _score(
        self,
        snapshot: ModelSnapshot,
        question: Question,
        customers: list[str],
        revisions: dict[str, CustomerRevision],
    ) -> int:
        kept = 0
        for start in range(0, len(customers), WARM_BATCH):
            batch = customers[start : start + WARM_BATCH]
            found: dict[str, CachedAnswer] = {}
            with self._announced(question, batch, revisions, found):
                computed, elsewhere = await run_in_threadpool(
                    self._compute_and_keep, snapshot, question, batch, revisions
                )
                found.update(computed)
            self._pending.update(elsewhere)
            kept += len(found)
        return kept

    def _compute_and_keep(
        self,
        snapshot: ModelSnapshot,
        question: Question,
        customers: list[str],
        revisions: dict[str, CustomerRevision],
    ) -> tuple[dict[str, CachedAnswer], list[str]]:
        """In a thread: claim the answers of ``customers`` (``serving.shared_answers``),
        compute and keep the claimed ones, and end the claims. The answers kept, and the
        customers whose answer another worker is computing (looked at again next round,
        when it is most likely kept)."""
        mine = self.cache.claim(
            [(*question, customer_id) for customer_id in customers],
            [revisions[customer_id] for customer_id in customers],
        )
        claimed = [c for c, ok in zip(customers, mine, strict=True) if ok]
        elsewhere = [c for c, ok in zip(customers, mine, strict=True) if not ok]
        found: dict[str, CachedAnswer] = {}
        try:
            if claimed:
                when, lang = question[3], question[4]
                answers = score_misses(self.store, snapshot, self.settings, when, lang, claimed)
                for customer_id, answer in zip(claimed, answers, strict=True):
                    if not isinstance(answer, Exception):
                        self.cache.keep((*question, customer_id), revisions[customer_id], answer)
                        found[customer_id] = answer
        finally:
            unkept = [c for c in claimed if c not in found]
            self.cache.release([(*question, c) for c in unkept], [revisions[c] for c in unkept])
        return found, elsewhere

    @contextlib.contextmanager
    def _announced(
        self,
        question: Question,
        batch: list[str],
        revisions: dict[str, CustomerRevision],
        found: dict[str, CachedAnswer],
    ) -> Iterator[None]:
        """While the block computes ``batch``, ``warming`` finds it; at the end each waiter
        gets its customer's answer from ``found`` (None if it has none: another worker
        computes it, or it failed)."""
        loop = asyncio.get_running_loop()
        announced = {
            customer_id: _Warming(revisions[customer_id], loop.create_future())
            for customer_id in batch
        }
        for customer_id, warming in announced.items():
            self._computing[(question, customer_id)] = warming
        try:
            yield
        finally:
            for customer_id, warming in announced.items():
                self._computing.pop((question, customer_id), None)
                warming.done.set_result(found.get(customer_id))
