"""One analysis session per input: the face finder, the tracker, the student, the temporal model, the
baseline and the row measures of one stream, opened and closed together by ``session.open_session``.

    from realtime_affect.analysis.session import RunningMode, open_session

    with open_session(model, RunningMode.VIDEO, AnalyzerOptions()) as session:
        for result in session.run(frames, stop=stop):
            ...

Running modes (``RunningMode``): IMAGE (independent stills), VIDEO (a file or stream: every frame, results in
order once the temporal model's centred windows are final), LIVE (a camera or caller's frames: each frame's
results at once). ``options.AnalyzerOptions`` holds the nested options (finder, tracker, eyes) and validates them.
"""
