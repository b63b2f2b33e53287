"""Driver-monitoring example on realtime-affect's Python API: eye closure (microsleep, sleep, PERCLOS),
distraction (head and gaze), yawns and sustained agitation, with a dashboard overlay, events as JSON lines, and a
summary at the end. The full command is ``affect-driver`` (CSV of signals, config files, evaluation); this file
shows how to embed the same monitor.

    python examples/driver_monitoring.py --camera 0
    python examples/driver_monitoring.py --video drive.mp4 --events events.jsonl --out dashboard.mp4 --no-display
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", help="camera index or device")
    src.add_argument("--video", type=Path)
    p.add_argument("--events", type=Path, help="write events (start and end) as JSON lines")
    p.add_argument("--out", type=Path, help="write the dashboard video")
    p.add_argument("--subject", default="largest", help="largest, central, or a track id")
    p.add_argument("--no-display", action="store_true")
    p.add_argument("--model", type=Path)
    args = p.parse_args(argv)

    from realtime_affect import Analyzer, AnalyzerOptions
    from realtime_affect.driver.config import DriverConfig
    from realtime_affect.driver.dashboard import draw_dashboard
    from realtime_affect.driver.monitor import DriverMonitor
    from realtime_affect.ui.live_window import LiveWindow, display_available
    from realtime_affect.ui.overlay import OverlayState

    show = not args.no_display and display_available()
    window = LiveWindow("driver monitoring") if show else None  # before PyAV is imported
    config = DriverConfig(subject=args.subject)
    monitor = DriverMonitor(config)
    events_file = open(args.events, "w", encoding="utf-8") if args.events else None

    def log_event(event, change):
        record = {"change": change, **event.to_dict()}
        print(f"{change:>5} {event.kind:<10} t={event.start_s if change == 'start' else event.end_s:7.2f}s "
              f"track {event.track_id}  {event.reason}", file=sys.stderr)
        if events_file:
            events_file.write(json.dumps(record) + "\n")
            events_file.flush()

    monitor.on_event(log_event)
    overlay, writer, frames, last_t, start = OverlayState(), None, 0, 0.0, time.perf_counter()
    try:
        # the rows' eyes are read with the monitor's eye settings: one estimator, configured once
        with Analyzer(model=args.model, options=AnalyzerOptions(eyes=config.eyes)) as analyzer:
            stream = analyzer.camera(args.camera) if args.camera is not None else analyzer.video(args.video)
            for result in stream:
                state = monitor.update(result)
                frames, last_t = frames + 1, result.time_s
                if window is None and args.out is None:
                    continue
                img = draw_dashboard(result.frame.bgr, result, state, overlay,
                                     fps=frames / max(time.perf_counter() - start, 1e-9))
                if args.out is not None:
                    if writer is None:
                        from realtime_affect.sinks.video_sink import VideoSink
                        writer = VideoSink(args.out, overwrite=True)
                    writer.write_image(img, result.time_s)
                if window is not None and not window.show(img):
                    analyzer.stop()
    except KeyboardInterrupt:
        pass
    finally:
        events = monitor.finish(last_t)
        if writer is not None:
            writer.close()
        if events_file:
            events_file.close()
        if window is not None:
            window.close()
    print(f"\nsummary: {frames} frames, {last_t:.1f} s, {len(monitor.closures)} eye closures")
    for kind in DriverMonitor.KINDS:
        mine = [e for e in events if e.kind == kind]
        total = sum((e.end_s or last_t) - e.start_s for e in mine)
        print(f"  {kind:<10} {len(mine)} event(s), {total:.1f} s in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
