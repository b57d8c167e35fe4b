"""NexusPlanner -> hypertick: market intelligence and the agents' decision audit trail.

Signals from Twitter, the news and an industry report land in ``market_signals``; one
of them is seen again with a higher relevance and upserted by its key; one is older
than the 90 days kept and is refused. The planning agents record each decision when
they take it and ``update`` it with its latency when it completes; a worker that
restarted and records a decision again under a new record id is refused by the
``decision_id`` unique key, so the audit trail holds each decision once.

Usage: ``python producer.py [URL]`` (default ``ws://127.0.0.1:8765``, or
``HYPERTICK_URL``; a bearer token from ``HYPERTICK_TOKEN``). Prints one line
``summary {...}`` and exits 1 if the daemon refused anything it should have taken, or
took anything it should have refused.
"""

import datetime as dt
import json
import os
import sys
import uuid
from decimal import Decimal

import hypertick


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HYPERTICK_URL", "ws://127.0.0.1:8765")
    token = os.environ.get("HYPERTICK_TOKEN")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    session = f"plan-{uuid.uuid4().hex[:12]}"
    run = uuid.uuid4().hex[:8]  # keeps the example's ids apart between runs

    def signal(id, source, content, minutes_ago, relevance, category, impact, op="insert"):
        return hypertick.row("market_signals", op, {
            "id": f"{id}-{run}", "source": source, "content": content, "timestamp": now - dt.timedelta(minutes=minutes_ago),
            "relevance_score": relevance, "category": category, "impact": impact,
        })

    def decision(record_id, decision_id, minutes_ago, decision_type, steps, sources, confidence):
        return hypertick.row("agent_decisions", "insert", {
            "id": record_id, "decision_id": decision_id, "session_id": session,
            "timestamp": now - dt.timedelta(minutes=minutes_ago), "decision_type": decision_type,
            "reasoning_chain": [{"step": index + 1, "action": action} for index, action in enumerate(steps)],
            "data_sources": sources, "confidence_score": confidence, "model_used": "gpt-4o",
        })

    analysis, ideas = f"dec-analysis-{run}", f"dec-ideas-{run}"
    ideas_record = str(uuid.uuid4())
    expected = []  # (record, future, the code the daemon must refuse it with, or None: accepted)
    with hypertick.Client(url, token=token) as client:

        def send(record, refused_as=None):
            expected.append((record, client.send(record), refused_as))

        send(signal("sig-tw", "Twitter", "Spike in mentions of sustainable packaging", 30, 0.62, "trend", "medium"))
        send(signal("sig-news", "News", "Competitor cuts prices 15% in the EU", 25, 0.71, "competitor", "high"))
        send(signal("sig-report", "Industry Report", "Q4 retail ad spend forecast up 8%", 20, 0.55, "market", "medium"))
        # Three more outlets carry the competitor story: the same signal, scored again.
        send(signal("sig-news", "News", "Competitor cuts prices 15% in the EU", 25, 0.93, "competitor", "high", op="upsert"))
        # Found in an old crawl: past the 90 days kept.
        send(signal("sig-archive", "News", "Last summer's campaign recap", 100 * 24 * 60, 0.2, "market", "low"),
             refused_as="older_than_retention")

        send(decision(str(uuid.uuid4()), analysis, 15, "market_analysis",
                      ["analyze_market_signals", "rank_by_impact", "summarize"], ["market_signals", "news_api"], 0.87))
        send(decision(ideas_record, ideas, 10, "idea_generation",
                      ["load_brand_guidelines", "generate_ideas", "score_ideas"], ["market_signals"], 0.78))
        client.flush(timeout=60)
        # The idea generation completed: its latency and what it produced.
        send(hypertick.row("agent_decisions", "update", {
            "id": ideas_record, "latency_ms": Decimal("1834.5"),
            "decision_metadata": {"ideas": 12, "kept": 4},
        }))
        # A restarted worker records the analysis again under a new record id.
        send(decision(str(uuid.uuid4()), analysis, 15, "market_analysis", ["analyze_market_signals"], ["market_signals"], 0.87),
             refused_as="rejected_by_database")
        client.flush(timeout=60)

    surprises = []
    for record, future, refused_as in expected:
        result = future.result(timeout=0)
        got = None if result.accepted else result.code
        if got != refused_as:
            surprises.append({"table": record["table"], "expected": refused_as, "got": got, "reason": result.reason})
    summary = {"session_id": session, "run": run, "sent": len(expected), "surprises": surprises}
    print("summary " + json.dumps(summary), flush=True)
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())
