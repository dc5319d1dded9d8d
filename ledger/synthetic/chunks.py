"""Generation by chunks of customers, each from its own child seed; frames and ids.

Chunk k holds customers ``k * chunk_customers ...`` and draws from
``SeedSequence(seed).spawn(...)[k]`` (itself split per stage), so it is the same however
many chunks run. Invoice, payment and activity numbers continue from the previous chunk,
so ids are unique and readable (``INV-00000123``); chunks therefore come in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ledger.frames import Ledger
from ledger.synthetic import params as p
from ledger.synthetic.activities import KIND_ORDER, ActivityDraw, draw_activities
from ledger.synthetic.behaviour import draw_behaviour
from ledger.synthetic.config import NO_DAY, GeneratedLedger, GeneratorConfig, to_timestamps
from ledger.synthetic.customers import CustomerDraw, draw_customers
from ledger.synthetic.invoices import InvoiceDraw, draw_invoices
from ledger.synthetic.lateness import Outcomes, draw_outcomes
from ledger.synthetic.oracle import LAW_COLUMNS, issue_time_probabilities
from ledger.synthetic.payments import PaymentDraw, draw_payments

_STAGES = ("customers", "behaviour", "invoices", "outcomes", "payments", "activities")
ID_DIGITS = 8


@dataclass(frozen=True)
class _Numbering:
    """The last numbers used so far, so the next chunk continues from them."""

    invoices: int = 0
    payments: int = 0
    activities: int = 0


def generate_chunks(config: GeneratorConfig) -> Iterator[GeneratedLedger]:
    """Yield the ledger chunk by chunk (``config.chunk_customers`` customers each), in order.

    Holds one chunk in memory at a time, so a caller can stream any size to disk.
    """
    children = np.random.SeedSequence(config.seed).spawn(config.chunk_count)
    numbering = _Numbering()
    for index, child in enumerate(children):
        first = index * config.chunk_customers
        count = min(config.chunk_customers, config.customers - first)
        chunk, numbering = _generate_chunk(config, child, first, count, numbering)
        yield chunk


def generate_ledger(config: GeneratorConfig) -> GeneratedLedger:
    """Generate the whole ledger in memory (all chunks concatenated) with its oracle."""
    chunks = list(generate_chunks(config))
    if len(chunks) == 1:
        return chunks[0]
    tables = {
        name: pd.concat([chunk.ledger.table(name) for chunk in chunks], ignore_index=True)
        for name in chunks[0].ledger.tables()
    }
    oracle = pd.concat([chunk.oracle for chunk in chunks], ignore_index=True)
    return GeneratedLedger(ledger=Ledger(**tables), oracle=oracle)


def _generate_chunk(
    config: GeneratorConfig,
    seed: np.random.SeedSequence,
    first_customer: int,
    count: int,
    numbering: _Numbering,
) -> tuple[GeneratedLedger, _Numbering]:
    rngs = dict(
        zip(_STAGES, (np.random.default_rng(s) for s in seed.spawn(len(_STAGES))), strict=True)
    )
    span = (config.start_day, config.end_day)
    id_width = max(5, len(str(config.customers)))
    customers = draw_customers(rngs["customers"], first_customer + 1, count, span, id_width)
    behaviour = draw_behaviour(
        rngs["behaviour"], customers.discipline_baseline, *span, shock=config.shock
    )
    invoices = draw_invoices(rngs["invoices"], customers, behaviour, *span)
    outcomes = draw_outcomes(rngs["outcomes"], invoices, customers, behaviour)
    payments = draw_payments(rngs["payments"], invoices, outcomes, customers, behaviour, span)
    activities = draw_activities(
        rngs["activities"], invoices, outcomes, customers, behaviour, payments, config.end_day
    )
    invoice_ids = _ids("INV-", numbering.invoices, len(invoices))
    customer_ids = customers.frame["customer_id"].to_numpy(dtype=object)
    payment_frame = _payment_frame(payments, customer_ids, invoice_ids, numbering.payments)
    activity_frame = _activity_frame(
        activities, invoices.customer, customer_ids, invoice_ids, numbering.activities
    )
    ledger = Ledger.from_frames(
        customers=customers.frame,
        invoices=_invoice_frame(invoices, outcomes, customers, invoice_ids, config.end_day),
        payments=payment_frame,
        activities=activity_frame,
    )
    oracle = _oracle_frame(invoices, outcomes, customer_ids, invoice_ids, config.end_day)
    next_numbering = _Numbering(
        invoices=numbering.invoices + len(invoices),
        payments=numbering.payments + len(payment_frame),
        activities=numbering.activities + len(activity_frame),
    )
    return GeneratedLedger(ledger=ledger, oracle=oracle), next_numbering


def _ids(prefix: str, last_used: int, count: int) -> np.ndarray:
    numbers = range(last_used + 1, last_used + count + 1)
    return np.array([f"{prefix}{number:0{ID_DIGITS}d}" for number in numbers], dtype=object)


def _invoice_frame(
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    customers: CustomerDraw,
    invoice_ids: np.ndarray,
    end_day: int,
) -> pd.DataFrame:
    customer_ids = customers.frame["customer_id"].to_numpy(dtype=object)
    paid_day = np.where(outcomes.settle_day <= end_day, outcomes.settle_day, NO_DAY)
    return pd.DataFrame(
        {
            "invoice_id": invoice_ids,
            "customer_id": customer_ids[invoices.customer],
            "issue_date": to_timestamps(invoices.issue_day),
            "due_date": to_timestamps(invoices.due_day),
            "amount": invoices.amount,
            "currency": customers.currency[invoices.customer],
            "terms": np.asarray(p.TERMS, dtype=object)[invoices.terms],
            "disputed": (outcomes.dispute_open_day != NO_DAY)
            & (outcomes.dispute_open_day <= end_day),
            "paperless": invoices.paperless,
            "paid_date": to_timestamps(paid_day),
        }
    )


def _payment_frame(
    payments: PaymentDraw, customer_ids: np.ndarray, invoice_ids: np.ndarray, last_used: int
) -> pd.DataFrame:
    order = np.lexsort((payments.invoice, payments.customer, payments.day))
    invoice = payments.invoice[order]
    applied = invoice >= 0
    invoice_id = np.full(len(order), None, dtype=object)
    invoice_id[applied] = invoice_ids[invoice[applied]]
    return pd.DataFrame(
        {
            "payment_id": _ids("PAY-", last_used, len(order)),
            "customer_id": customer_ids[payments.customer[order]],
            "invoice_id": invoice_id,
            "payment_date": to_timestamps(payments.day[order]),
            "amount": payments.amount[order],
        }
    )


def _activity_frame(
    activities: ActivityDraw,
    invoice_customer: np.ndarray,
    customer_ids: np.ndarray,
    invoice_ids: np.ndarray,
    last_used: int,
) -> pd.DataFrame:
    customer = invoice_customer[activities.invoice]
    order = np.lexsort((activities.kind, activities.invoice, customer, activities.day))
    is_promise = activities.promised_day[order] != NO_DAY
    return pd.DataFrame(
        {
            "activity_id": _ids("ACT-", last_used, len(order)),
            "customer_id": customer_ids[customer[order]],
            "invoice_id": invoice_ids[activities.invoice[order]],
            "date": to_timestamps(activities.day[order]),
            "kind": np.asarray(KIND_ORDER, dtype=object)[activities.kind[order]],
            "promised_date": to_timestamps(
                np.where(is_promise, activities.promised_day[order], NO_DAY)
            ),
            "promised_amount": activities.promised_amount[order],
            "text": activities.text[order],
        }
    )


def _oracle_frame(
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    customer_ids: np.ndarray,
    invoice_ids: np.ndarray,
    end_day: int,
) -> pd.DataFrame:
    p_late, p_over_30 = issue_time_probabilities(outcomes.law)
    # the same fact as the dispute_opened activity: nothing after the end
    opened = outcomes.dispute_open_day
    opened_day = np.where(opened <= end_day, opened, NO_DAY)
    law = {name: getattr(outcomes.law, name) for name in LAW_COLUMNS}
    return pd.DataFrame(
        {
            "invoice_id": pd.array(invoice_ids, dtype="string"),
            "customer_id": pd.array(customer_ids[invoices.customer], dtype="string"),
            "issue_date": to_timestamps(invoices.issue_day),
            "p_late_true": p_late,
            "p_over_30_true": p_over_30,
            **law,
            "dispute_opened_date": to_timestamps(opened_day),
            "discipline": outcomes.discipline,
            "stress_severity": outcomes.severity,
            "in_stress": outcomes.in_stress,
        }
    )
