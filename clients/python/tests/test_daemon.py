"""Both clients against a real daemon, started by the Rust integration test
``tests/it/python_client.rs`` with ``ack = "committed"``, a spool, a bearer token and
``max_messages_per_sec = 100``. It passes:

- ``HYPERTICK_TEST_PUSH_URL``: the push server (``ws://127.0.0.1:PORT``);
- ``HYPERTICK_TEST_TOKEN``: its token;
- ``HYPERTICK_TEST_CA``: the CA of its certificate, when the URL is ``wss://``.

These tests assert the acks; the Rust test then asserts the exact rows in PostgreSQL
(symbols ``PY-ASYNC``, ``PY-SYNC``, ``PY-DUP``, ``PY-RATE``, ``PY-LOG``; orders ``py-async-1``,
``py-sync-1``). Without the variables they are skipped.
"""

import asyncio
import datetime as dt
import os
import ssl
import unittest
import uuid
from decimal import Decimal

import hypertick

URL = os.environ.get("HYPERTICK_TEST_PUSH_URL")
TOKEN = os.environ.get("HYPERTICK_TEST_TOKEN")
CA = os.environ.get("HYPERTICK_TEST_CA")
TLS = ssl.create_default_context(cafile=CA) if CA else None
OPTIONS = {"token": TOKEN, "ssl": TLS}
NEEDS_DAEMON = unittest.skipUnless(URL, "HYPERTICK_TEST_PUSH_URL is not set (tests/it/python_client.rs sets it)")

UTC = dt.timezone.utc
# 30 significant digits: more than a float (or a float's text) keeps.
THIRTY_DIGITS = Decimal("123456789012345678901.123456789")


def recent(seconds_ago: int, microseconds: int = 0) -> dt.datetime:
    """A time a little in the past, within every table's retention."""
    base = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(seconds=seconds_ago)
    return base.replace(microsecond=microseconds)


def market_records(symbol: str):
    """One record of every market type for ``symbol``, and the names the tests give them."""
    return [
        ("tick 1", hypertick.tick("pytest", symbol, recent(60, 123456), Decimal("97000.5"), 0.25, side="buy", trade_id="t-1")),
        ("tick 2", hypertick.tick("pytest", symbol, recent(59), 97001, Decimal("0.000000001"), side="sell", trade_id=2)),
        ("quote", hypertick.quote("pytest", symbol, recent(58), Decimal("97000.4"), 1.2, Decimal("97000.6"), 0.8)),
        (
            "bar",
            hypertick.bar(
                "pytest", symbol, recent(3600).replace(minute=0, second=0), "1m",
                97000, 97100, 96950, 97050, Decimal("12.5"), vwap=97020.1, trades=345,
            ),
        ),
        ("ticker", hypertick.ticker("pytest", symbol, recent(57), Decimal("97000.5"), open_24h=95000, change_pct=2.1058)),
        (
            "option_quote",
            hypertick.option_quote(
                "pytest", f"{symbol}-27DEC26-100000-C", recent(56), underlying=symbol, option_type="call",
                strike=100000, expiration=dt.date(2026, 12, 27), bid=0.0415, ask=0.0425, iv=55.5,
            ),
        ),
        ("indicator", hypertick.indicator(symbol, recent(3600).replace(minute=0, second=0), "1h", "atr_14", Decimal("812.75"), venue="pytest")),
        (
            "signal",
            hypertick.signal(
                "pytest-agent", recent(55), "technical", symbol=symbol, direction="long", strength=0.8,
                confidence=Decimal("0.65"), content="breakout", payload={"lookback": 50, "levels": [98000, 99000]},
            ),
        ),
    ]


def order(client_order_id: str, **columns):
    row = {"client_order_id": client_order_id, "venue": "pytest", "symbol": "AAPL", "side": "buy", "order_type": "market"}
    row.update(columns)
    return hypertick.row("orders", "insert", row)


@NEEDS_DAEMON
class AsyncClientTest(unittest.IsolatedAsyncioTestCase):
    async def test_every_record_type_lands_and_refusals_carry_the_daemons_code(self):
        async with hypertick.AsyncClient(URL, **OPTIONS) as client:
            named = market_records("PY-ASYNC") + [
                ("order", order("py-async-1", quantity=THIRTY_DIGITS, order_type="limit", limit_price=Decimal("187.50"))),
                ("position 1", hypertick.row("positions", "upsert", {"portfolio": "py", "venue": "pytest", "symbol": "AAPL", "quantity": 10, "average_price": Decimal("187.123456789"), "market_price": 190})),
                ("position 2", hypertick.row("positions", "upsert", {"portfolio": "py", "venue": "pytest", "symbol": "AAPL", "quantity": 10, "average_price": Decimal("187.123456789"), "market_price": Decimal("191.25")})),
            ]
            refused = [
                ("unknown column", order("py-async-colour", quantity=1, colour="red"), "unknown_column"),
                ("check", order("py-async-negative", quantity=-5), "rejected_by_database"),
                ("future", hypertick.tick("pytest", "PY-ASYNC-FUTURE", dt.datetime.now(UTC) + dt.timedelta(days=2), 1, 1), "time_out_of_range"),
            ]
            futures = [await client.send(record) for _, record in named]
            refused_futures = [await client.send(record) for _, record, _ in refused]
            await client.flush()
            self.assertEqual(client.pending, 0)
        for (name, _), future in zip(named, futures):
            result = future.result()
            self.assertTrue(result.accepted, f"{name}: {result}")
            self.assertFalse(result.duplicate, f"{name}: {result}")
        for (name, _, code), future in zip(refused, refused_futures):
            result = future.result()
            self.assertTrue(result.rejected, f"{name}: {result}")
            self.assertEqual(result.code, code, f"{name}: {result}")
            self.assertTrue(result.reason.startswith(code + ": "), f"{name}: {result}")
        self.assertIn("colour", refused_futures[0].result().reason)
        self.assertIn("orders_quantity_positive", refused_futures[1].result().reason)

    async def test_an_order_moves_through_its_lifecycle_and_a_fill_may_come_first(self):
        order_id = uuid.UUID("0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a9001")
        placed = {"id": order_id, "client_order_id": "py-life-1", "venue": "pytest-life", "symbol": "AAPL", "side": "buy",
                  "order_type": "limit", "quantity": 100, "limit_price": Decimal("187.50")}
        fill = {"order_id": order_id, "venue": "pytest-life", "symbol": "AAPL", "side": "buy", "quantity": Decimal("40"),
                "price": Decimal("187.25"), "executed_at": dt.datetime(2026, 11, 22, 14, 30, 1, tzinfo=UTC)}
        async with hypertick.AsyncClient(URL, **OPTIONS) as client:
            # The fill before its order: it waits in the daemon for the order.
            first = await (await client.send(hypertick.row("trades", "insert", fill)))
            placed_result = await (await client.send(hypertick.row("orders", "insert", placed)))
            update = {"id": order_id, "status": "canceled", "closed_at": dt.datetime(2026, 11, 22, 15, 0, tzinfo=UTC)}
            updated = await (await client.send(hypertick.row("orders", "update", update)))
        for result in (first, placed_result, updated):
            self.assertTrue(result.accepted, result)

    async def test_a_resent_id_is_acknowledged_as_a_duplicate(self):
        record = hypertick.tick("pytest", "PY-DUP", recent(30), 1, 1, trade_id="dup", id="py-dup-1")
        async with hypertick.AsyncClient(URL, **OPTIONS) as first:
            first_result = await (await first.send(record))
        async with hypertick.AsyncClient(URL, **OPTIONS) as second:
            second_result = await (await second.send(record))
        self.assertEqual((first_result.accepted, first_result.duplicate, first_result.id), (True, False, "py-dup-1"))
        self.assertEqual((second_result.accepted, second_result.duplicate), (True, True))

    async def test_frames_over_the_rate_limit_are_sent_again_until_taken(self):
        # One record per frame, many frames at once: past the daemon's 100 frames a
        # second some are refused as rate_limited, and the client sends them again.
        async with hypertick.AsyncClient(
            URL, **OPTIONS, max_batch_records=1, linger=0, max_frames_in_flight=64, max_retries=40, retry_backoff_max=0.5,
        ) as client:
            futures = [
                await client.send(hypertick.tick("pytest", "PY-RATE", recent(20), 1 + index, 1, trade_id=index))
                for index in range(300)
            ]
            results = await asyncio.gather(*futures)
        self.assertEqual([result for result in results if not result.accepted], [])
        self.assertTrue(any(result.attempts > 1 for result in results), "some frames were rate limited and sent again")

    async def test_the_token_is_not_logged_even_at_debug_level(self):
        with self.assertLogs("websockets.client", "DEBUG") as logged:
            async with hypertick.AsyncClient(URL, **OPTIONS) as client:
                await (await client.send(hypertick.tick("pytest", "PY-LOG", recent(10), 1, 1)))
        lines = [record.getMessage() for record in logged.records]
        self.assertIn("> Authorization: Bearer ***", lines)
        self.assertFalse([line for line in lines if TOKEN in line], lines)

    @unittest.skipUnless(CA, "the daemon is not on wss://")
    async def test_a_certificate_the_context_does_not_trust_is_a_connect_error(self):
        client = hypertick.AsyncClient(URL, **{**OPTIONS, "ssl": ssl.create_default_context()}, connect_timeout=1)
        with self.assertRaises(hypertick.ConnectError) as raised:
            await client.connect()
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(raised.exception))
        self.assertNotIn(TOKEN, str(raised.exception))

    async def test_a_wrong_token_is_refused_without_showing_it(self):
        client = hypertick.AsyncClient(URL, token="not-the-token-" + "x" * 8, ssl=TLS)
        with self.assertRaises(hypertick.ConnectError) as raised:
            await client.connect()
        self.assertIn("HTTP 401", str(raised.exception))
        self.assertNotIn("not-the-token-", str(raised.exception))
        self.assertNotIn(TOKEN, str(raised.exception))


@NEEDS_DAEMON
class BlockingClientTest(unittest.TestCase):
    def test_every_record_type_lands_through_the_blocking_client(self):
        with hypertick.Client(URL, **OPTIONS) as client:
            named = market_records("PY-SYNC") + [("order", order("py-sync-1", quantity=THIRTY_DIGITS))]
            futures = client.send_many(record for _, record in named)
            unknown_table = client.send(hypertick.row("no_such_table", "insert", {"x": 1}))
            client.flush()
            self.assertEqual(client.pending, 0)
        for (name, _), future in zip(named, futures):
            result = future.result(timeout=0)
            self.assertTrue(result.accepted, f"{name}: {result}")
        result = unknown_table.result(timeout=0)
        self.assertEqual(result.code, "unknown_table", result)
        self.assertIn("no_such_table", result.reason)

    def test_bad_values_raise_in_the_callers_thread_before_anything_is_sent(self):
        with hypertick.Client(URL, **OPTIONS) as client:
            with self.assertRaisesRegex(ValueError, "tick.time: naive datetime"):
                client.send(hypertick.tick("pytest", "PY-SYNC-NAIVE", dt.datetime(2026, 11, 22, 12), 1, 1))
            with self.assertRaisesRegex(ValueError, r"row\(orders\).row.quantity: nan"):
                client.send(order("py-sync-nan", quantity=float("nan")))
            self.assertEqual(client.pending, 0)


if __name__ == "__main__":
    unittest.main()
