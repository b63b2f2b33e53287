"""Per-row measures of every tracked face: head pose, gaze, each eye's openness, blinks and a quality score.

One ``RowMeasurer`` per stream, fed results in frame order: each track keeps its own open-eye level and its
closures (``faces.eyes``), so openness and blinks are against that person's own eyes. Stills are measured on
their own (the open level is the population prior).
"""
from __future__ import annotations

import math

from realtime_affect.faces.eyes import CLOSED, OPEN, EyeOptions, EyeStateEstimator
from realtime_affect.faces.measures import gaze_angles, head_pose
from realtime_affect.faces.quality import face_quality
from realtime_affect.types import FaceMeasures, FrameResult

#: closures shorter than this are blinks (longer ones are eyes kept shut)
BLINK_MAX_S = 1.0
#: a track not seen for this long is forgotten
FORGET_S = 5.0


class _TrackEyes:
    def __init__(self, options: EyeOptions | None) -> None:
        self.eyes = EyeStateEstimator(options)
        self.closed_since: float | None = None
        self.last_seen = 0.0


class RowMeasurer:
    """Sets ``FaceResult.measures`` on every face of the results it is given; ``eyes``: how eye state is read
    (the session's ``AnalyzerOptions.eyes``, which the driver monitor's configuration sets)."""

    def __init__(self, eyes: EyeOptions | None = None) -> None:
        self.eyes = eyes or EyeOptions()
        self._tracks: dict[int, _TrackEyes] = {}

    def measure(self, result: FrameResult, still: bool = False) -> FrameResult:
        t = result.frame.time_s
        bgr = result.frame.bgr
        for face_result in result.faces:
            face = face_result.face
            track = self._tracks.get(face_result.track_id) if not still else None
            if track is None:
                track = _TrackEyes(self.eyes)
                if not still:
                    self._tracks[face_result.track_id] = track
            track.last_seen = t
            yaw, pitch, roll = head_pose(face.pose)
            lms = face.landmarks if face.fitted else None
            reading = track.eyes.update(t, lms, face.blendshapes, yaw, pitch, face.fitted, bgr)
            visible = tuple(side for side, v in (("left", reading.open_left), ("right", reading.open_right))
                            if not math.isnan(v))
            gaze_yaw, gaze_pitch, _ = gaze_angles(lms, yaw, pitch, visible if reading.state == OPEN else ())
            blink = False
            if reading.state == CLOSED:
                if track.closed_since is None:
                    track.closed_since = t
            elif reading.state == OPEN and track.closed_since is not None:
                blink = t - track.closed_since < BLINK_MAX_S
                track.closed_since = None
            quality, flags = face_quality(bgr, face.box, yaw, face.fitted, reading.hidden)
            face_result.measures = FaceMeasures(yaw, pitch, roll, gaze_yaw, gaze_pitch, reading.open_left,
                                                reading.open_right, blink, quality, flags, eye_state=reading.state)
        if not still:
            for track_id in [k for k, v in self._tracks.items() if t - v.last_seen > FORGET_S]:
                del self._tracks[track_id]
        return result
