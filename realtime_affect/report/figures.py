"""Per track: expression probabilities over time (stacked), valence and arousal, an AU heat map, the share
of time per expression and, with the video, a thumbnail of the face. Matplotlib (Agg) only; no display."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSION_COLUMNS, EXPRESSIONS

#: One colour per expression, the same in every panel.
EXPRESSION_COLOURS = ("#9e9e9e", "#d62728", "#8c564b", "#9467bd", "#f2c200", "#1f77b4", "#17becf", "#7f7f7f")


@dataclass
class Track:
    """One face track of one source, as the report shows it."""

    source: str
    track_id: int
    time_s: np.ndarray       # (N,)
    expressions: np.ndarray  # (N, 8)
    aus: np.ndarray          # (N, 12)
    va: np.ndarray           # (N, 2)
    boxes: np.ndarray        # (N, 4)
    frames: np.ndarray       # (N,)
    thumbnail: np.ndarray | None = None  # RGB

    @property
    def share(self) -> np.ndarray:
        """Share of the track's frames where each expression is the most probable."""
        top = self.expressions.argmax(1)
        return np.bincount(top, minlength=len(EXPRESSIONS)) / max(len(top), 1)


def tracks_of(df) -> list[Track]:
    """The tracks in a results DataFrame (``read_results``), by source then track id."""
    out = []
    for (source, track_id), g in df.sort_values(["source", "track_id", "frame"]).groupby(["source", "track_id"],
                                                                                         sort=True):
        out.append(Track(str(source), int(track_id), g["time_s"].to_numpy(float),
                         g[list(EXPRESSION_COLUMNS)].to_numpy(float), g[list(ACTION_UNITS)].to_numpy(float),
                         g[["valence", "arousal"]].to_numpy(float), g[["x", "y", "w", "h"]].to_numpy(float),
                         g["frame"].to_numpy(int)))
    return out


def add_thumbnails(tracks: list[Track], video: Path) -> None:
    """A face crop per track from ``video``: the frame at the middle of the track (decoded once, in order)."""
    from realtime_affect.sources import VideoSource

    wanted: dict[int, list[Track]] = {}
    for t in tracks:
        wanted.setdefault(int(t.frames[len(t.frames) // 2]), []).append(t)
    if not wanted:
        return
    last = max(wanted)
    with VideoSource(video) as source:
        for frame in source:
            for t in wanted.get(frame.index, []):
                i = int(np.searchsorted(t.frames, frame.index))
                x, y, w, h = t.boxes[min(i, len(t.boxes) - 1)]
                pad = 0.15 * max(w, h)
                x0, y0 = int(max(0, x - pad)), int(max(0, y - pad))
                x1, y1 = int(min(frame.width, x + w + pad)), int(min(frame.height, y + h + pad))
                if x1 > x0 and y1 > y0:
                    t.thumbnail = frame.bgr[y0:y1, x0:x1, ::-1].copy()
            if frame.index >= last:
                break


def _track_row(axes, t: Track, show_thumbnail: bool) -> None:
    ax_img, ax_expr, ax_va, ax_au, ax_share = axes if show_thumbnail else (None, *axes)
    if ax_img is not None:
        ax_img.axis("off")
        if t.thumbnail is not None:
            ax_img.imshow(t.thumbnail)
        ax_img.set_title(f"#{t.track_id}", fontsize=9)
    ax_expr.stackplot(t.time_s, t.expressions.T, colors=EXPRESSION_COLOURS, labels=EXPRESSIONS, linewidth=0)
    ax_expr.set_ylim(0, 1)
    ax_expr.set_xlim(t.time_s[0], max(t.time_s[-1], t.time_s[0] + 1e-3))
    ax_expr.set_ylabel(f"{Path(t.source).name}\ntrack {t.track_id}", fontsize=8)
    ax_expr.set_title("expressions", fontsize=9)
    ax_va.plot(t.time_s, t.va[:, 0], color="#2ca02c", label="valence", linewidth=1.2)
    ax_va.plot(t.time_s, t.va[:, 1], color="#ff7f0e", label="arousal", linewidth=1.2)
    ax_va.axhline(0, color="#cccccc", linewidth=0.8)
    ax_va.set_ylim(-1, 1)
    ax_va.set_title("valence / arousal", fontsize=9)
    ax_va.legend(loc="lower left", fontsize=6, frameon=False, ncol=2)
    extent = (t.time_s[0], max(t.time_s[-1], t.time_s[0] + 1e-3), len(ACTION_UNITS) - 0.5, -0.5)
    ax_au.imshow(t.aus.T, aspect="auto", cmap="magma", vmin=0, vmax=1, extent=extent, interpolation="nearest")
    ax_au.set_yticks(range(len(ACTION_UNITS)), ACTION_UNITS, fontsize=6)
    ax_au.set_title("action units", fontsize=9)
    share = t.share
    ax_share.barh(range(len(EXPRESSIONS)), share, color=EXPRESSION_COLOURS)
    ax_share.set_yticks(range(len(EXPRESSIONS)), EXPRESSIONS, fontsize=7)
    ax_share.invert_yaxis()
    ax_share.set_xlim(0, 1)
    ax_share.set_title("share of time", fontsize=9)
    for ax in (ax_expr, ax_va, ax_au):
        ax.set_xlabel("s", fontsize=7)
        ax.tick_params(labelsize=7)
    ax_share.tick_params(labelsize=7)


def figure(tracks: list[Track], thumbnails: bool):
    """One figure, one row of panels per track."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = 5 if thumbnails else 4
    widths = ([1.0] if thumbnails else []) + [3.0, 2.2, 2.2, 1.6]
    fig, axes = plt.subplots(len(tracks), cols, figsize=(sum(widths) * 1.25, 2.3 * len(tracks) + 0.6),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for row, t in zip(axes, tracks):
        _track_row(row, t, thumbnails)
    handles, labels = axes[0][1 if thumbnails else 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(EXPRESSIONS), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.3 * len(tracks) + 0.6)))
    return fig
