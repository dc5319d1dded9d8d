"""One module per command family; each exposes ``app`` (a sub-command) or ``register``."""
