"""What the face finder (``faces/finder.py``) is asked to do. Leaf module: the standard library only, so that the
commands' argument parsers take its defaults without importing numpy or MediaPipe."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FinderOptions:
    max_faces: int = 4
    #: Full-range sweep period in frames: one sweep of a 640x360 frame costs ~10 ms here (one detector
    #: call), so every 20 frames adds ~0.5 ms per frame (~2.5% of the one-face budget).
    sweep_every: int = 20
    #: Faces smaller than this many pixels (box height) are ignored.
    min_face_size: int = 0
    #: Off: FaceLandmarker alone (faster, misses small and distant faces).
    full_range: bool = True
    overlap: float = 0.3
    #: Keep faces the detector finds but the landmarker cannot fit (profile, occlusion), aligned from the
    #: detector's keypoints and marked ``fitted=False``; off: such faces are left out.
    keep_unfitted: bool = True
    #: A new face the landmarker cannot fit needs at least this detector score to become a row (a face already
    #: followed keeps being followed even when its fit is lost). Measured with ``benchmarks/false_faces.py``:
    #: drawn faces and textures the detector finds score 0.5-0.84, real faces the landmarker cannot fit
    #: 0.51-0.87; at 0.75 the unfitted false faces drop by 93% and 14% of the unfitted real ones stay.
    unfitted_min_score: float = 0.75
    #: The next two are set by the analysis session's running mode (``analysis/session.py``).
    #: Live mode: run the full-range sweeps in a background thread and merge their faces into a later frame,
    #: so no frame waits ~10 ms for a sweep (results then depend on timing).
    background_sweeps: bool = False
    #: Files: run each sweep after the first in the background and merge it exactly this many frames later
    #: (waiting for it then if need be), so results never depend on timing; a new face a later sweep finds
    #: then appears that many frames late. 0: sweeps in line.
    sweep_lag: int = 0
    #: Background sweeps' detector threads at idle CPU priority: they take only cycles nothing else wants.
    #: None: the analysis session decides (with at least 2 cores, where the landmarker leaves cycles free).
    idle_sweeps: bool | None = None
