"""A delaying TCP proxy: the lab as if it were far away (issue 25's WAN rows).

One listener on 127.0.0.1 per upstream endpoint; every byte that crosses the proxy, in
either direction, is delivered ``delay_ms`` after it arrived (one-way delay: a round
trip costs twice that), in order, without limiting throughput. An end of stream is passed
on the same way (after the bytes before it), so a half-close reaches the other side, and
the connection is closed once both directions have ended.

Bounded: at most ``max_connections`` connections at once (more are closed on accept), at
most ``QUEUE_CHUNKS`` chunks in flight per direction (a reader waits for the writer), every
connection ends after ``max_connection_s``, and the proxy stops when its ``with`` block
ends. It runs its own event loop in one daemon thread.

    with DelayProxy([("127.20.0.10", 8443)], delay_ms=50) as proxy:
        proxy.ports   # [the 127.0.0.1 port in front of 127.20.0.10:8443]
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence

LISTEN = "127.0.0.1"
READ_CHUNK = 65536
QUEUE_CHUNKS = 64
MAX_CONNECTIONS = 512
MAX_CONNECTION_S = 120.0
START_TIMEOUT_S = 10.0


class DelayProxy:
    """Listeners on 127.0.0.1 in front of ``upstreams`` that delay every byte.
    Use as a context manager; ``ports[i]`` is in front of ``upstreams[i]``."""

    def __init__(self, upstreams: Sequence[tuple[str, int]], *, delay_ms: float,
                 max_connections: int = MAX_CONNECTIONS,
                 max_connection_s: float = MAX_CONNECTION_S) -> None:
        if delay_ms < 0:
            raise ValueError(f"a delay of {delay_ms} ms: expected 0 or more")
        self.upstreams = list(upstreams)
        self.delay_s = delay_ms / 1000
        self.max_connections = max_connections
        self.max_connection_s = max_connection_s
        self.ports: list[int] = []
        #: connections accepted, and refused for being over the limit
        self.accepted = 0
        self.refused = 0
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # -- the caller's thread ----------------------------------------------------------------

    def __enter__(self) -> DelayProxy:
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the delaying proxy did not start listening in time")
        if self._error is not None:
            raise RuntimeError(f"the delaying proxy could not listen: {self._error}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening, end every connection and the loop's thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S + self.max_connection_s)
            self._thread = None

    # -- the proxy's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the caller
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(lambda _loop, _context: None)
        self._stop = asyncio.Event()
        servers = []
        tasks: set[asyncio.Task] = set()
        try:
            for upstream in self.upstreams:
                def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            upstream: tuple[str, int] = upstream) -> None:
                    task = asyncio.ensure_future(self._connection(reader, writer, upstream))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

                server = await asyncio.start_server(handler, LISTEN, 0, backlog=256)
                servers.append(server)
                self.ports.append(server.sockets[0].getsockname()[1])
        except OSError as error:
            self._error = error
        self._ready.set()
        if self._error is None:
            await self._stop.wait()
        for server in servers:
            server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection(self, client_reader: asyncio.StreamReader,
                          client_writer: asyncio.StreamWriter,
                          upstream: tuple[str, int]) -> None:
        if self._active >= self.max_connections:
            self.refused += 1
            client_writer.close()
            return
        self._active += 1
        self.accepted += 1
        server_writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.max_connection_s):
                # the connection to the server is made as the SYN would arrive there
                await asyncio.sleep(self.delay_s)
                server_reader, server_writer = await asyncio.open_connection(*upstream)
                await asyncio.gather(self._pipe(client_reader, server_writer),
                                     self._pipe(server_reader, client_writer))
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._active -= 1
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await writer.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction, each chunk ``delay_s`` after it arrived; then the end."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)

        async def read() -> None:
            try:
                while chunk := await reader.read(READ_CHUNK):
                    await queue.put((loop.time() + self.delay_s, chunk))
            except OSError:
                pass
            await queue.put((loop.time() + self.delay_s, b""))

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, chunk = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
