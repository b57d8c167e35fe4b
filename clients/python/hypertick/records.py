"""One helper per push record type, each returning the record as a ``dict``.

The helpers take the fields of the push protocol (the daemon's README, "The push
protocol") as arguments with their Python types, leave out optional fields that are
``None``, and check what can be checked without the daemon (a side is ``"buy"`` or
``"sell"``, an op is ``insert``, ``upsert`` or ``update``). Values are written as
described in ``hypertick._json``: ``Decimal`` digit for digit, aware ``datetime`` as
RFC 3339, ``int`` times as epoch nanoseconds.

Any ``dict`` with a ``"type"`` key may be sent as well; the helpers only spare typing
the field names. Every record may carry an ``id`` (a string of at most 128 bytes or an
int); the client gives one to every record that has none, so that a resend after a
reconnect is recognized by the daemon and not stored twice.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Dict, Mapping, Optional, Union

Number = Union[int, float, decimal.Decimal, str]
"""A number: ``int``, ``float``, ``Decimal`` (sent with every digit) or a decimal string."""
Time = Union[_dt.datetime, int, str]
"""A time: an aware ``datetime``, integer epoch nanoseconds, or an RFC 3339 string."""
RecordId = Union[str, int]

ROW_OPS = ("insert", "upsert", "update")
"""``update`` (by primary key, only the columns sent) needs a daemon that knows it."""


def _record(kind: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    record: Dict[str, Any] = {"type": kind}
    record.update((name, value) for name, value in fields.items() if value is not None)
    return record


def _choice(kind: str, name: str, value: Optional[str], allowed: tuple) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{kind}.{name}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")


def tick(
    venue: str,
    symbol: str,
    time: Time,
    price: Number,
    size: Number,
    *,
    side: Optional[str] = None,
    trade_id: Optional[RecordId] = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """A trade: ``side`` is ``"buy"``, ``"sell"`` or left out (unknown)."""
    _choice("tick", "side", side, ("buy", "sell"))
    return _record(
        "tick",
        dict(id=id, venue=venue, symbol=symbol, time=time, price=price, size=size, side=side, trade_id=trade_id),
    )


def quote(
    venue: str,
    symbol: str,
    time: Time,
    bid_price: Number,
    bid_size: Number,
    ask_price: Number,
    ask_size: Number,
    *,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """The best bid and ask at a moment."""
    return _record(
        "quote",
        dict(
            id=id, venue=venue, symbol=symbol, time=time, bid_price=bid_price, bid_size=bid_size,
            ask_price=ask_price, ask_size=ask_size,
        ),
    )


def bar(
    venue: str,
    symbol: str,
    time: Time,
    interval: str,
    open: Number,
    high: Number,
    low: Number,
    close: Number,
    volume: Number,
    *,
    vwap: Optional[Number] = None,
    trades: Optional[int] = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """An OHLCV bar; ``time`` is the bar's open, ``interval`` e.g. ``"1m"``, ``"1h"``, ``"1d"``."""
    return _record(
        "bar",
        dict(
            id=id, venue=venue, symbol=symbol, time=time, interval=interval, open=open, high=high, low=low,
            close=close, volume=volume, vwap=vwap, trades=trades,
        ),
    )


def ticker(
    venue: str,
    symbol: str,
    time: Time,
    last: Number,
    *,
    open_24h: Optional[Number] = None,
    high_24h: Optional[Number] = None,
    low_24h: Optional[Number] = None,
    volume_24h: Optional[Number] = None,
    quote_volume_24h: Optional[Number] = None,
    change: Optional[Number] = None,
    change_pct: Optional[Number] = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """Rolling 24-hour statistics; ``change_pct`` in percent."""
    return _record(
        "ticker",
        dict(
            id=id, venue=venue, symbol=symbol, time=time, last=last, open_24h=open_24h, high_24h=high_24h,
            low_24h=low_24h, volume_24h=volume_24h, quote_volume_24h=quote_volume_24h, change=change,
            change_pct=change_pct,
        ),
    )


def option_quote(
    venue: str,
    symbol: str,
    time: Time,
    *,
    underlying: Optional[str] = None,
    option_type: Optional[str] = None,
    strike: Optional[Number] = None,
    expiration: Optional[Union[_dt.date, str]] = None,
    bid: Optional[Number] = None,
    ask: Optional[Number] = None,
    last: Optional[Number] = None,
    mark: Optional[Number] = None,
    volume: Optional[Number] = None,
    open_interest: Optional[Number] = None,
    delta: Optional[Number] = None,
    gamma: Optional[Number] = None,
    theta: Optional[Number] = None,
    vega: Optional[Number] = None,
    rho: Optional[Number] = None,
    iv: Optional[Number] = None,
    bid_iv: Optional[Number] = None,
    ask_iv: Optional[Number] = None,
    underlying_price: Optional[Number] = None,
    iv_unit: Optional[str] = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """One option contract's prices, greeks and implied volatilities.

    ``underlying``, ``option_type`` (``"call"``/``"put"`` in any case, or ``"c"``/``"p"``),
    ``strike`` and ``expiration`` may be left out when ``symbol`` is an OCC, Deribit or OKX
    contract name. Volatilities are in percent (55.5 = 55.5 %) unless ``iv_unit`` is
    ``"fraction"`` (0.555 = 55.5 %, stored by the daemon in percent).
    """
    _choice("option_quote", "option_type", option_type.lower() if isinstance(option_type, str) else option_type,
            ("call", "put", "c", "p"))
    _choice("option_quote", "iv_unit", iv_unit, ("percent", "fraction"))
    return _record(
        "option_quote",
        dict(
            id=id, venue=venue, symbol=symbol, underlying=underlying, option_type=option_type, strike=strike,
            expiration=expiration, time=time, bid=bid, ask=ask, last=last, mark=mark, volume=volume,
            open_interest=open_interest, delta=delta, gamma=gamma, theta=theta, vega=vega, rho=rho, iv=iv,
            bid_iv=bid_iv, ask_iv=ask_iv, underlying_price=underlying_price, iv_unit=iv_unit,
        ),
    )


def indicator(
    symbol: str,
    time: Time,
    interval: str,
    name: str,
    value: Number,
    *,
    venue: Optional[str] = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """A named indicator value (``atr_14``, …) of a series at a bar's open."""
    return _record("indicator", dict(id=id, venue=venue, symbol=symbol, time=time, interval=interval, name=name, value=value))


TECHNICAL_INDICATOR_COLUMNS = (
    "sma_20", "sma_50", "ema_20", "ema_50", "rsi", "macd_line", "macd_signal", "macd_histogram", "bb_upper",
    "bb_middle", "bb_lower", "bb_width", "volume_sma_10", "volume_ratio", "support_levels", "resistance_levels",
)
"""The columns of a ``technical_indicators`` record (the built-in indicator set)."""


def technical_indicators(
    venue: str,
    symbol: str,
    time: Time,
    interval: str,
    *,
    id: Optional[RecordId] = None,
    **values: Any,
) -> Dict[str, Any]:
    """A producer's own row of the built-in indicator set, at a bar's open ``time``.

    ``values`` are any of ``TECHNICAL_INDICATOR_COLUMNS`` (at least one): numbers, and
    ``support_levels`` / ``resistance_levels`` as lists of numbers. Use a ``venue`` of
    your own, so that your rows are told apart from the daemon's indicator engine's.
    """
    unknown = sorted(set(values) - set(TECHNICAL_INDICATOR_COLUMNS))
    if unknown:
        raise ValueError(
            f"technical_indicators: unknown column(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(TECHNICAL_INDICATOR_COLUMNS)}"
        )
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        raise ValueError("technical_indicators: at least one indicator value is needed")
    return _record(
        "technical_indicators", dict(id=id, venue=venue, symbol=symbol, time=time, interval=interval, **given)
    )


def signal(
    source: str,
    time: Time,
    category: str,
    *,
    symbol: Optional[str] = None,
    direction: Optional[str] = None,
    strength: Optional[Number] = None,
    confidence: Optional[Number] = None,
    impact: Optional[str] = None,
    content: Optional[str] = None,
    payload: Any = None,
    id: Optional[RecordId] = None,
) -> Dict[str, Any]:
    """A signal from an agent or model; ``payload`` is any JSON value (``Decimal`` kept exact)."""
    return _record(
        "signal",
        dict(
            id=id, source=source, time=time, category=category, symbol=symbol, direction=direction,
            strength=strength, confidence=confidence, impact=impact, content=content, payload=payload,
        ),
    )


def row(table: str, op: str, row: Mapping[str, Any], *, id: Optional[RecordId] = None) -> Dict[str, Any]:
    """A row of a relational or custom table: ``op`` is ``insert``, ``upsert`` or ``update``.

    An upsert (and an update) must carry the table's primary key. ``row`` maps column
    names to values; ``Decimal`` values reach ``numeric`` columns digit for digit.
    """
    _choice("row", "op", op, ROW_OPS)
    if not isinstance(row, Mapping):
        raise TypeError(f"row({table}).row: expected a mapping of column → value, got {type(row).__name__}")
    if not row:
        raise ValueError(f"row({table}).row: at least one column is needed")
    return _record("row", dict(id=id, table=table, op=op, row=dict(row)))
