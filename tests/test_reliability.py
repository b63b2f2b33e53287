"""Odd inputs and outputs: every case builds its input, and checks what the user sees."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from helpers import PEXELS, SINGLE_FACE, SINGLE_JPG, build_grid_video, decode_frames, read_csv, write_video


def assert_one_line_error(proc, *needles, code=2):
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_directory_given_as_a_video(cli, tmp_path, tiny_model):
    assert_one_line_error(cli("--video", str(tmp_path), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model)),
                    "is a directory")


def test_an_audio_only_file(cli, tmp_path, tiny_model):
    import av

    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(20):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert_one_line_error(cli("--video", str(path), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model)),
                    "no video stream")


@pytest.mark.parametrize("flag", ["--csv", "--jsonl", "--out"])
def test_an_output_in_a_missing_folder(cli, tmp_path, tiny_model, flag):
    target = tmp_path / "nowhere" / "out.file"
    assert_one_line_error(cli("--video", str(SINGLE_FACE), flag, str(target), "--model", str(tiny_model)),
                    "does not exist")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file(cli, tmp_path, tiny_model):
    path = tmp_path / "locked.mp4"
    shutil.copy(SINGLE_FACE, path)
    path.chmod(0)
    assert_one_line_error(cli("--video", str(path), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model)),
                    "permission denied")


def test_non_ascii_file_names(cli, tmp_path, tiny_model):
    video = tmp_path / "vidéo d'été 测试.mp4"
    shutil.copy(SINGLE_FACE, video)
    out = tmp_path / "résultats.csv"
    proc = cli("--video", str(video), "--csv", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out)
    assert len(rows) == 72 and rows[0]["source"] == video.name


def test_grey_rgba_16bit_tiny_and_4k_images(cli, tmp_path, tiny_model):
    import cv2

    img = cv2.imread(str(SINGLE_JPG))
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_grey.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "b_rgba.png"), cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "c_16bit.png"), img.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "d_1x1.png"), img[:1, :1])
    cv2.imwrite(str(folder / "e_4k.jpg"), cv2.resize(img, (3840, 2160)))
    out = tmp_path / "o.csv"
    proc = cli("--images", str(folder), "--csv", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    names = [r["source"].rsplit("/", 1)[-1] for r in read_csv(out)]
    assert names == ["a_grey.png", "b_rgba.png", "c_16bit.png", "e_4k.jpg"]  # the 1x1 image has no face


def test_variable_frame_rate_times_come_from_the_stream(cli, tmp_path, tiny_model):
    import av

    frames = decode_frames(SINGLE_FACE, 40)
    path = tmp_path / "vfr.mp4"
    times, t = [], 0.0
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.codec_context.time_base = stream.time_base = __import__("fractions").Fraction(1, 1000)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = int(round(t * 1000))
            times.append(frame.pts / 1000)
            t += 0.02 if i % 3 else 0.1  # 50 fps with a 10 fps gap every third frame
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out_csv = tmp_path / "o.csv"
    assert cli("--video", str(path), "--csv", str(out_csv), "--model", str(tiny_model)).returncode == 0
    rows = read_csv(out_csv)
    assert len(rows) == 40
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], times, atol=2e-3)


def test_rotated_phone_video_is_turned_upright(cli, tmp_path, tiny_model):
    import av
    import cv2

    upright = decode_frames(SINGLE_FACE, 12)
    # store the frames lying on their side, with display-matrix metadata that turns them back
    sideways = [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in upright]
    path = write_video(tmp_path / "phone.mp4", sideways, fps=30)
    rotated = tmp_path / "phone_rot.mp4"
    with av.open(str(path)) as src, av.open(str(rotated), "w") as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        s_out.metadata["rotate"] = "90"
        for packet in src.demux(s_in):
            if packet.dts is None:
                continue
            packet.stream = s_out
            dst.mux(packet)
    with av.open(str(rotated)) as c:
        first = next(c.decode(video=0))
    if not first.rotation:
        pytest.skip("this FFmpeg build does not write rotation metadata")
    out_csv = tmp_path / "o.csv"
    assert cli("--video", str(rotated), "--csv", str(out_csv), "--model", str(tiny_model)).returncode == 0
    rows = read_csv(out_csv)
    assert len(rows) >= 10
    assert all(float(r["w"]) < 360 and float(r["x"]) + float(r["w"]) <= 360.5 for r in rows), \
        "boxes must be in the upright (360 wide) frame"


def test_more_faces_than_max_faces_keeps_the_largest_and_says_so_once(cli, tmp_path, tiny_model):
    grid, _ = build_grid_video(tmp_path / "grid.mp4", frames=24)
    out = tmp_path / "o.csv"
    proc = cli("--video", str(grid), "--csv", str(out), "--model", str(tiny_model), "--max-faces", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("keeping the largest") == 1
    rows = read_csv(out)
    per_frame = {}
    for r in rows:
        per_frame.setdefault(r["frame"], []).append(r)
    assert max(len(v) for v in per_frame.values()) == 2


def test_a_corrupt_first_frames_file_is_annotated_after_the_damage(cli, tmp_path, tiny_model):
    frames = decode_frames(PEXELS, 60)
    path = write_video(tmp_path / "clip.ts", frames, fps=24)
    data = bytearray(path.read_bytes())
    for i in range(2000, 30000, 7):  # scribble over the first frames' packets
        data[i] = (data[i] * 31 + 7) % 256
    damaged = tmp_path / "damaged.ts"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "o.csv"
    proc = cli("--video", str(damaged), "--csv", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = read_csv(out)
    assert len(rows) >= 20  # the intact rest of the clip is annotated


def test_an_unreachable_stream_fails_fast_with_one_line(cli, tmp_path, tiny_model):
    import time

    start = time.monotonic()
    proc = cli("--video", "rtsp://127.0.0.1:9/live", "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    assert_one_line_error(proc, "rtsp://127.0.0.1:9/live", "cannot open")
    assert time.monotonic() - start < 60


def test_a_full_disk_is_reported_not_swallowed(cli, tiny_model):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    proc = cli("--video", str(SINGLE_FACE), "--csv", "/dev/full", "--overwrite", "--model", str(tiny_model))
    assert_one_line_error(proc, "/dev/full", "No space left", code=74)  # a write error, once the run started


def test_an_unwritable_output_path(cli, tiny_model):
    proc = cli("--video", str(SINGLE_FACE), "--csv", "/proc/realtime-affect.csv", "--model", str(tiny_model))
    assert_one_line_error(proc, "/proc/realtime-affect.csv", "cannot write")


def test_sigterm_leaves_every_sink_valid(tmp_path, tiny_model):
    import signal
    import subprocess
    import sys
    import time

    import av
    from conftest import ROOT

    csv_path, jsonl, video = tmp_path / "o.csv", tmp_path / "o.jsonl", tmp_path / "o.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", str(PEXELS), "--csv",
                             str(csv_path), "--jsonl", str(jsonl), "--out", str(video), "--model", str(tiny_model),
                             "--no-display"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (csv_path.exists() and len(csv_path.read_text().splitlines()) > 60):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in stderr
    rows = read_csv(csv_path)
    records = [line for line in jsonl.read_text().splitlines()]
    with av.open(str(video)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert 60 < len(rows) < 472
    assert len(records) == decoded == len(rows)  # one face per frame in this clip: every sink has every frame


def test_readme_exit_code_table_matches_the_cli():
    from conftest import ROOT

    from realtime_affect import console

    section = (ROOT / "README.md").read_text().split("### Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    codes = {int(line.split("|")[1]) for line in rows}
    assert codes == {console.EXIT_OK, console.EXIT_INTERNAL, console.EXIT_USAGE, console.EXIT_WRITE,
                     console.EXIT_SIGINT, console.EXIT_SIGTERM}


@pytest.mark.slow
def test_a_20000_frame_video_runs_in_bounded_memory(tmp_path, tiny_model):
    """Long files: resident memory stays flat (a small synthetic video keeps the test quick)."""
    import av

    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.sources import VideoSource

    path = tmp_path / "long.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=50)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        for i in range(20000):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i % 64, axis=1), format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    def rss() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2 ** 20

    seen, warm = 0, None
    with open_model(tiny_model) as model, VideoSource(path) as source:
        for _ in analyze_video(model, source, AnalyzerOptions(finder=FinderOptions(full_range=False))):
            seen += 1
            if seen == 2000:
                warm = rss()
    assert seen == 20000
    assert rss() < warm * 1.10, (warm, rss())
