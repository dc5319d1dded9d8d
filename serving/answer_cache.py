"""The stored-mode answer cache's plumbing: where it lives and how a request finds its
entry (the cache itself and why its key is exact: ``serving.score_cache``).

An answer is kept under (model, as-of date, language, customer id, the customer's
revision). Reading the revision costs one small query; it is skipped while nothing at
all was committed to the database since the customer's revision was last read
(``serving.ledger_cache``'s database revision, read *before* the customer's, so a commit
in between forces a new read). On SQLite that database revision is an in-process
``PRAGMA``, cheap enough for the event loop: a repeated question about an unchanged
customer is then answered without leaving it (``known_revision``).

Behind each worker's own answers, the workers of one ``payrisk serve`` share theirs
(``serving.shared_answers``): an answer one worker computed is found by the others.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.errors import ApiError
from serving.ledger_cache import ledger_cache
from serving.ledger_reads import CustomerRevision, read_customer_revision
from serving.score_cache import ScoreCache
from serving.shared_answers import CachedAnswer, SharedAnswers, open_shared_answers, shared_key

Revisions = ScoreCache[tuple[Hashable, CustomerRevision]]


@dataclass(frozen=True)
class AnswerCache:
    """The answers (``app.state.score_cache``) and, per customer, its last revision read
    with the database's revision at that moment (``app.state.customer_revisions``); the
    answers shared with the other workers, if any (``app.state.shared_answers``)."""

    answers: ScoreCache[CachedAnswer]
    revisions: Revisions
    shared: SharedAnswers | None = None

    @property
    def enabled(self) -> bool:
        return self.answers.max_entries > 0

    def answer(self, key: tuple[object, ...], revision: CustomerRevision) -> CachedAnswer | None:
        """The answer kept for ``key`` at ``revision``, by this worker or another; 404 when
        the customer does not exist."""
        if not revision.exists:
            customer_id = key[-1]
            raise ApiError(
                404, f"no customer {customer_id!r} in the ledger", customer_id=customer_id
            )
        if not revision.settled:
            return None
        found = self.answers.get((*key, revision.tables))
        if found is None and self.shared is not None:
            # not copied into this worker's own: it would outlive the age its maker gave it
            found = self.shared.get(shared_key(key, revision.tables))
        return found

    def has(self, key: tuple[object, ...], revision: CustomerRevision) -> bool:
        """Whether an answer for ``key`` at ``revision`` is kept, by this worker or another
        (counts no hit or miss)."""
        if self.answers.peek((*key, revision.tables)) is not None:
            return True
        return self.shared is not None and (
            self.shared.get(shared_key(key, revision.tables)) is not None
        )

    def keep(
        self, key: tuple[object, ...], revision: CustomerRevision | None, answer: CachedAnswer
    ) -> None:
        """Keep ``answer`` for ``key`` when its revision (read before its rows) is settled,
        for the other workers too."""
        if revision is not None and revision.settled:
            self.answers.put((*key, revision.tables), answer)
            if self.shared is not None:
                self.shared.put(shared_key(key, revision.tables), answer)

    def claim(
        self, keys: list[tuple[object, ...]], revisions: list[CustomerRevision]
    ) -> list[bool]:
        """Per answer (key at revision), whether this worker may compute it: False where
        another worker is computing it (``serving.shared_answers``)."""
        if self.shared is None:
            return [True] * len(keys)
        return self.shared.claim(_shared_keys(keys, revisions))

    def release(self, keys: list[tuple[object, ...]], revisions: list[CustomerRevision]) -> None:
        """End this worker's claims on these answers (kept or not)."""
        if self.shared is not None:
            self.shared.release(_shared_keys(keys, revisions))

    async def computed_elsewhere(
        self, key: tuple[object, ...], revision: CustomerRevision, longest_seconds: float
    ) -> CachedAnswer | None:
        """The answer, when another worker is computing exactly it: wait for it (at most
        ``longest_seconds``) instead of computing it a second time."""
        if self.shared is None or not revision.settled:
            return None
        return await self.shared.wait_for(shared_key(key, revision.tables), longest_seconds)


def _shared_keys(keys: list[tuple[object, ...]], revisions: list[CustomerRevision]) -> list[str]:
    return [shared_key(key, revision.tables) for key, revision in zip(keys, revisions, strict=True)]


def answer_cache_for(state: State) -> AnswerCache:
    """The app's cache of stored-mode answers (``state``: ``app.state``), made on first use."""
    if getattr(state, "score_cache", None) is None:
        settings: Settings = state.settings
        entries, max_age = settings.score_cache_entries, settings.score_cache_max_age_seconds
        state.customer_revisions = ScoreCache(entries, max_age)
        state.score_cache = ScoreCache(entries, max_age)
        state.shared_answers = open_shared_answers(settings)
    return AnswerCache(state.score_cache, state.customer_revisions, state.shared_answers)


async def get_score_cache(request: Request) -> AnswerCache:
    """The app's cache of stored-mode answers, made on first use."""
    return answer_cache_for(request.app.state)


ScoreCacheDep = Annotated[AnswerCache, Depends(get_score_cache)]


def revision_is_local(store: LedgerStore) -> bool:
    """Whether the database revision is read without a round trip (SQLite's ``PRAGMA``)."""
    return store.dialect_name == "sqlite"


def known_revision(
    store: LedgerStore, revisions: Revisions, customer_id: str
) -> CustomerRevision | None:
    """The customer's revision if nothing was committed since it was read, else None.

    No query but the database revision's (``revision_is_local`` says where it is cheap).
    """
    known = revisions.get(customer_id)
    if known is None:
        return None
    return known[1] if known[0] == ledger_cache(store).revision() else None


def current_revision(
    store: LedgerStore, revisions: Revisions, customer_id: str
) -> CustomerRevision:
    """The customer's revision: the known one while nothing was committed since, else read."""
    database = ledger_cache(store).revision()
    known = revisions.get(customer_id)
    if known is not None and known[0] == database:
        return known[1]
    revision = read_customer_revision(store, customer_id)
    if revision.settled:
        revisions.put(customer_id, (database, revision))
    return revision
