"""What a sent record comes to, and the client's errors.

Every record sent resolves to a ``Result``: accepted (possibly as a duplicate of an id
the daemon already had) or rejected with the daemon's reason code and text. Errors of
the client itself are ``HypertickError`` subclasses; none of them ever holds the token.
"""

from __future__ import annotations

from typing import Optional

RETRYABLE_CODES = frozenset({"queue_full", "spool_full", "shutting_down", "rate_limited", "database_unavailable"})
"""Rejections that say "not now" rather than "not this": the client sends the record
again, with backoff, up to ``max_retries`` times."""

FRAME_CODES = frozenset({"rate_limited", "frame_too_large", "invalid_json", "empty_frame", "binary_frame"})
"""Rejections of a whole frame: the daemon names index 0 only, and they concern every
record of the frame."""


class Result:
    """The outcome of one record.

    - ``accepted``: the daemon took the record (at its ``server.ack`` level: queued,
      fsynced in its spool, or committed in the database).
    - ``duplicate``: ``True`` when the daemon already had the record's id (it was not
      stored again), ``False`` when it did not; ``None`` when the frame mixed new and
      resent records (the daemon's ack counts duplicates per frame, not per record).
    - ``code`` and ``reason``: for a rejection, the daemon's reason code
      (``unknown_column``, ``rejected_by_database``, …) and its whole text.
    - ``id``: the record's id, ``attempts``: how many times it was sent and answered.
    """

    __slots__ = ("id", "accepted", "duplicate", "code", "reason", "attempts")

    def __init__(
        self,
        id: str,
        accepted: bool,
        *,
        duplicate: Optional[bool] = False,
        code: Optional[str] = None,
        reason: Optional[str] = None,
        attempts: int = 1,
    ) -> None:
        self.id = id
        self.accepted = accepted
        self.duplicate = duplicate
        self.code = code
        self.reason = reason
        self.attempts = attempts

    @property
    def rejected(self) -> bool:
        return not self.accepted

    def __repr__(self) -> str:
        if self.accepted:
            return f"Result(id={self.id!r}, accepted, duplicate={self.duplicate}, attempts={self.attempts})"
        return f"Result(id={self.id!r}, rejected {self.code}: {self.reason!r}, attempts={self.attempts})"


def reason_code(reason: str) -> str:
    """The code a daemon reason starts with (``"unknown_column: …"`` → ``"unknown_column"``)."""
    return reason.split(":", 1)[0].strip()


class HypertickError(Exception):
    """Base of the client's own errors."""


class ConnectError(HypertickError):
    """The first connection could not be made (refused, unreachable, wrong token, TLS)."""


class ClientClosed(HypertickError):
    """The client was closed before the record was acknowledged: it may or may not be
    stored; sending it again with the same id is harmless."""


class ProtocolError(HypertickError):
    """The daemon answered something that is not an ack of the protocol."""
