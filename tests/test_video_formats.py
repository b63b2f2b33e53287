"""The annotated video (--out) for inputs of every common kind: irregular timestamps (a phone's HEVC .mov),
VP9/WebM, FLV, MJPEG/AVI and timestamps the container rounds to duplicates (Matroska)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from helpers import SINGLE_FACE, decode_frames, read_csv, write_timed_video
from realtime_affect.cli import main

#: Frame gaps in ticks of 1/12288 s as a phone wrote them: 168 then 512, 14 ms to 67 ms, one of 1 tick.
PHONE_GAPS = (168, 512, 400, 410, 1, 820, 409, 409, 300, 700)


def _ticks(n: int, gaps) -> list[int]:
    return list(np.concatenate([[0], np.cumsum([gaps[i % len(gaps)] for i in range(n - 1)])]))


def _times(path) -> list[float]:
    import av

    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


CASES = {
    # name: (suffix, codec, time base, gaps in its ticks, pixel format, options)
    "hevc-mov-irregular": (".mov", "libx265", Fraction(1, 12288), PHONE_GAPS, "yuv420p", {"x265-params": "log-level=none"}),
    "vp9-webm-irregular": (".webm", "libvpx-vp9", Fraction(1, 1000), (14, 42, 33, 33, 50, 17), "yuv420p",
                           {"deadline": "realtime", "cpu-used": "8"}),
    "flv-irregular": (".flv", "flv", Fraction(1, 1000), (40, 20, 33, 67, 33), "yuv420p", None),
    "mjpeg-avi": (".avi", "mjpeg", Fraction(1, 25), (1,), "yuvj420p", None),
    "mkv-rounded-to-duplicates": (".mkv", "mpeg4", Fraction(1, 12288), (4, 400, 4, 410), "yuv420p", None),
}


@pytest.fixture(scope="module")
def frames():
    return decode_frames(SINGLE_FACE, 30, (480, 270))


@pytest.mark.parametrize("case", sorted(CASES))
def test_annotated_video_has_every_frame_at_the_input_times(tmp_path, tiny_model, frames, case):
    suffix, codec, base, gaps, pix_fmt, options = CASES[case]
    clip = write_timed_video(tmp_path / f"in{suffix}", frames, _ticks(len(frames), gaps), base, codec, pix_fmt,
                             options)
    src = _times(clip)
    out, csv = tmp_path / "out.mp4", tmp_path / "out.csv"
    assert main(["--video", str(clip), "--out", str(out), "--csv", str(csv), "--model", str(tiny_model),
                 "--no-display", "-q"]) == 0
    dst = _times(out)
    assert len(dst) == len(src) == len(frames)
    step = float(np.median(np.diff(src)))
    # faithful within a frame (the sink keeps them strictly increasing where the input repeats one)
    np.testing.assert_allclose(np.array(dst) - dst[0], np.array(src) - src[0], atol=max(step, 1e-3))
    rows = read_csv(csv)
    assert len({r["frame"] for r in rows}) >= len(frames) - 3  # a face on (nearly) every frame


def test_a_frame_the_encoder_refuses_ends_the_video_but_not_the_csv(tmp_path, tiny_model, monkeypatch, capsys):
    """A write failure that is not the output's fault: the video stops, the CSV is complete, exit 1."""
    import av

    from realtime_affect.sinks.video_sink import VideoSink

    real = VideoSink.write_image

    def refuse_from_frame_10(self, img, time_s):
        if self.frames >= 10:
            self._fail(av.error.ArgumentError(22, "Invalid argument"))
            return
        real(self, img, time_s)

    monkeypatch.setattr(VideoSink, "write_image", refuse_from_frame_10)
    out, csv = tmp_path / "o.mp4", tmp_path / "o.csv"
    code = main(["--video", str(SINGLE_FACE), "--out", str(out), "--csv", str(csv), "--model", str(tiny_model),
                 "--no-display", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "the video stops after 10 frames" in err and "Traceback" not in err
    assert len({r["frame"] for r in read_csv(csv)}) == 72
    assert len(_times(out)) == 10  # what was written before is a playable video
