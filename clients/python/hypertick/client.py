"""The asyncio producer: batching, ids, acks per record, retries, reconnects.

How a record travels through ``AsyncClient``:

1. ``send(record)`` encodes it at once (a bad value raises there, naming the field),
   gives it an ``id`` unless it has one, waits while the unacknowledged buffer is full
   (``max_pending_records``, ``max_pending_bytes``: backpressure, never unbounded growth),
   and returns an ``asyncio.Future`` that resolves to a ``Result``.
2. A sender task packs queued records into JSON array frames of at most
   ``max_batch_records`` records and ``max_batch_bytes`` bytes, waiting up to ``linger``
   seconds for a frame to fill, with at most ``max_frames_in_flight`` frames unacked.
3. A reader task takes the daemon's acks, which come back in frame order, and maps each
   back to the frame's records by index (``rejected``, ``rejected_more_ranges``). A
   record refused with a retryable code (``queue_full``, ``spool_full``,
   ``shutting_down``, ``rate_limited``, ``database_unavailable``) is sent again after a
   jittered, growing delay, up to ``max_retries`` times; other refusals resolve the
   future as rejected.
4. When the connection drops, every record of the frames in flight goes back to the
   front of the queue with the same id, and the client reconnects with capped, jittered
   exponential backoff, forever, until ``close()``. The daemon recognizes ids it already
   has (``server.dedup_ids``), so a record resent after a reconnect is stored once.

What "accepted" means is the daemon's ``server.ack``: ``received`` (queued in memory),
``durable`` (fsynced in its spool) or ``committed`` (in the database; a row the
database refuses then comes back as ``rejected_by_database``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import ssl as _ssl
import uuid
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Set

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import InvalidStatus

from . import _json
from .results import (
    FRAME_CODES,
    RETRYABLE_CODES,
    ClientClosed,
    ConnectError,
    ProtocolError,
    Result,
    reason_code,
)

log = logging.getLogger("hypertick")

_MAX_ID_BYTES = 128


class _Entry:
    """One record between ``send`` and its result."""

    __slots__ = ("id", "text", "size", "future", "attempts")

    def __init__(self, id: str, text: str, size: int, future: "asyncio.Future[Result]") -> None:
        self.id = id
        self.text = text
        self.size = size
        self.future = future
        self.attempts = 0


def _check_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"id: expected a string or an int, got {type(value).__name__}")
    text = str(value)
    if isinstance(value, str):
        if not value or len(value.encode("utf-8", "surrogatepass")) > _MAX_ID_BYTES:
            raise ValueError(f"id: expected a non-empty string of at most {_MAX_ID_BYTES} bytes, got {len(value)} characters")
        if any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
            raise ValueError(f"id: control characters are not allowed in {value!r}")
    return text


class _Redacting(logging.LoggerAdapter):
    """The websockets library's logger with the token masked: at DEBUG it logs every
    request header, ``Authorization`` included."""

    def __init__(self, logger: logging.Logger, secret: str) -> None:
        super().__init__(logger, {})
        self._secret = secret

    def _mask(self, value: Any) -> Any:
        return value.replace(self._secret, "***") if isinstance(value, str) and self._secret in value else value

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            self.logger.log(level, self._mask(msg), *(self._mask(arg) for arg in args), **kwargs)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")


class AsyncClient:
    """A producer connection to a hypertick push server, for asyncio programs.

    ::

        async with hypertick.AsyncClient("ws://127.0.0.1:8765", token=token) as client:
            done = await client.send(hypertick.tick("binance", "BTC-USDT", now, Decimal("97000.5"), 0.01))
            result = await done          # hypertick.Result
            await client.flush()         # every record sent so far answered

    Options (all keyword-only):

    - ``token``: sent as ``Authorization: Bearer <token>``; never logged nor put in an
      exception or ``repr``.
    - ``ssl``: an ``ssl.SSLContext`` for ``wss://`` URLs (the system's default roots
      when left out).
    - ``max_batch_records`` (500), ``max_batch_bytes`` (256 KiB, a quarter of the daemon's
      default ``server.max_frame_bytes`` of 1 MiB), ``linger`` (0.005 s): frame bounds.
    - ``max_record_bytes`` (1 MiB): a longer record is refused by ``send``.
    - ``max_pending_records`` (10 000), ``max_pending_bytes`` (32 MiB): records sent and
      not yet answered; ``send`` waits while either is reached.
    - ``max_frames_in_flight`` (16): frames sent and not acked yet (keep it at or below
      the daemon's ``server.acks_in_flight``, 64 by default).
    - ``max_retries`` (8), ``retry_backoff`` (0.05 s), ``retry_backoff_max`` (2 s): for
      retryable rejections.
    - ``reconnect_backoff`` (0.1 s), ``reconnect_backoff_max`` (5 s): after a lost
      connection; ``connect_timeout`` (10 s): for ``connect()`` and each handshake.
    - ``id_prefix``: generated ids are ``<prefix>-<counter>``; a random prefix per
      client by default.
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        ssl: Optional[_ssl.SSLContext] = None,
        max_batch_records: int = 500,
        max_batch_bytes: int = 256 * 1024,
        linger: float = 0.005,
        max_record_bytes: int = 1 << 20,
        max_pending_records: int = 10_000,
        max_pending_bytes: int = 32 << 20,
        max_frames_in_flight: int = 16,
        max_retries: int = 8,
        retry_backoff: float = 0.05,
        retry_backoff_max: float = 2.0,
        reconnect_backoff: float = 0.1,
        reconnect_backoff_max: float = 5.0,
        connect_timeout: float = 10.0,
        id_prefix: Optional[str] = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url: expected a ws:// or wss:// URL, got {url!r}")
        if token is not None and (not isinstance(token, str) or not token or any(c in token for c in "\r\n")):
            raise ValueError("token: expected a non-empty string on one line")
        if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
            raise TypeError(f"ssl: expected an ssl.SSLContext, got {type(ssl).__name__}")
        for name, value in (
            ("max_batch_records", max_batch_records),
            ("max_batch_bytes", max_batch_bytes),
            ("max_record_bytes", max_record_bytes),
            ("max_pending_records", max_pending_records),
            ("max_pending_bytes", max_pending_bytes),
            ("max_frames_in_flight", max_frames_in_flight),
            ("retry_backoff", retry_backoff),
            ("retry_backoff_max", retry_backoff_max),
            ("reconnect_backoff", reconnect_backoff),
            ("reconnect_backoff_max", reconnect_backoff_max),
            ("connect_timeout", connect_timeout),
        ):
            _positive(name, value)
        if linger < 0 or max_retries < 0:
            raise ValueError("linger and max_retries: expected numbers ≥ 0")
        self.url = url
        self.__token = token
        self._ssl = ssl
        self._max_batch_records = max_batch_records
        self._max_batch_bytes = max_batch_bytes
        self._linger = linger
        self._max_record_bytes = max_record_bytes
        self._max_pending_records = max_pending_records
        self._max_pending_bytes = max_pending_bytes
        self._max_frames_in_flight = max_frames_in_flight
        self._max_retries = max_retries
        self._retry_backoff = retry_backoff
        self._retry_backoff_max = retry_backoff_max
        self._reconnect_backoff = reconnect_backoff
        self._reconnect_backoff_max = reconnect_backoff_max
        self._connect_timeout = connect_timeout
        self._id_prefix = id_prefix if id_prefix is not None else uuid.uuid4().hex[:16]
        _check_id(self._id_prefix + "-0")
        self._next_id = 0
        # Records waiting for a frame, frames waiting for their ack, every unanswered record.
        self._queue: Deque[_Entry] = collections.deque()
        self._queued_bytes = 0
        self._inflight: Deque[List[_Entry]] = collections.deque()
        self._unanswered: Set[_Entry] = set()
        self._pending_bytes = 0
        self._timers: Set[asyncio.TimerHandle] = set()
        self._flushing = 0
        self._closed = False
        self._connected = False
        self._reconnects = 0
        # asyncio objects are made in connect(), on the loop that runs the client
        # (Python 3.9 binds them to a loop when they are made).
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._wake: Optional[asyncio.Event] = None
        self._room: Optional[asyncio.Event] = None
        self._idle: Optional[asyncio.Event] = None

    def __repr__(self) -> str:
        token = "***" if self.__token is not None else None
        return (
            f"AsyncClient(url={self.url!r}, token={token}, connected={self._connected}, "
            f"pending={len(self._unanswered)}, closed={self._closed})"
        )

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> "AsyncClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is open now (the client reconnects by itself)."""
        return self._connected

    @property
    def reconnects(self) -> int:
        """How many times the connection was made again after it was lost."""
        return self._reconnects

    @property
    def pending(self) -> int:
        """Records sent and not answered yet."""
        return len(self._unanswered)

    async def connect(self) -> None:
        """Opens the connection, trying again with backoff for up to ``connect_timeout``.

        Raises ``ConnectError`` when it cannot (at once when the token is refused). Once
        connected, the client reconnects by itself whenever the connection is lost.
        """
        if self._task is not None or self._closed:
            raise RuntimeError("connect() is called once, on a client not closed")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        deadline = self._loop.time() + self._connect_timeout
        delay = self._reconnect_backoff
        while True:
            try:
                socket = await self._open()
                break
            except Exception as error:  # noqa: BLE001 - every failure is described and retried or raised
                message = self._describe(error)
                refused = isinstance(error, InvalidStatus) and error.response.status_code in (401, 403)
                if refused or self._loop.time() + delay > deadline:
                    raise ConnectError(f"cannot connect to {self.url}: {message}") from None
                log.info("hypertick: connecting to %s failed (%s); trying again", self.url, message)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self._reconnect_backoff_max)
        self._task = self._loop.create_task(self._run(socket))

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Sends what is queued at once and waits until every record sent so far is
        answered (retries included). Raises ``TimeoutError`` after ``timeout`` seconds."""
        self._check_usable()
        assert self._wake is not None and self._idle is not None
        self._flushing += 1
        self._wake.set()
        try:
            await asyncio.wait_for(self._wait_idle(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"{len(self._unanswered)} records still unanswered after {timeout} s") from None
        finally:
            self._flushing -= 1

    async def close(self, timeout: Optional[float] = None) -> None:
        """Flushes (for at most ``timeout`` seconds, without limit by default), then closes.

        Records still unanswered then resolve with ``ClientClosed``: they may or may not
        be stored, and sending them again with the same ids is harmless.
        """
        if self._closed:
            return
        try:
            if self._task is not None and not self._task.done():
                await self.flush(timeout)
        except TimeoutError:
            pass
        finally:
            self._closed = True
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            for entry in list(self._unanswered):
                self._finish(entry, None)
            self._queue.clear()
            self._inflight.clear()

    # -- sending ---------------------------------------------------------------------

    async def send(self, record: Mapping[str, Any]) -> "asyncio.Future[Result]":
        """Queues one record and returns a future of its ``Result``.

        Raises ``ValueError``/``TypeError`` at once for a value that cannot be sent
        (naming the field), and waits (backpressure) while the buffer of unanswered
        records is full.
        """
        self._check_usable()
        entry = self._prepare(record)
        assert self._room is not None
        while self._unanswered and (
            len(self._unanswered) >= self._max_pending_records
            or self._pending_bytes + entry.size > self._max_pending_bytes
        ):
            self._room.clear()
            await self._room.wait()
            self._check_usable()
        self._unanswered.add(entry)
        self._pending_bytes += entry.size
        self._enqueue(entry)
        return entry.future

    async def send_many(self, records: Iterable[Mapping[str, Any]]) -> List["asyncio.Future[Result]"]:
        """``send`` for each record, in order."""
        return [await self.send(record) for record in records]

    def _prepare(self, record: Mapping[str, Any]) -> _Entry:
        if not isinstance(record, Mapping):
            raise TypeError(f"record: expected a mapping with a 'type', got {type(record).__name__}")
        kind = record.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError("record: a 'type' string is needed (tick, quote, bar, ticker, option_quote, indicator, signal, row)")
        path = f"row({record.get('table')})" if kind == "row" else kind
        fields = dict(record)
        if fields.get("id") is None:
            fields["id"] = f"{self._id_prefix}-{self._next_id}"
            self._next_id += 1
        record_id = _check_id(fields["id"])
        text = _json.dumps(fields, path)
        size = len(text.encode("utf-8"))
        if size > self._max_record_bytes:
            raise ValueError(f"{path}: the record is {size} bytes of JSON; at most {self._max_record_bytes} are sent (max_record_bytes)")
        assert self._loop is not None
        return _Entry(record_id, text, size, self._loop.create_future())

    def _check_usable(self) -> None:
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._task is None:
            raise RuntimeError("call connect() (or use `async with`) before sending")

    def _enqueue(self, entry: _Entry, front: bool = False) -> None:
        if front:
            self._queue.appendleft(entry)
        else:
            self._queue.append(entry)
        self._queued_bytes += entry.size
        assert self._wake is not None
        self._wake.set()

    async def _wait_idle(self) -> None:
        assert self._idle is not None
        while self._unanswered:
            self._idle.clear()
            await self._idle.wait()

    # -- answers ---------------------------------------------------------------------

    def _finish(self, entry: _Entry, result: Optional[Result]) -> None:
        """Resolves a record (``None``: the client closed first) and frees its room."""
        if entry not in self._unanswered:
            return
        self._unanswered.discard(entry)
        self._pending_bytes -= entry.size
        if not entry.future.done():
            if result is None:
                entry.future.set_exception(ClientClosed(f"record {entry.id} was not acknowledged before the client closed"))
                # Nobody may be waiting for it; do not warn about an unretrieved exception.
                entry.future.exception()
            else:
                entry.future.set_result(result)
        assert self._room is not None and self._idle is not None
        self._room.set()
        if not self._unanswered:
            self._idle.set()

    def _refused(self, entry: _Entry, reason: Optional[str]) -> None:
        if reason is None:
            # Named past the ack's first 100 reasons: sent again to learn the reason.
            if entry.attempts <= self._max_retries:
                self._enqueue(entry)
                return
            self._finish(entry, Result(entry.id, False, code="unknown", reason="refused without a reason (past the ack's first 100)", attempts=entry.attempts))
            return
        code = reason_code(reason)
        if code in RETRYABLE_CODES and entry.attempts <= self._max_retries:
            delay = min(self._retry_backoff * 2 ** (entry.attempts - 1), self._retry_backoff_max)
            delay = random.uniform(delay / 2, delay)
            assert self._loop is not None
            timer: asyncio.TimerHandle

            def again() -> None:
                self._timers.discard(timer)
                if entry in self._unanswered and not self._closed:
                    self._enqueue(entry)

            timer = self._loop.call_later(delay, again)
            self._timers.add(timer)
            return
        self._finish(entry, Result(entry.id, False, code=code, reason=reason, attempts=entry.attempts))

    def _apply_ack(self, frame: List[_Entry], ack: Any) -> None:
        """Maps one ack onto its frame's records; raises ``ProtocolError`` before changing
        anything when the ack does not fit the frame."""
        if not isinstance(ack, dict) or not isinstance(ack.get("accepted"), int):
            raise ProtocolError(f"expected an ack object, got {str(ack)[:200]}")
        accepted = ack["accepted"]
        duplicates = ack.get("duplicates", 0)
        refusals: Dict[int, Optional[str]] = {}
        try:
            for item in ack.get("rejected", []):
                refusals[int(item["index"])] = str(item["reason"])
            for first, last in ack.get("rejected_more_ranges", []):
                for index in range(int(first), int(last) + 1):
                    refusals.setdefault(index, None)
        except (TypeError, ValueError, KeyError):
            raise ProtocolError(f"an ack's rejections are not [{{index, reason}}]: {str(ack)[:200]}") from None
        if accepted + len(refusals) != len(frame) or any(not 0 <= index < len(frame) for index in refusals):
            only = refusals.get(0)
            if accepted == 0 and len(refusals) == 1 and only is not None and reason_code(only) in FRAME_CODES:
                # A refusal of the whole frame names index 0 only.
                refusals = {index: only for index in range(len(frame))}
            else:
                raise ProtocolError(f"an ack does not account for the {len(frame)} records of its frame: {str(ack)[:200]}")
        duplicate = False if not duplicates else True if duplicates == accepted else None
        for index, entry in enumerate(frame):
            entry.attempts += 1
            if index in refusals:
                self._refused(entry, refusals[index])
            else:
                self._finish(entry, Result(entry.id, True, duplicate=duplicate, attempts=entry.attempts))

    # -- the connection --------------------------------------------------------------

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, InvalidStatus):
            status = error.response.status_code
            if status == 401:
                return "HTTP 401: the server refused the token (server.token)"
            return f"HTTP {status} on the websocket upgrade"
        text = f"{type(error).__name__}: {error}"
        if self.__token:
            text = text.replace(self.__token, "***")
        return text

    async def _open(self) -> ClientConnection:
        headers = {"Authorization": f"Bearer {self.__token}"} if self.__token is not None else None
        library_log = logging.getLogger("websockets.client")
        return await _ws_connect(
            self.url,
            additional_headers=headers,
            logger=_Redacting(library_log, self.__token) if self.__token is not None else library_log,
            ssl=self._ssl,
            compression=None,
            open_timeout=self._connect_timeout,
            close_timeout=2,
        )

    async def _run(self, socket: ClientConnection) -> None:
        """Serves connections until ``close()``: each lost one is made again."""
        while True:
            self._connected = True
            try:
                await self._serve(socket)
            finally:
                self._connected = False
                self._requeue_inflight()
            socket = await self._reconnect()

    async def _reconnect(self) -> ClientConnection:
        delay = self._reconnect_backoff
        while True:
            await asyncio.sleep(random.uniform(delay / 2, delay))
            try:
                socket = await self._open()
            except Exception as error:  # noqa: BLE001 - logged, then tried again
                log.warning("hypertick: reconnecting to %s failed (%s)", self.url, self._describe(error))
                delay = min(delay * 2, self._reconnect_backoff_max)
                continue
            self._reconnects += 1
            log.info("hypertick: reconnected to %s; %d records to send again or for the first time", self.url, len(self._queue))
            return socket

    def _requeue_inflight(self) -> None:
        """The frames sent and not acked go back to the front of the queue, in order."""
        if self._inflight:
            log.info(
                "hypertick: %d frames (%d records) sent and not acknowledged will be sent again",
                len(self._inflight),
                sum(len(frame) for frame in self._inflight),
            )
        while self._inflight:
            for entry in reversed(self._inflight.pop()):
                self._enqueue(entry, front=True)

    async def _serve(self, socket: ClientConnection) -> None:
        sender = asyncio.ensure_future(self._send_frames(socket))
        reader = asyncio.ensure_future(self._read_acks(socket))
        try:
            done, _ = await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
            # Both tasks may have failed on the same lost socket: one line says it.
            errors = [task.exception() for task in done if task.exception() is not None]
            if errors:
                log.warning("hypertick: connection to %s lost (%s)", self.url, self._describe(errors[0]))
            else:
                log.warning("hypertick: connection to %s closed by the server", self.url)
        finally:
            sender.cancel()
            reader.cancel()
            await asyncio.gather(sender, reader, return_exceptions=True)
            try:
                await asyncio.wait_for(socket.close(), 3)
            except Exception:  # noqa: BLE001 - the connection is gone either way
                pass

    def _batch_ready(self) -> bool:
        return (
            len(self._queue) >= self._max_batch_records
            or self._queued_bytes >= self._max_batch_bytes
            or self._flushing > 0
        )

    async def _send_frames(self, socket: ClientConnection) -> None:
        assert self._wake is not None and self._loop is not None
        while True:
            while not self._queue or len(self._inflight) >= self._max_frames_in_flight:
                self._wake.clear()
                await self._wake.wait()
            if self._linger > 0 and not self._batch_ready():
                deadline = self._loop.time() + self._linger
                while not self._batch_ready():
                    remaining = deadline - self._loop.time()
                    if remaining <= 0:
                        break
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), remaining)
                    except asyncio.TimeoutError:
                        break
            frame: List[_Entry] = []
            size = 2
            while self._queue and len(frame) < self._max_batch_records:
                entry = self._queue[0]
                if frame and size + entry.size + 1 > self._max_batch_bytes:
                    break
                self._queue.popleft()
                self._queued_bytes -= entry.size
                frame.append(entry)
                size += entry.size + 1
            if not frame:
                continue
            self._inflight.append(frame)
            await socket.send("[" + ",".join(entry.text for entry in frame) + "]")

    async def _read_acks(self, socket: ClientConnection) -> None:
        assert self._wake is not None
        async for message in socket:
            if not isinstance(message, str):
                raise ProtocolError("the server sent a binary frame; acks are text")
            try:
                ack = json.loads(message)
            except ValueError:
                raise ProtocolError(f"an ack is not JSON: {message[:200]}") from None
            if not self._inflight:
                raise ProtocolError(f"an ack for no frame sent: {message[:200]}")
            self._apply_ack(self._inflight[0], ack)
            self._inflight.popleft()
            self._wake.set()
