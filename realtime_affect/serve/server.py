"""A server in a background thread (uvicorn on its own event loop), so that the caller's thread keeps the
analysis and Ctrl-C handling: ``affect-serve`` and ``affect-live --serve`` both use it."""
from __future__ import annotations

import logging
import threading
import time

from realtime_affect.errors import SetupError
from realtime_affect.serve.state import ServeState

log = logging.getLogger(__name__)

#: Largest WebSocket message accepted (a browser camera frame); bigger ones close the socket (code 1009).
MAX_MESSAGE_BYTES = 2 * 1024 * 1024


class ServeError(SetupError, RuntimeError):
    """The server could not start (port taken, address not available, ``[serve]`` extra missing)."""


def require_serve_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as exc:
        raise ServeError(f"serving needs the [serve] extra ({exc.name} is missing): "
                         "pip install 'realtime-affect[serve]'") from None


class ServerThread:
    """``start()`` returns once the socket listens (or raises ``ServeError``); ``stop()`` closes it."""

    def __init__(self, state: ServeState, host: str = "127.0.0.1", port: int = 8765) -> None:
        require_serve_extra()
        import uvicorn

        from realtime_affect.serve.app import build_app

        self.state = state
        self.host = host
        self.config = uvicorn.Config(build_app(state), host=host, port=port, log_level="warning",
                                     ws_max_size=MAX_MESSAGE_BYTES, ws_ping_interval=10.0, ws_ping_timeout=20.0,
                                     timeout_graceful_shutdown=2, lifespan="on")
        self.server = uvicorn.Server(self.config)
        self._thread = threading.Thread(target=self._serve, name="affect-serve", daemon=True)
        self._error: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # SystemExit from uvicorn when it cannot bind
            self._error = exc

    def start(self, timeout: float = 20.0) -> "ServerThread":
        # uvicorn logs a failed bind itself, then exits: that becomes our one line, not two
        startup_log = logging.getLogger("uvicorn.error")
        level = startup_log.level
        startup_log.setLevel(logging.CRITICAL)
        try:
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self.server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    raise ServeError(f"could not listen on {self.host}:{self.config.port} "
                                     "(is the port taken? try another --port)")
                time.sleep(0.02)
        finally:
            startup_log.setLevel(level)
        return self

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self.config.port)

    def url(self, path: str = "/") -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        query = f"?token={self.state.policy.token}" if self.state.policy.token else ""
        return f"http://{host}:{self.port}{path}{query}"

    def stop(self) -> None:
        self.state.hub.close()
        time.sleep(0.2)  # the sockets send their close frames
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
