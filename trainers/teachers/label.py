"""Teacher labels for raw videos: the runtime's tracking and ``align`` make the crops, the teacher ensemble
labels each face. Output is ordinary training data: an MTL annotation file (every ground-truth label
missing), the crops, and a soft-label .npz that ``affect-train student/sequence --soft-labels`` reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from realtime_affect.labels import ACTION_UNITS


@dataclass
class LabelledSet:
    annotations: Path
    images: Path
    soft: Path
    faces: int


def label_videos(videos: list[Path], out: Path, size: int = 112, every: int = 1, as_truth: bool = False,
                 on_video: Callable[[str, int], None] | None = None) -> LabelledSet:
    """Crops in ``out/frames/<video>_t<track>/<frame:05d>.jpg``; one row per face in the annotation file.

    With ``as_truth`` the annotation file holds the teachers' hard labels (top expression, AU > 0.5,
    VA) instead of missing ones: validation data whose metrics read as agreement with the teachers.
    """
    import cv2

    from realtime_affect.faces import align
    from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions
    from realtime_affect.sources import VideoSource
    from realtime_affect.faces.tracking import Tracker, TrackerOptions

    from .ensemble import TeacherEnsemble

    teachers = TeacherEnsemble()
    frames_dir = out / "frames"
    rows, images, expr, aus, va = [], [], [], [], []
    for video in videos:
        count = 0
        with VideoSource(video) as source, Landmarker(LandmarkerOptions(max_faces=4)) as lm:
            tracker = Tracker(TrackerOptions(min_hits=3))
            for frame in source:
                faces = lm.detect(cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB), frame.time_s)
                ids = {id(o.face): o.track_id for o in tracker.update(faces, frame.time_s).observed}
                tracked = [(f, ids[id(f)]) for f in faces if ids.get(id(f), -1) >= 0]  # confirmed tracks only
                faces = [f for f, _ in tracked]
                if not faces or frame.index % every:
                    continue
                crops = align.crops(frame.bgr, [f.landmarks for f in faces], size)
                for (face, track_id), crop, labels in zip(tracked, crops, teachers.label(frame.bgr, faces)):
                    rel = f"{video.stem}_t{track_id}/{frame.index + 1:05d}.jpg"
                    path = frames_dir / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
                    if as_truth:
                        v, a = labels.valence_arousal
                        rows.append(f"{rel},{v:.4f},{a:.4f},{int(labels.expression.argmax())},"
                                    + ",".join(str(int(p > 0.5)) for p in labels.action_units))
                    else:
                        rows.append(f"{rel},-5,-5,-1," + ",".join(["-1"] * len(ACTION_UNITS)))
                    images.append(str(path))
                    expr.append(labels.expression)
                    aus.append(labels.action_units)
                    va.append(labels.valence_arousal)
                    count += 1
        if on_video is not None:
            on_video(video.name, count)
    out.mkdir(parents=True, exist_ok=True)
    ann = out / "annotations.txt"
    ann.write_text("image,valence,arousal,expression," + ",".join(ACTION_UNITS) + "\n" + "\n".join(rows) + "\n")
    soft = out / "soft_labels.npz"
    np.savez_compressed(soft, images=np.array(images), expression=np.array(expr, np.float32),
                        action_units=np.array(aus, np.float32), valence_arousal=np.array(va, np.float32))
    return LabelledSet(annotations=ann, images=frames_dir, soft=soft, faces=len(rows))
