"""Everything a running server shares between its routes and its analysis threads."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from realtime_affect.serve.access import AccessPolicy
from realtime_affect.serve.hub import Hub
from realtime_affect.serve.recording import Replay
from realtime_affect.serve.streams import StreamPublisher


@dataclass
class ServeState:
    hub: Hub
    policy: AccessPolicy
    record_dir: Path
    driver: bool = False
    cameras: object | None = None  # browser_camera.BrowserCameras when browsers may send their camera
    #: The server has a source of its own (--video, --camera) that may not have sent a frame yet: pages wait
    #: for it instead of falling back to the visitor's camera.
    expects_source: bool = False
    publishers: dict[str, StreamPublisher] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publisher(self, name: str, fps: float = 30.0) -> StreamPublisher:
        """The publisher of source ``name`` (made on first use)."""
        with self._lock:
            if name not in self.publishers:
                self.publishers[name] = StreamPublisher(self.hub, name, self.driver, fps)
            return self.publishers[name]

    def sources(self) -> list[str]:
        with self._lock:
            return list(self.publishers)

    def server_sources(self) -> list[str]:
        """The sources of the server's own (not visitors' browser cameras)."""
        return [name for name in self.sources() if not name.startswith("browser-")]

    def all_publishers(self) -> list[StreamPublisher]:
        with self._lock:
            return list(self.publishers.values())

    def find(self, name: str) -> StreamPublisher | None:
        """The publisher of source ``name``, or None when no such source has started."""
        with self._lock:
            return self.publishers.get(name)

    def recordings(self) -> dict[str, str]:
        """Source -> the results file being recorded now."""
        with self._lock:
            return {n: str(p.recording.results_path) for n, p in self.publishers.items() if p.recording is not None}

    def ended(self) -> list[dict]:
        """Sources that have finished, with the replay each offers (for pages and programs that join late)."""
        with self._lock:
            return [{"source": n, "replay": p.final_replay} for n, p in self.publishers.items() if p.ended]

    def replays(self) -> list[Replay]:
        with self._lock:
            return [r for p in self.publishers.values() for r in p.replays]

    def replay(self, name: str) -> Replay | None:
        """Only files this server wrote can be replayed: a name is looked up, never opened as a path."""
        return next((r for r in self.replays() if r.name == name), None)

    def stop_recordings(self) -> None:
        for publisher in self.all_publishers():
            publisher.stop_recording()
