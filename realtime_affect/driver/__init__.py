"""Driver monitoring on top of the runtime: eye closure, PERCLOS, blinks, yawns, head pose, sustained
affect, and events with hysteresis. See ``monitor.DriverMonitor``."""
