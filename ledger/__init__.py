"""payrisk: ledger."""
