"""Choose the logit-adjustment strength tau for a trained student on the validation data.

    python scripts/tune_expression_prior.py MODEL.pt [--data ../shared/data] [--taus 0,0.25,0.5,0.75,1]

Prints, for each tau, expression accuracy, macro-F1 and the recall of the rare classes on FER+ validation
and on the held-out CK+ subjects (the adjusted probabilities are softmax(log p - tau * log prior), the
prior being the training label counts). The shipped tau is written into the model by
scripts/ship_default_model.py --tau.
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
    parser.add_argument("--taus", default="0,0.25,0.5,0.75,1")
    args = parser.parse_args()

    from trainers.face_eval import run_model_file
    from trainers.face_metrics import expression_report
    from trainers.faces_recipe import FacesConfig, training_label_counts, validation_sets

    cfg = FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1)
    counts = training_label_counts(cfg)
    prior = np.maximum(counts, 1) / counts.sum()
    print("training label counts:", counts.tolist())
    sets, _ = validation_sets(cfg)
    probs = {s.name: run_model_file(args.model, s)["expression"] for s in sets}
    print("| tau | set | accuracy | macro-F1 | recall fear | recall disgust | recall other |")
    print("|---|---|---|---|---|---|---|")
    for tau in (float(t) for t in args.taus.split(",")):
        for s in sets:
            logits = np.log(np.maximum(probs[s.name], 1e-12)) - tau * np.log(prior)
            r = expression_report(logits, s.faces.expression)
            rec = r["recall"]
            print(f"| {tau:g} | {s.name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {rec.get('fear', float('nan')):.2f}"
                  f" | {rec.get('disgust', float('nan')):.2f} | {rec.get('other', float('nan')):.2f} |")


if __name__ == "__main__":
    main()
