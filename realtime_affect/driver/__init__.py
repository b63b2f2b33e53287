"""Driver monitoring on top of the runtime: eye state against the driver's own open level, blinks, PERCLOS,
microsleep and sleep, yawns, head pose and gaze, the attention zone, distraction by Euro NCAP's durations, and
sustained affect. ``monitor.DriverMonitor`` is the entry point; ``config.DriverConfig`` holds every threshold
with its source; ``cli`` is ``affect-driver``; ``evaluation`` scores events against hand labels."""
