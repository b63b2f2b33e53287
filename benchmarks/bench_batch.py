"""Benchmark: affect-batch throughput (frames per second over the whole batch) with --workers 1, --workers 2
and --ray (local), all in one run on the same inputs, plus Ray's per-task overhead measured locally.

    python benchmarks/bench_batch.py [--copies 4] [--model PATH] [--ray-address HOST:PORT]

``--ray-address`` adds a configuration on a running cluster (``ray start --head`` ...), for example a two-node
cluster on this machine (docs/scaling.md says how it was started).

The batch is ``--copies`` copies of each test clip with a face (Pexels, single_face, face_noface). Each
configuration runs the real command (``python -m realtime_affect.batch.cli``) in a fresh process, so the
figures include start-up, as a user sees them. Ray's overhead is the wall time of no-op tasks after start-up.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov")


def run(inputs: Path, out: Path, extra: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "realtime_affect.batch.cli", str(inputs), "--out", str(out), "-q",
                           *extra], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads((out / "summary.json").read_text())


def ray_task_overhead(n: int = 200) -> float | None:
    """Milliseconds per no-op Ray task on a local Ray (after start-up), or None without Ray."""
    try:
        import ray
    except ImportError:
        return None
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        noop = ray.remote(num_cpus=1)(lambda: None)
        ray.get([noop.remote() for _ in range(10)])  # warm workers
        start = time.perf_counter()
        ray.get([noop.remote() for _ in range(n)])
        return (time.perf_counter() - start) * 1000.0 / n
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--ray-address", metavar="HOST:PORT", help="also measure --ray on this running cluster")
    args = parser.parse_args()
    model = ["--model", str(args.model)] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs"
        inputs.mkdir()
        for i in range(args.copies):
            for clip in CLIPS:
                (inputs / f"{i}-{clip}").symlink_to(ROOT / "tests/data" / clip)
        configs = [("--workers 1", ["--workers", "1"]), ("--workers 2", ["--workers", "2"])]
        try:
            import ray  # noqa: F401
            configs.append(("--ray (local, 2 CPUs)", ["--ray", "--workers", "2"]))
        except ImportError:
            print("Ray not installed: --ray not measured (pip install 'realtime-affect[ray]')")
        if args.ray_address:
            configs.append((f"--ray {args.ray_address} (cluster)", ["--ray", args.ray_address]))
        figures = {}
        for name, extra in configs:
            seconds, summary = run(inputs, Path(tmp) / f"out{len(figures)}", extra + model)
            figures[name] = (summary["frames"] / seconds, seconds, summary["frames"])
    base = figures["--workers 1"][0]
    print(f"batch: {args.copies} copies of {len(CLIPS)} clips ({next(iter(figures.values()))[2]} frames)")
    for name, (fps, seconds, _) in figures.items():
        print(f"{name:<34} {fps:6.1f} fps over the batch ({seconds:5.1f} s wall, start-up included), "
              f"{fps / base:.2f}x --workers 1")
    overhead = ray_task_overhead()
    if overhead is not None:
        print(f"Ray per-task overhead (local, no-op tasks after start-up): {overhead:.2f} ms")


if __name__ == "__main__":
    main()
