"""Assignment of detections to tracks: box IoU, a cost matrix, and the Hungarian algorithm.

Pure numpy; sizes are tiny (faces per frame), so a plain O(n^3) solver is plenty.
"""
from __future__ import annotations

import math

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU between boxes a (N, 4) and b (M, 4), each (x, y, w, h)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0, None], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1, None], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between box centres, in units of the geometric mean of the two box sizes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ca = a[:, :2] + a[:, 2:] / 2
    cb = b[:, :2] + b[:, 2:] / 2
    sa = np.sqrt(a[:, 2] * a[:, 3])
    sb = np.sqrt(b[:, 2] * b[:, 3])
    dist = np.linalg.norm(ca[:, None] - cb[None], axis=-1)
    return dist / np.maximum(np.sqrt(sa[:, None] * sb[None]), 1e-6)


def hungarian(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost assignment for a rectangular cost matrix; returns (row, col) pairs."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return []
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    inf = float("inf")
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=int)  # p[j]: row (1-based) assigned to column j
    way = np.zeros(m + 1, dtype=int)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            cur = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    pairs = [(int(p[j]) - 1, j - 1) for j in range(1, m + 1) if p[j] != 0]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)


def _pair_scores(track_boxes: np.ndarray, det_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, centre distance) matrices, in plain Python floats: for the few boxes of a frame this is several
    times cheaper than numpy's per-call overhead, and it holds Python's lock for that much less."""
    tracks = [[float(v) for v in box] for box in np.asarray(track_boxes).reshape(-1, 4)]
    dets = [[float(v) for v in box] for box in np.asarray(det_boxes).reshape(-1, 4)]
    iou = np.empty((len(tracks), len(dets)))
    dist = np.empty((len(tracks), len(dets)))
    for i, (ax, ay, aw, ah) in enumerate(tracks):
        for j, (bx, by, bw, bh) in enumerate(dets):
            iw = max(min(ax + aw, bx + bw) - max(ax, bx), 0.0)
            ih = max(min(ay + ah, by + bh) - max(ay, by), 0.0)
            inter = iw * ih
            union = aw * ah + bw * bh - inter
            iou[i, j] = inter / max(union, 1e-12) if union > 0 else 0.0
            scale = max(math.sqrt(math.sqrt(max(aw * ah, 0.0)) * math.sqrt(max(bw * bh, 0.0))), 1e-6)
            dist[i, j] = math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2) / scale
    return iou, dist


def match(track_boxes: np.ndarray, det_boxes: np.ndarray, min_iou: float = 0.2,
          max_centre_distance: float = 0.6) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Match tracks to detections; returns (pairs, unmatched tracks, unmatched detections).

    A pair must overlap (IoU >= min_iou) or have close centres (fast motion shrinks IoU first).
    """
    nt, nd = len(track_boxes), len(det_boxes)
    if nt == 0 or nd == 0:
        return [], list(range(nt)), list(range(nd))
    if nt * nd <= 64:
        iou, dist = _pair_scores(track_boxes, det_boxes)
    else:
        iou, dist = iou_matrix(track_boxes, det_boxes), centre_distance(track_boxes, det_boxes)
    allowed = (iou >= min_iou) | (dist <= max_centre_distance)
    cost = (1.0 - iou) + 0.5 * np.minimum(dist, 2.0)
    cost = np.where(allowed, cost, 1e6)
    if min(nt, nd) == 1:  # one track or one face: the best single pair is the optimal assignment
        t, d = np.unravel_index(int(np.argmin(cost)), cost.shape)
        pairs = [(int(t), int(d))] if allowed[t, d] else []
    else:
        pairs = [(t, d) for t, d in hungarian(cost) if allowed[t, d]]
    mt = {t for t, _ in pairs}
    md = {d for _, d in pairs}
    return pairs, [t for t in range(nt) if t not in mt], [d for d in range(nd) if d not in md]
