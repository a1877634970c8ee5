"""Dynamic batching: batches gather the requests on their way, a lone request does not wait,
a full service refuses, a failing batch fails only its own requests."""
import asyncio
import time

import pytest

from gluon_ssd.serve.batching import BatchQueue, QueueFull


def _recording_queue(max_batch=8, max_wait_s=5.0, capacity=16, fail_on=None):
    batches = []

    def run(items):
        batches.append(list(items))
        if fail_on is not None and fail_on in items:
            raise RuntimeError(f"runtime failed on {fail_on}")
        return [item * 10 for item in items]
    return BatchQueue(run, max_batch, max_wait_s, capacity), batches


async def _request(queue, item, decode_s=0.0):
    """One request as the app runs it: admitted, 'decoded' for ``decode_s``, submitted."""
    with queue.admit() as ticket:
        await asyncio.sleep(decode_s)
        return await queue.submit(item, ticket)


def test_a_lone_request_runs_without_waiting():
    async def main():
        queue, batches = _recording_queue(max_wait_s=5.0)
        queue.start()
        start = time.perf_counter()
        answer = await _request(queue, 3)
        elapsed = time.perf_counter() - start
        await queue.stop()
        return answer, elapsed, batches
    answer, elapsed, batches = asyncio.run(main())
    # Nothing else admitted: nothing to wait for. The 5 s wait would make this take 5 s.
    assert answer == (30, 1) and batches == [[3]]
    assert elapsed < 2.5


def test_requests_on_their_way_join_the_batch():
    async def main():
        queue, batches = _recording_queue(max_wait_s=5.0)
        queue.start()
        # One request is ready at once, three more are still decoding (0.2 s): the first waits
        # for them (they are admitted), and the batch leaves when all four have joined.
        answers = await asyncio.gather(_request(queue, 1), *[
            _request(queue, k, decode_s=0.2) for k in (2, 3, 4)])
        await queue.stop()
        return answers, batches, queue
    answers, batches, queue = asyncio.run(main())
    assert answers == [(10, 4), (20, 4), (30, 4), (40, 4)]
    assert [sorted(b) for b in batches] == [[1, 2, 3, 4]]
    assert queue.mean_batch == 4.0 and queue.admitted == 0 and queue.arriving == 0


def test_a_batch_is_at_most_max_batch():
    async def main():
        queue, batches = _recording_queue(max_batch=3, max_wait_s=5.0)
        queue.start()
        answers = await asyncio.gather(*[_request(queue, k) for k in range(7)])
        await queue.stop()
        return answers, batches
    answers, batches = asyncio.run(main())
    # 7 requests submitted together, batches of at most 3: 3 + 3 + 1.
    assert sorted(len(b) for b in batches) == [1, 3, 3]
    assert [a[0] for a in answers] == [10 * k for k in range(7)]


def test_a_request_that_fails_before_submitting_is_no_longer_waited_for():
    async def main():
        queue, batches = _recording_queue(max_wait_s=5.0)
        queue.start()

        async def bad():
            with queue.admit():
                raise ValueError("not an image")
        results = await asyncio.gather(bad(), return_exceptions=True)
        start = time.perf_counter()
        answer = await _request(queue, 5)
        elapsed = time.perf_counter() - start
        await queue.stop()
        return results, answer, elapsed, queue
    results, answer, elapsed, queue = asyncio.run(main())
    assert isinstance(results[0], ValueError)
    assert answer == (50, 1) and elapsed < 2.5 and queue.arriving == 0


def test_a_full_service_refuses_and_a_failing_batch_fails_only_its_requests():
    async def main():
        queue, batches = _recording_queue(max_batch=1, capacity=2, fail_on=2)
        queue.start()
        with queue.admit(), queue.admit():
            with pytest.raises(QueueFull, match=r"busy \(2 requests in progress"):
                with queue.admit():
                    pass
        failed = await asyncio.gather(_request(queue, 2), return_exceptions=True)
        answer = await _request(queue, 1)
        await queue.stop()
        return failed, answer
    failed, answer = asyncio.run(main())
    assert isinstance(failed[0], RuntimeError) and "runtime failed on 2" in str(failed[0])
    assert answer == (10, 1)
