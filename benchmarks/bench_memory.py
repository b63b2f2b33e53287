"""Benchmark: resident memory over a long run (a clip looped to --frames frames, one stream).

Prints RSS after warm-up and every --every frames, growth after warm-up in percent, and the peak.
The frames go through what ``affect-live --video`` runs (faces found a frame ahead, tracking, windows,
student, GRU) and a CSV sink; the student's helper process, when there is one, is measured beside this one.

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


def rss_mb(pid: str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            pages = int(fh.read().split()[1])
    except OSError:  # the process has just ended
        return 0.0
    return pages * resource.getpagesize() / 2 ** 20


def children_rss_mb() -> float:
    """Resident memory of this process's children (the student's helper process)."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += (task / "children").read_text().split()
        except OSError:
            continue
    return sum(rss_mb(pid) for pid in pids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT / "tests/data/WolfgangLanger_Pexels.mp4")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--every", type=int, default=1000)
    args = parser.parse_args()

    import av

    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.types import Frame

    with av.open(str(args.clip)) as c:
        clip = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    fps = 24.0
    samples = []
    start = time.perf_counter()
    def frames():
        for i in range(args.frames):
            # ping-pong through the clip so the face moves smoothly and stays one track
            k = i % (2 * len(clip) - 2)
            yield Frame(index=i, time_s=i / fps, bgr=clip[k if k < len(clip) else 2 * len(clip) - 2 - k])

    with tempfile.TemporaryDirectory() as tmp, open_model(resolve_model(args.model)) as model, \
            CsvSink(Path(tmp) / "o.csv") as sink:
        warm = helper_warm = None
        for n, result in enumerate(analyze_video(model, frames(), AnalyzerOptions()), start=1):
            sink.write(result)
            if n == min(1000, args.frames):
                warm, helper_warm = rss_mb(), children_rss_mb()
            if n % args.every == 0:
                samples.append((n, rss_mb(), children_rss_mb()))
                print(f"{n:>6} frames: RSS {samples[-1][1]:7.1f} MB, helper process {samples[-1][2]:6.1f} MB",
                      flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    last, helper_last = samples[-1][1], samples[-1][2]
    print(f"after warm-up {warm:.1f} MB, at the end {last:.1f} MB: growth {100 * (last - warm) / warm:+.1f}%; "
          f"peak RSS {peak:.1f} MB; {args.frames / (time.perf_counter() - start):.1f} fps")
    if helper_warm:
        print(f"student's helper process: {helper_warm:.1f} MB after warm-up, {helper_last:.1f} MB at the end "
              f"({100 * (helper_last - helper_warm) / helper_warm:+.1f}%)")


if __name__ == "__main__":
    main()
