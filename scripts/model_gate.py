"""The model gate: every validation figure of a candidate model beside the shipped one's, with each figure's noise
band and a verdict, so that a new default ships only when it loses nothing beyond noise and wins something.

    python scripts/model_gate.py CANDIDATE [--against SHIPPED ...] [--data ../shared/data]
        [--boot 1000] [--timing-repeats 300] [--no-clips] [--out docs/gate.md]

CANDIDATE and SHIPPED are model files (``.onnx``, with its ``.sequence.onnx`` beside it, or ``.pt``) or
``git:REV``: the default model bundled at that commit (for example ``git:30549c6`` for 0.5.0), extracted into
``build/gate/REV/``. Without ``--against``, the candidate is compared with the bundled default.

Figures, on faces no run trained on, through the runtime's own crop path (``trainers/face_eval.py``):
FER+ validation accuracy, macro-F1 and recall per class; the held-out CK+ subjects' expression accuracy,
macro-F1 and F1 per AU (and their macro); muxspace's held-out files; DiffusionFER's held-out files' accuracy and
valence/arousal CCC against human ratings; the temporal model on real clips (``benchmarks/temporal_clips.py``:
the test clips and the CREMA-D sample, which no run trains on): its flips of the top expression as a share of
the per-frame student's, and its agreement with the per-frame majority over the surrounding second; and the
student's time per face (both views, as served).

Noise band: a paired bootstrap over the faces (the same resampled faces for both models, ``--boot`` times): the
95% interval of the difference candidate - shipped. A figure is **better** or **worse** when that interval lies
wholly above or below zero, else **within noise**. The clip figures resample the tracks (paired by clip and
track: both models see the same faces through the same tracker). The student's time uses blocks of single-face calls,
alternated between the models; its band is the spread of the blocks' differences. The verdict: **pass** when no
figure is worse and at least one is better.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS  # noqa: E402

BUNDLED = ("assets/default_model.onnx", "assets/default_model.sequence.onnx")


@dataclass
class Figure:
    """One figure of the gate: both models' values, the 95% band of their difference, and the verdict."""

    name: str
    shipped: float
    candidate: float
    low: float  # 2.5th percentile of candidate - shipped
    high: float  # 97.5th
    higher_is_better: bool = True

    @property
    def verdict(self) -> str:
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            return "within noise"
        better = self.low > 0 if self.higher_is_better else self.high < 0
        worse = self.high < 0 if self.higher_is_better else self.low > 0
        return "better" if better else "worse" if worse else "within noise"


@dataclass
class GateResult:
    candidate: str
    shipped: str
    figures: list[Figure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        verdicts = [f.verdict for f in self.figures]
        return "worse" not in verdicts and "better" in verdicts

    def markdown(self) -> str:
        lines = [f"### {self.candidate} against {self.shipped}", "",
                 "| figure | shipped | candidate | difference | 95% band of the difference | verdict |",
                 "|---|---|---|---|---|---|"]
        for f in self.figures:
            mark = {"better": "**better**", "worse": "**worse**"}.get(f.verdict, "within noise")
            lines.append(f"| {f.name} | {f.shipped:.3f} | {f.candidate:.3f} | {f.candidate - f.shipped:+.3f} | "
                         f"{f.low:+.3f} .. {f.high:+.3f} | {mark} |")
        counts = {v: sum(f.verdict == v for f in self.figures) for v in ("better", "within noise", "worse")}
        lines += ["", f"Verdict: **{'pass' if self.passed else 'fail'}** ({counts['better']} better, "
                      f"{counts['within noise']} within noise, {counts['worse']} worse)."]
        return "\n".join(lines)


def resolve(spec: str) -> Path:
    """A model file, or ``git:REV``: the bundled default at that commit, extracted once into build/gate/REV/."""
    if not spec.startswith("git:"):
        return Path(spec)
    rev = spec[4:]
    folder = ROOT / "build" / "gate" / rev
    folder.mkdir(parents=True, exist_ok=True)
    for name in BUNDLED:
        target = folder / Path(name).name
        if not target.exists():
            data = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, capture_output=True, check=True).stdout
            target.write_bytes(data)
    return folder / Path(BUNDLED[0]).name


# -- figures of one set, as functions of a resample of its faces -------------------------------------------
def _accuracy(prob, truth):
    return float((prob.argmax(-1) == truth).mean())


def _macro_f1(prob, truth):
    pred = prob.argmax(-1)
    scores = []
    for c in np.unique(truth):
        tp = np.sum((pred == c) & (truth == c))
        denom = np.sum(pred == c) + np.sum(truth == c)
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def _recall(c):
    def figure(prob, truth):
        sel = truth == c
        return float((prob[sel].argmax(-1) == c).mean()) if sel.any() else float("nan")
    return figure


def _au_f1(j):
    def figure(prob, truth):
        valid = truth[:, j] >= 0
        t, p = truth[valid, j] == 1, prob[valid, j] >= 0.5
        denom = p.sum() + t.sum()
        return float(2 * (p & t).sum() / denom) if denom else float("nan")
    return figure


def _au_macro(prob, truth):
    values = [_au_f1(j)(prob, truth) for j in range(truth.shape[1]) if ((truth[:, j] == 1).any())]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _ccc(d):
    def figure(pred, truth):
        p, t = pred[:, d].astype(np.float64), truth[:, d].astype(np.float64)
        cov = np.mean((p - p.mean()) * (t - t.mean()))
        return float(2 * cov / (p.var() + t.var() + (p.mean() - t.mean()) ** 2))
    return figure


def paired(name: str, fn: Callable, a: np.ndarray, b: np.ndarray, truth: np.ndarray, rng: np.random.Generator,
           boot: int) -> Figure:
    """``fn(outputs, truth)`` for the shipped (``a``) and the candidate (``b``), and the paired bootstrap band."""
    n = len(truth)
    diffs = []
    for _ in range(boot):
        idx = rng.integers(0, n, n)
        diffs.append(fn(b[idx], truth[idx]) - fn(a[idx], truth[idx]))
    diffs = np.array([d for d in diffs if np.isfinite(d)])
    low, high = (np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (float("nan"), float("nan")))
    return Figure(name, fn(a, truth), fn(b, truth), float(low), float(high))


def set_figures(label: str, s, out_a: dict, out_b: dict, rng, boot: int, recall: bool) -> list[Figure]:
    figures = []
    truth = s.faces.expression
    ok = truth >= 0
    if "expression" in out_a and ok.any():
        a, b, t = out_a["expression"][ok], out_b["expression"][ok], truth[ok]
        figures.append(paired(f"{label}: accuracy", _accuracy, a, b, t, rng, boot))
        figures.append(paired(f"{label}: macro-F1", _macro_f1, a, b, t, rng, boot))
        if recall:
            for c in np.unique(t):
                figures.append(paired(f"{label}: recall {EXPRESSIONS[c]}", _recall(c), a, b, t, rng, boot))
    aus = s.faces.aus
    if "action_units" in out_a and (aus >= 0).any() and (aus == 1).any():
        a, b = out_a["action_units"], out_b["action_units"]
        figures.append(paired(f"{label}: AU macro-F1", _au_macro, a, b, aus, rng, boot))
        for j, name in enumerate(ACTION_UNITS):
            if (aus[:, j] == 1).any():
                figures.append(paired(f"{label}: AU F1 {name}", _au_f1(j), a, b, aus, rng, boot))
    rated = s.faces.rated
    if "valence_arousal" in out_a and rated.any():
        a, b, t = out_a["valence_arousal"][rated], out_b["valence_arousal"][rated], s.faces.va[rated]
        figures.append(paired(f"{label}: CCC valence", _ccc(0), a, b, t, rng, boot))
        figures.append(paired(f"{label}: CCC arousal", _ccc(1), a, b, t, rng, boot))
    return figures


@dataclass
class TrackFlips:
    """One tracked face of a clip, read by one model: top-expression changes per-frame and with the GRU (file
    mode, centred windows), and the GRU's agreement with the per-frame majority over the surrounding second."""

    key: tuple[str, int]
    frame_flips: int
    gru_flips: int
    agreement: float


def clip_tracks(model: Path, clips: list[Path]) -> dict[tuple[str, int], TrackFlips]:
    """Every track seen for at least a second in ``clips``, read by ``model`` per frame and with its GRU."""
    from benchmarks.temporal_clips import majority_over, run_clip

    out = {}
    for path in clips:
        got = run_clip(path, model, 0, modes=("frame", "file"))
        frames, fps = got["frame"]
        for track, probs in frames.items():
            seq = got["file"][0].get(track)
            if len(probs) < fps or seq is None or len(seq) < fps:
                continue
            top, seq_top = np.stack(probs).argmax(1), np.stack(seq).argmax(1)
            ref = majority_over(top, int(round(fps / 2)))
            n = min(len(seq_top), len(ref))
            out[(path.name, track)] = TrackFlips((path.name, track), int((np.diff(top) != 0).sum()),
                                                 int((np.diff(seq_top) != 0).sum()),
                                                 float((seq_top[-n:] == ref[-n:]).mean()))
    return out


def _flip_ratio(rows: list[TrackFlips]) -> float:
    frame = sum(r.frame_flips for r in rows)
    return sum(r.gru_flips for r in rows) / frame if frame else float("nan")


def _agreement(rows: list[TrackFlips]) -> float:
    return float(np.mean([r.agreement for r in rows])) if rows else float("nan")


def clip_figures(a: dict, b: dict, rng: np.random.Generator, boot: int) -> list[Figure]:
    """The GRU's flips (a share of the per-frame flips; lower is better) and agreement, on the tracks both models
    saw, with a paired bootstrap over the tracks."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return []
    figures = []
    for name, fn, higher in (("clips: GRU flips / per-frame flips", _flip_ratio, False),
                             ("clips: GRU agreement with the per-frame majority", _agreement, True)):
        diffs = []
        for _ in range(boot):
            pick = [keys[i] for i in rng.integers(0, len(keys), len(keys))]
            diffs.append(fn([b[k] for k in pick]) - fn([a[k] for k in pick]))
        diffs = np.array([d for d in diffs if np.isfinite(d)])
        low, high = np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (float("nan"), float("nan"))
        figures.append(Figure(f"{name} ({len(keys)} tracks)", fn([a[k] for k in keys]), fn([b[k] for k in keys]),
                              float(low), float(high), higher_is_better=higher))
    return figures


def gate_clips(data: Path) -> list[Path]:
    """The clips of the temporal figures: the test clips and the CREMA-D sample."""
    from benchmarks.temporal_clips import CLIPS

    return [ROOT / "tests" / "data" / name for name, _ in CLIPS] + sorted((data / "crema_d_sample").glob("*.flv"))


def student_time(shipped: Path, candidate: Path, crop: np.ndarray, repeats: int, blocks: int = 5) -> Figure:
    """ms per face of each student (one crop at a time, as the runtime's live path), in alternated blocks; the
    band is the range of the blocks' differences (lower is better)."""
    from realtime_affect.faces import align
    from realtime_affect.models.loader import open_model

    with open_model(shipped) as ma, open_model(candidate) as mb:
        inputs = {id(m): align.to_input(crop[None], m.card.mean, m.card.std) for m in (ma, mb)}
        for m in (ma, mb):
            for _ in range(20):  # warm-up
                m.student(inputs[id(m)])
        per_block = {id(ma): [], id(mb): []}
        for _ in range(blocks):
            for m in (ma, mb):
                times = []
                for _ in range(max(1, repeats // blocks)):
                    t0 = time.perf_counter()
                    m.student(inputs[id(m)])
                    times.append(time.perf_counter() - t0)
                per_block[id(m)].append(1000 * float(np.median(times)))
    a, b = np.array(per_block[id(ma)]), np.array(per_block[id(mb)])
    diffs = b - a
    return Figure("student ms per face (both views)", float(np.median(a)), float(np.median(b)), float(diffs.min()),
                  float(diffs.max()), higher_is_better=False)


def gate(candidate: Path, shipped: Path, sets, boot: int, timing_repeats: int, seed: int = 0,
         outputs_cache: dict | None = None, clips: list[Path] | None = None) -> GateResult:
    from trainers.face_eval import run_model_file

    cache = outputs_cache if outputs_cache is not None else {}
    rng = np.random.default_rng(seed)
    result = GateResult(str(candidate), str(shipped))
    for s in sets:
        outs = []
        for model in (shipped, candidate):
            key = (str(model), s.name)
            if key not in cache:
                cache[key] = run_model_file(model, s)
            outs.append(cache[key])
        result.figures += set_figures(s.name, s, outs[0], outs[1], rng, boot, recall=s.name == "FER+ validation")
    if clips:
        tracks = []
        for model in (shipped, candidate):
            key = (str(model), "clips")
            if key not in cache:
                cache[key] = clip_tracks(model, clips)
            tracks.append(cache[key])
        result.figures += clip_figures(tracks[0], tracks[1], rng, boot)
    crop_set = sets[0]
    from realtime_affect.models.loader import open_model
    from trainers.face_cache import aligned_crops

    with open_model(shipped) as m:
        size = m.card.input_size
    crop = aligned_crops(crop_set.faces.images[:1], _first_fit(crop_set.fit), size)[0]
    result.figures.append(student_time(shipped, candidate, crop, timing_repeats))
    return result


def _first_fit(fit):
    from trainers.face_cache import FaceFit

    return FaceFit(fit.fitted[:1], fit.points[:1], fit.blendshapes[:1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidate")
    ap.add_argument("--against", nargs="+", default=[BUNDLED[0]])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--timing-repeats", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None, help="write the tables here (markdown)")
    ap.add_argument("--no-clips", action="store_true", help="leave out the temporal model's figures on the clips")
    args = ap.parse_args(argv)
    from trainers.faces_recipe import FacesConfig, validation_sets

    cfg = FacesConfig(data=args.data, out=Path("."), cache=args.cache)
    sets, _ = validation_sets(cfg, on_progress=lambda text: print(text, file=sys.stderr))
    candidate = resolve(args.candidate)
    cache: dict = {}
    clips = [] if args.no_clips else gate_clips(args.data)
    results = [gate(candidate, resolve(s), sets, args.boot, args.timing_repeats, outputs_cache=cache, clips=clips)
               for s in args.against]
    text = "\n\n".join(r.markdown() for r in results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
