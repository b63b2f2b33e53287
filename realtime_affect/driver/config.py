"""Driver-monitoring thresholds, with where each default comes from, and reading them from a file.

Durations follow Euro NCAP's Assessment Protocol - Safety Assist: Driver Engagement (Driver State Monitoring,
2023 onwards; 2026 edition): distraction 3 s, visual attention time sharing 10 s within 30 s, microsleep 1-3 s,
sleep 3 s or more, unresponsive driver 6 s. PERCLOS is P80 (eyes at least 80% closed) over one minute, drowsy at
0.15 (Wierwille et al. 1994; Dinges & Grace 1998, FHWA-MCRT-98-006). Everything else is this project's choice,
measured on real clips (README, "Driver monitoring").
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from realtime_affect.errors import InputError
from realtime_affect.faces.eyes import EyeOptions


class ConfigError(InputError, ValueError):
    """A driver configuration file cannot be read or holds an unknown or mistyped setting."""


@dataclass
class DriverConfig:
    # -- whose face: "largest", "central", or a track id as text
    subject: str = "largest"
    # -- eyes: how eye state is read (``faces.eyes.EyeOptions``; in a config file as an ``eyes`` table, or
    # its keys at the top level)
    eyes: EyeOptions = field(default_factory=EyeOptions)
    #: a closure while an expression other than neutral is this probable (laughing, crying) is the face's
    #: doing, not sleep: it is recorded but raises no microsleep/sleep and is left out of PERCLOS
    expressive_closure_prob: float = 0.7
    # -- closures and blinks
    microsleep_s: float = 1.0  # Euro NCAP: microsleep, eyes closed 1-3 s
    sleep_s: float = 3.0  # Euro NCAP: sleep, eyes closed 3 s or more
    #: a closure interrupted by unknown eyes for longer than this ends there
    closure_gap_s: float = 0.5
    #: a closure ends once the eyes have stayed open this long: during squeezed-eye yawns the lids read open for
    #: one or two frames at a time (clip 07: closed runs split by 1-frame openings), which is one closure
    closure_reopen_s: float = 0.1
    #: a closure shorter than this is a flicker, not a blink (0: off). Off by default: the mesh reads a real
    #: blink's fully closed phase (50-100 ms) as one frame at 30 fps (the talking driver of clip 05: 4 blinks in
    #: 21 s, two of them one frame); the chatter of squeezed-eye yawns is ended by ``closure_reopen_s`` and by not
    #: counting a yawn's closures as blinks (clip 07: 26 blinks a minute before, 7 after)
    blink_min_s: float = 0.0
    # -- PERCLOS and drowsiness
    perclos_window_s: float = 60.0
    perclos_drowsy: float = 0.15
    perclos_clear: float = 0.12  # hysteresis: drowsy ends below this
    perclos_min_known_s: float = 30.0
    #: frequent yawning is drowsiness too: this many yawns within ``yawns_window_s``
    yawns_drowsy: int = 3
    yawns_window_s: float = 300.0
    # -- yawns (mouth aspect ratio: inner-lip gap over mouth width)
    yawn_open: float = 0.3  # a yawn candidate starts when the mouth opens this wide ...
    yawn_jaw: float = 0.4  # ... or the jawOpen blendshape reads this with the mouth at least 2/3 as open
    yawn_peak: float = 0.45  # and becomes a yawn once it has opened this wide
    yawn_min_s: float = 1.0  # for at least this long (talking opens the mouth for fractions of a second)
    yawn_gap_s: float = 0.3  # short dips do not end a yawn
    laugh_prob: float = 0.7  # a wide mouth with happiness this probable is laughter, not a yawn
    #: a wide mouth with the eyes widened this much (mean eyeWide blendshapes over the opening) is surprise or a
    #: pulled face, never a yawn: real yawns 0.00-0.01 (clips 05, 07), alert open mouths 0.08-0.34 (clips 10, 11)
    yawn_eye_wide: float = 0.06
    #: brows raised this much (mean browOuterUp) over eyes not narrowed below ``yawn_narrowed`` (openness against
    #: the driver's own level) are surprise: real yawns 0.08-0.21 with eyes 0.41-0.90 open, alert open mouths
    #: 0.47-0.94 with eyes 0.86-0.98 (clips 05, 07 against 10, 11); narrowed eyes keep a brow-raising yawn a yawn
    yawn_brow_raise: float = 0.35
    yawn_narrowed: float = 0.8
    # -- attention (degrees from the learnt road direction)
    road_yaw: float = 22.0
    road_pitch_down: float = -18.0
    road_pitch_up: float = 15.0
    #: the road direction is the median of this driver's gaze over this window (None: learnt) ...
    road_window_s: float = 120.0
    road_learn_s: float = 2.0
    #: ... unless given (degrees, head and eyes combined)
    road_direction: tuple[float, float] | None = None
    #: the irises add the eyes' own rotation (at most this many degrees, human eyes turn about 45) while the
    #: head is turned less than ``iris_max_head_yaw``; beyond it gaze is head pose alone
    max_eye_angle: float = 40.0
    iris_max_head_yaw: float = 30.0
    distracted_s: float = 3.0  # Euro NCAP: long distraction, eyes off the road 3 s
    vats_s: float = 10.0  # Euro NCAP: visual attention time sharing, 10 s off the road ...
    vats_window_s: float = 30.0  # ... within 30 s
    unresponsive_s: float = 6.0  # Euro NCAP: unresponsive driver, no eyes on the road for 6 s
    eyes_unavailable_s: float = 10.0  # the driver is told the eyes cannot be seen
    # -- sustained negative, aroused affect
    agitated_valence: float = -0.3
    agitated_arousal: float = 0.4
    agitated_s: float = 10.0
    #: how long a condition must be false before its event ends
    off_s: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(path: str | Path, base: DriverConfig | None = None) -> DriverConfig:
    """Settings from a JSON (``.json``) or TOML (``.toml``) file over ``base`` (the defaults when None)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError as exc:  # Python 3.10
                raise ConfigError(f"{path}: TOML needs Python 3.11 or later; write the settings as JSON") from exc
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings")
    config = base or DriverConfig()
    eye_keys = {f.name for f in fields(EyeOptions)}
    eye_values = asdict(config.eyes)
    eyes_table = data.pop("eyes", {})
    if not isinstance(eyes_table, dict):
        raise ConfigError(f"{path}: eyes must be a table of eye settings")
    for key, value in [*eyes_table.items(), *[(k, data.pop(k)) for k in list(data) if k in eye_keys]]:
        if key not in eye_keys:
            raise ConfigError(f"{path}: unknown eye setting {key!r} (known: {', '.join(sorted(eye_keys))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: {key} must be a number, not {value!r}")
        eye_values[key] = float(value)
    known = {f.name: f for f in fields(DriverConfig) if f.name != "eyes"}
    values = {k: v for k, v in config.to_dict().items() if k != "eyes"}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted([*known, *eye_keys]))})")
        default = values[key]
        if key == "road_direction":
            if value is not None and (not isinstance(value, list) or len(value) != 2):
                raise ConfigError(f"{path}: road_direction must be [yaw, pitch] in degrees or null")
            value = tuple(float(v) for v in value) if value is not None else None
        elif key == "subject":
            value = str(value)
        elif isinstance(default, bool) or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{path}: {key} must be a number, not {value!r}")
        elif isinstance(default, int) and not isinstance(default, bool):
            value = int(value)
        else:
            value = float(value)
        values[key] = value
    return DriverConfig(**values, eyes=EyeOptions(**eye_values))
