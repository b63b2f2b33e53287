"""Per-frame signals of the driver monitor's subject on clips, for choosing and checking its rules: the
monitor's own state (eyes, mouth, yawn, events) beside the cues a rule may use (blendshapes of mouth, brows and
eyes; expression probabilities; head pitch). One CSV per clip.

    python scripts/driver_signals.py CLIP [CLIP ...] --out DIR
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = ("jawOpen", "mouthStretchLeft", "mouthStretchRight", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
          "mouthSmileRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight",
          "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
          "eyeLookDownLeft", "eyeLookDownRight", "cheekSquintLeft", "mouthLowerDownLeft", "mouthUpperUpLeft")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", type=Path)
    args = p.parse_args(argv)

    from realtime_affect import Analyzer, AnalyzerOptions
    from realtime_affect.driver.config import DriverConfig
    from realtime_affect.driver.monitor import DriverMonitor
    from realtime_affect.faces.landmarker import BLENDSHAPES
    from realtime_affect.labels import EXPRESSIONS

    args.out.mkdir(parents=True, exist_ok=True)
    config = DriverConfig()
    columns = ["frame", "time_s", "eye_state", "open_l", "open_r", "mouth", "yawn", "pitch", "active",
               *SHAPES, *EXPRESSIONS]
    with Analyzer(model=args.model, options=AnalyzerOptions(eyes=config.eyes)) as analyzer:
        for clip in args.clips:
            monitor = DriverMonitor(config)
            lines = [",".join(columns)]
            for result in analyzer.video(clip):
                state = monitor.update(result)
                face = monitor.pick_subject(result)
                shapes = ["" for _ in SHAPES]
                probs = ["" for _ in EXPRESSIONS]
                if face is not None and face.face.blendshapes is not None:
                    shapes = [f"{face.face.blendshapes[BLENDSHAPES.index(s)]:.3f}" for s in SHAPES]
                if face is not None:
                    probs = [f"{v:.3f}" for v in face.prediction.expression]
                lines.append(",".join([str(result.index), f"{result.time_s:.3f}", state.eye_state,
                                       f"{state.eye_open_left:.3f}", f"{state.eye_open_right:.3f}",
                                       f"{state.mouth_open:.3f}", str(int(state.yawn)), f"{state.pitch:.1f}",
                                       "|".join(state.active), *shapes, *probs]))
            monitor.finish(result.time_s if lines else 0.0)
            (args.out / f"{clip.stem}.csv").write_text("\n".join(lines) + "\n")
            events = ", ".join(f"{e.kind} {e.start_s:.1f}-{e.end_s:.1f}" for e in monitor.events) or "none"
            print(f"{clip.name}: {len(lines) - 1} frames; events: {events}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
