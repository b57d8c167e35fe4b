"""The LangGraph trading system -> hypertick: a few minutes of one trading day.

Market data (AAPL ticks, 1-minute bars and yesterday's daily bar), a momentum signal
whose explainability payload carries exact numbers, and the order flow of the execution
agent: orders placed, partially filled and filled, or canceled, each status change an
``update`` of the order and a row of the audit trail; every fill a ``trades`` row, one of
them reported by the broker before the order itself; positions recomputed from the fills
and upserted; a pre-trade risk alert naming an order not written yet, later resolved;
portfolio snapshots before and after.

Usage: ``python producer.py [URL]`` (default ``ws://127.0.0.1:8765``, or
``HYPERTICK_URL``; a bearer token from ``HYPERTICK_TOKEN``). Prints one line
``summary {...}`` with the book as computed here, and exits 1 if the daemon refused
anything.
"""

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from decimal import Decimal

import hypertick

VENUE = "alpaca-paper"
PORTFOLIO = "main"
STARTING_CASH = Decimal("1000000")
MARKS = {"AAPL": Decimal("229.12"), "NVDA": Decimal("141.30")}


class Book:
    """Long-only positions from fills: quantity, average price, realized P&L, cash."""

    def __init__(self) -> None:
        self.cash = STARTING_CASH
        self.positions = {}  # symbol -> [quantity, average_price, realized_pnl]

    def fill(self, symbol: str, side: str, quantity: Decimal, price: Decimal, fee: Decimal) -> list:
        held, average, realized = self.positions.get(symbol, [Decimal(0), None, Decimal(0)])
        if side == "buy":
            average = (held * (average or 0) + quantity * price) / (held + quantity)
            held += quantity
            self.cash -= quantity * price
        else:
            realized += quantity * (price - average)
            held -= quantity
            self.cash += quantity * price
        self.cash -= fee
        self.positions[symbol] = [held, average, realized]
        return self.positions[symbol]

    def value(self) -> Decimal:
        return sum((held * MARKS[symbol] for symbol, (held, _, _) in self.positions.items()), Decimal(0))


async def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HYPERTICK_URL", "ws://127.0.0.1:8765")
    token = os.environ.get("HYPERTICK_TOKEN")
    start = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=15)

    def at(seconds: float) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    book = Book()
    futures = []
    async with hypertick.AsyncClient(url, token=token) as client:

        async def send(record):
            futures.append((record, await client.send(record)))

        async def audit(seconds, order_id, old, new, reason=None):
            await send(hypertick.row("audit_trail", "insert", {
                "time": at(seconds), "actor": "execution-agent", "action": "order_status", "entity_type": "order",
                "entity_id": str(order_id), "old_data": {"status": old} if old else None,
                "new_data": {"status": new}, "reason": reason,
            }))

        async def place(seconds, order_id, client_order_id, strategy, symbol, side, order_type, quantity, limit=None, **extra):
            await send(hypertick.row("orders", "insert", {
                "id": order_id, "client_order_id": client_order_id, "portfolio": PORTFOLIO, "strategy": strategy,
                "venue": VENUE, "symbol": symbol, "side": side, "order_type": order_type, "time_in_force": "day",
                "quantity": quantity, "limit_price": limit, "status": extra.pop("status", "new"),
                "created_at": at(seconds), "submitted_at": at(seconds), "updated_at": at(seconds), **extra,
            }))

        async def fill(seconds, order_id, trade_id, symbol, side, quantity, price, fee, liquidity):
            await send(hypertick.row("trades", "insert", {
                "order_id": order_id, "venue_trade_id": trade_id, "venue": VENUE, "symbol": symbol, "side": side,
                "quantity": quantity, "price": price, "fee": fee, "fee_currency": "USD", "liquidity": liquidity,
                "executed_at": at(seconds),
            }))
            held, average, realized = book.fill(symbol, side, quantity, price, fee)
            await send(hypertick.row("positions", "upsert", {
                "portfolio": PORTFOLIO, "venue": VENUE, "symbol": symbol, "quantity": held, "average_price": average,
                "market_price": MARKS[symbol], "market_value": held * MARKS[symbol], "realized_pnl": realized,
                "unrealized_pnl": held * (MARKS[symbol] - average), "updated_at": at(seconds),
            }))

        async def snapshot(seconds):
            positions = [
                {"symbol": symbol, "quantity": held, "average_price": average}
                for symbol, (held, average, _) in sorted(book.positions.items())
            ]
            await send(hypertick.row("portfolio_snapshots", "insert", {
                "time": at(seconds), "portfolio": PORTFOLIO, "total_value": book.cash + book.value(), "cash": book.cash,
                "positions_value": book.value(), "gross_exposure": book.value(), "net_exposure": book.value(),
                "position_count": len(positions), "positions": positions,
            }))

        # Market data: ticks and 1-minute bars as they come, yesterday's daily bar.
        for index, (price, size) in enumerate([("228.47", 100), ("228.49", 40), ("228.46", 250), ("228.51", 75), ("228.52", 10)]):
            await send(hypertick.tick(VENUE, "AAPL", at(index * 7), Decimal(price), size, side="buy" if index % 2 else "sell",
                                      trade_id=f"aapl-{index}"))
        for minute, (o, h, l, c, v) in enumerate([("228.40", "228.55", "228.38", "228.47", 18250),
                                                  ("228.47", "228.60", "228.44", "228.51", 12774),
                                                  ("228.51", "228.53", "228.42", "228.45", 9981)]):
            await send(hypertick.bar(VENUE, "AAPL", at(minute * 60), "1m", Decimal(o), Decimal(h), Decimal(l), Decimal(c), v))
        yesterday = dt.datetime.combine(start.date() - dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        await send(hypertick.bar(VENUE, "AAPL", yesterday, "1d", Decimal("224.80"), Decimal("228.90"), Decimal("224.11"),
                                 Decimal("228.10"), 48213377, vwap=Decimal("226.9843"), trades=612004))

        # The momentum agent's signal; its payload keeps every digit it was given.
        await send(hypertick.signal(
            "momentum_agent", at(5), "technical", symbol="AAPL", direction="long", strength=Decimal("0.82"),
            confidence=Decimal("0.74"), impact="high", content="20-day breakout with volume confirmation",
            payload={"z_score": Decimal("0.30000000000000004441"), "fair_value": Decimal("231.3000000000000000001"),
                     "universe_notional": 123456789012345678901234567890, "features": ["breakout_20d", "volume_ratio"]},
        ))
        await snapshot(6)

        # AAPL: bought in two fills.
        aapl_buy = uuid.uuid4()
        await place(10, aapl_buy, "lg-mom-0001", "momentum", "AAPL", "buy", "limit", Decimal(100), Decimal("228.50"))
        await audit(10, aapl_buy, None, "new")
        await fill(12, aapl_buy, "T-1001", "AAPL", "buy", Decimal(60), Decimal("228.4712"), Decimal("0.30"), "taker")
        await send(hypertick.row("orders", "update", {
            "id": aapl_buy, "status": "partially_filled", "filled_quantity": Decimal(60),
            "average_fill_price": Decimal("228.4712"), "updated_at": at(12),
        }))
        await audit(12, aapl_buy, "new", "partially_filled")
        await fill(20, aapl_buy, "T-1002", "AAPL", "buy", Decimal(40), Decimal("228.4950"), Decimal("-0.12"), "maker")
        await send(hypertick.row("orders", "update", {
            "id": aapl_buy, "status": "filled", "filled_quantity": Decimal(100),
            "average_fill_price": book.positions["AAPL"][1], "updated_at": at(20), "closed_at": at(20),
        }))
        await audit(20, aapl_buy, "partially_filled", "filled")

        # MSFT: placed, then canceled unfilled.
        msft_sell = uuid.uuid4()
        await place(25, msft_sell, "lg-mr-0001", "mean_reversion", "MSFT", "sell", "limit", Decimal(50), Decimal("421.10"))
        await audit(25, msft_sell, None, "new")
        await send(hypertick.row("orders", "update", {"id": msft_sell, "status": "canceled", "updated_at": at(90), "closed_at": at(90)}))
        await audit(90, msft_sell, "new", "canceled", reason="signal decayed")

        # NVDA: the pre-trade check raises an alert naming the order before it is written,
        # and the broker's execution report overtakes the order's own row. Both wait.
        nvda_buy = uuid.uuid4()
        alert = uuid.uuid4()
        await send(hypertick.row("risk_alerts", "insert", {
            "id": alert, "created_at": at(100), "portfolio": PORTFOLIO, "venue": VENUE, "symbol": "NVDA", "order_id": nvda_buy,
            "alert_type": "concentration", "severity": "warning", "metric": "sector_weight",
            "threshold": Decimal("0.25"), "observed_value": Decimal("0.2731"), "message": "semiconductors above 25% after this order",
        }))
        await fill(101, nvda_buy, "T-1003", "NVDA", "buy", Decimal(25), Decimal("141.2345678"), Decimal("0.125"), "taker")
        await client.flush()  # the report and the alert are acked (parked) before the order is sent
        await place(100, nvda_buy, "lg-mom-0002", "momentum", "NVDA", "buy", "market", Decimal(25), status="filled",
                    filled_quantity=Decimal(25), average_fill_price=Decimal("141.2345678"), closed_at=at(101))
        await audit(101, nvda_buy, None, "filled")

        # AAPL: part of the position sold.
        aapl_sell = uuid.uuid4()
        await place(200, aapl_sell, "lg-mom-0003", "momentum", "AAPL", "sell", "limit", Decimal(30), Decimal("229.10"))
        await audit(200, aapl_sell, None, "new")
        await fill(230, aapl_sell, "T-1004", "AAPL", "sell", Decimal(30), Decimal("229.1037"), Decimal("0.15"), "maker")
        await send(hypertick.row("orders", "update", {
            "id": aapl_sell, "status": "filled", "filled_quantity": Decimal(30), "average_fill_price": Decimal("229.1037"),
            "updated_at": at(230), "closed_at": at(230),
        }))
        await audit(230, aapl_sell, "new", "filled")

        # The risk manager resolves the alert; the day's second snapshot.
        await send(hypertick.row("risk_alerts", "update", {
            "id": alert, "status": "resolved", "acknowledged_at": at(240), "acknowledged_by": "risk_manager",
            "resolved_at": at(241),
        }))
        await snapshot(300)
        await client.flush()

    refused = []
    for record, future in futures:
        result = future.result()
        if result.rejected:
            refused.append({"record": record.get("table", record["type"]), "code": result.code, "reason": result.reason})
    summary = {
        "sent": len(futures),
        "refused": refused,
        "cash": str(book.cash),
        "positions": {symbol: [str(held), str(average), str(realized)] for symbol, (held, average, realized) in book.positions.items()},
    }
    print("summary " + json.dumps(summary, sort_keys=True), flush=True)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
