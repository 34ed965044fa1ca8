"""Waiting for a condition inside the standalone tests' event loops."""

import asyncio
import time

POLL_S = 0.005


async def wait_until(condition, timeout_s=5.0, what="condition"):
    """Return once ``condition()`` is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_S)
