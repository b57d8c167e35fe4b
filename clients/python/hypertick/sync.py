"""The blocking producer: ``AsyncClient`` run on a private event loop in a thread.

There is one implementation (``client.AsyncClient``); this wrapper only carries calls
to its loop and results back. ``send`` blocks while the buffer of unanswered records
is full and returns a ``concurrent.futures.Future`` of the record's ``Result``.
Do not call the client from a callback of one of its own futures: such callbacks run
on the client's thread, which would then wait for itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, Iterable, List, Mapping, Optional, TypeVar

from .client import AsyncClient
from .results import ClientClosed, Result

T = TypeVar("T")


class Client:
    """A producer for programs without asyncio; same options as ``AsyncClient``.

    ::

        with hypertick.Client("ws://127.0.0.1:8765", token=token) as client:
            done = client.send(hypertick.row("orders", "upsert", {...}))
            client.flush()
            print(done.result())        # hypertick.Result
    """

    def __init__(self, url: str, **options: Any) -> None:
        # Options are checked here, in the caller's thread, before a thread is started.
        self._client = AsyncClient(url, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hypertick-client", daemon=True)
        self._thread.start()
        self._stopped = False

    def __repr__(self) -> str:
        return repr(self._client).replace("AsyncClient(", "Client(", 1)

    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._stopped:
            coroutine.close()
            raise ClientClosed("the client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def connected(self) -> bool:
        return self._client.connected

    @property
    def reconnects(self) -> int:
        return self._client.reconnects

    @property
    def pending(self) -> int:
        return self._client.pending

    def connect(self) -> None:
        """See ``AsyncClient.connect``; on failure the client's thread is stopped."""
        try:
            self._call(self._client.connect())
        except BaseException:
            self._stop_loop()
            raise

    def send(self, record: Mapping[str, Any]) -> "concurrent.futures.Future[Result]":
        """See ``AsyncClient.send``: blocks while the buffer is full."""
        return self._call(self._send(record))

    def send_many(self, records: Iterable[Mapping[str, Any]]) -> List["concurrent.futures.Future[Result]"]:
        return [self.send(record) for record in records]

    def flush(self, timeout: Optional[float] = None) -> None:
        """See ``AsyncClient.flush``."""
        self._call(self._client.flush(timeout))

    def close(self, timeout: Optional[float] = None) -> None:
        """See ``AsyncClient.close``; then stops the client's thread."""
        if self._stopped:
            return
        try:
            self._call(self._client.close(timeout))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _send(self, record: Mapping[str, Any]) -> "concurrent.futures.Future[Result]":
        inner = await self._client.send(record)
        outer: "concurrent.futures.Future[Result]" = concurrent.futures.Future()

        def carry(done: "asyncio.Future[Result]") -> None:
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(carry)
        return outer
