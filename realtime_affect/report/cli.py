"""``affect-report RESULTS [--video VIDEO] --out report.png|report.html``.

PNG: one figure, a row of panels per track. HTML: one self-contained page (images embedded as data URIs,
no scripts, no external fonts), a section per track with the figure and the share of time per expression.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog="affect-report", description="A picture of annotated results: expressions "
                                "over time, valence/arousal, AUs, share of time per expression, per track.")
    p.add_argument("results", type=Path, help="a CSV or Parquet file from affect-live or affect-batch")
    p.add_argument("--video", type=Path, help="the annotated video, for a thumbnail of each track's face")
    p.add_argument("--out", type=Path, required=True, help="report.png or report.html")
    p.add_argument("--overwrite", action="store_true")
    add_version_flag(p)
    return p


def _png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write_html(tracks, out: Path, title: str, thumbnails: bool) -> None:
    import matplotlib.pyplot as plt

    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.report.figures import figure

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font-family:sans-serif;margin:24px;color:#222}img{max-width:100%}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    for t in tracks:
        fig = figure([t], thumbnails)
        data = base64.b64encode(_png_bytes(fig)).decode()
        plt.close(fig)
        rows = "".join(f"<tr><td>{name}</td><td>{100 * s:.1f}%</td></tr>" for name, s in zip(EXPRESSIONS, t.share))
        parts.append(f"<section><h2>{html.escape(Path(t.source).name)}: track {t.track_id} "
                     f"({len(t.frames)} frames, {t.time_s[0]:.1f}-{t.time_s[-1]:.1f} s)</h2>"
                     f"<img alt='track {t.track_id}' src='data:image/png;base64,{data}'>"
                     f"<table><tr><th>expression</th><th>share of time</th></tr>{rows}</table></section>")
    parts.append("</body></html>")
    out.write_text("".join(parts), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    from realtime_affect.sinks import SinkError, check_outputs

    args = build_parser().parse_args(argv)
    out: Path = args.out
    try:
        if out.suffix.lower() not in (".png", ".html"):
            raise ValueError(f"{out}: give a .png or .html output")
        if out.exists() and not args.overwrite:
            raise ValueError(f"{out}: already exists; pass --overwrite to replace it")
        if not out.parent.exists():
            raise ValueError(f"{out}: folder {out.parent} does not exist")
        from realtime_affect.results import ResultsError, read_results

        inputs = [args.results] + ([args.video] if args.video else [])
        check_outputs([out], inputs)
        try:
            df = read_results(args.results)
        except ResultsError as exc:
            raise ValueError(str(exc)) from exc
        from realtime_affect.report.figures import add_thumbnails, figure, tracks_of

        tracks = tracks_of(df)
        if not tracks:
            raise ValueError(f"{args.results}: has no face rows to report")
        if args.video:
            from realtime_affect.sources import SourceError

            try:
                add_thumbnails(tracks, args.video)
            except SourceError as exc:
                raise ValueError(str(exc)) from exc
        thumbnails = args.video is not None
        if out.suffix.lower() == ".png":
            import matplotlib.pyplot as plt

            fig = figure(tracks, thumbnails)
            out.write_bytes(_png_bytes(fig))
            plt.close(fig)
        else:
            write_html(tracks, out, f"affect report: {args.results.name}", thumbnails)
    except (ValueError, SinkError, OSError) as exc:
        sys.stderr.write(f"affect-report: error: {exc}\n")
        return EXIT_USAGE
    sys.stderr.write(f"affect-report: {len(tracks)} tracks -> {out}\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
