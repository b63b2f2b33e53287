"""The runtime stands alone: it imports nothing from the model build tools, and its top folder stays small
(stages live in sub-packages)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import realtime_affect

RUNTIME = Path(realtime_affect.__file__).parent
MAX_TOP_LEVEL_MODULES = 12


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module name ``path`` imports (relative imports stay inside the runtime)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_runtime_module_imports_the_build_tools() -> None:
    offenders = [f"{path.relative_to(RUNTIME.parent)}:{line}: {name}"
                 for path in sorted(RUNTIME.rglob("*.py"))
                 for line, name in _imported_modules(path)
                 if name.split(".")[0] in ("engines", "trainers")]
    assert offenders == []


def test_the_check_sees_an_engines_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from engines.export import export_onnx\n    import trainers.cli\n")
    assert [name for _, name in _imported_modules(module)] == ["engines.export", "trainers.cli"]


def test_at_most_twelve_modules_directly_in_the_runtime() -> None:
    top = sorted(p.name for p in RUNTIME.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_serving_a_model_loads_no_build_tool(tmp_path: Path) -> None:
    """Opening the default model and analysing an image imports neither ``engines`` nor ``trainers``."""
    image = Path(__file__).parent / "data" / "single_face.jpg"
    code = ("import sys\n"
            "from realtime_affect import Analyzer\n"
            "with Analyzer() as analyzer:\n"
            f"    results = list(analyzer.images([{str(image)!r}]))\n"
            "assert len(results) == 1 and results[0].faces, results\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('engines', 'trainers')}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


#: What finds faces; only the analysis session opens them (the finder's own parts live in ``faces/``).
FINDER_CLASSES = {"FaceFinder", "Landmarker", "FullRangeDetector", "CropLandmarker"}
OPENS_FINDERS = {"analysis/session.py"}


def _finder_openings(path: Path) -> list[tuple[int, str]]:
    """Every call of a finder class in ``path`` (by name or attribute: ``FaceFinder(...)``, ``f.FaceFinder(...)``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in FINDER_CLASSES:
                found.append((node.lineno, name))
    return found


def test_only_the_session_factory_opens_a_face_finder() -> None:
    """A new per-input path (a server, a batch job, an embedding) gets its finder from ``open_session``, so that
    the running mode decides how it sweeps and it is always closed with the session."""
    offenders = []
    for path in sorted(RUNTIME.rglob("*.py")):
        rel = path.relative_to(RUNTIME).as_posix()
        if rel.startswith("faces/") or rel in OPENS_FINDERS:
            continue
        offenders += [f"{rel}:{line}: {name}(...)" for line, name in _finder_openings(path)]
    assert offenders == []


def test_the_finder_rule_sees_a_finder_opened_by_hand(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from realtime_affect.faces import finder\n"
                      "def f(o):\n    with finder.FaceFinder(o) as lm:\n        return Landmarker()\n")
    assert sorted(name for _, name in _finder_openings(module)) == ["FaceFinder", "Landmarker"]


def test_no_module_keeps_per_run_state_in_a_module_global() -> None:
    """Per-process flags ("warned once") live on the session, not the module: a ``global`` statement in the
    runtime is a flag two runs would share."""
    offenders = [f"{path.relative_to(RUNTIME.parent)}:{node.lineno}"
                 for path in sorted(RUNTIME.rglob("*.py"))
                 for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Global)]
    assert offenders == []
