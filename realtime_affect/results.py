"""Read results back: ``read_results(path)`` -> a pandas DataFrame with proper dtypes, from the CSV or
Parquet files that ``affect-live`` and ``affect-batch`` write (pandas is imported only here), also after the
writing process was killed: a CSV's cut last line is left out, and a Parquet file that was never finished is
read from its journal (``NAME.parquet.partial``; ``finish_partial`` writes the Parquet file from it)."""
from __future__ import annotations

from pathlib import Path

from realtime_affect.errors import InputError


class ResultsError(InputError, ValueError):
    """A results file that is missing, of an unknown kind, or not in the documented columns."""


def read_results(path: str | Path):
    """A DataFrame with one row per face per frame and the documented columns (ints, floats, strings,
    bools; ``temporal``, ``fitted`` and ``blink`` as bool; unknown measures as NaN). Files from versions
    without ``fitted`` get it as True, without the head/eye/quality columns get them unknown."""
    import pandas as pd

    from realtime_affect.sinks.parquet_sink import COLUMN_TYPES, partial_path, read_partial

    path = Path(path)
    suffix = path.suffix.lower()
    journal = partial_path(path)
    if suffix == ".parquet" and not path.is_file() and journal.is_file():
        df = read_partial(journal).to_pandas()
    elif not path.is_file():
        raise ResultsError(f"{path}: no such results file")
    elif suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix == ".csv":
        df = pd.read_csv(_whole_lines(path), dtype={"expression": "string", "source": "string",
                                                    "quality_flags": "string"}, keep_default_na=False)
    else:
        raise ResultsError(f"{path}: expected a .csv or .parquet results file")
    if "fitted" not in df.columns:
        df["fitted"] = True
    from realtime_affect.sinks.csv_sink import MEASURE_COLUMNS

    for name in MEASURE_COLUMNS:  # files from versions before these columns: unknown
        if name not in df.columns:
            df[name] = {"string": "", "bool": False}.get(COLUMN_TYPES[name], float("nan"))
    missing = [c for c in COLUMN_TYPES if c not in df.columns]
    if missing:
        raise ResultsError(f"{path}: not a realtime-affect results file (missing columns {', '.join(missing[:5])})")
    pandas_types = {"int64": "int64", "int32": "int32", "float32": "float32", "float64": "float64",
                    "string": "string", "bool": "bool"}
    for name, kind in COLUMN_TYPES.items():
        if kind == "bool" and df[name].dtype != bool:
            df[name] = df[name].astype(str).str.strip().isin(("1", "True", "true"))
        elif kind.startswith("float"):
            df[name] = pd.to_numeric(df[name].replace("", float("nan")), errors="coerce").astype(pandas_types[kind])
        elif kind == "string":
            df[name] = df[name].fillna("").astype("string")
        else:
            df[name] = df[name].astype(pandas_types[kind])
    return df[list(COLUMN_TYPES) + [c for c in df.columns if c not in COLUMN_TYPES]]


def _whole_lines(path: Path):
    """The CSV's text up to its last whole line (a killed writer may leave a cut one), as a file object."""
    import io

    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
    return io.BytesIO(data)


def finish_partial(path: str | Path) -> Path:
    """Write the Parquet file ``path`` from the journal a killed run left (``NAME.parquet.partial``) and remove
    the journal; returns ``path``. Refuses to replace a Parquet file that is already there."""
    from realtime_affect.sinks.parquet_sink import iter_partial, partial_path, write_parquet

    path = Path(path)
    journal = partial_path(path)
    if not journal.is_file():
        raise ResultsError(f"{journal}: no such journal; {path} was finished or never started")
    if path.exists():
        raise ResultsError(f"{path}: already exists; move it away to finish {journal} into it")
    write_parquet(iter_partial(journal), path, row_group_rows=20_000)
    journal.unlink()
    return path
