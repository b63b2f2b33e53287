"""The analysis session and what hangs on it: running modes, ``Analyzer.stop()``, nested options validated in one
place, the flags every command shares, the error family's exit codes, and the ``Sink`` protocol."""
from __future__ import annotations

import errno
import socket
import threading

import pytest
from helpers import SINGLE_FACE, SINGLE_JPG

# -- Analyzer.stop() --------------------------------------------------------------------------------------------

def test_stop_ends_the_running_loop_and_no_later_one(tiny_model):
    from realtime_affect import Analyzer

    with Analyzer(model=tiny_model) as analyzer:
        stopped = []
        for result in analyzer.video(SINGLE_FACE):
            stopped.append(result)
            if len(stopped) == 1:
                analyzer.stop()  # as an embedding demo's stop button does, between frames
        full = list(analyzer.video(SINGLE_FACE))
        images = list(analyzer.images([SINGLE_JPG]))
        analyzer.stop()  # nothing running: nothing to stop, and nothing later is stopped either
        again = list(analyzer.video(SINGLE_FACE))
    assert len(full) == len(again) == 72  # every frame of the clip, after a stop() and before the next
    assert len(stopped) < len(full)  # the stopped loop ended early (with the frames it had processed)
    assert len(images) == 1 and images[0].faces


def test_stop_from_another_thread_ends_a_loop_running_there(tiny_model):
    from realtime_affect import Analyzer

    with Analyzer(model=tiny_model) as analyzer:
        first, resume = threading.Event(), threading.Event()
        got: list = []

        def consume() -> None:
            for result in analyzer.video(SINGLE_FACE):
                got.append(result)
                first.set()
                resume.wait(120)  # holds the loop at its first result until stop() has been called

        worker = threading.Thread(target=consume)
        worker.start()
        assert first.wait(120)
        analyzer.stop()
        resume.set()
        worker.join(120)
        assert not worker.is_alive() and 1 <= len(got) < 72


# -- running modes ----------------------------------------------------------------------------------------------

def test_each_running_mode_gives_what_its_callers_expect(tiny_model):
    from helpers import decode_frames

    from realtime_affect.analysis.session import RunningMode, open_session
    from realtime_affect.models.loader import open_model
    from realtime_affect.types import Frame

    frames = [Frame(index=i, time_s=i / 30, bgr=img) for i, img in enumerate(decode_frames(SINGLE_FACE, 12))]
    with open_model(tiny_model) as model:
        with open_session(model, RunningMode.IMAGE) as still:
            one = still.process(frames[0])
        with open_session(model, "video") as video:
            per_frame = [len(video.process(f)) for f in frames]
            rest = video.flush()
        with open_session(model, RunningMode.LIVE) as live:
            at_once = [len(live.process(f)) for f in frames]
    assert len(one) == 1 and [f.track_id for f in one[0].faces] == [1] and not one[0].faces[0].temporal
    assert sum(per_frame) + len(rest) == 12 and per_frame[0] == 0  # videos wait for their centred windows
    assert [r.index for r in rest][-1] == 11
    assert at_once == [1] * 12  # live: every frame's result at once


def test_an_image_session_refuses_a_learnt_baseline(tiny_model):
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.analysis.session import RunningMode, open_session
    from realtime_affect.errors import OptionsError
    from realtime_affect.models.loader import open_model

    with open_model(tiny_model) as model, pytest.raises(OptionsError, match="--baseline-from"):
        open_session(model, RunningMode.IMAGE, AnalyzerOptions(baseline="auto"))


# -- options ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, option", [
    (lambda O, F, T: O(finder=F(max_faces=0)), "finder.max_faces"),
    (lambda O, F, T: O(finder=F(sweep_every=0)), "finder.sweep_every"),
    (lambda O, F, T: O(finder=F(min_face_size=-1)), "finder.min_face_size"),
    (lambda O, F, T: O(tracker=T(min_hits=0)), "tracker.min_hits"),
    (lambda O, F, T: O(sample_fps=0.0), "sample_fps"),
    (lambda O, F, T: O(hop=0), "hop"),
])
def test_options_out_of_range_are_refused_where_they_are_made(make, option):
    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions, TrackerOptions
    from realtime_affect.errors import InputError, OptionsError

    with pytest.raises(OptionsError) as caught:
        make(AnalyzerOptions, FinderOptions, TrackerOptions)
    assert caught.value.option == option and str(caught.value).startswith(option)
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2


def test_options_changed_after_they_were_made_are_checked_when_a_session_opens(tiny_model):
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.analysis.session import RunningMode, open_session
    from realtime_affect.errors import OptionsError
    from realtime_affect.models.loader import open_model

    options = AnalyzerOptions()
    options.finder.max_faces = 0
    with open_model(tiny_model) as model, pytest.raises(OptionsError, match="finder.max_faces"):
        open_session(model, RunningMode.VIDEO, options)


def test_every_command_has_the_same_analysis_flags_with_the_same_defaults():
    from realtime_affect.batch.cli import build_parser as batch
    from realtime_affect.cli import build_parser as live
    from realtime_affect.driver.cli import build_eval_parser as driver_eval
    from realtime_affect.driver.cli import build_parser as driver
    from realtime_affect.serve.cli import build_parser as serve

    shared = ("max_faces", "min_face_size", "no_full_range", "sweep_every", "no_temporal", "model", "backend")
    defaults = {}
    for name, build in (("live", live), ("driver", driver), ("driver eval", driver_eval), ("batch", batch),
                        ("serve", serve)):
        parser = build()
        defaults[name] = {dest: parser.get_default(dest) for dest in shared}
        assert {a.dest for a in parser._actions} >= set(shared), name
    assert all(d == defaults["live"] for d in defaults.values()), defaults
    assert defaults["live"]["max_faces"] == 4 and defaults["live"]["sweep_every"] == 20


def test_a_bad_analysis_flag_names_the_flag_in_every_command(capsys):
    from realtime_affect.batch.cli import main as batch
    from realtime_affect.cli import main as live
    from realtime_affect.driver.cli import main as driver
    from realtime_affect.serve.cli import main as serve

    for main, args in ((live, ["--video", str(SINGLE_FACE)]), (driver, ["--video", str(SINGLE_FACE)]),
                       (batch, [str(SINGLE_FACE), "--out", "unused"]), (serve, [])):
        with pytest.raises(SystemExit) as caught:
            main([*args, "--max-faces", "0"])
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert "--max-faces 0: must be at least 1" in err and "Traceback" not in err


# -- one error family ---------------------------------------------------------------------------------------------

def test_every_error_kind_maps_to_one_exit_code_and_one_line(capsys):
    from realtime_affect.assets import AssetError
    from realtime_affect.console import report_error
    from realtime_affect.driver.config import ConfigError
    from realtime_affect.errors import InputError, ModelError, OutputError, SetupError, WriteError
    from realtime_affect.models.card import CardError
    from realtime_affect.serve.server import ServeError
    from realtime_affect.sinks import SinkError, SinkFailed, SinkWriteError
    from realtime_affect.sources import SourceError

    cases = [(SourceError("a.mp4: no such file"), InputError, 2), (ConfigError("bad key"), InputError, 2),
             (CardError("no card"), ModelError, 2), (AssetError("missing"), SetupError, 2),
             (ServeError("port in use"), SetupError, 2), (SinkError("o.csv: already exists"), OutputError, 2),
             (SinkWriteError("o.csv: write failed (No space left on device)"), WriteError, 74),
             (SinkFailed("o.mp4: the video stops"), OutputError, 1)]
    for exc, kind, code in cases:
        assert isinstance(exc, kind)
        assert report_error(exc, verbose=False, prog="affect-x") == code
        err = capsys.readouterr().err
        assert err == f"affect-x: error: {exc}\n"
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out.csv")
    assert report_error(full, verbose=False, prog="affect-x") == 74
    assert capsys.readouterr().err == "affect-x: error: /data/out.csv: write failed (No space left on device)\n"
    assert report_error(KeyError("bug"), verbose=False, prog="affect-x") == 1
    assert "internal error: KeyError" in capsys.readouterr().err


def test_a_full_disk_through_the_cli_is_one_line_naming_the_file_exit_74(cli, tiny_model):
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    proc = cli("--video", str(SINGLE_FACE), "--jsonl", "/dev/full", "--overwrite", "--model", str(tiny_model), "-q")
    # MediaPipe's LiteRT now and then logs a buffer-alignment warning from a detector thread (a glog "W0000" line,
    # not the product's); every line of ours is checked
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(("W0000", "I0000"))]
    assert proc.returncode == 74 and len(lines) == 1, proc.stderr
    assert "/dev/full" in lines[0] and "No space left" in lines[0] and "Traceback" not in proc.stderr


def test_a_setup_error_through_the_cli_port_in_use(cli, tiny_model, tmp_path):
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = cli("--video", str(SINGLE_FACE), "--csv", str(tmp_path / "o.csv"), "--serve", str(port),
                   "--model", str(tiny_model))
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "warning" not in line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and str(port) in lines[0], proc.stderr


def test_a_model_error_through_the_cli(cli, tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not a model")
    proc = cli("--video", str(SINGLE_FACE), "--csv", str(tmp_path / "o.csv"), "--model", str(bogus))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "model.onnx" in lines[0], proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


# -- sinks --------------------------------------------------------------------------------------------------------

class _Recorder:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.fail_with, self.written = fail_with, []

    def write(self, result) -> None:
        if self.fail_with is not None and len(self.written) == 2:
            raise self.fail_with
        self.written.append(result)

    def close(self) -> None:
        pass


def test_a_sink_that_fails_is_dropped_and_the_others_go_on():
    from realtime_affect.sinks import Sink, SinkFailed, SinkSet, SinkWriteError

    good, bad = _Recorder(), _Recorder(SinkFailed("v.mp4: the encoder refused a frame"))
    sinks = SinkSet([bad, good])
    for i in range(5):
        sinks.write(i)
    assert good.written == [0, 1, 2, 3, 4] and bad.written == [0, 1]
    assert [str(f) for f in sinks.failures] == ["v.mp4: the encoder refused a frame"]
    full = SinkSet([_Recorder(SinkWriteError("o.csv: write failed (No space left on device)"))])
    full.write(0), full.write(1)
    with pytest.raises(SinkWriteError):  # the output's fault: the run stops
        full.write(2)
    assert isinstance(good, Sink)


def test_every_runtime_sink_is_a_sink(tmp_path):
    from realtime_affect.sinks import Sink
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.sinks.jsonl_sink import JsonlSink
    from realtime_affect.sinks.parquet_sink import ParquetSink
    from realtime_affect.sinks.video_sink import VideoSink

    with CsvSink(tmp_path / "a.csv") as a, JsonlSink(tmp_path / "b.jsonl") as b, \
            ParquetSink(tmp_path / "c.parquet") as c, VideoSink(tmp_path / "d.mp4") as d:
        assert all(isinstance(s, Sink) for s in (a, b, c, d))
