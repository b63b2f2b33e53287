"""What a model reads on real colour clips and stills, as a person would summarise it.

    python scripts/clip_readings.py --model assets/default_model.onnx [--model OTHER] [--out readings.md]

Runs each model through the runtime (``realtime_affect.Analyzer``, per-frame student output) on the test
clips (split into thirds, the order in which their people change expression), the CREMA-D sample clips
in ../shared/data (one labelled emotion per clip: the clip-level reading is the most frequent top
expression) and the test still. Prints a markdown table per model; nothing here is trained on.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIPS = [("WolfgangLanger_Pexels.mp4", "pensive/sad -> neutral -> laughing"),
         ("single_face.mp4", "neutral -> smile"),
         ("face_noface.mov", "a face, then a cartoon")]
CREMA = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral", "SAD": "sadness"}


def readings(analyzer, path: Path, parts: int) -> list[str]:
    from realtime_affect.labels import EXPRESSIONS

    rows = []
    for result in analyzer.video(path):
        for face in result.faces[:1]:
            rows.append(np.asarray(face.prediction.expression))
    if not rows:
        return ["no face"] * parts
    probs = np.stack(rows)
    out = []
    for chunk in np.array_split(probs, parts):
        top = Counter(EXPRESSIONS[i] for i in chunk.argmax(1)).most_common(2)
        mean = chunk.mean(0)
        share = ", ".join(f"{name} {n / len(chunk):.0%}" for name, n in top)
        out.append(f"{share} (mean p happiness {mean[4]:.2f}, sadness {mean[5]:.2f}, neutral {mean[0]:.2f})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from realtime_affect import Analyzer
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.labels import EXPRESSIONS

    lines = []
    for model in args.model:
        lines += [f"### {model.name}", "", "| media | what a person sees | reading (top expressions, by part) |",
                  "|---|---|---|"]
        with Analyzer(model, options=AnalyzerOptions(temporal=False)) as analyzer:
            for name, truth in CLIPS:
                parts = readings(analyzer, ROOT / "tests" / "data" / name, 3)
                lines.append(f"| {name} | {truth} | " + " / ".join(parts) + " |")
            crema = sorted((args.data / "crema_d_sample").glob("*.flv")) if args.data.is_dir() else []
            hits = 0
            for clip in crema:
                truth = CREMA.get(clip.stem.split("_")[2], "?")
                part = readings(analyzer, clip, 1)[0]
                hits += part.startswith(truth)
                lines.append(f"| {clip.name} (CREMA-D) | {truth} | {part} |")
            for result in analyzer.images([ROOT / "tests" / "data" / "single_face.jpg"]):
                for face in result.faces:
                    p = np.asarray(face.prediction.expression)
                    lines.append(f"| single_face.jpg | a still | {EXPRESSIONS[int(p.argmax())]} {p.max():.2f} |")
        if crema:
            lines += ["", f"CREMA-D clips whose most frequent reading is their label: {hits} of {len(crema)}"]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
