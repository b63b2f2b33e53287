"""Benchmark: live mode on a clip fed as a camera at its own frame rate (newest frame wins).

Prints processed fps, frames skipped because the pipeline was busy, and latency from frame read
(capture) to results: p50 / p95 / max, one run.

    python benchmarks/bench_live.py [--clip PATH] [--model PATH] [--lookahead K]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class PacedCapture:
    """A cv2.VideoCapture stand-in that delivers decoded frames at the clip's real rate."""

    def __init__(self, frames, fps: float) -> None:
        self.frames, self.period, self.i, self.t0 = frames, 1.0 / fps, 0, None

    def isOpened(self) -> bool:
        return True

    def set(self, *_):
        return True

    def read(self):
        if self.t0 is None:
            self.t0 = time.monotonic()
        if self.i >= len(self.frames):
            return False, None
        wait = self.t0 + self.i * self.period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.i += 1
        return True, self.frames[self.i - 1]

    def release(self) -> None:
        self.i = len(self.frames)


def run_once(model, frames, fps: float, temporal: bool, lookahead: int) -> dict:
    """Feed the clip once as a camera at its frame rate; latency of each result from frame read."""
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.runner import analyze_camera
    from realtime_affect.sources import CameraSource

    latencies = []
    start = time.perf_counter()
    with CameraSource("clip", capture=PacedCapture(frames, fps)) as camera:
        for result in analyze_camera(model, camera, AnalyzerOptions(temporal=temporal), lookahead=lookahead):
            latencies.append((time.monotonic() - result.frame.captured_at) * 1000.0)
        dropped = camera.dropped
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"processed": len(latencies), "elapsed": elapsed, "dropped": dropped,
            "p50": statistics.median(latencies), "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
            "max": latencies[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT / "tests/data/WolfgangLanger_Pexels.mp4")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--lookahead", type=int, default=0)
    parser.add_argument("--compare-per-frame", action="store_true",
                        help="also run the same model without its temporal model, interleaved, and print the "
                             "difference of the p95 latencies (what the GRU costs live)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode (interleaved)")
    args = parser.parse_args()

    import av

    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_camera
    from realtime_affect.sources import CameraSource

    with av.open(str(args.clip)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    model_path = resolve_model(args.model, args.backend)
    modes = [True, False] if args.compare_per_frame else [True]
    runs: dict[bool, list[dict]] = {m: [] for m in modes}
    with open_model(model_path, backend=args.backend) as model:
        with CameraSource("clip", capture=PacedCapture(frames[:30], fps)) as warm:  # warm-up
            for _ in analyze_camera(model, warm):
                pass
        for _ in range(args.repeat):
            for temporal in modes:
                runs[temporal].append(run_once(model, frames, fps, temporal, args.lookahead))
        has_gru = model.sequence is not None
    print(f"clip: {args.clip.name} fed at {fps:.2f} fps, {len(frames)} frames; model {model_path.name} "
          f"({model.backend_name}, temporal model: {'yes' if has_gru else 'no'}), lookahead {args.lookahead}")
    for temporal in modes:
        for r in runs[temporal]:
            print(f"{'temporal' if temporal else 'per-frame'}: processed {r['processed']} frames in "
                  f"{r['elapsed']:.1f} s ({r['processed'] / r['elapsed']:.1f} fps), skipped {r['dropped']}; latency "
                  f"frame read -> results: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms")
    if args.compare_per_frame:
        p95 = {m: statistics.median(r["p95"] for r in runs[m]) for m in modes}
        print(f"median p95: temporal {p95[True]:.1f} ms, per-frame {p95[False]:.1f} ms, "
              f"difference {p95[True] - p95[False]:+.1f} ms")


if __name__ == "__main__":
    main()
