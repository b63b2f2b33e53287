#!/usr/bin/env bash
# Rebuild the bundled default model from the labelled faces in ../shared/data (see README "Default model").
#   scripts/build_default_model.sh            # full run
#   RESUME=1 scripts/build_default_model.sh   # continue an interrupted run (checkpoint per epoch)
# On a 2-core CPU: landmarking the ~46,600 faces once ~6 min (cached in build/facecache), training
# 9 epochs ~60 min, export + evaluation ~5 min. Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data}
run=${RUN:-build/runs/default}
affect-train faces --data "$data" --out "$run" --arch grey --input-size 64 --epochs 9 --seed 0 ${RESUME:+--resume}
python scripts/ship_default_model.py "$run/student.pt" assets/default_model.pt
rm -f assets/default_model.sequence.onnx  # the GRU is retrained on the new features in its own issue
affect-engine export assets/default_model.pt --out assets/default_model.onnx --check-media tests/data/single_face.mp4
# Report: the new model, the previous default (from git history, when available) and the open teachers.
models=(--model assets/default_model.onnx)
if git cat-file -e a40b068:assets/default_model.onnx 2>/dev/null; then
  mkdir -p build/previous_default
  git show a40b068:assets/default_model.onnx > build/previous_default/previous_default.onnx
  git show a40b068:assets/default_model.sequence.onnx > build/previous_default/previous_default.sequence.onnx
  models+=(--model build/previous_default/previous_default.onnx)
fi
affect-train faces-eval "${models[@]}" --data "$data" --teachers --report assets/default_model_report.md
sha256sum assets/default_model.pt assets/default_model.onnx
