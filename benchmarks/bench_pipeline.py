"""Benchmark: file annotation speed and per-stage cost for one clip, against the floor.

The floor is decode + FaceLandmarker alone on the same clip (nothing else the product does);
the pipeline run is the whole of ``affect-live --video CLIP --csv OUT`` minus start-up, with faces found
one frame ahead in a worker thread (the default) and, for comparison, all in one thread.
Both are measured in this one run, ``--repeat`` times each, each pipeline run right after its own floor run;
the ratio printed is the median of those per-pair ratios (this shared VM's speed drifts by 10-20% within a
minute, so a ratio of two medians taken minutes apart scatters more than the effects measured), and the fps
are medians.

    python benchmarks/bench_pipeline.py [--clip PATH] [--model PATH] [--compare PATH] [--repeat 3]

``--compare OTHER`` also runs a second model file in the same run (interleaved with the first) and prints
the fps ratio between the two: how a new default model's cost compares with the previous one's.

Without ``--model`` a randomly initialised model of the default architecture ("small" student +
GRU) is used: speed does not depend on the weights.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def floor_run(clip: Path, max_faces: int) -> tuple[float, int]:
    """Decode + landmarks only: seconds, frames."""
    import cv2

    from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions
    from realtime_affect.sources import VideoSource

    start = time.perf_counter()
    n = 0
    with VideoSource(clip) as source, Landmarker(LandmarkerOptions(max_faces=max_faces + 2)) as lm:
        for frame in source:
            lm.detect(cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB), frame.time_s)
            n += 1
    return time.perf_counter() - start, n


def pipeline_run(clip: Path, model, max_faces: int, full_range: bool = True, overlap: bool = True):
    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions
    from realtime_affect.runner import analyze_video
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.sources import VideoSource
    from realtime_affect.timing import StageTimer

    timer = StageTimer()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        n = 0
        with VideoSource(clip) as source, CsvSink(Path(tmp) / "out.csv") as sink:
            for result in analyze_video(model, source, AnalyzerOptions(finder=FinderOptions(max_faces=max_faces, full_range=full_range)),
                                        timer, overlap=overlap):
                t0 = time.perf_counter()
                sink.write(result)
                timer.add("sink", (time.perf_counter() - t0) * 1000)
                n += 1
        return time.perf_counter() - start, n, timer.per_frame()


def build_grid4(path: Path) -> Path:
    """Four faces in a 1280x720 2x2 grid: the Pexels clip, single_face, face_noface and Pexels mirrored."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import FACE_NOFACE, PEXELS, SINGLE_FACE, decode_frames, write_video

    a, b, c = (decode_frames(p, 72, (640, 360)) for p in (PEXELS, SINGLE_FACE, FACE_NOFACE))
    frames = [np.vstack([np.hstack([a[i], b[i]]), np.hstack([c[i], a[i][:, ::-1]])]) for i in range(72)]
    return write_video(path, frames, fps=30)


def default_model(tmp: Path) -> Path:
    import torch

    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.sequence import SequenceNet
    from realtime_affect.models.student import StudentNet

    torch.manual_seed(0)
    return save_checkpoint(tmp / "bench.pt", ModelCard(name="bench-random"), StudentNet("small", 128),
                           SequenceNet(128, 128))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT / "tests/data/WolfgangLanger_Pexels.mp4")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--compare", type=Path, help="a second model file measured in the same run")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--max-faces", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: what affect-live "
                        "uses, realtime_affect.system.cores.model_threads())")
    parser.add_argument("--grid4", action="store_true",
                        help="use a 1280x720 2x2 grid of four faces built from the test clips (72 frames)")
    args = parser.parse_args()
    if args.grid4:
        args.clip = build_grid4(Path(tempfile.mkdtemp()) / "grid4.mp4")

    from realtime_affect.models.loader import open_model
    from realtime_affect.system.cores import model_threads

    args.threads = args.threads or model_threads()

    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or default_model(Path(tmp))
        model = open_model(model_path, backend=args.backend, threads=args.threads)
        other = open_model(args.compare, backend=args.backend, threads=args.threads) if args.compare else None
        floors, runs, stages, near_only, other_runs, serial, pairs = [], [], [], [], [], [], []
        pipeline_run(args.clip, model, args.max_faces)  # warm-up (first-call costs, page cache)
        if other is not None:
            pipeline_run(args.clip, other, args.max_faces)
        for _ in range(args.repeat):
            fs, fn = floor_run(args.clip, args.max_faces)
            ps, pn, st = pipeline_run(args.clip, model, args.max_faces)
            pairs.append(ps / fs)
            near_only.append(pipeline_run(args.clip, model, args.max_faces, full_range=False)[0])
            serial.append(pipeline_run(args.clip, model, args.max_faces, overlap=False)[0])
            if other is not None:
                other_runs.append(pipeline_run(args.clip, other, args.max_faces)[0])
            floors.append(fs)
            runs.append(ps)
            stages.append(st)
        model.close()
        if other is not None:
            other.close()
    floor, run = statistics.median(floors), statistics.median(runs)
    print(f"clip: {args.clip.name}, {pn} frames, model: {model_path.name} ({model.backend_name})")
    print(f"floor (decode + landmarks): {fn / floor:7.1f} fps  {floor:6.2f} s  (median of {args.repeat})")
    print(f"pipeline (everything + CSV): {pn / run:7.1f} fps  {run:6.2f} s")
    print(f"ratio pipeline / floor: {statistics.median(pairs):.2f}x (median of {len(pairs)} floor-then-pipeline "
          f"pairs: {', '.join(f'{r:.2f}' for r in sorted(pairs))}; ratio of the medians {run / floor:.2f}x)")
    one = statistics.median(serial)
    print(f"one thread (faces not found ahead): {pn / one:7.1f} fps; ratio to floor {one / floor:.2f}x; "
          f"overlap speed-up {one / run:.2f}x")
    near = statistics.median(near_only)
    print(f"without full-range sweeps (--no-full-range): {pn / near:7.1f} fps; full-range costs "
          f"{100 * (run / near - 1):+.1f}% time")
    if other_runs:
        o = statistics.median(other_runs)
        print(f"compared model {args.compare.name}: {pn / o:7.1f} fps  {o:6.2f} s; "
              f"fps {model_path.name} / {args.compare.name}: {o / run:.2f}x")
    names = sorted({k for st in stages for k in st})
    print("ms per frame (median): " + ", ".join(f"{k} {statistics.median(st.get(k, 0.0) for st in stages):.2f}"
                                                for k in names))


if __name__ == "__main__":
    main()
