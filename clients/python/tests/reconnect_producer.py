"""Sends ``COUNT`` ticks (symbol ``SYMBOL``, trade ids 0..COUNT-1) at a steady pace
through the blocking client while ``tests/it/python_client.rs`` kills and restarts the
daemon, then flushes and prints what came of every record.

Usage: ``python reconnect_producer.py URL TOKEN SYMBOL COUNT``. Prints ``acked N`` lines
as acks come in (the Rust side kills the daemon after the first ones) and ends with
``done sent=… accepted=… rejected=… reconnects=…``; exits 1 if any record was not
accepted.
"""

import datetime as dt
import sys
import time

import hypertick


def main() -> int:
    url, token, symbol, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    futures = []
    acked = 0
    with hypertick.Client(url, token=token, reconnect_backoff=0.05, reconnect_backoff_max=0.5) as client:
        for index in range(count):
            futures.append(client.send(hypertick.tick("pytest", symbol, when, 100 + index, 1, trade_id=index)))
            if index % 25 == 24:
                time.sleep(0.02)
                done = sum(1 for future in futures if future.done())
                if done >= acked + 200:
                    acked = done
                    print(f"acked {acked}", flush=True)
        client.flush(timeout=120)
        reconnects = client.reconnects
    results = [future.result(timeout=0) for future in futures]
    accepted = sum(1 for result in results if result.accepted)
    refused = [result for result in results if not result.accepted]
    for result in refused[:10]:
        print(f"refused {result}", flush=True)
    print(f"done sent={count} accepted={accepted} rejected={len(refused)} reconnects={reconnects}", flush=True)
    return 0 if accepted == count else 1


if __name__ == "__main__":
    sys.exit(main())
