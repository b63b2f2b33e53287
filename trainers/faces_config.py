"""The default model's training settings (``affect-train faces``): one dataclass, read by the data, the
losses and the training loop of the recipe (``faces_recipe``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FacesConfig:
    data: Path
    out: Path
    cache: Path = Path("build/facecache")
    arch: str = "grey"
    input_size: int = 64
    feature_dim: int = 128
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    class_power: float = 0.5
    ck_val_fraction: float = 0.2
    ck_repeat: int = 4
    csv_val_fraction: float = 0.1
    csv_cap_per_class: int = 2500  # the CSV set is 92% neutral/happy: at most this many faces per class
    au_weight: float = 1.0
    va_weight: float = 0.5
    use_csv_set: bool = True
    use_rated_set: bool = True  # DiffusionFER: human valence/arousal ratings (and expressions) when present
    leave_out: str = ""         # leave-one-dataset-out: this set ("ckplus", "muxspace") is never trained on and
                                # is validated whole (the honest estimate of how the model does on unseen people)
    rated_val_fraction: float = 0.2
    rated_repeat: int = 4       # the rated faces (~800) repeated per epoch so the VA ratings are not drowned
    seed: int = 0
    threads: int = 2
    workers: int = 2
    resume: bool = False
    init: Path | None = None  # start from this checkpoint's student weights (fine-tuning)
    augment: str = "strong"   # "strong" (default) or "light" (fine-tuning: milder geometry and degradations)
    limit: int = 0            # use at most this many faces per set (tests and quick trials)
    train_faces: int = 0      # train on a random subset of this many faces per epoch (0: all; ablations)
    va_from_scores: bool = False  # seed 001 (EMMA): the VA head also reads the expression and AU scores
    co_training: bool = False     # seed 001 masked co-training: two masked views, JS consistency
    mask_ratio: float = 0.5       # share of the 8x8 patches each co-training view hides
    co_weight: float = 1.0        # weight of the Jensen-Shannon term
    semi_supervised: bool = False  # seeds 000/002 (SS-MFAR) on the faces whose labels the recipe leaves out
    distill_from: tuple[Path, ...] = ()  # teacher checkpoints: their flip-averaged expression probabilities,
                                         # averaged over the teachers, join the targets (an ensemble teacher)
    distill_au_from: Path | None = None  # a checkpoint whose flip-averaged AU probabilities replace the blendshape
                                         # teacher on every face (the FACS codes still teach where given)
    distill_va_from: Path | None = None  # a checkpoint whose flip-averaged valence/arousal readings replace the
                                         # targets derived from the expression labels (human ratings are kept)
    distill_weight: float = 0.4   # seed 004: 0.6 ground truth + 0.4 teacher
    distill_teacher: str = ""     # an open teacher ("face-api", "fer") whose readings of each training face's
                                  # original crop join the targets (with distill_from: averaged with that model's)
    distill_confident_weight: float = 0.0  # > 0: the teacher share on faces where the open teacher reads one of
                                           # ``distill_confident_classes`` with at least ``distill_confident_min``
                                           # and the labels put another class first (else ``distill_weight``)
    distill_confident_classes: tuple[str, ...] = ("anger", "disgust")
    distill_confident_min: float = 0.6
    distill_confident_over: tuple[str, ...] = ()  # only where the labels' first class is one of these (empty: any
                                                  # other class), e.g. ("neutral",) leaves faces voted sad alone
    ema: float = 0.0              # > 0: keep an exponential moving average of the weights (decay per step); it is
                                  # what is validated and saved
    mixup: float = 0.0            # > 0: mixup (Beta(a, a)) on half the batches: blended faces, blended targets
    part_occlusion: float = 0.0   # > 0: this share of training faces gets the lower face or the eyes hidden
                                  # (augment_batch.occlude_face_parts)
    synth_strength: tuple[float, float] = (0.7, 1.3)  # range of the warps' strength (1: expression_warp's fields)
    synth_expressions: float = 0.0  # > 0: this share of confidently neutral training faces per batch is warped into a
                                    # closed-mouth anger, sadness or disgust (expression_warp), targets to match
    synth_kinds: tuple[str, ...] = ()  # which of expression_warp.WARP_POINTS to make (empty: all three)
    synth_au_codes: bool = False  # warped faces are taught the AUs their warp makes and rules out (else unknown)
    au_teacher_min_auc: float = 0.0  # > 0: the blendshape AU teacher only teaches the AUs it reads with at least
                                     # this subject-wise cross-validated AUC on the CK+ training subjects
    au_pos_power: float = 0.0     # > 0: labelled AU positives weighted (negatives / positives) ** power (cap 20):
                                  # rare AUs (AU10, AU26 on CK+) are otherwise never predicted
    name: str = "realtime-affect-default"
    card_extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.distill_from, (str, Path)):  # one teacher given as a path
            self.distill_from = (Path(self.distill_from),)
        self.distill_from = tuple(Path(p) for p in self.distill_from or ())

