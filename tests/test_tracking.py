import numpy as np

from realtime_affect.faces.tracking import Tracker, TrackerOptions
from realtime_affect.types import Face


def face(x, y, s=50.0):
    return Face(box=np.array([x, y, s, s], np.float32), landmarks=np.zeros((478, 3), np.float32))


def test_a_track_is_born_after_three_hits_and_keeps_its_id():
    tr = Tracker(TrackerOptions(min_hits=3))
    ids = []
    for i in range(10):
        up = tr.update([face(100 + 2 * i, 100)], i / 30)
        ids.append(up.observed[0].track_id)
        if i == 2:
            assert up.born and up.born[0][1] == 1
    assert ids[:2] == [-1, -1] and set(ids[2:]) == {1}


def test_a_single_frame_false_positive_never_becomes_a_track():
    tr = Tracker(TrackerOptions(min_hits=3))
    tr.update([face(10, 10)], 0.0)
    up = tr.update([], 1 / 30)
    assert up.ended == [(0, False)]
    for i in range(2, 10):
        assert tr.update([], i / 30).born == []


def test_a_short_miss_keeps_the_id_a_long_gap_ends_the_track():
    tr = Tracker(TrackerOptions(min_hits=2, max_gap_s=0.5))
    for i in range(5):
        tr.update([face(100, 100)], i / 30)
    tr.update([], 5 / 30)
    up = tr.update([face(102, 100)], 6 / 30)
    assert up.observed[0].track_id == 1
    for i in range(7, 30):  # ~0.8 s without the face
        up = tr.update([], i / 30)
        if up.ended:
            break
    assert up.ended == [(0, True)]
    tr.update([face(100, 100)], 1.0)
    up = tr.update([face(100, 100)], 1.03)
    assert up.born and up.born[0][1] == 2


def test_two_faces_passing_each_other_keep_their_ids():
    tr = Tracker(TrackerOptions(min_hits=1))
    seen = {}
    for i in range(40):  # A moves right, B moves left, on different rows
        a, b = face(10 + 10 * i, 50), face(400 - 10 * i, 130)
        faces = [b, a] if i % 2 else [a, b]  # detector order changes from frame to frame
        ids = {id(o.face): o.track_id for o in tr.update(faces, i / 30).observed}
        seen.setdefault("a", set()).add(ids[id(a)])
        seen.setdefault("b", set()).add(ids[id(b)])
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1 and seen["a"] != seen["b"]


def test_the_tracker_never_changes_the_faces_it_is_given():
    """Faces are the finder's, possibly read by another thread: the id travels on ``Observed``."""
    import copy

    tr = Tracker(TrackerOptions(min_hits=1))
    given = face(100, 100)
    before = copy.deepcopy(given)
    up = tr.update([given], 0.0)
    assert up.observed[0].track_id == 1 and up.observed[0].face is given
    assert vars(given).keys() == vars(before).keys() and given.score == before.score
    np.testing.assert_array_equal(given.box, before.box)
