"""Packaging glue that pyproject.toml cannot say: the wheel carries the top-level ``assets/`` folder (the bundled
model, the MediaPipe task files and their licences) as ``realtime_affect/_assets``, where ``realtime_affect.assets``
finds it once installed. An editable install reads ``assets/`` in the checkout instead."""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = Path(__file__).resolve().parent / "assets"


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "realtime_affect" / "_assets"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(ASSETS.iterdir()):
            if path.is_file():
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithAssets})
