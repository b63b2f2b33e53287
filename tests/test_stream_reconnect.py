"""Network streams that drop: against a real HTTP stream server on loopback (``tests/stream_server.py``) that is
killed and started again during a run, and the stream clock's rules on synthetic timestamps."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
from helpers import SINGLE_FACE, csv_rows_so_far, free_port

ROOT = Path(__file__).resolve().parent.parent


def _start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "stream_server.py"), str(SINGLE_FACE), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "listening"
    return proc


def _wait_rows(csv: Path, n: int, client: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while csv_rows_so_far(csv) < n:
        assert client.poll() is None, "the run ended early"
        assert time.monotonic() < deadline, f"fewer than {n} rows after {timeout}s"
        time.sleep(0.1)


def test_a_stream_that_drops_and_comes_back_goes_on_with_the_same_track(tmp_path, tiny_model):
    from realtime_affect.results import read_results

    port, csv = free_port(), tmp_path / "stream.csv"
    server = _start_server(port)
    client = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", f"http://127.0.0.1:{port}",
                               "--csv", str(csv), "--reconnect", "8", "--model", str(tiny_model), "--no-display"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "COLUMNS": "200"})
    try:
        _wait_rows(csv, 60, client)
        server.send_signal(signal.SIGKILL)  # the camera loses power
        server.wait()
        time.sleep(1.5)
        before = csv_rows_so_far(csv)
        server = _start_server(port)  # and comes back
        _wait_rows(csv, before + 60, client)
        server.send_signal(signal.SIGKILL)  # gone for good: the run gives up after --reconnect 8
        server.wait()
        _, stderr = client.communicate(timeout=60)
    finally:
        for proc in (server, client):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert client.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.count("reconnecting for up to 8s") == 2, stderr  # once per outage
    assert stderr.count("reconnected after") == 1 and "giving up" in stderr, stderr
    rows = read_results(csv)
    assert rows["frame"].tolist() == list(range(len(rows)))  # no frame made up, none lost in the numbering
    times = rows["time_s"].to_numpy()
    gaps = times[1:] - times[:-1]
    assert (gaps > 0).all()
    assert (gaps > 1.5).sum() == 1  # the outage shows as one jump in time
    assert rows["track_id"].nunique() == 1  # the same face keeps its id across the outage


def test_a_negative_reconnect_is_refused_in_one_line(cli, tiny_model):
    proc = cli("--video", str(SINGLE_FACE), "--csv", "/tmp/never.csv", "--reconnect", "-1", "--model", str(tiny_model))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("--reconnect -1: must be 0 (off) or more seconds")


class _Pts:
    def __init__(self, pts: int | None) -> None:
        self.pts, self.time_base = pts, Fraction(1, 90000)


def test_the_stream_clock_goes_on_after_a_live_reconnection_and_skips_what_a_file_gave():
    from realtime_affect.sources.video import _StreamClock

    live = _StreamClock(step=1 / 30)
    assert [live.time_of(_Pts(p)) for p in (9000, 12000, 15000)] == pytest.approx([0.0, 1 / 30, 2 / 30])
    live.reconnected(outage_s=4.0, keep_times=False)
    after = live.time_of(_Pts(500))  # a new connection starts its timestamps anew
    assert after == pytest.approx(2 / 30 + 1 / 30 + 4.0)
    assert live.time_of(_Pts(3500)) == pytest.approx(after + 1 / 30)

    served_file = _StreamClock(step=1 / 30)
    given = [served_file.time_of(_Pts(p)) for p in (0, 3000, 6000)]
    served_file.reconnected(outage_s=2.0, keep_times=True)  # reopened from its start: what was given is skipped
    assert [served_file.time_of(_Pts(p)) for p in (0, 3000, 6000, 9000)] == [None, None, None, pytest.approx(0.1)]
    assert given == pytest.approx([0.0, 1 / 30, 2 / 30])
