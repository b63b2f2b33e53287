"""The package as a user gets it: one version everywhere, ``--version`` on every command, the runtime without
torch, a one-line hint when a command needs an extra, and a wheel that carries its assets."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT
from helpers import SINGLE_FACE

COMMANDS = {
    "affect-live": "realtime_affect.cli",
    "affect-driver": "realtime_affect.driver.cli",
    "affect-batch": "realtime_affect.batch.cli",
    "affect-serve": "realtime_affect.serve.cli",
    "affect-report": "realtime_affect.report.cli",
    "affect-train": "trainers.cli",
    "affect-engine": "engines.cli",
}


def test_one_version_in_the_package_the_metadata_and_pyproject():
    from importlib import metadata

    import tomllib

    import realtime_affect

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"] and "version" not in project
    assert metadata.version("realtime-affect") == realtime_affect.__version__
    scripts = project["scripts"]
    assert {name: target.split(":")[0] for name, target in scripts.items()} == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_prints_the_version_the_model_and_the_backends(command, capsys):
    import importlib

    import realtime_affect

    main = importlib.import_module(COMMANDS[command]).main
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{command} {realtime_affect.__version__} (realtime-affect)"
    assert out[1].startswith("bundled model: realtime-affect-default ") and "default_model.onnx" in out[1]
    assert out[2].startswith("backends: onnxruntime ") and "tensorrt" in out[2]


def test_python_dash_m_runs_affect_live(tmp_path):
    out = tmp_path / "o.csv"
    proc = subprocess.run([sys.executable, "-m", "realtime_affect", "--video", str(SINGLE_FACE), "--csv", str(out),
                           "--no-display", "-q"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 73  # header + one face on each of 72 frames


def test_analysing_a_video_with_the_bundled_model_never_imports_torch(tmp_path):
    code = ("import sys\n"
            "from realtime_affect import Analyzer\n"
            "with Analyzer() as analyzer:\n"
            f"    n = sum(len(r.faces) for r in analyzer.video({str(SINGLE_FACE)!r}))\n"
            "print(n, sorted(m for m in ('torch', 'torchvision', 'onnx') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "72" and proc.stdout.strip().endswith("[]")


def _without(monkeypatch, *modules: str) -> None:
    """As if ``modules`` were not installed (what ``require_extra`` sees)."""
    from realtime_affect.system import extras

    real = extras.installed
    monkeypatch.setattr(extras, "installed", lambda name: name not in modules and real(name))


def test_a_command_whose_extra_is_missing_says_which_in_one_line(monkeypatch, capsys, tmp_path):
    from engines.cli import main as engine

    _without(monkeypatch, "torch", "torchvision", "onnx")
    assert engine(["export", str(ROOT / "assets" / "default_model.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["affect-engine: error: affect-engine export needs the [train] extra (torch, torchvision, onnx "
                   "not installed): pip install 'realtime-affect[train]'"]


def test_an_option_whose_extra_is_missing_says_which_in_one_line(monkeypatch, capsys, tmp_path):
    from realtime_affect.cli import main as live

    _without(monkeypatch, "torch")
    code = live(["--video", str(SINGLE_FACE), "--csv", str(tmp_path / "o.csv"), "--backend", "torch",
                 "--no-display", "-q"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1
    assert "needs the [torch] extra" in err[0] and "pip install 'realtime-affect[torch]'" in err[0]


def test_the_wheel_carries_the_assets_and_the_page(tmp_path):
    pytest.importorskip("setuptools")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from realtime_affect.assets import CHECKSUMS

    (wheel,) = tmp_path.glob("realtime_affect-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name, digest in CHECKSUMS.items():
            assert hashlib.sha256(archive.read(f"realtime_affect/_assets/{name}")).hexdigest() == digest
        assert {"realtime_affect/_assets/LICENSES.md", "realtime_affect/_assets/APACHE-2.0.txt",
                "realtime_affect/serve/web/index.html", "realtime_affect/serve/web/app.js"} <= names


def test_an_installed_package_reads_its_own_assets(tmp_path, monkeypatch):
    """Installed from a wheel the assets sit in the package (``_assets``); a checkout reads ``assets/``."""
    from realtime_affect import assets

    assert assets.ASSETS_DIR == ROOT / "assets"  # this checkout
    package = tmp_path / "realtime_affect"
    (package / "_assets").mkdir(parents=True)
    monkeypatch.setattr(assets, "__file__", str(package / "assets.py"))
    assert assets._assets_dir() == package / "_assets"
