"""Benchmark: the dashboard server on this machine, over loopback.

1. Browser camera -> results latency: headless Chromium (Debian's ``chromium``) with its fake camera playing a
   640x360 clip sends frames to ``affect-serve`` (newest frame wins, one in flight); the page measures from
   grabbing a frame to drawing its answer. p50 and p95 over ``--seconds``, after a warm-up.
2. The same from a program (a WebSocket client sending the clip's frames as JPEG, one in flight): the server's
   share of that latency, without the browser.
3. Throughput with viewers: ``affect-serve --video CLIP --fast`` (analysis as fast as it goes) with 1 and then 20
   subscribers on ``/ws/view`` (frames with their JPEG, what pages get) and on ``/ws/results``: analysed frames
   per second as a subscriber sees them, and the ratio to one subscriber.

    python benchmarks/bench_serve.py [--clip PATH] [--seconds 20] [--viewers 20]
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the DevTools helper shared with the browser tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(*args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.serve.cli", *args, "--port", str(port), "-q"],
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("affect-serve did not start") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def browser_latency(clip: Path, seconds: float, tmp: Path) -> dict:
    from browser import Browser, write_y4m

    y4m = write_y4m(clip, tmp / "camera.y4m", seconds=10)
    proc, port = serve()
    try:
        with Browser(fake_camera=y4m) as browser:
            browser.open(f"http://127.0.0.1:{port}/?mode=camera")
            browser.wait_for("window.affect && affect.frames > 30", timeout=90)
            browser.evaluate("affect.latencies.length = 0; affect.timings.length = 0")
            start_frames = browser.evaluate("affect.frames")
            t0 = time.monotonic()
            time.sleep(seconds)
            latencies = browser.evaluate("affect.latencies")
            timings = browser.evaluate("affect.timings")
            answered = browser.evaluate("affect.frames") - start_frames
            elapsed = time.monotonic() - t0
    finally:
        stop(proc)
    server = [t["server"] for t in timings]
    encode = [t["encode"] for t in timings]
    return {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95), "n": len(latencies), "fps": answered / elapsed,
            "server": (pct(server, 0.5), pct(server, 0.95)), "encode": (pct(encode, 0.5), pct(encode, 0.95))}


def program_latency(clip: Path, seconds: float) -> dict:
    import cv2
    from websockets.sync.client import connect

    from helpers import decode_frames
    from realtime_affect.serve.protocol import pack

    jpegs = [cv2.imencode(".jpg", cv2.resize(f, (640, 360)), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
             for f in decode_frames(clip, limit=240)]
    proc, port = serve()
    latencies: list[float] = []
    try:
        with connect(f"ws://127.0.0.1:{port}/ws/camera", open_timeout=30, max_size=None) as ws:
            ws.recv(timeout=30)
            n, t_end = 0, None
            start = time.monotonic()
            while True:
                now = time.monotonic()
                if now - start > 3 and t_end is None:  # warm-up done
                    latencies.clear()
                    t_end = now + seconds
                if t_end is not None and now > t_end:
                    break
                sent = time.perf_counter()
                ws.send(pack({"id": n, "sent_ms": sent * 1000}, jpegs[n % len(jpegs)]))
                answer = json.loads(ws.recv(timeout=30))
                if answer["type"] == "frame":
                    latencies.append((time.perf_counter() - sent) * 1000)
                n += 1
                time.sleep(max(0.0, 1 / 30 - (time.perf_counter() - sent)))  # a 30 fps camera
    finally:
        stop(proc)
    return {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95), "n": len(latencies)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that it waited for (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def viewers_throughput(clip: Path, viewers: int, path: str) -> tuple[float, float]:
    """Analysed frames per second seen by subscriber 0 (first frame seen -> the end message). The subscribers
    share one asyncio loop in this process (cheap on the client side, so the figure is the server's)."""
    import asyncio

    import websockets

    proc, port = serve("--video", str(clip), "--fast", "--no-browser-camera")
    seen: list[list[tuple[float, int]]] = [[] for _ in range(viewers)]
    cpu: list[float] = []  # the server's CPU seconds at subscriber 0's first frame and at the end

    async def watch(i: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}", open_timeout=30, max_size=None) as ws:
            async for data in ws:
                if i > 0:  # the others only read (a subscriber elsewhere parses on its own machine)
                    if isinstance(data, str) and '"type":"end"' in data:
                        return
                    continue
                if isinstance(data, bytes):
                    n = int.from_bytes(data[:4], "big")
                    message = json.loads(data[4:4 + n])
                else:
                    message = json.loads(data)
                if message["type"] == "frame":
                    seen[i].append((time.monotonic(), message["frame"]))
                    if len(seen[i]) == 1:
                        cpu.append(cpu_seconds(proc.pid))
                elif message["type"] == "end":
                    cpu.append(cpu_seconds(proc.pid))
                    return

    async def everyone() -> None:
        await asyncio.wait_for(asyncio.gather(*(watch(i) for i in range(viewers))), timeout=600)

    asyncio.run(everyone())
    stop(proc)
    frames = seen[0]
    (first_t, first_frame), (last_t, last_frame) = frames[0], frames[-1]
    analysed = max(last_frame - first_frame, 1)
    return analysed / max(last_t - first_t, 1e-9), (cpu[-1] - cpu[0]) * 1000.0 / analysed


def main() -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=ROOT / "tests" / "data" / "WolfgangLanger_Pexels.mp4")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--viewers", type=int, default=20)
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--only-browser", action="store_true")
    p.add_argument("--pairs", type=int, default=3, help="1-then-N subscriber runs per endpoint (median ratio)")
    args = p.parse_args()
    print(f"clip {args.clip.name}, 640x360, loopback")
    if not args.skip_browser:
        with tempfile.TemporaryDirectory() as tmp:
            b = browser_latency(args.clip, args.seconds, Path(tmp))
        print(f"browser camera -> results (Chromium): p50 {b['p50']:.1f} ms, p95 {b['p95']:.1f} ms over {b['n']} "
              f"frames, {b['fps']:.1f} answers/s; of which the page's grab + JPEG encode p50 {b['encode'][0]:.1f} / "
              f"p95 {b['encode'][1]:.1f} ms, the server (frame received -> answer sent) p50 {b['server'][0]:.1f} / "
              f"p95 {b['server'][1]:.1f} ms")
    if args.only_browser:
        return 0
    c = program_latency(args.clip, args.seconds)
    print(f"program camera -> results: p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms over {c['n']} frames")
    for path in ("/ws/view", "/ws/results"):  # the analysis rate itself moves 10-20% between runs: pairs
        pairs = []
        for k in range(args.pairs):  # alternate which goes first, against drift
            order = (1, args.viewers) if k % 2 == 0 else (args.viewers, 1)
            got = {n: viewers_throughput(args.clip, n, path) for n in order}
            pairs.append((got[1], got[args.viewers]))
        ratios = sorted(many[0] / one[0] for one, many in pairs)
        cost = sorted(many[1] / one[1] for one, many in pairs)
        print(f"{path}: 1 subscriber {', '.join(f'{a[0]:.1f}' for a, _ in pairs)} fps; {args.viewers} subscribers "
              f"{', '.join(f'{b[0]:.1f}' for _, b in pairs)} fps; median ratio {ratios[len(ratios) // 2]:.3f} "
              f"(pairs: {', '.join(f'{r:.3f}' for r in ratios)}). Server CPU per analysed frame: 1 subscriber "
              f"{statistics.median(a[1] for a, _ in pairs):.1f} ms, {args.viewers} subscribers "
              f"{statistics.median(b[1] for _, b in pairs):.1f} ms (median ratio {cost[len(cost) // 2]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
