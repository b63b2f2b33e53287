"""Does the temporal model make real video steadier without changing what it says? One run, real clips.

    python benchmarks/temporal_clips.py --model assets/default_model.pt [--data ../shared/data]
        [--lookahead 0] [--out docs/temporal.md]

For every clip (the test clips and the CREMA-D sample; the GRU is trained on stills only, so none of
them is trained on) and every tracked face seen for at least one second, three readings through the
runtime itself: the per-frame student (``temporal=False``), the GRU on a file (centred windows, the
default for files) and the GRU live (``analyze_camera``: causal, reporting the newest frame, or
``--lookahead`` frames back). Figures:

* flips per second: changes of the top expression between consecutive frames of a track;
* agreement: share of frames whose GRU top expression equals the most frequent per-frame top
  expression over the surrounding second (the per-frame majority);
* the clip-level reading a person would give: the most frequent top expression per third of the track
  (per-frame vs GRU), and for CREMA-D the clip's acted label;
* the real frame-to-frame feature change (median absolute change per feature dimension, in units of the
  training bank's feature std stored in the checkpoint): what ``affect-train sequence-faces --noise``
  should match.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIPS = [("WolfgangLanger_Pexels.mp4", "pensive/sad -> neutral -> laughing"),
         ("single_face.mp4", "neutral -> smile"),
         ("face_noface.mov", "a face (neutral -> smile), then a cartoon")]
from scripts.clip_readings import CREMA  # noqa: E402  (CREMA-D's emotion codes -> our labels)


class _FeatureRecorder:
    """Wraps a student backend and keeps the features of frames with exactly one face."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.features: list[np.ndarray] = []

    def __call__(self, batch):
        out = self.inner(batch)
        if len(batch) == 1:
            self.features.append(np.asarray(out["features"][0], np.float32))
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


def tracks_of(results) -> tuple[dict[int, list[np.ndarray]], float]:
    """{track id: [expression probabilities per frame]} and the clip's frame rate from its timestamps."""
    tracks: dict[int, list[np.ndarray]] = {}
    times = []
    for r in results:
        times.append(r.frame.time_s)
        for face in r.faces:
            tracks.setdefault(face.track_id, []).append(np.asarray(face.prediction.expression))
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    return tracks, fps


def flips_per_second(top: np.ndarray, fps: float) -> float:
    return float((top[1:] != top[:-1]).sum() / max(len(top) / fps, 1e-9))


def majority_over(top: np.ndarray, half: int) -> np.ndarray:
    """The most frequent label within +-``half`` frames of each frame (ties: the lowest label)."""
    out = np.empty_like(top)
    for i in range(len(top)):
        window = top[max(0, i - half):i + half + 1]
        out[i] = np.bincount(window, minlength=8).argmax()
    return out


def reading(top: np.ndarray, parts: int) -> list[str]:
    from realtime_affect.labels import EXPRESSIONS

    out = []
    for chunk in np.array_split(top, parts):
        name, n = Counter(chunk.tolist()).most_common(1)[0]
        out.append(f"{EXPRESSIONS[name]} {n / len(chunk):.0%}")
    return out


def run_clip(path: Path, model_path: Path, lookahead: int, modes: tuple[str, ...] = ("frame", "file", "live")) -> dict:
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_camera, analyze_video
    from realtime_affect.sources import VideoSource

    out = {}
    with open_model(model_path) as model:
        recorder = _FeatureRecorder(model.student)
        model.student = recorder
        for mode in modes:
            options = AnalyzerOptions(temporal=mode != "frame")
            with VideoSource(path) as source:
                if mode == "live":
                    results = list(analyze_camera(model, source, options, lookahead=lookahead))
                else:
                    results = list(analyze_video(model, source, options))
            out[mode] = tracks_of(results)
            if mode == "frame":
                out["features"] = np.stack(recorder.features) if recorder.features else np.zeros((0, 1))
        model.student = recorder.inner
    return out


def main() -> None:
    import torch

    from trainers.sequence_stills import frame_change

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "assets" / "default_model.pt",
                    help="a checkpoint with a GRU (.pt; its card's feature scale is read for the noise figure)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--lookahead", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "temporal.md")
    args = ap.parse_args()
    payload = torch.load(args.model, map_location="cpu", weights_only=False)
    if not payload.get("sequence"):
        ap.error(f"{args.model} has no temporal model")
    scale = np.asarray((payload.get("extra") or {}).get("feature_scale") or [], np.float32)
    clips = [(ROOT / "tests" / "data" / name, truth, 3) for name, truth in CLIPS]
    clips += [(p, CREMA.get(p.stem.split("_")[2], "?"), 1) for p in sorted((args.data / "crema_d_sample").glob("*.flv"))]
    rows = []
    for path, truth, parts in clips:
        got = run_clip(path, args.model, args.lookahead)
        frame_tracks, fps = got["frame"]
        change = frame_change(got["features"], scale) if scale.size and len(got["features"]) > 1 else float("nan")
        for track, probs in frame_tracks.items():
            if len(probs) < fps or track not in got["file"][0]:
                continue
            top = np.stack(probs).argmax(1)
            row = {"clip": path.name, "truth": truth, "track": track, "frames": len(top), "fps": fps,
                   "frame_change": change, "frame": {"flips_per_s": flips_per_second(top, fps),
                                                      "reading": reading(top, parts)}}
            for mode in ("file", "live"):
                seq = got[mode][0].get(track)
                if seq is None or len(seq) < fps:
                    continue
                seq_top = np.stack(seq).argmax(1)
                ref = majority_over(top, int(round(fps / 2)))
                n = min(len(seq_top), len(ref))  # live: tracks start reporting once confirmed
                row[mode] = {"flips_per_s": flips_per_second(seq_top, fps),
                             "agreement": float((seq_top[-n:] == ref[-n:]).mean()),
                             "reading": reading(seq_top, parts)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    write(rows, args)


def write(rows: list[dict], args) -> None:
    def ratio(row, mode):
        base = row["frame"]["flips_per_s"]
        value = row.get(mode, {}).get("flips_per_s")
        if value is None:
            return "", ""
        return f"{value:.2f}", (f"{value / base:.2f}x" if base > 0 else ("1x (0 = 0)" if value == 0 else "from 0"))

    lines = ["# Temporal model on real clips", "",
             f"Made by `python benchmarks/temporal_clips.py --model {args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model} "
             f"--lookahead {args.lookahead}` in one run. None of these clips is trained on (the GRU learns from "
             "sequences made of labelled stills). Per track seen for at least a second: flips of the top expression "
             "per second, agreement with the per-frame majority over the surrounding second, and the reading a "
             "person would give (most frequent top expression per third; CREMA-D: the whole clip).", "",
             "| clip | truth | frames | flips/s per-frame | flips/s GRU file (ratio) | flips/s GRU live (ratio) "
             "| agreement file / live | reading per-frame | reading GRU file | reading GRU live |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f_val, f_ratio = ratio(r, "file")
        l_val, l_ratio = ratio(r, "live")
        agree = " / ".join(f"{r[m]['agreement']:.2f}" if m in r else "-" for m in ("file", "live"))
        lines.append(f"| {r['clip']} (track {r['track']}) | {r['truth']} | {r['frames']} | "
                     f"{r['frame']['flips_per_s']:.2f} | {f_val} ({f_ratio}) | {l_val} ({l_ratio}) | {agree} | "
                     f"{' / '.join(r['frame']['reading'])} | {' / '.join(r.get('file', {}).get('reading', []))} | "
                     f"{' / '.join(r.get('live', {}).get('reading', []))} |")
    total = {m: sum(r[m]["flips_per_s"] * r["frames"] / r["fps"] for r in rows if m in r) for m in ("frame", "file", "live")}
    seconds = {m: sum(r["frames"] / r["fps"] for r in rows if m in r) for m in ("frame", "file", "live")}
    agree = {m: float(np.mean([r[m]["agreement"] for r in rows if m in r])) for m in ("file", "live") if
             any(m in r for r in rows)}
    changes = [r["frame_change"] for r in rows if np.isfinite(r["frame_change"])]
    lines += ["", "| all clips | per-frame | GRU file | GRU live |", "|---|---|---|---|",
              "| flips per second (all flips / all seconds) | " + " | ".join(
                  f"{total[m] / max(seconds[m], 1e-9):.3f}" for m in ("frame", "file", "live")) + " |",
              "| ratio to per-frame | 1 | " + " | ".join(
                  f"{(total[m] / max(seconds[m], 1e-9)) / max(total['frame'] / max(seconds['frame'], 1e-9), 1e-9):.2f}x"
                  for m in ("file", "live")) + " |",
              "| mean agreement with the per-frame majority over 1 s | 1 | " + " | ".join(
                  f"{agree.get(m, float('nan')):.3f}" for m in ("file", "live")) + " |"]
    if changes:
        lines += ["", f"Real frame-to-frame feature change (median per dimension, in training-bank feature stds): "
                      f"median over clips {np.median(changes):.3f} (range {min(changes):.3f}-{max(changes):.3f})."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
