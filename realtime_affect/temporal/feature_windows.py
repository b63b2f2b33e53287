"""Per-track feature windows for the sequence model.

Two policies, both pure numpy:

* ``CentredWindows`` (files): windows of ``W`` observations every ``hop`` observations; every
  observation is covered by up to ``W / hop`` windows, so it gets past and future context, and the
  overlapping predictions are averaged with weights that favour a window's centre. Observations are
  released (``final``) as soon as no later window can cover them, so memory stays bounded whatever
  the file length.
* ``LiveWindows`` (camera): the newest ``W`` observations per track; the model reports the last step,
  or ``lookahead`` steps before it.

Partial windows (new or short tracks, the tail of a track) are edge-padded to ``W`` by repeating the
nearest real observation; the padded steps are never reported.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Hashable

import numpy as np


@dataclass
class Observation:
    """One face of one frame as the sequence model sees it: its feature and accumulated outputs."""

    feature: np.ndarray
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    weight: float = 0.0
    final: bool = False

    def add(self, outputs: dict[str, np.ndarray], weight: float) -> None:
        for name, value in outputs.items():
            if name in self.sums:
                self.sums[name] += weight * value
            else:
                self.sums[name] = weight * np.asarray(value, dtype=np.float64)
        self.weight += weight

    def mean(self) -> dict[str, np.ndarray]:
        """Weighted mean of every window's prediction for this observation."""
        if self.weight <= 0:
            raise ValueError("observation has no sequence prediction yet")
        return {name: (value / self.weight).astype(np.float32) for name, value in self.sums.items()}


@dataclass
class WindowJob:
    """One window to run: ``features`` (W, D), and the observation at each real step."""

    key: Hashable
    features: np.ndarray
    observations: list[Observation]
    weights: np.ndarray  # (len(observations),)
    start: int = 0
    tail: bool = False


def centre_weights(window: int) -> np.ndarray:
    """Triangular weights over a window's steps: the centre counts most, the edges least (> 0)."""
    pos = np.arange(window, dtype=np.float64)
    half = window / 2.0
    return np.clip(1.0 - np.abs(pos - (window - 1) / 2.0) / half, 0.0, None) + 0.05


def pad_window(features: list[np.ndarray] | np.ndarray, window: int, at_end: bool = True) -> np.ndarray:
    """Stack features to (window, D), repeating the last (or first) one to fill a partial window."""
    feats = np.asarray(features, dtype=np.float32)
    n = feats.shape[0]
    if n >= window:
        return feats[:window] if at_end else feats[-window:]
    pad = np.repeat(feats[-1:] if at_end else feats[:1], window - n, axis=0)
    return np.concatenate([feats, pad] if at_end else [pad, feats], axis=0)


class _TrackBuffer:
    def __init__(self) -> None:
        self.observations: deque[Observation] = deque()
        self.offset = 0  # track position of observations[0]
        self.count = 0  # observations pushed so far
        self.next_start = 0  # start position of the next regular window
        self.covered = 0  # positions below this have at least one window


class CentredWindows:
    """Centred, overlapping windows per track, with overlap averaging (file processing).

    Protocol: ``push`` observations; run the jobs from ``ready`` (and from ``finish`` when a track
    ends) through the sequence model, in the order given, and hand each result to ``accumulate``.
    An observation's ``final`` flag says its averaged prediction will not change any more.
    """

    def __init__(self, window: int = 32, hop: int | None = None) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.hop = hop or max(1, window // 2)
        if not 1 <= self.hop <= window:
            raise ValueError("hop must be in 1..window")
        self._weights = centre_weights(window)
        self._tracks: dict[Hashable, _TrackBuffer] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._tracks

    @property
    def buffered(self) -> int:
        """Observations held in memory across all tracks."""
        return sum(len(b.observations) for b in self._tracks.values())

    def push(self, key: Hashable, feature: np.ndarray) -> Observation:
        """Add one observation to a track (a new key starts a new track)."""
        buf = self._tracks.setdefault(key, _TrackBuffer())
        obs = Observation(feature=np.asarray(feature, dtype=np.float32))
        buf.observations.append(obs)
        buf.count += 1
        return obs

    def ready(self) -> list[WindowJob]:
        """Full regular windows that can run now."""
        jobs = []
        for key, buf in self._tracks.items():
            jobs.extend(self._regular_jobs(key, buf))
        return jobs

    def finish(self, key: Hashable) -> list[WindowJob]:
        """The track ended: the windows that still cover its tail. The track is then forgotten."""
        buf = self._tracks.pop(key, None)
        if buf is None or buf.count == 0:
            return []
        jobs = self._regular_jobs(key, buf)
        covered = max(buf.covered, jobs[-1].start + self.window if jobs else 0)
        if covered < buf.count:
            start = max(buf.offset, buf.count - self.window)
            jobs.append(self._job(key, buf, start, buf.count))
        if jobs:
            jobs[-1].tail = True
        else:  # every observation already has a prediction
            for obs in buf.observations:
                obs.final = True
        return jobs

    def _regular_jobs(self, key: Hashable, buf: _TrackBuffer) -> list[WindowJob]:
        jobs = []
        while buf.next_start + self.window <= buf.count:
            jobs.append(self._job(key, buf, buf.next_start, buf.next_start + self.window))
            buf.next_start += self.hop
        return jobs

    def _job(self, key: Hashable, buf: _TrackBuffer, start: int, end: int) -> WindowJob:
        obs = [buf.observations[i - buf.offset] for i in range(start, end)]
        feats = pad_window([o.feature for o in obs], self.window, at_end=True)
        return WindowJob(key=key, features=feats, observations=obs,
                         weights=self._weights[: len(obs)], start=start)

    def accumulate(self, job: WindowJob, outputs: dict[str, np.ndarray]) -> None:
        """Add a window's outputs (each (W, k)) to its observations; mark the settled ones final."""
        for step, (obs, weight) in enumerate(zip(job.observations, job.weights)):
            if not obs.final:
                obs.add({name: value[step] for name, value in outputs.items()}, float(weight))
        if job.tail:
            # Last job of an ended track: everything it holds is settled.
            for obs in job.observations:
                obs.final = True
            buf = None
        else:
            buf = self._tracks.get(job.key)
        if buf is None:
            return
        buf.covered = max(buf.covered, job.start + self.window)
        # Position i's last regular window starts at floor(i / hop) * hop: after the window at
        # ``job.start`` every position below job.start + hop is settled.
        settled = job.start + self.hop
        for i in range(buf.offset, min(settled, buf.count)):
            buf.observations[i - buf.offset].final = True
        # Forget settled observations that no future window needs (keep the last W for a tail).
        while (buf.observations and buf.observations[0].final and buf.offset < buf.next_start
               and buf.count - buf.offset > self.window):
            buf.observations.popleft()
            buf.offset += 1


class LiveWindows:
    """The newest ``window`` observations per track (camera mode): the model runs on each track's latest
    window and reports its last step, or ``lookahead`` steps before it (delay traded for future context)."""

    def __init__(self, window: int = 32, lookahead: int = 0) -> None:
        if not 0 <= lookahead < window:
            raise ValueError(f"lookahead must be in 0..{window - 1}")
        self.window = window
        self.lookahead = lookahead
        self._tracks: dict[Hashable, deque[np.ndarray]] = {}

    def push(self, key: Hashable, feature: np.ndarray) -> None:
        buf = self._tracks.setdefault(key, deque(maxlen=self.window))
        buf.append(np.asarray(feature, dtype=np.float32))

    def drop(self, key: Hashable) -> None:
        self._tracks.pop(key, None)

    def latest(self, key: Hashable) -> tuple[np.ndarray, int]:
        """(window features (W, D), step to report). A short history is edge-padded at the front."""
        buf = self._tracks[key]
        feats = pad_window(list(buf), self.window, at_end=False)
        return feats, self.window - 1 - min(self.lookahead, len(buf) - 1)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._tracks
