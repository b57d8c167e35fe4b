"""Sends ``COUNT`` ticks (symbol ``SYMBOL``, trade ids 0..COUNT-1) at a steady pace
through the blocking client while ``tests/it/python_client.rs`` kills and restarts the
daemon, then flushes and prints what came of every record.

Usage: ``python reconnect_producer.py URL TOKEN SYMBOL COUNT [CA_FILE]`` (the CA file
for a ``wss://`` URL). Prints ``acked N`` lines
as acks come in (the Rust side kills the daemon after the first ones) and ends with
``done sent=… accepted=… rejected=… duplicates=… mixed=… reconnects=…``; exits 1 if any record was not
accepted.
"""

import datetime as dt
import logging
import ssl
import sys
import time

import hypertick


def main() -> int:
    url, token, symbol, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    tls = ssl.create_default_context(cafile=sys.argv[5]) if len(sys.argv) > 5 else None
    # The client's connection events, on stderr.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    futures = []
    acked = 0
    # A longer linger: frames of a few hundred records, under the daemon's frame rate.
    with hypertick.Client(url, token=token, ssl=tls, linger=0.02, reconnect_backoff=0.05, reconnect_backoff_max=0.5) as client:
        for index in range(count):
            futures.append(client.send(hypertick.tick("pytest", symbol, when, 100 + index, 1, trade_id=index)))
            if index % 50 == 49:
                time.sleep(0.005)
                done = sum(1 for future in futures if future.done())
                if done >= acked + 1000:
                    acked = done
                    print(f"acked {acked}", flush=True)
        client.flush(timeout=120)
        reconnects = client.reconnects
    results = [future.result(timeout=0) for future in futures]
    accepted = sum(1 for result in results if result.accepted)
    refused = [result for result in results if not result.accepted]
    # Resent after the kill and already held by the daemon (its spool or the database);
    # "mixed": in a frame of new and resent records (the ack counts duplicates per frame).
    duplicates = sum(1 for result in results if result.duplicate is True)
    mixed = sum(1 for result in results if result.accepted and result.duplicate is None)
    for result in refused[:10]:
        print(f"refused {result}", flush=True)
    print(f"done sent={count} accepted={accepted} rejected={len(refused)} duplicates={duplicates} mixed={mixed} reconnects={reconnects}", flush=True)
    return 0 if accepted == count else 1


if __name__ == "__main__":
    sys.exit(main())
