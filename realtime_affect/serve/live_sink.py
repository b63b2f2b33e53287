"""``affect-live --serve PORT``: an ordinary run that also streams every analysed frame on ``/ws/results``
(and shows it on the dashboard at ``/``). A sink like the CSV one; the server runs in its own thread."""
from __future__ import annotations

from pathlib import Path

from realtime_affect.serve.access import access_policy
from realtime_affect.serve.hub import Hub
from realtime_affect.serve.server import ServerThread
from realtime_affect.serve.state import ServeState


class ServeSink:
    """Publishes each result under its source's name; ``close`` ends the sources and stops the server."""

    def __init__(self, host: str, port: int, token_warning, record_dir: Path = Path("recordings")) -> None:
        policy = access_policy(host, None, (), token_warning)
        self.state = ServeState(Hub(), policy, record_dir)
        self.server = ServerThread(self.state, host, port)
        self.path = None  # sinks name their file; this one has none

    def __enter__(self) -> "ServeSink":
        self.server.start()
        return self

    def write(self, result) -> None:
        self.state.publisher(result.frame.image_path and "images" or result.frame.source or "input").publish(result)

    def close(self) -> None:
        """End every source (the pages show it) and its recordings, then stop the server."""
        try:
            for publisher in self.state.all_publishers():
                publisher.end(None)
            self.state.stop_recordings()
        finally:
            self.server.stop()

    def __exit__(self, *exc: object) -> None:
        self.close()
