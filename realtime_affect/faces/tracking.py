"""Track identities across frames: Hungarian matching of faces to tracks, birth after a few hits,
death after a gap. Pure Python + numpy; the faces come from any detector/landmarker.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from realtime_affect.faces.matching import match
from realtime_affect.types import Face


@dataclass
class TrackerOptions:
    #: Consecutive hits before a track is born (single-frame false positives never become tracks).
    min_hits: int = 3
    #: A confirmed track survives this long without a match, then dies (a returning face is a new track).
    max_gap_s: float = 0.5
    min_iou: float = 0.2
    max_centre_distance: float = 0.6


@dataclass
class Track:
    key: int  # internal handle, also for tentative tracks
    box: np.ndarray
    last_time_s: float
    hits: int = 1
    track_id: int = -1  # public id, assigned when the track is confirmed
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.float32))

    @property
    def confirmed(self) -> bool:
        return self.track_id >= 0

    def predicted_box(self) -> np.ndarray:
        return self.box + self.velocity


@dataclass
class Observed:
    """One face matched to a track in the current frame (``track_id``: the public id, -1 until confirmed)."""

    key: int
    face: Face
    confirmed: bool
    track_id: int = -1


@dataclass
class TrackUpdate:
    """What changed in one frame."""

    observed: list[Observed] = field(default_factory=list)
    #: Tracks confirmed in this frame: (key, new public track_id).
    born: list[tuple[int, int]] = field(default_factory=list)
    #: Tracks that ended: (key, was_confirmed).
    ended: list[tuple[int, bool]] = field(default_factory=list)


class Tracker:
    """Keeps identities of faces across frames of one stream."""

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._tracks: list[Track] = []
        self._keys = itertools.count()
        self._ids = itertools.count(1)

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    def update(self, faces: list[Face], time_s: float) -> TrackUpdate:
        """Match this frame's faces to the tracks (the faces are not changed: ``Observed`` carries the id)."""
        opts = self.options
        update = TrackUpdate()
        boxes = np.array([f.box for f in faces], dtype=np.float32).reshape(-1, 4)
        pred = np.array([t.predicted_box() for t in self._tracks], dtype=np.float32).reshape(-1, 4)
        pairs, lost, new = match(pred, boxes, opts.min_iou, opts.max_centre_distance)
        for ti, di in pairs:
            track, face = self._tracks[ti], faces[di]
            track.velocity = 0.5 * track.velocity + 0.5 * (face.box - track.box)
            track.box = face.box.astype(np.float32)
            track.last_time_s = time_s
            track.hits += 1
            if not track.confirmed and track.hits >= opts.min_hits:
                track.track_id = next(self._ids)
                update.born.append((track.key, track.track_id))
            update.observed.append(Observed(track.key, face, track.confirmed, track.track_id))
        survivors = []
        lost_set = set(lost)
        for i, track in enumerate(self._tracks):
            if i in lost_set:
                gone = (not track.confirmed) or (time_s - track.last_time_s > opts.max_gap_s)
                if gone:
                    update.ended.append((track.key, track.confirmed))
                    continue
                track.velocity = np.zeros(4, dtype=np.float32)
            survivors.append(track)
        self._tracks = survivors
        for di in new:
            face = faces[di]
            track = Track(key=next(self._keys), box=face.box.astype(np.float32), last_time_s=time_s)
            if opts.min_hits <= 1:
                track.track_id = next(self._ids)
                update.born.append((track.key, track.track_id))
            self._tracks.append(track)
            update.observed.append(Observed(track.key, face, track.confirmed, track.track_id))
        return update

    def finish(self) -> TrackUpdate:
        """End every track (the stream is over)."""
        update = TrackUpdate(ended=[(t.key, t.confirmed) for t in self._tracks])
        self._tracks = []
        return update
