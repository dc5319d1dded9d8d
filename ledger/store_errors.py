"""The errors of the ledger database, apart so the engine and the store can both raise them.

``StoreUnavailable`` is the one the service turns into 503 (the database may come back);
``SchemaOutOfDate`` tells the operator to run ``payrisk db upgrade``; every other
``StoreError`` is a request the database cannot do (a bad URL, rows the schema refuses).
"""

from __future__ import annotations

from ledger.errors import PayriskError


class StoreError(PayriskError):
    """The ledger database cannot do what was asked (bad URL, bad data for the schema)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class SchemaOutOfDate(StoreError):
    """The database's schema revision is not the one this version of payrisk uses."""
