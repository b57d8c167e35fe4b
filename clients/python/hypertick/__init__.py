"""A producer library for hypertick's push server.

- ``AsyncClient`` (asyncio) and ``Client`` (blocking, the same client on a thread):
  records batched into frames, ids given and resent after reconnects until acked,
  one ``Result`` per record (accepted, or rejected with the daemon's reason code).
- One helper per record type: ``tick``, ``quote``, ``bar``, ``ticker``,
  ``option_quote``, ``indicator``, ``technical_indicators``, ``signal``, ``row``.
- ``Decimal`` values are sent with every digit, aware ``datetime`` values as RFC 3339;
  naive datetimes, NaN and infinities are refused before anything is sent.
"""

from .client import AsyncClient
from .records import (
    ROW_OPS,
    TECHNICAL_INDICATOR_COLUMNS,
    bar,
    indicator,
    option_quote,
    quote,
    row,
    signal,
    technical_indicators,
    tick,
    ticker,
)
from .results import (
    FRAME_CODES,
    RETRYABLE_CODES,
    ClientClosed,
    ConnectError,
    HypertickError,
    ProtocolError,
    Result,
)
from .sync import Client

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "Result",
    "HypertickError",
    "ConnectError",
    "ClientClosed",
    "ProtocolError",
    "RETRYABLE_CODES",
    "FRAME_CODES",
    "ROW_OPS",
    "TECHNICAL_INDICATOR_COLUMNS",
    "tick",
    "quote",
    "bar",
    "ticker",
    "option_quote",
    "indicator",
    "technical_indicators",
    "signal",
    "row",
]
