"""Driver events against hand labels: per kind precision, recall and start-time error (pure Python).

Labels are a CSV file with the columns ``video,kind,start_s,end_s`` (``#`` starts a comment). ``video`` is the
file name (no folder); ``kind`` is ``closure`` (any closure of the eyes that the monitor counts: blinks,
microsleeps, sleep) or an event kind (``yawning``, ``microsleep``, ``distracted``, ...); a clip without any
event of the labelled kinds gets one row of kind ``none``. Every kind that appears in the file is scored on
every clip: a predicted event of that kind that matches no label is a false alarm. A prediction matches a
label of its kind when their starts differ by at most the tolerance (each label and prediction is used once,
closest first).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from realtime_affect.driver.monitor import Closure, Event
from realtime_affect.errors import InputError


class LabelError(InputError, ValueError):
    """A labels file cannot be read or is malformed."""


@dataclass(frozen=True)
class Span:
    kind: str
    start_s: float
    end_s: float | None = None


@dataclass
class KindScore:
    labelled: int = 0
    predicted: int = 0
    matched: int = 0
    start_errors: list[float] = field(default_factory=list)  # prediction start - label start, matched pairs

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.matched / self.labelled if self.labelled else float("nan")

    @property
    def median_abs_start_error(self) -> float:
        return median(abs(e) for e in self.start_errors) if self.start_errors else float("nan")


def load_labels(path: str | Path) -> dict[str, list[Span]]:
    """Labels per video file name (``none`` rows give a clip with an empty list)."""
    path = Path(path)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise LabelError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or not {"video", "kind", "start_s"} <= set(reader.fieldnames):
        raise LabelError(f"{path}: expected the columns video,kind,start_s,end_s")
    labels: dict[str, list[Span]] = {}
    for number, row in enumerate(reader, start=2):
        video, kind = (row.get("video") or "").strip(), (row.get("kind") or "").strip()
        if not video or not kind:
            raise LabelError(f"{path}: row {number} has no video or kind")
        clip = labels.setdefault(video, [])
        if kind == "none":
            continue
        try:
            start = float(row["start_s"])
            end = float(row["end_s"]) if (row.get("end_s") or "").strip() else None
        except ValueError as exc:
            raise LabelError(f"{path}: row {number}: times must be seconds ({exc})") from exc
        clip.append(Span(kind, start, end))
    return labels


def predictions(events: list[Event], closures: list[Closure], min_closure_s: float) -> list[Span]:
    """What the monitor reported, as spans: its events, and as ``closure`` every counted closure (not the
    face's own doing: laughing, crying, a yawn) at least ``min_closure_s`` long."""
    spans = [Span(e.kind, e.start_s, e.end_s) for e in events]
    spans += [Span("closure", c.start_s, c.end_s) for c in closures
              if c.kind in ("blink", "microsleep", "sleep") and c.duration_s >= min_closure_s]
    return spans


def score(labels: list[Span], predicted: list[Span], kinds: set[str], tolerance_s: float) -> dict[str, KindScore]:
    """Per kind counts for one clip."""
    out: dict[str, KindScore] = {}
    for kind in sorted(kinds):
        truth = [s for s in labels if s.kind == kind]
        found = [s for s in predicted if s.kind == kind]
        pairs = sorted(((abs(p.start_s - t.start_s), i, j) for i, t in enumerate(truth) for j, p in enumerate(found)
                        if abs(p.start_s - t.start_s) <= tolerance_s))
        used_t, used_p, errors = set(), set(), []
        for _, i, j in pairs:
            if i in used_t or j in used_p:
                continue
            used_t.add(i)
            used_p.add(j)
            errors.append(found[j].start_s - truth[i].start_s)
        out[kind] = KindScore(len(truth), len(found), len(errors), errors)
    return out


def combine(scores: list[dict[str, KindScore]]) -> dict[str, KindScore]:
    total: dict[str, KindScore] = {}
    for clip in scores:
        for kind, s in clip.items():
            t = total.setdefault(kind, KindScore())
            t.labelled += s.labelled
            t.predicted += s.predicted
            t.matched += s.matched
            t.start_errors += s.start_errors
    return total


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def report_table(per_clip: dict[str, dict[str, KindScore]], others: dict[str, list[Span]], tolerance_s: float,
                 title: str = "Driver events against hand labels",
                 closures: dict[str, list[Closure]] | None = None) -> str:
    """A Markdown report: per kind over all clips, then per clip, then the other events raised and (when given)
    every closure of the eyes with its kind and duration."""
    lines = [f"# {title}", "", f"Matched when the start is within {tolerance_s:g} s of the label.", "",
             "| kind | labelled | predicted | matched | precision | recall | median start error (s) |",
             "|---|---|---|---|---|---|---|"]
    for kind, s in combine(list(per_clip.values())).items():
        lines.append(f"| {kind} | {s.labelled} | {s.predicted} | {s.matched} | {_fmt(s.precision)} | "
                     f"{_fmt(s.recall)} | {_fmt(s.median_abs_start_error)} |")
    lines += ["", "| clip | kind | labelled | predicted | matched | start errors (s) |", "|---|---|---|---|---|---|"]
    for clip, kinds in per_clip.items():
        for kind, s in kinds.items():
            errors = ", ".join(f"{e:+.2f}" for e in s.start_errors) or "-"
            lines.append(f"| {clip} | {kind} | {s.labelled} | {s.predicted} | {s.matched} | {errors} |")
    lines += ["", "Other events raised (kinds not labelled):", ""]
    for clip, spans in others.items():
        text = ", ".join(f"{s.kind} {s.start_s:.2f}-{_fmt(s.end_s if s.end_s is not None else float('nan'))} s"
                         for s in spans) or "none"
        lines.append(f"- {clip}: {text}")
    if closures is not None:
        lines += ["", "Closures of the eyes of 0.2 s or more (start s, duration s, kind):", ""]
        for clip, found in closures.items():
            text = ", ".join(f"{c.start_s:.2f} ({c.duration_s:.2f} s, {c.kind})" for c in found if c.duration_s >= 0.2)
            lines.append(f"- {clip}: {text or 'none'}")
    return "\n".join(lines) + "\n"
