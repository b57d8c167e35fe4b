"""Swing Sage -> hypertick: one "morning-scan" session of Swing Sage, the LLM swing trader.

The session opens; Swing Sage records AAPL's market data, the indicators it computes
itself and a put from the options chain it looked at; its agents deliberate (the
market analyst's deliberation orchestrates the options analyst and the risk manager,
whose rows point to it by ``parent_deliberation_id``; the strategist builds on the risk
manager in the next cycle); the executor plans an order and later records how it went;
what was learned is kept as memories; the session ends by an ``update``.

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

VENUE = "swing-sage"  # our own venue name, so our indicator rows never mix with the engine's
SYMBOL = "AAPL"


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HYPERTICK_URL", "ws://127.0.0.1:8765")
    token = os.environ.get("HYPERTICK_TOKEN")
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=10)

    def at(seconds: int) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    session_id = uuid.uuid4()
    market, options, risk, strategy = (uuid.uuid4() for _ in range(4))
    order_action, lookup_action = uuid.uuid4(), uuid.uuid4()
    bar_open = dt.datetime.combine(start.date() - dt.timedelta(days=1), dt.time(), dt.timezone.utc)

    futures = []
    with hypertick.Client(url, token=token) as client:

        def send(record):
            futures.append((record, client.send(record)))

        # The session opens.
        send(hypertick.row("agent_sessions", "insert", {
            "id": session_id, "session_name": "morning-scan", "status": "active", "created_at": at(0),
            "metadata": {"watchlist": [SYMBOL], "mode": "paper", "risk_budget_pct": Decimal("0.5")},
        }))

        # What the analysts look at: market data, Swing Sage's own indicators (the seed's
        # column set, pushed as one technical_indicators row), and an option with greeks.
        send(hypertick.ticker(VENUE, SYMBOL, at(1), Decimal("228.52"), open_24h=Decimal("226.10"),
                              high_24h=Decimal("229.35"), low_24h=Decimal("225.80"), volume_24h=48213377,
                              change=Decimal("2.42"), change_pct=Decimal("1.0703")))
        send(hypertick.technical_indicators(
            VENUE, SYMBOL, bar_open, "1d", sma_20=Decimal("224.1875"), sma_50=Decimal("219.6620"),
            ema_20=Decimal("225.0412"), ema_50=Decimal("220.9013"), rsi=Decimal("61.48"), macd_line=Decimal("1.254117"),
            macd_signal=Decimal("0.981204"), macd_histogram=Decimal("0.272913"), bb_upper=Decimal("231.2650"),
            bb_middle=Decimal("224.1875"), bb_lower=Decimal("217.1100"), bb_width=Decimal("0.0631"),
            volume_sma_10=51234567, volume_ratio=Decimal("0.94"),
            support_levels=[Decimal("221.50"), Decimal("218.00")], resistance_levels=[Decimal("231.25")],
        ))
        # Swing Sage keeps implied volatility as a fraction (DECIMAL(6,4)) and option types
        # as the seed writes them (CALL / PUT): both said as they are.
        send(hypertick.option_quote(
            VENUE, "AAPL261218P00220000", at(2), underlying=SYMBOL, option_type="PUT", strike=220,
            expiration=dt.date(2026, 12, 18), bid=Decimal("2.41"), ask=Decimal("2.47"), last=Decimal("2.44"),
            mark=Decimal("2.44"), volume=1845, open_interest=22107, delta=Decimal("-0.238412"),
            gamma=Decimal("0.021307"), theta=Decimal("-0.119845"), vega=Decimal("0.188420"),
            rho=Decimal("-0.030115"), iv=Decimal("0.2612"), iv_unit="fraction", underlying_price=Decimal("228.52"),
        ))

        # The deliberations. The market analyst's row is written when it completes, so
        # the rows of the deliberations it started reach the daemon first: they wait.
        def deliberation(id, agent, cycle, step, parent, reasoning, decision, confidence, started, finished, tokens):
            return hypertick.row("agent_deliberations", "insert", {
                "id": id, "session_id": session_id, "agent_type": agent, "cycle_number": cycle,
                "deliberation_step": step, "parent_deliberation_id": parent,
                "input_context": {"symbol": SYMBOL, "last": Decimal("228.52"), "rsi": Decimal("61.48")},
                "reasoning": reasoning, "decision": decision, "confidence_score": confidence,
                "llm_model": "gpt-4o", "prompt_tokens": tokens[0], "completion_tokens": tokens[1],
                "started_at": at(started), "completed_at": at(finished),
                "processing_time_ms": (finished - started) * 1000,
            })

        send(deliberation(options, "options_analyst", 1, 2, market,
                          "Put skew is mild; the 220 put prices a 26% IV, cheap protection below support.",
                          {"hedge": "AAPL261218P00220000"}, Decimal("0.64"), 11, 19, (1850, 240)))
        send(deliberation(risk, "risk_manager", 1, 3, market,
                          "A 50-share position keeps risk under 0.5% of the book with a stop at 221.50.",
                          {"max_shares": 50, "stop": Decimal("221.50")}, Decimal("0.81"), 12, 21, (1420, 180)))
        send(deliberation(market, "market_analyst", 1, 1, None,
                          "Price above the 20- and 50-day averages, MACD positive, RSI 61: uptrend intact.",
                          {"bias": "long"}, Decimal("0.72"), 10, 24, (2210, 320)))
        send(deliberation(strategy, "strategist", 2, 1, risk,
                          "Buy 50 AAPL at 228.40 limit, stop 221.50, target 238.",
                          {"action": "buy", "qty": 50, "limit": Decimal("228.40")}, Decimal("0.77"), 30, 36, (2604, 410)))

        # The executor plans the order, and a data lookup done on the way.
        send(hypertick.row("agent_actions", "insert", {
            "id": order_action, "session_id": session_id, "deliberation_id": strategy, "action_type": "place_order",
            "action_data": {"symbol": SYMBOL, "side": "buy", "qty": 50, "limit": Decimal("228.40")},
            "expected_outcome": {"fill_within_minutes": 30}, "status": "planned", "started_at": at(40),
            "external_system": "alpaca-paper",
        }))
        send(hypertick.row("agent_actions", "insert", {
            "id": lookup_action, "session_id": session_id, "deliberation_id": options, "action_type": "query_data",
            "action_data": {"query": "options_chain", "underlying": SYMBOL}, "status": "completed",
            "started_at": at(12), "completed_at": at(13), "success": True,
        }))

        # What to remember: a long-term lesson and a short-term note that expires.
        send(hypertick.row("agent_memories", "insert", {
            "session_id": session_id, "source_deliberation_id": strategy, "memory_type": "long_term",
            "memory_category": "pattern", "title": "AAPL respects its 50-day SMA",
            "content": "Three pullbacks to the 50-day SMA since September held; entries near it worked.",
            "structured_data": {"symbol": SYMBOL, "sma_50": Decimal("219.6620")},
            "importance_score": Decimal("0.85"), "relevance_tags": ["AAPL", "trend", "sma"], "created_at": at(45),
        }))
        send(hypertick.row("agent_memories", "insert", {
            "session_id": session_id, "source_deliberation_id": options, "memory_type": "short_term",
            "title": "Cheap downside protection", "content": "AAPL 220 put at 26% IV: consider it if the position grows.",
            "importance_score": Decimal("0.40"), "relevance_tags": ["AAPL", "options"], "created_at": at(46),
            "expires_at": at(46) + dt.timedelta(days=1),
        }))

        # The broker filled the order: the action moves on, only the columns sent change.
        send(hypertick.row("agent_actions", "update", {
            "id": order_action, "status": "completed", "completed_at": at(300), "success": True,
            "actual_outcome": {"filled": 50, "average_price": Decimal("228.3875")}, "external_id": "paper-7f3a91",
        }))
        # The session ends.
        send(hypertick.row("agent_sessions", "update", {"id": session_id, "status": "completed", "ended_at": at(310)}))
        client.flush(timeout=60)

    refused = []
    for record, future in futures:
        result = future.result(timeout=0)
        if result.rejected:
            refused.append({"record": record.get("table", record["type"]), "code": result.code, "reason": result.reason})
    summary = {"session_id": str(session_id), "sent": len(futures), "refused": refused}
    print("summary " + json.dumps(summary), flush=True)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
