"""Benchmark: resident memory over a long run (a clip looped to --frames frames, one stream).

Prints RSS after warm-up and every --every frames, growth after warm-up in percent, and the peak.
The frames go through the whole analyzer (tracking, windows, student, GRU) and a CSV sink.

    python benchmarks/bench_memory.py [--frames 20000] [--clip PATH] [--model PATH]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT / "tests/data/WolfgangLanger_Pexels.mp4")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--every", type=int, default=1000)
    args = parser.parse_args()

    import av

    from engines.loader import open_model
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.pipeline import AnalyzerOptions, StreamAnalyzer
    from realtime_affect.runner import _finder
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.types import Frame

    with av.open(str(args.clip)) as c:
        clip = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    fps = 24.0
    samples = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, open_model(resolve_model(args.model)) as model, \
            _finder(AnalyzerOptions(), video=True) as finder, CsvSink(Path(tmp) / "o.csv") as sink:
        analyzer = StreamAnalyzer(model, finder, AnalyzerOptions())
        warm = None
        for i in range(args.frames):
            # ping-pong through the clip so the face moves smoothly and stays one track
            k = i % (2 * len(clip) - 2)
            img = clip[k if k < len(clip) else 2 * len(clip) - 2 - k]
            for result in analyzer.process(Frame(index=i, time_s=i / fps, bgr=img)):
                sink.write(result)
            if i + 1 == min(1000, args.frames):
                warm = rss_mb()
            if (i + 1) % args.every == 0:
                samples.append((i + 1, rss_mb()))
                print(f"{i + 1:>6} frames: RSS {samples[-1][1]:7.1f} MB", flush=True)
        for result in analyzer.flush():
            sink.write(result)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    last = samples[-1][1]
    print(f"after warm-up {warm:.1f} MB, at the end {last:.1f} MB: growth {100 * (last - warm) / warm:+.1f}%; "
          f"peak RSS {peak:.1f} MB; {args.frames / (time.perf_counter() - start):.1f} fps")


if __name__ == "__main__":
    main()
