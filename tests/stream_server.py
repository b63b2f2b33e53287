"""A real network stream for tests: an HTTP server on loopback sending a clip as MPEG-TS (encoded by FFmpeg
through PyAV), in real time and looped, to one client. Killing this process drops the stream as a camera that
loses power does; starting it again brings the camera back.

    python tests/stream_server.py CLIP PORT
"""
from __future__ import annotations

import socket
import sys
import time


def serve(clip: str, port: int) -> None:
    import av

    frames = []
    with av.open(clip) as src:
        for frame in src.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
    with socket.create_server(("127.0.0.1", port)) as server:
        print("listening", flush=True)
        conn, _ = server.accept()
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n")
    with conn.makefile("wb") as wire, av.open(wire, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "15"}
        start = time.monotonic()
        for i in range(10**9):
            img = frames[i % len(frames)]
            wait = start + i / 30 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)


if __name__ == "__main__":
    try:
        serve(sys.argv[1], int(sys.argv[2]))
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass
    except Exception as exc:  # the client went away: av raises its own error types
        print(f"stream_server: {type(exc).__name__}: {exc}", file=sys.stderr)
