"""The database could not be reached, or a commit's outcome is unknown: the client should retry.

Infrastructure translates its driver's connection failures into these (the
application does not know the driver); the API answers them UNAVAILABLE with a
google.rpc.RetryInfo. A retry with the same request id is always safe: if the
first attempt did commit, the retry returns its stored response and writes
nothing new; if it did not, the retry does the work once.

They are not domain errors: no rule refused anything, and code that records a
domain refusal as an outcome (the scheduler) must not record these.
"""

from __future__ import annotations


class Unavailable(Exception):
    """The database cannot be reached now (down, restarting, connection lost). -> UNAVAILABLE"""

    reason = "DATABASE_UNAVAILABLE"
    retry_after_s = 1.0

    def __init__(self, message: str = "the database is unavailable; retry with the same request id") -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, str] = {}


class CommitOutcomeUnknown(Unavailable):
    """The connection was lost while committing: the change may or may not be stored. -> UNAVAILABLE"""

    reason = "COMMIT_OUTCOME_UNKNOWN"

    def __init__(
        self,
        message: str = "the database connection was lost while committing; the change may or may "
        "not be stored: retry with the same request id",
    ) -> None:
        super().__init__(message)
