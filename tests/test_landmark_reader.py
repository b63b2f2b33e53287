"""The numpy reader of FaceLandmarker results gives exactly what mediapipe's Python API gives."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import DATA, PEXELS, decode_frames
from realtime_affect.faces.landmark_reader import NativeReader
from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions


def _run(frames, video: bool, native: bool):
    with Landmarker(LandmarkerOptions(max_faces=4), video=video) as lm:
        if not native:
            lm._reader = None
        else:
            assert lm._reader is not None, "this mediapipe's C result layout was not recognised"
            assert lm._reader.direct is not None, "this mediapipe's raw C library was not reachable"
        return [lm.detect(rgb, i / 24.0) for i, rgb in enumerate(frames)]


def _differences(a, b) -> list[str]:
    """Where two runs' faces differ (empty: the same faces, value for value)."""
    if [len(f) for f in a] != [len(f) for f in b]:
        return [f"face counts {[len(f) for f in a]} vs {[len(f) for f in b]}"]
    found = []
    for i, (fa, fb) in enumerate(zip(a, b)):
        for x, y in zip(fa, fb):
            if x.landmarks.shape != (478, 3) or x.landmarks.dtype != np.float32:
                found.append(f"frame {i}: landmarks {x.landmarks.shape} {x.landmarks.dtype}")
            for name in ("landmarks", "blendshapes", "pose", "box"):
                if not np.array_equal(getattr(x, name), getattr(y, name)):
                    found.append(f"frame {i}: {name}")
    return found


def test_video_mode_reads_the_same_faces_as_the_python_api():
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in decode_frames(PEXELS, 12)]
    native, python = _run(frames, True, True), _run(frames, True, False)
    assert [len(f) for f in native] == [1] * 12  # her face in every frame
    assert _differences(native, python) == []


def test_image_mode_reads_the_same_faces_as_the_python_api():
    still = cv2.cvtColor(cv2.imread(str(DATA / "single_face.jpg")), cv2.COLOR_BGR2RGB)
    blank = np.zeros_like(still)
    native, python = _run([still, blank, still], False, True), _run([still, blank, still], False, False)
    assert [len(f) for f in native] == [1, 0, 1]
    assert _differences(native, python) == []


def test_an_unknown_task_layout_falls_back_to_the_python_api():
    class NotATask:
        _handle = None

    assert NativeReader.attach(NotATask()) is None


def test_a_direct_call_mediapipe_refuses_raises_its_error_and_the_task_keeps_working():
    import mediapipe as mp

    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
    with Landmarker(LandmarkerOptions(max_faces=1), video=True) as lm:
        reader = lm._reader
        assert reader is not None and reader.direct is not None
        assert reader.detect(image, 100).landmarks == []
        with pytest.raises(ValueError, match="monotonically increasing"):
            reader.detect(image, 50)  # an earlier timestamp: MediaPipe's status, raised as its exception
        assert reader.detect(image, 200).landmarks == []


def test_the_full_range_detector_called_directly_finds_what_mediapipe_detect_finds():
    from realtime_affect.faces.detection import FullRangeDetector

    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in decode_frames(PEXELS, 3)]
    frames.append(np.zeros_like(frames[0]))
    with FullRangeDetector() as detector:
        assert detector._direct is not None, "this mediapipe's raw C library was not reachable"
        direct = [detector.detect(rgb) for rgb in frames]
        detector._direct = None
        wrapper = [detector.detect(rgb) for rgb in frames]
    assert [len(d) for d in direct] == [1, 1, 1, 0]  # her face in each frame, none in the black one
    assert [len(d) for d in wrapper] == [1, 1, 1, 0]
    for a, b in zip(direct, wrapper):
        for x, y in zip(a, b):
            assert np.array_equal(x.box, y.box) and np.array_equal(x.keypoints, y.keypoints)
            assert x.score == y.score


def test_the_reader_through_mediapipes_wrapper_reads_what_the_direct_calls_read():
    import mediapipe as mp

    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in decode_frames(PEXELS, 4)]
    read = {}
    for direct in (True, False):
        with Landmarker(LandmarkerOptions(max_faces=2), video=True) as lm:
            if not direct:
                lm._reader.direct = None  # as when this mediapipe keeps its raw library elsewhere
            read[direct] = [lm._reader.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), 100 + 40 * i)
                            for i, rgb in enumerate(frames)]
    assert [len(r.landmarks) for r in read[True]] == [1, 1, 1, 1]
    for a, b in zip(read[True], read[False]):
        assert len(a.landmarks) == len(b.landmarks)
        assert all(np.array_equal(x, y) for x, y in zip(a.landmarks, b.landmarks))
        assert all(np.array_equal(x, y) for x, y in zip(a.blendshapes, b.blendshapes))


def test_images_made_with_the_lock_held_read_the_same_faces_as_mediapipe_images():
    import mediapipe as mp

    from realtime_affect.faces.mediapipe_direct import NativeImage

    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in decode_frames(PEXELS, 6)]
    made = {}
    for held in (True, False):
        with Landmarker(LandmarkerOptions(max_faces=2), video=True) as lm:
            if held:
                image = lm._reader.image(frames[0], mp.ImageFormat.SRGB)
                assert isinstance(image, NativeImage), "this mediapipe's image functions were not recognised"
                assert lm._reader.image(frames[0].astype(np.float32), mp.ImageFormat.SRGB) is None  # not uint8
                assert lm._reader.image(frames[0][:, ::2], mp.ImageFormat.SRGB) is None  # not contiguous
                image.close()
                image.close()  # a second close is harmless
                assert not image._image_ptr
            else:
                lm._reader.direct._held = {}  # as when the quick functions are not reachable: mediapipe.Image
                assert lm._reader.image(frames[0], mp.ImageFormat.SRGB) is None
            made[held] = [lm.detect(rgb, i / 24.0) for i, rgb in enumerate(frames)]
    assert [len(f) for f in made[True]] == [1] * 6  # her face in every frame
    assert _differences(made[True], made[False]) == []
