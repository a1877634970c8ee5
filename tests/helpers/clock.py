"""A clock the test drives, for code that measures time (not a test module).

Timing code computes ``end - start`` from ``time.perf_counter()``; with this clock in place of a
module's ``time`` the result is known in advance, so a test asserts the exact value instead of
``seconds >= 0``.
"""
class FakeClock:
    """``perf_counter()`` returns ``start``, ``start + steps[0]``, ``+ steps[1]``, ... in turn.

    Each call advances by the next step (the last one repeats), so with ``steps=(0.25,)`` every
    ``end - start`` pair of calls measures 0.25 s. ``calls`` counts the readings.
    """

    def __init__(self, steps=(0.25,), start=100.0):
        self.now, self.steps, self.calls = float(start), list(steps), 0

    def perf_counter(self):
        value = self.now
        self.now += self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return value
