"""``affect-live --serve PORT``: an ordinary run that also streams every analysed frame on ``/ws/results``
(and shows it on the dashboard at ``/``). A sink like the CSV one; the server runs in its own thread.

With ``pace`` (video files), results go out no sooner than their frame's time after the first, as
``affect-serve --video`` plays a file: the page sees the video at its own speed (the whole run is paced, its
other outputs too). Each source's results are also kept in a CSV in a temporary folder, so that ``finish``
can offer them as a replay, with the input video beside them, as ``affect-serve`` does when a file ends."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from realtime_affect.serve.access import access_policy
from realtime_affect.serve.hub import Hub
from realtime_affect.serve.server import ServerThread
from realtime_affect.serve.state import ServeState


class ServeSink:
    """Publishes each result under its source's name; ``finish`` ends the sources with their replays,
    ``close`` ends what is left and stops the server."""

    def __init__(self, host: str, port: int, token_warning, record_dir: Path = Path("recordings"),
                 pace: bool = False) -> None:
        policy = access_policy(host, None, (), token_warning)
        self.state = ServeState(Hub(), policy, record_dir, expects_source=True)
        self.server = ServerThread(self.state, host, port)
        self.path = None  # sinks name their file; this one has none
        self.pace = pace
        self._clock: dict[str, tuple[float, float]] = {}  # source -> (monotonic start, its first frame's time)
        self._runs: dict[str, object] = {}  # source -> CsvSink of its results, for the replay
        self._inputs: dict[str, Path | None] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="affect-serve-")

    def __enter__(self) -> "ServeSink":
        self.server.start()
        return self

    def write(self, result) -> None:
        from realtime_affect.sinks.csv_sink import CsvSink

        name = result.frame.image_path and "images" or result.frame.source or "input"
        if self.pace:
            start, first = self._clock.setdefault(name, (time.monotonic(), result.frame.time_s))
            wait = start + (result.frame.time_s - first) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        if name not in self._runs:
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).stem)[:40] or "input"
            self._runs[name] = CsvSink(Path(self._tmp.name) / f"{safe}-{len(self._runs) + 1}.csv")
        self._runs[name].write(result)
        self.state.publisher(name).publish(result)

    def finish(self, inputs: dict[str, str]) -> None:
        """The inputs were read to their end: end each source with its replay (``inputs``: source name -> the
        input's path, shown beside its results; a stream has none)."""
        from realtime_affect.serve.recording import Replay
        from realtime_affect.sources import is_stream_url

        for name, publisher in ((p.name, p) for p in self.state.all_publishers()):
            run = self._runs.pop(name, None)
            if run is None:
                publisher.end(None)
                continue
            run.close()
            location = inputs.get(name)
            video = Path(location) if location and not is_stream_url(location) else None
            publisher.end(Replay(run.path.name, run.path, video, "run", False))

    def close(self) -> None:
        """End every source still going (the pages show it) and its recordings, then stop the server."""
        try:
            for publisher in self.state.all_publishers():
                if not publisher.ended:
                    publisher.end(None)
            self.state.stop_recordings()
            for run in self._runs.values():
                run.close()
        finally:
            self.server.stop()
            self._tmp.cleanup()

    def __exit__(self, *exc: object) -> None:
        self.close()
