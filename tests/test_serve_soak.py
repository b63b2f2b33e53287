"""A bounded soak of the dashboard server on loopback (benchmarks/soak_server.py): thousands of subscribe and
unsubscribe cycles, page views, browser cameras cut off mid-frame and slow readers, while a source publishes;
memory, threads and file descriptors must be flat at the end and frames still arrive in order."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


@pytest.mark.slow
def test_the_server_stays_flat_through_thousands_of_connections(tiny_model, capsys):
    from soak_server import soak

    from realtime_affect.models.loader import open_model

    with open_model(tiny_model, backend="torch", threads=1) as model:
        report = soak(model, subscribe_cycles=2000, view_cycles=300, camera_cycles=300)
    with capsys.disabled():
        print("\n" + "\n".join(report.lines()))
    assert report.cycles == {"subscribe": 2000, "view": 300, "camera_dropped": 300}
    assert report.in_order and report.published > 100
    assert report.end.threads <= report.start.threads
    assert report.end.fds <= report.start.fds + 2
    assert report.end.rss_mb - report.start.rss_mb < 40, report.lines()
