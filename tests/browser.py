"""Headless Chromium driven over the DevTools protocol (only the ``websockets`` package), for the dashboard
tests and the latency benchmark: load a page, evaluate JavaScript, take screenshots. The fake camera plays a
Y4M clip (``write_y4m``) in a loop, as a visitor's webcam would."""
from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np


def chromium_path() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def write_y4m(video: Path, out: Path, seconds: float = 6.0, size: tuple[int, int] = (640, 360)) -> Path:
    """The first ``seconds`` of ``video`` as an uncompressed Y4M (Chromium's fake camera format)."""
    import av
    import cv2

    w, h = size
    with av.open(str(video)) as container, out.open("wb") as f:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        f.write(f"YUV4MPEG2 W{w} H{h} F{round(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for i, frame in enumerate(container.decode(stream)):
            if i >= seconds * fps:
                break
            bgr = cv2.resize(frame.to_ndarray(format="bgr24"), (w, h), interpolation=cv2.INTER_AREA)
            f.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return out


class Browser:
    """One headless Chromium with one page. ``evaluate`` returns JSON-able values."""

    def __init__(self, fake_camera: Path | None = None, width: int = 1400, height: int = 900) -> None:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="affect-chromium-")
        self._stack = contextlib.ExitStack()
        args = [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--remote-debugging-port=0", f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
                "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required", "about:blank"]
        if fake_camera is not None:
            args[1:1] = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={fake_camera}"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self._ws = self._stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024,
                                                     open_timeout=10))
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, timeout: float = 30.0, **params) -> dict:
        n = next(self._ids)
        self._ws.send(json.dumps({"id": n, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == n:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, every: float = 0.2):
        """Poll ``expression`` until it is truthy; returns its value (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true within {timeout:.0f} s: {expression}")
            time.sleep(every)

    def screenshot(self, path: Path) -> np.ndarray:
        """Save a PNG of the page; returns it as a BGR array."""
        import base64

        import cv2

        data = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(data)
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
