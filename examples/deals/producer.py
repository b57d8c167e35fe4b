"""The deals system -> hypertick: deals found, their prices tracked, market quotes kept current.

The deal-finding agent records two deals with the prices it saw on the way (each price
row sent before its deal in the same frame: it waits for its parent); the price
tracker later sees the first deal cheaper, records the price and ``update``s the deal's
current price and discount; the market monitor upserts quotes into ``market_data``,
which keeps the latest per (symbol, source).

Usage: ``python producer.py [URL]`` (default ``ws://127.0.0.1:8765``, or
``HYPERTICK_URL``; a bearer token from ``HYPERTICK_TOKEN``). Prints one line
``summary {...}`` and exits 1 if the daemon refused anything.
"""

import datetime as dt
import json
import os
import sys
import uuid
from decimal import Decimal

import hypertick


def discount(original: Decimal, current: Decimal) -> Decimal:
    return ((original - current) / original * 100).quantize(Decimal("0.01"))


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HYPERTICK_URL", "ws://127.0.0.1:8765")
    token = os.environ.get("HYPERTICK_TOKEN")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def ago(hours: float) -> dt.datetime:
        return now - dt.timedelta(hours=hours)

    headphones, reader = uuid.uuid4(), uuid.uuid4()
    futures = []
    with hypertick.Client(url, token=token) as client:

        def send(record):
            futures.append((record, client.send(record)))

        def price(deal_id, amount, source, hours_ago, **meta):
            send(hypertick.row("price_tracking", "insert", {
                "deal_id": deal_id, "price": amount, "source": source, "tracked_at": ago(hours_ago), "meta_data": meta,
            }))

        def deal(id, title, url, current, original, category, source, seller, hours_ago):
            send(hypertick.row("deals", "insert", {
                "id": id, "title": title, "url": url, "current_price": current, "original_price": original,
                "discount_percent": discount(original, current), "category": category, "source": source,
                "seller_name": seller, "found_at": ago(hours_ago), "last_checked_at": ago(hours_ago),
                "shipping_info": {"free": True, "days": 2}, "meta_data": {"agent": "deal-finder"},
            }))

        # The finder's prices first, then the deals they belong to.
        price(headphones, Decimal("299.99"), "amazon", 30, seller="Sony")
        price(headphones, Decimal("279.99"), "amazon", 6, seller="Sony")
        deal(headphones, "Sony WH-1000XM5", "https://example.com/wh1000xm5", Decimal("279.99"), Decimal("399.99"),
             "electronics", "amazon", "Sony", 6)
        price(reader, Decimal("124.99"), "walmart", 5)
        price(reader, Decimal("119.99"), "walmart", 4)
        deal(reader, "Kindle Paperwhite", "https://example.com/paperwhite", Decimal("119.99"), Decimal("149.99"),
             "electronics", "walmart", "Amazon", 4)
        client.flush(timeout=60)

        # The tracker finds the headphones cheaper: a new price, the deal moved on.
        price(headphones, Decimal("249.99"), "amazon", 1, seller="Sony", lightning_deal=True)
        send(hypertick.row("deals", "update", {
            "id": headphones, "current_price": Decimal("249.99"),
            "discount_percent": discount(Decimal("399.99"), Decimal("249.99")), "last_checked_at": ago(1), "updated_at": ago(1),
        }))

        # The market monitor: every quote upserts the latest row of its (symbol, source).
        for symbol, market_type, source, last, high, low, minutes_ago in [
            ("BTC-USD", "crypto", "coinbase", "96950.10", "97480.00", "95120.55", 3),
            ("BTC-USD", "crypto", "coinbase", "97001.00", "97480.00", "95120.55", 2),
            ("BTC-USD", "crypto", "kraken", "97010.1", "97495.3", "95101.7", 2),
            ("AAPL", "stock", "nasdaq", "228.52", "229.35", "225.80", 2),
            ("BTC-USD", "crypto", "coinbase", "97012.55", "97480.00", "95120.55", 1),
        ]:
            send(hypertick.row("market_data", "upsert", {
                "symbol": symbol, "market_type": market_type, "price": Decimal(last), "high_24h": Decimal(high),
                "low_24h": Decimal(low), "last_updated": now - dt.timedelta(minutes=minutes_ago), "source": source,
                "metadata": {"feed": source},
            }))
        client.flush(timeout=60)

    refused = []
    for record, future in futures:
        result = future.result(timeout=0)
        if result.rejected:
            refused.append({"table": record["table"], "code": result.code, "reason": result.reason})
    summary = {"deals": {"headphones": str(headphones), "reader": str(reader)}, "sent": len(futures), "refused": refused}
    print("summary " + json.dumps(summary), flush=True)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
