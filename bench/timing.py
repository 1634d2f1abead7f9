"""Block timing for the Python-driven frameworks, the same scheme as driver.cxx.

Warm up for 50 ms, pick a block of about 10 ms, time blocks until ``min_seconds``
have passed (at least 10 blocks); the result is the per-call time of each block.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_blocks(call: Callable[[], object], min_seconds: float) -> tuple[list[float], list[float]]:
    """Per-call nanoseconds of each timed block: process CPU time, and wall time.

    CPU time leaves out the time spent waiting for a core on a shared machine; every
    framework here runs on the calling thread (one intra-op thread, one torch thread),
    and process CPU time would count any helper thread too.
    """
    start = time.perf_counter()
    warm = 0
    while time.perf_counter() - start < 0.05 or warm < 3:
        call()
        warm += 1
    per_call = (time.perf_counter() - start) / warm
    calls = max(1, int(0.01 / per_call))
    blocks: list[float] = []
    walls: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(blocks) < 10:
        block_start = time.perf_counter_ns()
        cpu_start = time.process_time_ns()
        for _ in range(calls):
            call()
        blocks.append((time.process_time_ns() - cpu_start) / calls)
        walls.append((time.perf_counter_ns() - block_start) / calls)
    return blocks, walls


def median(values: list[float]) -> float:
    return float(statistics.median(values))
