"""What the client writes for each value, and what it refuses before anything is sent.
No server needed."""

import asyncio
import datetime as dt
import json
import unittest
import uuid
from decimal import Decimal

import hypertick
from hypertick import _json
from hypertick.client import AsyncClient

UTC = dt.timezone.utc


class ValuesTest(unittest.TestCase):
    def test_decimals_keep_every_digit_as_raw_json_numbers(self):
        thirty = Decimal("123456789012345678901.123456789")
        text = _json.dumps({"q": thirty, "small": Decimal("0.1"), "big": Decimal("1E+30"), "neg": Decimal("-0.00000001")}, "row")
        self.assertEqual(text, '{"q":123456789012345678901.123456789,"small":0.1,"big":1E+30,"neg":-1E-8}')
        # The text reads back to the same Decimals.
        back = json.loads(text, parse_float=Decimal)
        self.assertEqual(back["q"], thirty)
        self.assertEqual(back["neg"], Decimal("-0.00000001"))

    def test_times_dates_uuids_and_plain_values(self):
        when = dt.datetime(2026, 11, 22, 13, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        record = {
            "t": when,
            "d": dt.date(2026, 12, 27),
            "u": uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            "i": 1795348800123456000,
            "f": 0.1,
            "b": [True, False, None],
            "s": "é\"\n",
        }
        self.assertEqual(
            _json.dumps(record, "x"),
            '{"t":"2026-11-22T12:00:00.123456Z","d":"2026-12-27","u":"7c9e6679-7425-40de-944b-e07fc1f90ae7",'
            '"i":1795348800123456000,"f":0.1,"b":[true,false,null],"s":"é\\"\\n"}',
        )

    def test_refusals_name_the_field(self):
        cases = [
            ({"time": dt.datetime(2026, 1, 1)}, ValueError, "tick.time: naive datetime"),
            ({"price": float("nan")}, ValueError, "tick.price: nan is not a finite number"),
            ({"price": float("-inf")}, ValueError, "tick.price: -inf is not a finite number"),
            ({"payload": {"x": [Decimal("NaN")]}}, ValueError, "tick.payload.x[0]: Decimal NaN"),
            ({"price": Decimal("Infinity")}, ValueError, "tick.price: Decimal Infinity"),
            ({"raw": b"bytes"}, TypeError, "tick.raw: cannot send a builtins.bytes"),
            ({"payload": {1: "x"}}, TypeError, "tick.payload: object keys must be strings"),
            ({"symbol": "bad\ud800"}, ValueError, "tick.symbol: the text holds a lone surrogate"),
        ]
        for value, error, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(error) as raised:
                    _json.dumps(value, "tick")
                self.assertTrue(str(raised.exception).startswith(message), str(raised.exception))


class HelpersTest(unittest.TestCase):
    def test_helpers_leave_out_what_is_not_given(self):
        now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        self.assertEqual(
            hypertick.tick("binance", "BTC-USDT", now, Decimal("97000.5"), 0.01, side="buy"),
            {"type": "tick", "venue": "binance", "symbol": "BTC-USDT", "time": now, "price": Decimal("97000.5"), "size": 0.01, "side": "buy"},
        )
        self.assertEqual(hypertick.indicator("X", now, "1h", "atr_14", 1)["type"], "indicator")
        self.assertEqual(hypertick.row("orders", "update", {"id": "x", "status": "canceled"}, id="r-1")["op"], "update")
        for kind, build in [
            ("quote", lambda: hypertick.quote("v", "s", now, 1, 2, 3, 4)),
            ("bar", lambda: hypertick.bar("v", "s", now, "1m", 1, 2, 0.5, 1.5, 10, vwap=1.2, trades=3)),
            ("ticker", lambda: hypertick.ticker("v", "s", now, 1, change_pct=2.5)),
            ("option_quote", lambda: hypertick.option_quote("v", "O:AAPL250117C00150000", now, bid=1, iv=27.5)),
            ("signal", lambda: hypertick.signal("agent", now, "technical", payload={"a": [1, 2]})),
            ("technical_indicators", lambda: hypertick.technical_indicators("v", "s", now, "1d", rsi=61.5)),
        ]:
            self.assertEqual(build()["type"], kind)

    def test_helpers_refuse_values_outside_their_choices(self):
        now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        with self.assertRaisesRegex(ValueError, r"tick.side: expected one of 'buy', 'sell', got 'hold'"):
            hypertick.tick("v", "s", now, 1, 1, side="hold")
        with self.assertRaisesRegex(ValueError, r"row.op: expected one of 'insert', 'upsert', 'update', got 'delete'"):
            hypertick.row("orders", "delete", {"id": 1})
        with self.assertRaisesRegex(ValueError, r"option_quote.option_type"):
            hypertick.option_quote("v", "s", now, option_type="straddle")
        with self.assertRaisesRegex(ValueError, r"row\(orders\).row: at least one column"):
            hypertick.row("orders", "insert", {})
        with self.assertRaisesRegex(ValueError, r"option_quote.iv_unit: expected one of 'percent', 'fraction'"):
            hypertick.option_quote("v", "s", now, iv=0.25, iv_unit="basis_points")
        with self.assertRaisesRegex(ValueError, r"technical_indicators: unknown column\(s\) rsi_14"):
            hypertick.technical_indicators("v", "s", now, "1d", rsi_14=50)
        with self.assertRaisesRegex(ValueError, r"technical_indicators: at least one indicator value"):
            hypertick.technical_indicators("v", "s", now, "1d", rsi=None)

    def test_option_types_in_any_case_and_volatility_units(self):
        now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        put = hypertick.option_quote("v", "AAPL261218P00220000", now, option_type="PUT", iv=Decimal("0.2612"), iv_unit="fraction")
        self.assertEqual((put["option_type"], put["iv"], put["iv_unit"]), ("PUT", Decimal("0.2612"), "fraction"))
        self.assertNotIn("iv_unit", hypertick.option_quote("v", "s", now, option_type="c", iv=27.5))

    def test_technical_indicators_carry_the_values_given(self):
        now = dt.datetime(2026, 11, 22, tzinfo=UTC)
        record = hypertick.technical_indicators(
            "swing-sage", "AAPL", now, "1d", sma_20=Decimal("224.1875"), macd_line=None, support_levels=[221.5, 218]
        )
        self.assertEqual(
            record,
            {"type": "technical_indicators", "venue": "swing-sage", "symbol": "AAPL", "time": now, "interval": "1d",
             "sma_20": Decimal("224.1875"), "support_levels": [221.5, 218]},
        )


class ClientWithoutServerTest(unittest.IsolatedAsyncioTestCase):
    def test_the_token_is_never_shown(self):
        client = AsyncClient("ws://127.0.0.1:1", token="s3cret-token")
        self.assertNotIn("s3cret-token", repr(client))
        self.assertIn("token=***", repr(client))
        self.assertNotIn("s3cret-token", repr(hypertick.Client("ws://127.0.0.1:1", token="s3cret-token")))

    def test_options_are_checked(self):
        with self.assertRaisesRegex(ValueError, "url: expected a ws:// or wss:// URL"):
            AsyncClient("http://localhost")
        with self.assertRaisesRegex(ValueError, "max_batch_records: expected a number > 0"):
            AsyncClient("ws://localhost", max_batch_records=0)
        with self.assertRaisesRegex(TypeError, "ssl: expected an ssl.SSLContext"):
            AsyncClient("wss://localhost", ssl=True)

    async def test_an_unreachable_server_is_a_connect_error_after_the_timeout(self):
        client = AsyncClient("ws://127.0.0.1:1", token="s3cret-token", connect_timeout=0.5, reconnect_backoff=0.05)
        with self.assertRaises(hypertick.ConnectError) as raised:
            await client.connect()
        self.assertIn("cannot connect to ws://127.0.0.1:1", str(raised.exception))
        self.assertNotIn("s3cret-token", str(raised.exception))

    async def test_sending_before_connecting_says_so(self):
        client = AsyncClient("ws://127.0.0.1:1")
        with self.assertRaisesRegex(RuntimeError, "call connect"):
            await client.send(hypertick.tick("v", "s", 1795348800000000000, 1, 1))

    def test_acks_map_back_to_records_by_index(self):
        client = AsyncClient("ws://127.0.0.1:1", max_retries=0)
        loop = asyncio.new_event_loop()
        try:
            client._loop = loop
            client._wake, client._room, client._idle = asyncio.Event(), asyncio.Event(), asyncio.Event()
            frame = [client._prepare({"type": "tick", "n": index}) for index in range(205)]
            for entry in frame:
                client._unanswered.add(entry)
            rejected = [{"index": index, "reason": f"invalid_field: `price` #{index}"} for index in range(0, 200, 2)]
            ack = {"accepted": 100, "rejected": rejected, "rejected_more": 5, "rejected_more_ranges": [[200, 204]]}
            client._apply_ack(frame, ack)
            results = [entry.future.result() for entry in frame]
            self.assertEqual([result.accepted for result in results[:4]], [False, True, False, True])
            self.assertEqual((results[2].code, results[2].reason), ("invalid_field", "invalid_field: `price` #2"))
            self.assertEqual({result.code for result in results[200:]}, {"unknown"})
            # A whole-frame refusal names index 0 only.
            frame = [client._prepare({"type": "tick"}) for _ in range(3)]
            client._unanswered.update(frame)
            client._apply_ack(frame, {"accepted": 0, "rejected": [{"index": 0, "reason": "frame_too_large: the frame is …"}]})
            self.assertEqual([entry.future.result().code for entry in frame], ["frame_too_large"] * 3)
            # An ack that does not fit its frame changes nothing.
            frame = [client._prepare({"type": "tick"}) for _ in range(3)]
            with self.assertRaises(hypertick.ProtocolError):
                client._apply_ack(frame, {"accepted": 1, "rejected": []})
            self.assertFalse(any(entry.future.done() for entry in frame))
        finally:
            loop.close()

    def test_ids_are_generated_unique_or_kept(self):
        client = AsyncClient("ws://127.0.0.1:1", id_prefix="p")
        loop = asyncio.new_event_loop()
        try:
            client._loop = loop
            ids = [client._prepare({"type": "tick"}).id for _ in range(3)]
            self.assertEqual(ids, ["p-0", "p-1", "p-2"])
            self.assertEqual(client._prepare({"type": "tick", "id": 42}).id, "42")
            with self.assertRaisesRegex(ValueError, "id: expected a non-empty string of at most 128 bytes"):
                client._prepare({"type": "tick", "id": "x" * 129})
        finally:
            loop.close()


if __name__ == "__main__":
    unittest.main()
