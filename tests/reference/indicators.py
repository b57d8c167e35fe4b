#!/usr/bin/env python3
"""Reference values for the streaming indicator engine (src/indicators/).

Regenerate with:

    python3 tests/reference/indicators.py

It writes tests/reference/indicators_expected.json next to this script and prints
nothing. Python 3 standard library only.

Every value is recomputed from scratch over the full history up to each bar (no rolling
sums, no state carried between bars), with the definitions of TA-Lib's default
compatibility mode, so that the Rust engine's incremental arithmetic is checked against
a computation that shares none of it:

- SMA n: the mean of the last n closes (exact sum via math.fsum).
- EMA n: k = 2 / (n + 1), seeded with the mean of the first n values (first value at
  the n-th value), then ema = (x - ema) * k + ema.
- RSI 14: changes between consecutive closes; average gain and loss seeded with the
  means of the first 14 gains and losses (first value at the 15th close), then Wilder
  smoothing avg = (avg * 13 + x) / 14. RSI = 100 * gain / (gain + loss); 0 when gain +
  loss is exactly 0 (no movement at all), which gives 100 whenever loss is 0 and gain
  is not.
- MACD 12/26/9 as TA_MACD computes it: the slow EMA is seeded with the mean of closes
  0..25, the fast EMA with the mean of closes 14..25 (its seed window ends on the same
  bar as the slow one's), both first valued at close 25; line = fast - slow from close
  25; signal = EMA 9 of the line seeded with the mean of its first 9 values (close 33);
  histogram = line - signal. All three are reported from close 33 (TA-Lib's lookback).
- Bollinger 20, 2: middle = SMA 20, sigma = population standard deviation of the same
  20 closes (two-pass), upper / lower = middle +- 2 sigma, width = (upper - lower) /
  middle.
- Volume: SMA 10 of volumes; ratio = volume / SMA 10 (null while the SMA is 0).
- Swings, K = 2: bar j is a swing high when its high is strictly greater than the highs
  of the K bars on each side, known once bar j + K has arrived; resistance = the highs
  of the last 3 such bars, most recent first. Swing lows / support likewise with lows
  strictly less.

A value a series does not have enough bars for is null.

The feed interleaves two series (1m and 5m bars of one symbol) and carries two bars the
engine must refuse (a repeated time and an older time), marked "refused".
"""

import json
import math
import os

K_SWING = 2
LEVELS_KEPT = 3

MINUTE_MICROS = 60 * 1_000_000
START_MICROS = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


class Lcg:
    """Numerical Recipes' 32-bit LCG: deterministic on every platform."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (1664525 * self.state + 1013904223) % (1 << 32)
        return self.state / float(1 << 32)


def make_bar(time, open_, close, rng, flat=False, volume=None):
    if flat:
        high = low = close
    else:
        high = max(open_, close) + round(rng.next() * 0.5, 2)
        low = min(open_, close) - round(rng.next() * 0.5, 2)
    if volume is None:
        volume = round(10.0 + rng.next() * 1000.0, 3)
    return {
        "time": time,
        "open": round(open_, 2),
        "high": round(high, 2),
        "low": round(low, 2),
        "close": round(close, 2),
        "volume": volume,
    }


def series_one_minute():
    """300 bars: a strictly rising start (no losses), a random walk, a flat stretch
    with a run of zero volume, a strictly falling stretch, a gap in time, a walk."""
    rng = Lcg(20260101)
    bars = []
    close = 100.0
    for i in range(300):
        time = START_MICROS + i * MINUTE_MICROS
        if i >= 200:
            time += 15 * MINUTE_MICROS  # a gap: fifteen missing bars
        open_ = close
        if i < 25:
            close = round(close + 0.5 + rng.next() * 0.1, 2)
            bars.append(make_bar(time, open_, close, rng))
        elif i < 140:
            close = round(close + (rng.next() - 0.5) * 2.0, 2)
            bars.append(make_bar(time, open_, close, rng))
        elif i < 180:
            volume = 0.0 if 150 <= i <= 165 else round(rng.next() * 50.0, 3)
            bars.append(make_bar(time, close, close, rng, flat=True, volume=volume))
        elif i < 220:
            close = round(close - 0.3 - rng.next() * 0.2, 2)
            bars.append(make_bar(time, open_, close, rng))
        else:
            close = round(close + (rng.next() - 0.5) * 3.0, 2)
            bars.append(make_bar(time, open_, close, rng))
    return bars


def series_five_minute():
    """80 bars that start flat (RSI's 0 / 0 case, zero sigma), then walk."""
    rng = Lcg(7)
    bars = []
    close = 50.0
    for i in range(80):
        time = START_MICROS + i * 5 * MINUTE_MICROS
        if i < 20:
            bars.append(make_bar(time, close, close, rng, flat=True, volume=5.0))
        else:
            open_ = close
            close = round(close + (rng.next() - 0.5), 2)
            bars.append(make_bar(time, open_, close, rng))
    return bars


def mean(values):
    return math.fsum(values) / len(values)


def sma(values, n):
    if len(values) < n:
        return None
    return mean(values[-n:])


def ema_series(values, n):
    """TA-Lib EMA over the whole list: None before the n-th value."""
    out = [None] * len(values)
    if len(values) < n:
        return out
    k = 2.0 / (n + 1)
    current = mean(values[:n])
    out[n - 1] = current
    for i in range(n, len(values)):
        current = (values[i] - current) * k + current
        out[i] = current
    return out


def ema(values, n):
    return ema_series(values, n)[-1]


def rsi(closes, n=14):
    if len(closes) < n + 1:
        return None
    changes = [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gains = [c if c > 0 else 0.0 for c in changes]
    losses = [-c if c < 0 else 0.0 for c in changes]
    average_gain = mean(gains[:n])
    average_loss = mean(losses[:n])
    for i in range(n, len(changes)):
        average_gain = (average_gain * (n - 1) + gains[i]) / n
        average_loss = (average_loss * (n - 1) + losses[i]) / n
    total = average_gain + average_loss
    if total == 0.0:
        return 0.0
    return 100.0 * (average_gain / total)


def macd(closes, fast=12, slow=26, signal=9):
    """TA_MACD: both EMAs start on close slow - 1; values reported from there plus the
    signal's lookback."""
    first_line = slow - 1
    if len(closes) < first_line + signal:
        return None, None, None
    slow_ema = ema_series(closes, slow)
    # The fast EMA's seed window ends where the slow one's does: it sees closes from
    # slow - fast on.
    fast_ema = [None] * (slow - fast) + ema_series(closes[slow - fast:], fast)
    lines = [fast_ema[i] - slow_ema[i] for i in range(first_line, len(closes))]
    signal_value = ema(lines, signal)
    line = lines[-1]
    return line, signal_value, line - signal_value


def bollinger(closes, n=20, deviations=2.0):
    if len(closes) < n:
        return None, None, None, None
    window = closes[-n:]
    middle = mean(window)
    sigma = math.sqrt(math.fsum((x - middle) ** 2 for x in window) / n)
    upper = middle + deviations * sigma
    lower = middle - deviations * sigma
    width = (upper - lower) / middle if middle != 0.0 else None
    return upper, middle, lower, width


def swing_levels(values, stricter):
    """The most recent LEVELS_KEPT confirmed swing points, most recent first."""
    found = []
    for j in range(K_SWING, len(values) - K_SWING):
        neighbours = values[j - K_SWING:j] + values[j + 1:j + 1 + K_SWING]
        if all(stricter(values[j], other) for other in neighbours):
            found.append(values[j])
    return list(reversed(found[-LEVELS_KEPT:]))


def expected_after(history):
    closes = [bar["close"] for bar in history]
    volumes = [bar["volume"] for bar in history]
    highs = [bar["high"] for bar in history]
    lows = [bar["low"] for bar in history]
    line, signal_value, histogram = macd(closes)
    upper, middle, lower, width = bollinger(closes)
    volume_sma = sma(volumes, 10)
    ratio = None
    if volume_sma is not None and volume_sma != 0.0:
        ratio = volumes[-1] / volume_sma
    return {
        "sma_20": sma(closes, 20),
        "sma_50": sma(closes, 50),
        "ema_20": ema(closes, 20),
        "ema_50": ema(closes, 50),
        "rsi_14": rsi(closes),
        "macd_line": line,
        "macd_signal": signal_value,
        "macd_histogram": histogram,
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "bb_width": width,
        "volume_sma_10": volume_sma,
        "volume_ratio": ratio,
        "support_levels": swing_levels(lows, lambda a, b: a < b),
        "resistance_levels": swing_levels(highs, lambda a, b: a > b),
    }


def feed():
    """The bars in the order the engine receives them, each with its series key."""
    one_minute = [dict(bar, venue="test", symbol="AAA-USD", interval="1m") for bar in series_one_minute()]
    five_minute = [dict(bar, venue="test", symbol="AAA-USD", interval="5m") for bar in series_five_minute()]
    ordered = []
    remaining_five = list(five_minute)
    for i, bar in enumerate(one_minute):
        ordered.append(bar)
        if i == 100:
            # A repeat of the previous bar's time with a wild close: refused.
            ordered.append(dict(one_minute[99], close=1e6, high=1e6, refused=True))
        if i == 120:
            # A bar older than the last one: refused.
            ordered.append(dict(one_minute[50], refused=True))
        if i % 3 == 0 and remaining_five:
            ordered.append(remaining_five.pop(0))
    ordered.extend(remaining_five)
    return ordered


def main():
    entries = []
    histories = {}
    for bar in feed():
        key = (bar["venue"], bar["symbol"], bar["interval"])
        refused = bar.pop("refused", False)
        if refused:
            entries.append({"bar": bar, "expected": "refused"})
            continue
        history = histories.setdefault(key, [])
        history.append(bar)
        entries.append({"bar": bar, "expected": expected_after(history)})
    lines = [json.dumps(entry, sort_keys=True, allow_nan=False) for entry in entries]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "indicators_expected.json")
    with open(path, "w", encoding="utf-8") as out:
        out.write("[\n" + ",\n".join(lines) + "\n]\n")


if __name__ == "__main__":
    main()
