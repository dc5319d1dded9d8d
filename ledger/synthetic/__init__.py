"""The synthetic ledger generator: a realistic AR ledger and its oracle, from a seed.

    from ledger.synthetic import GeneratorConfig, generate_ledger
    generated = generate_ledger(GeneratorConfig(customers=400, years=3, seed=7))
    generated.ledger.invoices, generated.oracle  # oracle: never a feature

The process and its numbers are in ``params.py``; the oracle's closed form in
``oracle.py``; chunked generation (for ledgers larger than memory) in ``chunks.py``.
"""

from ledger.synthetic.chunks import generate_chunks, generate_ledger
from ledger.synthetic.config import GeneratedLedger, GeneratorConfig, GeneratorConfigError
from ledger.synthetic.oracle import oracle_as_of
from ledger.synthetic.writer import (
    FORMATS,
    GeneratedFilesError,
    LedgerFormat,
    read_generated_ledger,
    read_oracle,
    write_generated,
)

__all__ = [
    "FORMATS",
    "GeneratedFilesError",
    "GeneratedLedger",
    "GeneratorConfig",
    "GeneratorConfigError",
    "LedgerFormat",
    "generate_chunks",
    "generate_ledger",
    "oracle_as_of",
    "read_generated_ledger",
    "read_oracle",
    "write_generated",
]
