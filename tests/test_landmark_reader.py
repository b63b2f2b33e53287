"""The numpy reader of FaceLandmarker results gives exactly what mediapipe's Python API gives."""
from __future__ import annotations

import cv2
import numpy as np

from helpers import DATA, PEXELS, decode_frames
from realtime_affect.landmark_reader import NativeReader
from realtime_affect.landmarker import FaceLandmarks, LandmarkerOptions


def _run(frames, video: bool, native: bool):
    with FaceLandmarks(LandmarkerOptions(max_faces=4), video=video) as lm:
        if not native:
            lm._reader = None
        else:
            assert lm._reader is not None, "this mediapipe's C result layout was not recognised"
        return [lm.detect(rgb, i / 24.0) for i, rgb in enumerate(frames)]


def _same(a, b) -> None:
    assert [len(f) for f in a] == [len(f) for f in b]
    assert sum(len(f) for f in a) > 0
    for fa, fb in zip(a, b):
        for x, y in zip(fa, fb):
            assert x.landmarks.shape == y.landmarks.shape == (478, 3) and x.landmarks.dtype == np.float32
            np.testing.assert_array_equal(x.landmarks, y.landmarks)
            np.testing.assert_array_equal(x.blendshapes, y.blendshapes)
            np.testing.assert_array_equal(x.pose, y.pose)
            np.testing.assert_array_equal(x.box, y.box)


def test_video_mode_reads_the_same_faces_as_the_python_api():
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in decode_frames(PEXELS, 12)]
    _same(_run(frames, True, True), _run(frames, True, False))


def test_image_mode_reads_the_same_faces_as_the_python_api():
    still = cv2.cvtColor(cv2.imread(str(DATA / "single_face.jpg")), cv2.COLOR_BGR2RGB)
    blank = np.zeros_like(still)
    _same(_run([still, blank, still], False, True), _run([still, blank, still], False, False))


def test_an_unknown_task_layout_falls_back_to_the_python_api():
    class NotATask:
        _handle = None

    assert NativeReader.attach(NotATask()) is None
