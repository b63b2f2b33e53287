"""Benchmark: what ``--sample-fps`` saves and what it does to the readings.

For each rate (every frame, then each ``--rates`` value) the clip is analysed in this process with the model
opened once: wall time (median of ``--repeat``), analysed frames, and the cost per video hour on this machine
(wall time x the cores in use, per second of video: an upper bound, as in docs/scaling.md). Readings: flips of
the top expression per second of video, and agreement of each analysed frame's top expression with the
full-rate run's at the same frame.

    python benchmarks/bench_sampling.py [--clip PATH] [--rates 5,10,15] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(analyzer_cls, options_cls, clip: Path, rate: float | None) -> tuple[float, dict[int, str], float]:
    from realtime_affect.labels import EXPRESSIONS

    with analyzer_cls(options=options_cls(sample_fps=rate)) as analyzer:
        start = time.perf_counter()
        tops, last = {}, 0.0
        for result in analyzer.video(clip):
            last = result.time_s
            for face in result.faces[:1]:
                tops[result.frame.index] = EXPRESSIONS[int(face.prediction.expression.argmax())]
        return time.perf_counter() - start, tops, last


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=ROOT / "tests" / "data" / "WolfgangLanger_Pexels.mp4")
    p.add_argument("--rates", default="5,10,15")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    from realtime_affect import Analyzer, AnalyzerOptions

    cores = min(os.cpu_count() or 1, 2)
    rates: list[float | None] = [None] + [float(r) for r in args.rates.split(",")]
    full: dict[int, str] = {}
    print(f"clip: {args.clip.name}; cost per video hour = wall x {cores} cores / video seconds")
    print("| rate | analysed frames | wall s (median) | core-hours per video hour | flips per s "
          "| agreement with every frame |")
    print("|---|---|---|---|---|---|")
    for rate in rates:
        walls, tops, duration = [], {}, 0.0
        for _ in range(args.repeat):
            wall, tops, duration = run(Analyzer, AnalyzerOptions, args.clip, rate)
            walls.append(wall)
        if rate is None:
            full = tops
        seq = [tops[k] for k in sorted(tops)]
        flips = sum(a != b for a, b in zip(seq, seq[1:])) / max(duration, 1e-9)
        agree = statistics.mean(tops[k] == full[k] for k in tops if k in full) if full else float("nan")
        wall = statistics.median(walls)
        cost = wall * cores / max(duration, 1e-9)
        print(f"| {'every frame' if rate is None else f'{rate:g} fps'} | {len(tops)} | {wall:.2f} | {cost:.3f} | "
              f"{flips:.2f} | {agree:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
