"""Re-estimating BatchNorm statistics on the inputs a model will serve (after training on masked views)."""
from __future__ import annotations

from typing import Iterable


def recalibrate(model, batches: Iterable) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them, as a cumulative average, from
    ``batches`` (input tensors) in train mode without gradients; the weights do not change.

    Masked co-training (seed 001) trains on views with half their patches blanked, whose statistics
    differ from the whole faces the model serves; the seed's ViTs drop masked tokens and have none."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
