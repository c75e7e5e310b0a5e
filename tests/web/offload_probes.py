"""Functions the offload tests send to a worker process (module-level, so they pickle by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def pid() -> int:
    """The worker's process id."""
    return os.getpid()


def niceness() -> int:
    """The worker's CPU priority (0 is the web process's)."""
    return os.nice(0)


def crash() -> None:
    """Die at once, as a worker killed by the kernel would (no exception, no result)."""
    os._exit(3)


def hold(flag: str, seconds: float = 30.0, started: str = "") -> bool:
    """Wait until ``flag`` exists: True when it appeared, False when ``seconds`` passed without it. ``started``: a file
    created first, to say the wait has begun."""
    if started:
        Path(started).touch()
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        if Path(flag).exists():
            return True
        time.sleep(0.02)
    return False


def fails() -> None:
    """An ordinary exception raised in the worker."""
    raise ValueError("refused in the worker")
