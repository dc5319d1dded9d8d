"""Every customer's worklist facts, kept up to date by recomputing only changed customers.

``serving.worklist.customer_facts`` needs the whole ledger, and reading it costs about a
second on the demo ledger: far too much to do after every ingest. But a customer's facts
depend only on its own rows (its customer row, invoices, payments and activities) and on
the payments and promises that name its invoices -- in practice its own too. So each
worker keeps, per as-of date, the facts frame with a **watermark**
(``serving.ledger_changes``); when the database revision moves, it reads the rows
updated since the watermark, then just the rows of the customers they belong to,
recomputes those customers' facts and replaces their rows. The result equals
``customer_facts`` on the whole ledger (tested with random writes), because whatever
could make it differ triggers a full recompute instead:

- a row that moved to another customer (its old customer changed too);
- a payment or promise that names an invoice of *another* customer, or a change to an
  invoice that such a row names (the facts then cross customers);
- fewer rows than expected (a row deleted by hand: payrisk never deletes);
- a periodic full recompute every ``FULL_RECOMPUTE_SECONDS`` (SQLite's watermark is a
  time overlap, not a proof; the periodic pass bounds how long an unusually long write
  transaction could go unseen there; on PostgreSQL it is a cheap backstop).

Scores are not part of the facts: the worklist joins them afterwards
(``serving.worklist_reads``). States are per store and per as-of date, at most
``MAX_DATES`` dates per worker; callers must not modify the frames they get.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from ledger.frames import Ledger
from ledger.store import LedgerStore
from serving.ledger_cache import ledger_cache
from serving.ledger_changes import Watermark, changed_owners, read_watermark, table_counts
from serving.ledger_reads import all_rows_in, customer_rows_in, read_snapshot
from serving.per_store import PerStore
from serving.worklist import customer_facts

FULL_RECOMPUTE_SECONDS = 600.0
MAX_DATES = 4
_versions = itertools.count(1)  # names each facts frame: a key for results built on it
_OWNED = ("invoices", "payments", "activities")


class NeedsFullRecompute(Exception):
    """The changes cannot be applied customer by customer (module doc says when)."""


@dataclass
class FactsState:
    """The facts at one as-of date, as of ``revision``, with what an update needs.

    ``owners``: per table (invoices, payments, activities) its rows' customer (and the
    invoice they name), indexed by key. ``crossing``: invoice ids named by a payment or
    activity of another customer than the invoice's.
    """

    facts: pd.DataFrame
    revision: Hashable
    watermark: Watermark
    owners: dict[str, pd.DataFrame]
    crossing: frozenset[str]
    built_at: float
    version: int
    asked_at: float = 0.0  # monotonic time just before ``revision`` was read


def _owners_of(ledger: Ledger) -> dict[str, pd.DataFrame]:
    tables = {"invoices": ledger.invoices, "payments": ledger.payments}
    tables["activities"] = ledger.activities
    owners = {}
    for name, frame in tables.items():
        key = frame.columns[0]
        columns = ["customer_id"] + (["invoice_id"] if name != "invoices" else [])
        owners[name] = pd.DataFrame(
            {column: frame[column].astype(object).to_numpy() for column in columns},
            index=pd.Index(frame[key].astype(object).to_numpy(), name=key),
        )
    return owners


def _crossing(owners: dict[str, pd.DataFrame]) -> frozenset[str]:
    """Invoice ids named by a payment or activity of another customer (module doc)."""
    invoice_owner = owners["invoices"]["customer_id"]
    crossing: set[str] = set()
    for name in ("payments", "activities"):
        rows = owners[name].dropna(subset=["invoice_id"])
        named_owner = rows["invoice_id"].map(invoice_owner)
        crossing |= set(rows.loc[named_owner.ne(rows["customer_id"]), "invoice_id"])
    return frozenset(crossing)


def _full_state(store: LedgerStore, as_of: pd.Timestamp, revision: Hashable) -> FactsState:
    """The facts from the whole ledger, read in one snapshot after its watermark."""
    with read_snapshot(store) as connection:  # its own transaction, before the snapshot
        watermark = read_watermark(connection, store.dialect_name)
    with read_snapshot(store) as connection:
        ledger = all_rows_in(connection, store.dialect_name).ledger()
    owners = _owners_of(ledger)
    facts = customer_facts(ledger, as_of)
    return FactsState(
        facts, revision, watermark, owners, _crossing(owners), time.monotonic(), next(_versions)
    )


def _merged_owners(
    owners: dict[str, pd.DataFrame], changed: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """``owners`` with the changed rows applied; raises when a row moved customer."""
    merged = {}
    for name in _OWNED:
        rows = changed[name].set_index(changed[name].columns[0])
        known = owners[name].reindex(rows.index)["customer_id"]
        moved = known.notna() & known.ne(rows["customer_id"])
        if moved.any():
            raise NeedsFullRecompute(f"{name} {list(rows.index[moved])[:3]} changed customer")
        merged[name] = _with_rows(owners[name], rows.astype(object), known.notna())
    return merged


def _with_rows(owners: pd.DataFrame, rows: pd.DataFrame, known: pd.Series) -> pd.DataFrame:
    """``owners`` with ``rows`` applied, copied only when something in it changes (most
    writes re-send a known row with another amount: no garbage per update then)."""
    known_ids = rows.index[known.to_numpy()]
    old = owners.reindex(known_ids)
    if known.all() and old.equals(rows):
        return owners
    kept = owners.drop(index=known_ids) if len(known_ids) else owners
    return pd.concat([kept, rows])


def _check_crossing(
    state: FactsState, owners: dict[str, pd.DataFrame], changed: dict[str, pd.DataFrame]
) -> None:
    """Raises when a change names, or is, an invoice whose facts cross customers."""
    touched = set(changed["invoices"]["invoice_id"])
    for name in ("payments", "activities"):
        old = state.owners[name].reindex(changed[name][changed[name].columns[0]])
        touched |= set(old["invoice_id"].dropna())
        rows = changed[name].dropna(subset=["invoice_id"])
        touched |= set(rows["invoice_id"])
        named_owner = rows["invoice_id"].map(owners["invoices"]["customer_id"])
        if named_owner.ne(rows["customer_id"]).any():
            raise NeedsFullRecompute(f"a {name} row names another customer's invoice")
    if touched & state.crossing:
        raise NeedsFullRecompute("a change touches an invoice named across customers")


def _updated_state(
    store: LedgerStore, state: FactsState, as_of: pd.Timestamp, revision: Hashable
) -> FactsState:
    """``state`` with the customers changed since its watermark recomputed (module doc)."""
    with read_snapshot(store) as connection:  # its own transaction, before the snapshot
        watermark = read_watermark(connection, store.dialect_name)
    with read_snapshot(store) as connection:
        changed = changed_owners(connection, store.dialect_name, state.watermark)
        owners = _merged_owners(state.owners, changed)
        _check_crossing(state, owners, changed)
        customers = sorted({str(c) for frame in changed.values() for c in frame["customer_id"]})
        counts = table_counts(connection)
        rows = customer_rows_in(connection, store.dialect_name, customers)
    if customers:
        fresh = customer_facts(rows.ledger(), as_of)
        facts = state.facts.drop(index=customers, errors="ignore")
        facts = pd.concat([facts, fresh]).sort_index(kind="stable")
    else:  # a write elsewhere (scores, keys, another database): same facts, same version
        facts = state.facts
    expected = {"customers": len(facts)} | {name: len(owners[name]) for name in _OWNED}
    if counts != expected:
        raise NeedsFullRecompute(f"row counts {counts} differ from the kept {expected}")
    version = next(_versions) if customers else state.version
    return FactsState(facts, revision, watermark, owners, state.crossing, state.built_at, version)


class IncrementalFacts:
    """The facts states of one store, per as-of date; thread-safe, one update at a time."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = weakref.ref(store)
        self._states: OrderedDict[pd.Timestamp, FactsState] = OrderedDict()
        self._lock = threading.Lock()
        self.full_recomputes = self.updates = 0

    def state(self, as_of: date | pd.Timestamp) -> FactsState:
        """The facts at ``as_of`` as of the database's current revision."""
        store = self._store()
        if store is None:
            raise RuntimeError("the store of these facts is gone")
        stamp = pd.Timestamp(as_of).normalize()
        asked = time.monotonic()
        revision = ledger_cache(store).revision()  # read before anything it guards
        with self._lock:
            state = self._states.get(stamp)
            # coalesced: a state whose revision was read after this call began is fresh
            # enough, so threads that waited for one update do not each run another
            if state is not None and (state.revision == revision or state.asked_at >= asked):
                self._states.move_to_end(stamp)
                return state
            asked = time.monotonic()
            revision = ledger_cache(store).revision()
            state = self._refreshed(store, state, stamp, revision)
            state.asked_at = asked
            self._states[stamp] = state
            self._states.move_to_end(stamp)
            while len(self._states) > MAX_DATES:
                self._states.popitem(last=False)
            return state

    def _refreshed(
        self, store: LedgerStore, state: FactsState | None, stamp: pd.Timestamp, revision: Hashable
    ) -> FactsState:
        if state is not None and time.monotonic() - state.built_at < FULL_RECOMPUTE_SECONDS:
            try:
                updated = _updated_state(store, state, stamp, revision)
            except NeedsFullRecompute:
                pass
            else:
                self.updates += 1
                return updated
        self.full_recomputes += 1
        return _full_state(store, stamp, revision)


_FACTS = PerStore(IncrementalFacts)


def incremental_facts(store: LedgerStore) -> IncrementalFacts:
    """The incremental facts of ``store`` (one per store object, made on first use)."""
    return _FACTS.get(store)


def current_facts(store: LedgerStore, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """Every customer's ``customer_facts`` at ``as_of``, as of now (module doc)."""
    return incremental_facts(store).state(as_of).facts
