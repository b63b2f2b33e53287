"""Benchmark: training throughput (images per second) of the student architectures at 112x112.

Times full training steps (forward, the multi-task loss, backward, AdamW step) on random batches,
so the figure is the model's cost without data loading; prints the median of several steps per
architecture and the ratio between them, from one run.

    python benchmarks/bench_training.py [--archs small,resnet18] [--batch 32] [--steps 10] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="small,resnet18")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from realtime_affect.models.student import StudentNet
    from trainers.tasks import LossConfig, task_losses

    device = torch.device(args.device)
    results = {}
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        net = StudentNet(arch, 128).to(device).train()
        opt = torch.optim.AdamW(net.parameters(), 1e-3)
        b = args.batch
        batch = {"image": torch.randn(b, 3, 112, 112, device=device),
                 "expression": torch.randint(0, 8, (b,), device=device),
                 "aus": torch.randint(0, 2, (b, 12), device=device).float(),
                 "va": torch.rand(b, 2, device=device) * 2 - 1}
        times = []
        for step in range(args.steps + 2):
            t0 = time.perf_counter()
            loss = sum(task_losses(net(batch["image"]), batch, LossConfig()).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= 2:  # skip warm-up
                times.append(time.perf_counter() - t0)
        results[arch] = b / statistics.median(times)
        print(f"{arch:<10} {results[arch]:8.1f} images/s  (batch {b}, median of {args.steps} steps, {device})")
    names = list(results)
    for other in names[1:]:
        print(f"ratio {names[0]}/{other}: {results[names[0]] / results[other]:.2f}x images/s")


if __name__ == "__main__":
    main()
