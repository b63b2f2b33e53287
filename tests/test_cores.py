"""Idle-priority threads: what a background sweep's detector runs on."""
from __future__ import annotations

import os
import threading

import pytest

from realtime_affect.system.cores import at_idle_priority

linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="per-thread idle priority is Linux's")


@linux_only
def test_threads_started_at_idle_priority_inherit_it_and_the_caller_keeps_its_own():
    started = threading.Event()
    finish = threading.Event()
    seen = {}

    def worker() -> None:
        seen["policy"] = os.sched_getscheduler(0)
        started.set()
        finish.wait(5)

    def make() -> threading.Thread:
        thread = threading.Thread(target=worker)
        thread.start()
        return thread

    thread = at_idle_priority(make)
    assert started.wait(5)
    finish.set()
    thread.join()
    assert seen["policy"] == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE


def test_an_error_while_starting_is_raised_in_the_caller():
    def make():
        raise ValueError("model file is damaged")

    with pytest.raises(ValueError, match="model file is damaged"):
        at_idle_priority(make)
    assert at_idle_priority(lambda: 42) == 42
