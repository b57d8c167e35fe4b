"""The travel planner -> hypertick: its system metrics and the cost of every LLM call.

The planner's services report metrics with ``key:value`` tags; a quarterly figure
written 45 days late asks to be kept 90 days and is stored, a debug gauge of the same
age kept only 30 days is refused. Each LLM call of a planning request is one
``cost_tracking`` row, its cost computed here from the tokens and the provider's price
per token, exactly; the billing date is left to the database (``current_date``).

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

MICRODOLLAR = Decimal("0.000001")
# (provider, model, tier, price per prompt token, price per completion token), USD
MODELS = {
    "planner": ("openai", "gpt-4o", "tier1", Decimal("0.0000025"), Decimal("0.0000100")),
    "flights": ("mistral", "mistral-small", "tier2", Decimal("0.0000008"), Decimal("0.0000040")),
    "hotels": ("openai", "gpt-4o-mini", "tier3", Decimal("0.00000015"), Decimal("0.0000006")),
    "itinerary": ("mistral", "mistral-large", "tier1", Decimal("0.000003"), Decimal("0.000015")),
}


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HYPERTICK_URL", "ws://127.0.0.1:8765")
    token = os.environ.get("HYPERTICK_TOKEN")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    user, plan, session = uuid.uuid4(), uuid.uuid4(), f"sess-{uuid.uuid4().hex[:10]}"

    expected = []  # (record, future, the code the daemon must refuse it with, or None: accepted)
    total = Decimal(0)
    with hypertick.Client(url, token=token) as client:

        def send(record, refused_as=None):
            expected.append((record, client.send(record), refused_as))

        def metric(name, kind, value, unit, tags, recorded_at, retention_days=None, refused_as=None):
            row = {
                "metric_name": name, "metric_type": kind, "value": value, "unit": unit, "tags": tags,
                "service_name": "planner-api", "environment": "prod", "version": "1.4.2", "recorded_at": recorded_at,
            }
            if retention_days is not None:
                row["retention_days"] = retention_days
            send(hypertick.row("system_metrics", "insert", row), refused_as)

        minute = dt.timedelta(minutes=1)
        metric("planner.latency_ms", "timer", Decimal("1834.250000"), "ms", ["agent:planner", "env:prod"], now - 5 * minute)
        metric("llm.tokens", "counter", 48213, "tokens", ["agent:flights", "provider:mistral", "env:prod"], now - 4 * minute)
        metric("cache.hit_ratio", "gauge", Decimal("0.912345"), None, ["component:cache", "env:prod"], now - 3 * minute)
        late = now - dt.timedelta(days=45)
        metric("bookings.quarterly", "gauge", 1287, "bookings", ["report:quarterly", "env:prod"], late, retention_days=90)
        metric("debug.queue_depth", "gauge", 3, None, ["component:queue", "env:prod"], late, retention_days=30,
               refused_as="older_than_retention")

        # One planning request: four agents, four LLM calls.
        for index, (agent, prompt, completion) in enumerate([
            ("planner", 1200, 350), ("flights", 5400, 900), ("hotels", 15234, 2211), ("itinerary", 3100, 1250),
        ]):
            provider, model, tier, prompt_price, completion_price = MODELS[agent]
            cost = (prompt * prompt_price + completion * completion_price).quantize(MICRODOLLAR)
            total += cost
            send(hypertick.row("cost_tracking", "insert", {
                "user_id": user, "plan_id": plan, "agent_execution_id": uuid.uuid4(), "model_provider": provider,
                "model_name": model, "model_tier": tier, "prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion, "prompt_cost_per_token": prompt_price,
                "completion_cost_per_token": completion_price, "total_cost_usd": cost, "usage_category": "planning",
                "metadata": {"agent": agent}, "created_at": now - (4 - index) * minute, "session_id": session,
            }))
        client.flush(timeout=60)

    surprises = []
    for record, future, refused_as in expected:
        result = future.result(timeout=0)
        got = None if result.accepted else result.code
        if got != refused_as:
            surprises.append({"table": record["table"], "expected": refused_as, "got": got, "reason": result.reason})
    summary = {"user_id": str(user), "total_cost_usd": str(total), "sent": len(expected), "surprises": surprises}
    print("summary " + json.dumps(summary), flush=True)
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())
