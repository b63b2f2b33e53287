"""Faces found one frame ahead in a worker thread: same results, same order, nothing lost or left running."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime_affect.faces.ahead import ahead

DATA = Path(__file__).parent / "data"


def test_results_come_in_order_with_their_items():
    got = list(ahead(range(50), lambda i: i * i, depth=3))
    assert got == [(i, i * i) for i in range(50)]


def test_error_in_worker_is_raised_after_the_items_before_it():
    def work(i):
        if i == 5:
            raise ValueError("frame 5 is damaged")
        return i

    seen = []
    with pytest.raises(ValueError, match="frame 5 is damaged"):
        for item, _ in ahead(range(10), work):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_error_while_reading_is_raised_after_the_items_before_it():
    def frames():
        yield from range(3)
        raise OSError("decode failed")

    seen = []
    with pytest.raises(OSError, match="decode failed"):
        for item, _ in ahead(frames(), lambda i: i):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_stop_keeps_the_items_already_done_and_reads_no_more():
    stop = threading.Event()
    read = []

    def items():
        for i in range(1000):
            read.append(i)
            yield i

    got = []
    for item, _ in ahead(items(), lambda i: i, depth=2, stop=stop):
        got.append(item)
        if item == 10:
            stop.set()
    assert got == list(range(len(got)))  # in order, none skipped
    assert 11 <= len(got) <= 11 + 3      # what was already in flight is handed over, then it ends
    assert len(read) < 20


def test_closing_early_joins_the_worker():
    before = {t.name for t in threading.enumerate()}
    gen = ahead(range(10 ** 6), lambda i: i, depth=2, name="affect-test-worker")
    assert next(gen) == (0, 0)
    gen.close()
    assert "affect-test-worker" not in {t.name for t in threading.enumerate()} - before


@pytest.mark.slow
def test_overlapped_video_gives_the_same_rows_as_one_thread(tiny_model):
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.sources import VideoSource

    def rows(overlap: bool):
        with open_model(tiny_model) as model, VideoSource(DATA / "single_face.mp4") as source:
            return [(r.frame.index, [(f.track_id, np.round(f.prediction.expression, 5).tolist()) for f in r.faces])
                    for r in analyze_video(model, source, overlap=overlap)]

    one, two = rows(False), rows(True)
    assert len(one) > 30 and any(faces for _, faces in one)
    assert one == two


def test_video_frames_come_with_rgb_which_the_finder_takes_so_waiting_frames_hold_bgr_alone(tiny_model):
    import cv2

    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.sources import VideoSource

    with VideoSource(DATA / "single_face.mp4") as source:
        first = next(iter(source))
    assert first.rgb is not None and np.array_equal(first.rgb, cv2.cvtColor(first.bgr, cv2.COLOR_BGR2RGB))
    with open_model(tiny_model) as model, VideoSource(DATA / "single_face.mp4") as source:
        results = list(analyze_video(model, source))
    assert len(results) == 72 and sum(len(r.faces) for r in results) == 72  # one face in every frame
    assert all(r.frame.rgb is None for r in results)


def test_a_source_closed_while_the_worker_reads_it_ends_the_worker_instead_of_hanging():
    """The CLI closes the video source when an output fails (a full disk), before the look-ahead worker that
    reads it is joined; the worker must see the end, or the process hangs after printing its error."""
    import time

    from helpers import SINGLE_FACE
    from realtime_affect.sources import VideoSource

    source = VideoSource(SINGLE_FACE)
    read, started = [], threading.Event()

    def reader() -> None:
        for frame in source:
            read.append(frame.index)
            started.set()
            time.sleep(0.05)  # a slow consumer: the decoder fills its queue and waits

    worker = threading.Thread(target=reader, daemon=True)
    worker.start()
    assert started.wait(10)
    source.close()  # drains the queue and stops the decoder from another thread
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert read == list(range(len(read))) and 0 < len(read) < 72  # frames in order, ended early
