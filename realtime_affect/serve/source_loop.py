"""The server's own source (``affect-serve --video/--camera``): analysed frame by frame and published.

A video file plays at its own frame rate, as a person watches it (``fast``: as fast as the machine goes);
its results are also written to a results file in ``run_dir`` so that a page can replay the file once it
has ended. A camera runs newest-frame-wins, as in ``affect-live --camera``.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from realtime_affect.serve.recording import Replay, free_name
from realtime_affect.serve.streams import StreamPublisher

log = logging.getLogger(__name__)


def paced(results, stop: threading.Event, fast: bool):
    """Yield results no sooner than their frame's time after the first (real-time playback of a file)."""
    start = first = None
    for result in results:
        if not fast:
            if start is None:
                start, first = time.monotonic(), result.frame.time_s
            wait = start + (result.frame.time_s - first) - time.monotonic()
            if wait > 0 and stop.wait(wait):
                yield result
                return
        yield result


def run_video(model, location: str, options, publisher_for: Callable[[str, float], StreamPublisher],
              stop: threading.Event, fast: bool, run_dir: Path, reconnect_s: float | None = None
              ) -> tuple[StreamPublisher, Replay]:
    """Analyse a file or stream URL to its end (or ``stop``); returns its publisher (named as its frames name
    their source) and the replay of its results."""
    from realtime_affect.runner import analyze_video
    from realtime_affect.serve.recording import DRIVER_SUFFIXES, DriverFiles
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.sources import VideoSource, is_stream_url

    with VideoSource(location, reconnect_s=reconnect_s) as source:
        publisher = publisher_for(source.name, source.info.fps or 30.0)
        base = free_name(run_dir, Path(source.name).stem or "video", (".csv", *DRIVER_SUFFIXES))
        results_path = base.with_name(base.name + ".csv")
        driver = DriverFiles(base, source.name) if publisher.driver else None
        if driver is not None:
            publisher.attach_driver_files(driver)
        try:
            with CsvSink(results_path) as sink:
                for result in paced(analyze_video(model, source, options, stop=stop), stop, fast):
                    sink.write(result)
                    publisher.publish(result)
        finally:
            if driver is not None:
                if not stop.is_set():
                    publisher.finish_driver()  # its events end in its files
                publisher.detach_driver_files(driver)
                driver.close()
    video = None if is_stream_url(location) else Path(location)
    return publisher, Replay(results_path.name, results_path, video, "run", False,
                             driver.signals if driver else None, driver.events_path if driver else None)


def run_camera(camera, model, options, publisher: StreamPublisher, stop: threading.Event) -> None:
    from realtime_affect.runner import analyze_camera

    for result in analyze_camera(model, camera, options, stop=stop):
        publisher.publish(result)
