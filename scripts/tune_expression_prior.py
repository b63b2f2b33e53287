"""Choose a fixed logit bias for the rare expression classes of a trained student on validation data.

    python scripts/tune_expression_prior.py MODEL.pt [--data ../shared/data] [--classes disgust,other]
                                            [--biases 0,0.5,1,1.5,2]

For each bias added to the named classes' logits (the same shift as logit adjustment against the training
prior, restricted to the classes the prior starves), prints expression accuracy, macro-F1 and the recall of
fear, disgust and other on FER+ validation, the held-out CK+ subjects and the CSV set's held-out files. The
shipped bias (the best FER+ validation macro-F1) goes into the model with
``scripts/ship_default_model.py --expression-bias``. Also prints the training label counts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    parser.add_argument("--classes", default="disgust,other")
    parser.add_argument("--biases", default="0,0.5,1,1.5,2")
    args = parser.parse_args()

    from realtime_affect.labels import EXPRESSIONS
    from trainers.face_eval import run_model_file
    from trainers.face_metrics import expression_report
    from trainers.faces_recipe import FacesConfig, training_label_counts, validation_sets

    cfg = FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1)
    print("training label counts:", dict(zip(EXPRESSIONS, training_label_counts(cfg).tolist())))
    columns = [EXPRESSIONS.index(c) for c in args.classes.split(",")]
    sets, _ = validation_sets(cfg)
    probs = {s.name: run_model_file(args.model, s)["expression"] for s in sets}
    print(f"| bias on {args.classes} | set | accuracy | macro-F1 | recall fear | recall disgust | recall other |")
    print("|---|---|---|---|---|---|---|")
    for bias in (float(b) for b in args.biases.split(",")):
        shift = np.zeros(len(EXPRESSIONS))
        shift[columns] = bias
        for s in sets:
            r = expression_report(np.log(np.maximum(probs[s.name], 1e-12)) + shift, s.faces.expression)
            rec = r["recall"]
            print(f"| {bias:g} | {s.name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {rec.get('fear', np.nan):.2f}"
                  f" | {rec.get('disgust', np.nan):.2f} | {rec.get('other', np.nan):.2f} |")


if __name__ == "__main__":
    main()
