"""Run batch jobs in local worker processes: each opens the model and its landmarker once and takes inputs
one at a time; frames done are reported to the parent for the progress bar. A worker that dies takes only
its current input with it (marked failed); the others go on in a fresh pool. Workers ignore Ctrl-C: the
parent sets a shared stop flag, and every job in flight stops between frames and removes its partial file.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Sequence

from realtime_affect.batch.inputs import BatchInput
from realtime_affect.batch.job import JobOptions, JobResult
from realtime_affect.system.cores import model_threads

_worker: dict = {}


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Model threads per worker so that all workers together do not oversubscribe the cores."""
    return model_threads(workers, cores)


def _init(options: JobOptions, stop, progress) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from realtime_affect.batch.job import open_job_model

    _worker.update(options=options, stop=stop, progress=progress, model=open_job_model(options))


def _run(item: BatchInput, out_dir: str) -> dict:
    from realtime_affect.batch.job import annotate

    progress = _worker["progress"]
    result = annotate(item, Path(out_dir), _worker["model"], _worker["options"], stop=_worker["stop"],
                      on_frames=lambda n: progress.put((item.location, n)))
    return result.to_dict()


def run_local(items: Sequence[BatchInput], out_dir: Path, options: JobOptions, workers: int, stop,
              on_frames: Callable[[str, int], None], on_result: Callable[[JobResult], None]) -> None:
    """Annotate ``items`` with ``workers`` processes; ``stop`` is a ``multiprocessing`` Event (set it to
    stop every job between frames). Calls ``on_frames(location, n)`` as frames are done and ``on_result``
    once per input."""
    ctx = mp.get_context("spawn")
    progress = ctx.Queue()
    todo = list(items)
    while todo and not stop.is_set():
        with ProcessPoolExecutor(max_workers=max(1, min(workers, len(todo))), mp_context=ctx, initializer=_init,
                                 initargs=(options, stop, progress)) as pool:
            futures: dict[Future, BatchInput] = {pool.submit(_run, item, str(out_dir)): item for item in todo}
            todo = []
            broken = False
            while futures:
                done, _ = wait(list(futures), timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress, on_frames)
                for future in done:
                    item = futures.pop(future)
                    try:
                        on_result(JobResult(**future.result()))
                    except BrokenProcessPool:
                        broken = True
                        todo.append(item)
                    except Exception as exc:  # an error outside annotate(): report it, go on
                        on_result(JobResult(item.location, item.output, "failed", error=f"{type(exc).__name__}: {exc}"))
                if broken:  # a worker died: every job not finished is lost with the pool
                    todo.extend(futures.values())
                    futures.clear()
            _drain(progress, on_frames)
        if broken:
            todo = _blame(todo, out_dir, options, stop, on_frames, on_result)


def _blame(todo: list[BatchInput], out_dir: Path, options: JobOptions, stop, on_frames, on_result) -> list[BatchInput]:
    """After a worker died: run the first lost input alone; if it kills its worker too, it is the culprit
    (failed), and the rest go back to the pool."""
    if not todo or stop.is_set():
        return todo
    first, rest = todo[0], todo[1:]
    ctx = mp.get_context("spawn")
    progress = ctx.Queue()
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init,
                             initargs=(options, stop, progress)) as pool:
        try:
            on_result(JobResult(**pool.submit(_run, first, str(out_dir)).result()))
        except BrokenProcessPool:
            on_result(JobResult(first.location, first.output, "failed",
                                error="the worker process died on this input (a crash in native code?)"))
        _drain(progress, on_frames)
    return rest


def _drain(progress, on_frames) -> None:
    while True:
        try:
            location, n = progress.get_nowait()
        except (queue.Empty, OSError, EOFError):
            return
        on_frames(location, n)
