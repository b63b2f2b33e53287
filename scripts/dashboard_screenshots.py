"""Screenshots of the dashboard for the README: the live view of a clip (with its plots) and the replay of the
finished file, in headless Chromium (Debian's ``chromium``), 1400x900, downscaled to ``--width``.

    python scripts/dashboard_screenshots.py [--clip PATH] [--out docs/images]
"""
from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    from browser import Browser

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=ROOT / "tests" / "data" / "WolfgangLanger_Pexels.mp4")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    p.add_argument("--width", type=int, default=1100)
    p.add_argument("--live-after", type=float, default=12.0, help="seconds of playback before the live shot")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.serve.cli", "--video", str(args.clip), "--port",
                             str(port), "--no-browser-camera", "-q"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        with Browser() as browser:
            browser.open(f"http://127.0.0.1:{port}/")
            browser.wait_for("window.affect && affect.frames > 5", timeout=60)
            time.sleep(args.live_after)
            save(browser.screenshot(args.out / "dashboard_live.png"), args.out / "dashboard_live.png", args.width)
            browser.wait_for("affect.ended", timeout=300)
            browser.evaluate("document.getElementById('banner-replay').click()")
            frames = browser.wait_for("affect.replay && affect.replay.frames", timeout=60)
            browser.wait_for("affect.replay.ready", timeout=60)
            browser.evaluate(f"(() => {{ const s = document.getElementById('scrub'); s.value = {int(frames * 0.7)};"
                             " s.dispatchEvent(new Event('input')); })()")
            browser.wait_for(f"affect.replay.index === {int(frames * 0.7)} && "
                             "!document.getElementById('replay-video').seeking", timeout=30)
            time.sleep(1.0)
            save(browser.screenshot(args.out / "dashboard_replay.png"), args.out / "dashboard_replay.png",
                 args.width)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    print(f"wrote {args.out / 'dashboard_live.png'} and {args.out / 'dashboard_replay.png'}")
    return 0


def save(shot, path: Path, width: int) -> None:
    h, w = shot.shape[:2]
    small = cv2.resize(shot, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    sys.exit(main())
