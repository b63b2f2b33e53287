"""Fuzz: damaged copies of the test clips and images (truncated, bit flips, zeroed ranges, broken headers,
spliced chunks) across mp4, mov, mkv, webm, flv, png and jpg. Every run ends with exit 0 (annotated up
to the damage) or 2 (one line), within a time limit, with no traceback, and every CSV it leaves parses.

Seeded: the same cases every run. A few dozen in the normal run; ``-m slow`` adds a larger batch.
"""
from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import FACE_NOFACE, SINGLE_FACE, SINGLE_JPG, decode_frames, write_video
from realtime_affect.cli import main
from realtime_affect.labels import CSV_COLUMNS
from realtime_affect.sinks.csv_sink import EXTRA_COLUMNS, MEASURE_COLUMNS

DAMAGES = ("truncate", "bitflip", "zero", "header", "splice")
VIDEO_KINDS = ("mp4", "mov", "mkv", "webm", "flv")
IMAGE_KINDS = ("png", "jpg")
#: Seconds one damaged file may take (the clean ones take 1-3 s here).
TIME_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    """One small clean file per container / image format."""
    import cv2

    folder = tmp_path_factory.mktemp("fuzz-originals")
    frames = decode_frames(SINGLE_FACE, 24, (320, 180))
    files = {"mp4": SINGLE_FACE.read_bytes(), "mov": FACE_NOFACE.read_bytes()}
    for kind, codec in (("mkv", "mpeg4"), ("webm", "libvpx"), ("flv", "flv")):
        files[kind] = write_video(folder / f"clip.{kind}", frames, fps=25, codec=codec).read_bytes()
    img = cv2.imread(str(SINGLE_JPG))
    files["jpg"] = SINGLE_JPG.read_bytes()
    files["png"] = cv2.imencode(".png", cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))[1].tobytes()
    return files


def damage(data: bytes, how: str, rng: np.random.Generator) -> bytes:
    """A damaged copy of ``data``."""
    b = bytearray(data)
    n = len(b)
    if how == "truncate":
        return bytes(b[: int(rng.integers(1, n))])
    if how == "bitflip":
        for pos in rng.integers(0, n, size=int(rng.integers(1, 40))):
            b[pos] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if how == "zero":
        start = int(rng.integers(0, n))
        b[start:start + int(rng.integers(16, 4096))] = bytes(min(n - start, 4096))[: len(b[start:start + 4096])]
        return bytes(b[:n])
    if how == "header":
        size = int(rng.integers(4, 64))
        b[:size] = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        return bytes(b)
    if how == "splice":  # a chunk copied over another place, or cut out
        a, c = sorted(int(v) for v in rng.integers(0, n, size=2))
        length = int(rng.integers(64, 8192))
        chunk = bytes(b[a:a + length])
        if rng.random() < 0.5:
            return bytes(b[:c]) + chunk + bytes(b[c + len(chunk):])
        return bytes(b[:a]) + bytes(b[a + length:])
    raise ValueError(how)


def _cases(count: int, seed: int) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(seed)
    kinds = VIDEO_KINDS + IMAGE_KINDS
    return [(kinds[i % len(kinds)], DAMAGES[int(rng.integers(0, len(DAMAGES)))], int(rng.integers(0, 2 ** 31)))
            for i in range(count)]


def _check_csv(path: Path) -> int:
    """Rows of a CSV the run left; fails when it does not parse as the documented columns."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows and rows[0] == list(CSV_COLUMNS + EXTRA_COLUMNS + MEASURE_COLUMNS)
    for row in rows[1:]:
        assert len(row) == len(rows[0])
        float(row[1])
        probs = np.array([float(v) for v in row[9:17]])
        assert abs(probs.sum() - 1.0) < 1e-3
    return len(rows) - 1


def run_cases(cases, originals, tmp_path, tiny_model, capsys) -> Counter:
    codes: Counter = Counter()
    for i, (kind, how, seed) in enumerate(cases):
        damaged = tmp_path / f"case{i}.{kind}"
        damaged.write_bytes(damage(originals[kind], how, np.random.default_rng(seed)))
        out = tmp_path / f"case{i}.csv"
        flag = "--images" if kind in IMAGE_KINDS else "--video"
        start = time.perf_counter()
        code = main([flag, str(damaged), "--csv", str(out), "--model", str(tiny_model), "--no-display", "-q"])
        took = time.perf_counter() - start
        err = capsys.readouterr().err
        what = f"case {i}: {how} {kind} (seed {seed}): exit {code}, {took:.1f} s, stderr {err!r}"
        assert code in (0, 2), what
        assert "Traceback" not in err and "internal error" not in err, what
        assert took < TIME_LIMIT_S, what
        if code == 2:
            errors = [line for line in err.splitlines() if line.startswith("affect-live: error:")]
            assert len(errors) == 1, what
        if out.exists():
            _check_csv(out)
        codes[code] += 1
    return codes


def test_damaged_files_end_cleanly(originals, tmp_path, tiny_model, capsys):
    cases = _cases(28, seed=2026)
    codes = run_cases(cases, originals, tmp_path, tiny_model, capsys)
    with capsys.disabled():
        print(f"\nfuzz: {len(cases)} cases, exit codes {dict(sorted(codes.items()))}")
    assert sum(codes.values()) == 28
    assert set(Counter(how for _, how, _ in cases)) == set(DAMAGES)  # every kind of damage was tried


@pytest.mark.slow
def test_many_more_damaged_files_end_cleanly(originals, tmp_path, tiny_model, capsys):
    codes = run_cases(_cases(140, seed=7), originals, tmp_path, tiny_model, capsys)
    with capsys.disabled():
        print(f"\nfuzz (slow): 140 cases, exit codes {dict(sorted(codes.items()))}")
    assert sum(codes.values()) == 140


def test_damage_changes_the_file_and_is_repeatable(originals):
    data = originals["mp4"]
    for how in DAMAGES:
        a = damage(data, how, np.random.default_rng(1))
        assert a != data and a == damage(data, how, np.random.default_rng(1))
