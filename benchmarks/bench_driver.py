"""Benchmark: what driver monitoring adds to file annotation, as a user runs both.

Times ``affect-driver --video CLIP --csv OUT --events OUT`` against ``affect-live --video CLIP --csv OUT`` on the
same clip, each as a fresh process (start-up included: the same for both), in interleaved pairs
(live, then driver); prints each pair's ratio and their median (this machine's speed drifts between runs, so
pairs taken together scatter less than two medians taken apart).

    python benchmarks/bench_driver.py [--clip PATH] [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=ROOT / "tests" / "data" / "WolfgangLanger_Pexels.mp4")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    ratios, live_s, driver_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for _ in range(args.repeat):
            live = timed(["realtime_affect.cli", "--video", str(args.clip), "--csv", str(out / "live.csv"),
                          "--no-display", "--overwrite", "-q"])
            drv = timed(["realtime_affect.driver.cli", "--video", str(args.clip), "--csv", str(out / "driver.csv"),
                         "--events", str(out / "events.jsonl"), "--no-display", "--overwrite", "-q"])
            live_s.append(live)
            driver_s.append(drv)
            ratios.append(drv / live)
    print(f"clip: {args.clip.name}, {args.repeat} pairs (affect-live, then affect-driver), wall time per process")
    print(f"affect-live  --csv:            median {statistics.median(live_s):.2f} s")
    print(f"affect-driver --csv --events:  median {statistics.median(driver_s):.2f} s")
    print(f"ratio driver / live: {statistics.median(ratios):.3f}x (pairs: {', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"DriverMonitor.update alone: {monitor_ms(args.clip):.3f} ms per frame (median of 3 passes)")
    return 0


def monitor_ms(clip: Path) -> float:
    """The monitor's own cost per frame, on the clip's real results held in memory."""
    sys.path.insert(0, str(ROOT))
    from realtime_affect import Analyzer
    from realtime_affect.driver.monitor import DriverMonitor

    with Analyzer() as analyzer:
        results = list(analyzer.video(clip))
    passes = []
    for _ in range(3):
        monitor = DriverMonitor()
        start = time.perf_counter()
        for result in results:
            monitor.update(result)
        passes.append((time.perf_counter() - start) * 1000 / len(results))
    return statistics.median(passes)


if __name__ == "__main__":
    sys.exit(main())
