"""JSON text for push records, written by hand so that no value passes through a float.

``json.dumps`` would write a ``decimal.Decimal`` through ``float``, accept naive
datetimes via ``default=`` hooks only, and write ``NaN`` (which is not JSON). This
encoder writes:

- ``Decimal`` as a raw JSON number with every digit (``Decimal("0.1")`` is ``0.1``,
  never ``0.1000000000000000055511151231257827``); NaN and infinities refused;
- ``int`` as its digits, ``float`` by ``repr`` (the shortest text that reads back the
  same float); NaN and infinities refused;
- ``bool`` as ``true``/``false``, ``None`` as ``null``;
- ``datetime`` as RFC 3339 in UTC with microseconds (``2026-11-22T12:00:00.123456Z``);
  a naive datetime is refused, since the daemon cannot know its zone;
- ``date`` as ``YYYY-MM-DD``, ``uuid.UUID`` as its hyphenated text;
- ``str`` as a JSON string (text with lone surrogates, which is not Unicode, refused);
- mappings with string keys as objects, lists and tuples as arrays.

Anything else is refused. Every refusal is a ``ValueError`` or ``TypeError`` whose
message starts with the path of the value (``tick.price``, ``row(orders).quantity``).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import uuid
from typing import Any, List

_encode_string = json.JSONEncoder(ensure_ascii=False).encode


def _utc_text(path: str, value: _dt.datetime) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(
            f"{path}: naive datetime {value.isoformat()} has no time zone; "
            "give an aware datetime (e.g. datetime.now(timezone.utc)) or epoch nanoseconds as an int"
        )
    utc = (value - offset).replace(tzinfo=None)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if utc.year >= 1000 else utc.isoformat() + "Z"


def _check_text(path: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{path}: the text holds a lone surrogate at position {error.start}, which is not Unicode and cannot be sent"
        ) from None


def _write(value: Any, path: str, out: List[str]) -> None:
    # bool before int: a bool is an int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        _check_text(path, value)
        out.append(_encode_string(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not a finite number; the daemon refuses NaN and infinities")
        out.append(float.__repr__(value))
    elif isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{path}: Decimal {value} is not a finite number; the daemon refuses NaN and infinities")
        # str() of a finite Decimal is a valid JSON number with every digit kept
        # ("1.50", "1E+3", "-0", "1.2E-7").
        out.append(str(value))
    elif isinstance(value, _dt.datetime):
        out.append('"' + _utc_text(path, value) + '"')
    elif isinstance(value, _dt.date):
        out.append('"' + value.isoformat() + '"')
    elif isinstance(value, uuid.UUID):
        out.append('"' + str(value) + '"')
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, got {type(key).__name__} {key!r}")
            _check_text(f"{path}.{key}", key)
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _write(item, f"{path}.{key}", out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, f"{path}[{index}]", out)
        out.append("]")
    else:
        raise TypeError(
            f"{path}: cannot send a {type(value).__module__}.{type(value).__qualname__}; expected None, bool, int, "
            "float, Decimal, str, datetime (aware), date, UUID, dict, list or tuple"
        )


def dumps(value: Any, path: str) -> str:
    """The JSON text of ``value``; refusals name ``path`` and the place inside it."""
    out: List[str] = []
    _write(value, path, out)
    return "".join(out)
