"""The exception every payrisk package raises for a user's mistake (bad data, bad input).

The edges (CLI, API) turn a ``PayriskError`` into a clear message and a non-zero exit or
a 4xx; anything else is a bug.
"""


class PayriskError(Exception):
    """A problem the user can fix; ``str(error)`` says what, where and why."""
