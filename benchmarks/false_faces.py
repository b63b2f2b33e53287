"""False faces and hard-face recall for the rule that admits faces the landmarker could not fit.

A face the full-range detector finds but the landmarker cannot fit (a profile, a hand over the face, or a
T-shirt print) is kept only with more evidence (``FinderOptions.unfitted_min_score``). This measures, with the
rule off (every such face kept) and each face's detector score recorded, for several thresholds:

- stills (the finder's still-image path): false faces per 1,000 images on 150 drawn cartoon faces on textured
  backgrounds (like prints on clothes and posters) and 150 textures, both generated here (seed 0); and recall
  on real faces the landmarker cannot fit (``--hard-faces``: the FER+ validation faces it did not fit, set on
  its canvas as in training: turned, occluded, blurred);
- videos through ``affect-live``'s path: false rows per 1,000 frames on face-free media (``--empty``) and the
  share of frames with the person found on media where a person is always in view (``--present``).

One run; figures, no assertions.

    python benchmarks/false_faces.py --hard-faces ../shared/data/ferplus_valid.npz \
        --empty tests/data/no_face.mp4 tests/data/face_noface.mov@2.5 --present ../shared/media/driver/*.mp4

``FILE@T``: only the part after T seconds is face-free (``face_noface.mov``'s cartoon starts after 2.4 s).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLDS = (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.01)


def rows_of(location: str, start_s: float = 0.0):
    """[(frame time, [(fitted, score), ...]) per analysed frame] with every unfitted face kept."""
    from realtime_affect import Analyzer
    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions

    out = []
    with Analyzer(options=AnalyzerOptions(finder=FinderOptions(unfitted_min_score=0.0))) as analyzer:
        for r in analyzer.video(location):
            if r.time_s >= start_s:
                out.append((r.time_s, [(f.face.fitted, float(f.face.score)) for f in r.faces]))
    return out


def drawn_faces(rng, size: int = 480):
    """A textured background with one to three drawn cartoon faces (disc, two eyes, a smile)."""
    import cv2
    import numpy as np

    img = np.full((size, size, 3), rng.integers(60, 200, 3), np.uint8)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3)).astype(np.uint8), (0, 0), 3)
    img = cv2.addWeighted(img, 0.6, noise, 0.4, 0)
    for _ in range(int(rng.integers(1, 4))):
        r = int(rng.integers(30, 120))
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        cv2.circle(img, (cx, cy), r, tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
        ink = tuple(int(c) for c in rng.integers(0, 80, 3))
        for dx in (-0.35, 0.35):
            cv2.circle(img, (int(cx + dx * r), int(cy - r * 0.25)), max(2, r // 8), ink, -1)
        cv2.ellipse(img, (cx, int(cy + r * 0.2)), (int(r * 0.45), int(r * 0.25)), 0, 0, 180, ink, max(2, r // 15))
    return img


def texture(rng, size: int = 480):
    """Blurred noise, a checkerboard or scattered discs."""
    import cv2
    import numpy as np

    kind = int(rng.integers(0, 3))
    if kind == 0:
        return cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3)).astype(np.uint8), (0, 0), float(rng.uniform(1, 8)))
    if kind == 1:
        step = int(rng.integers(8, 60))
        y, x = np.mgrid[:size, :size]
        return np.repeat((((x // step + y // step) % 2) * 200 + 20).astype(np.uint8)[..., None], 3, 2)
    img = np.zeros((size, size, 3), np.uint8)
    for _ in range(40):
        cv2.circle(img, tuple(int(v) for v in rng.integers(0, size, 2)), int(rng.integers(5, 60)),
                   tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return img


def still_faces(images) -> list[list[tuple[bool, float]]]:
    """(fitted, score) of every face the still-image finder reports on each image (rule off)."""
    import cv2

    from realtime_affect.faces.finder import FaceFinder, FinderOptions

    with FaceFinder(FinderOptions(unfitted_min_score=0.0), video=False) as finder:
        return [[(f.fitted, float(f.score)) for f in finder.detect(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))]
                for img in images]


def hard_faces(npz: Path):
    """The FER+ faces the landmarker could not fit, on the training canvas (build/facecache)."""
    import numpy as np

    from trainers.face_cache import cached_fit, canvas
    from trainers.facesets import read_ferplus

    faces = read_ferplus(npz, npz.stem)
    fit = cached_fit(npz.stem, faces.images, ROOT / "build" / "facecache")
    return [canvas(faces.images[i]) for i in np.flatnonzero(~fit.fitted)]


def stills_table(stills: dict, hard: list | None) -> None:
    print("| unfitted faces kept from score | " + " | ".join(f"false faces / 1000 images: {n}" for n in stills)
          + (" | recall: real faces the landmarker cannot fit |" if hard is not None else " |"))
    print("|---|" + "---|" * (len(stills) + (hard is not None)))
    for t in THRESHOLDS:
        keep = lambda faces: [f for f in faces if f[0] or f[1] >= t]  # noqa: E731
        cells = [f"{1000 * sum(len(keep(fs)) for fs in per) / len(per):.0f}" for per in stills.values()]
        if hard is not None:
            cells.append(f"{sum(bool(keep(fs)) for fs in hard) / max(1, len(hard)):.3f} of {len(hard)}")
        print(f"| {'never' if t > 1 else f'{t:.2f}'} | " + " | ".join(cells) + " |")
    print()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--empty", nargs="+", default=[], help="face-free media (FILE or FILE@START_S)")
    p.add_argument("--present", nargs="+", default=[], help="media with a person in view on every frame")
    p.add_argument("--hard-faces", type=Path, help="FER+ npz whose unfitted faces are the hard real faces")
    args = p.parse_args()
    import numpy as np

    rng = np.random.default_rng(0)
    stills = {"drawn faces": still_faces([drawn_faces(rng) for _ in range(150)]),
              "textures": still_faces([texture(rng) for _ in range(150)])}
    stills_table(stills, still_faces(hard_faces(args.hard_faces)) if args.hard_faces else None)
    empty = {}
    for item in args.empty:
        path, _, start = item.partition("@")
        empty[Path(path).name] = rows_of(path, float(start or 0))
    present = {Path(path).name: rows_of(path) for path in args.present}
    print("| unfitted faces kept from score | " + " | ".join(f"false rows / 1000 frames: {n}" for n in empty)
          + " | " + " | ".join(f"frames with the person: {n}" for n in present) + " | unfitted rows kept (present) |")
    print("|---|" + "---|" * (len(empty) + len(present) + 1))
    for t in THRESHOLDS:
        keep = lambda faces: [f for f in faces if f[0] or f[1] >= t]  # noqa: E731
        cells = [f"{1000 * sum(len(keep(fs)) for _, fs in rows) / max(1, len(rows)):.1f}" for rows in empty.values()]
        cells += [f"{sum(bool(keep(fs)) for _, fs in rows) / max(1, len(rows)):.3f}" for rows in present.values()]
        unfitted = sum(1 for rows in present.values() for _, fs in rows for f in keep(fs) if not f[0])
        label = "never" if t > 1 else f"{t:.2f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {unfitted} |")
    for name, rows in {**empty, **present}.items():
        scores = sorted(round(s, 2) for _, fs in rows for fit, s in fs if not fit)
        print(f"{name}: {len(rows)} frames, unfitted face scores {scores[:12]}{' ...' if len(scores) > 12 else ''}"
              f" (max {max(scores) if scores else '-'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
