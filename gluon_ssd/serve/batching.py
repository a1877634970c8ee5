"""Dynamic batching: concurrent requests gathered into one forward pass, behind a bounded queue.

:class:`BatchQueue` admits at most ``capacity`` requests at once (:meth:`~BatchQueue.admit`:
beyond that, :class:`QueueFull`, answered 503 with ``Retry-After``). An admitted request's item
goes through :meth:`~BatchQueue.submit`; one worker task takes the first waiting item, waits at
most ``max_wait_s`` for others (up to ``max_batch``), and runs the batch in its own inference
thread, so the event loop keeps reading and decoding requests meanwhile. While a batch runs, the
next one gathers: under load, batches fill without waiting.

The wait is only for requests known to be on their way: admitted, still being read or decoded,
not yet submitted. A request alone in the service runs at once (waiting could bring nothing but
latency), and a batch stops waiting as soon as every admitted request has joined it.
"""
import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

__all__ = ["BatchQueue", "QueueFull"]


class QueueFull(Exception):
    """The service already holds ``capacity`` requests."""


class BatchQueue:
    """Gather items into batches for ``run_batch(items) -> results`` (one result per item).

    Parameters
    ----------
    run_batch : callable
        Runs in the inference thread; an exception fails every item of that batch (and only it).
    max_batch : int
    max_wait_s : float
        How long the first item of a batch waits for company.
    capacity : int
        Most requests admitted at once.
    """

    def __init__(self, run_batch, max_batch, max_wait_s, capacity):
        self._run, self.max_batch, self.max_wait_s = run_batch, max_batch, max_wait_s
        self.capacity, self.admitted = capacity, 0
        self.arriving = 0     # admitted, not yet submitted: what a gathering batch may wait for
        self.batches = self.items_run = 0
        self._queue = None
        self._worker = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="gluon-ssd-infer")

    @contextlib.contextmanager
    def admit(self):
        """Hold one of the ``capacity`` places while the block runs; :class:`QueueFull` if none."""
        if self.admitted >= self.capacity:
            raise QueueFull(f"the service is busy ({self.admitted} requests in progress, the "
                            f"most it holds); retry shortly")
        self.admitted += 1
        self.arriving += 1
        ticket = {"submitted": False}
        try:
            yield ticket
        finally:
            self.admitted -= 1
            if not ticket["submitted"]:
                self.arriving -= 1

    def start(self):
        """Start the worker task (in the running event loop)."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self):
        """Stop the worker and the inference thread (after the requests in flight finished)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=True)

    async def submit(self, item, ticket=None):
        """``(result, batch_size)`` of ``item``, once the batch it joined has run.

        ``ticket``: what :meth:`admit` yielded for this request (it is no longer on its way).
        """
        future = asyncio.get_running_loop().create_future()
        if ticket is not None and not ticket["submitted"]:
            ticket["submitted"] = True
            self.arriving -= 1
        await self._queue.put((item, future))
        return await future

    @property
    def mean_batch(self):
        """float: items per batch so far (0 before the first batch)."""
        return self.items_run / self.batches if self.batches else 0.0

    async def _gather(self):
        """The next batch: the first waiting item, then whoever joins within ``max_wait_s``."""
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time() if self.arriving > 0 else 0
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return [(item, future) for item, future in batch if not future.cancelled()]

    async def _work(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            if not batch:
                continue  # every client of this batch went away
            try:
                results = await loop.run_in_executor(self._executor, self._run,
                                                     [item for item, _ in batch])
            except Exception as err:  # a runtime failure fails this batch, not the service
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.batches += 1
            self.items_run += len(batch)
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result((result, len(batch)))
