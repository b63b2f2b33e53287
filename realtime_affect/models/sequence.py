"""The temporal model: a bidirectional GRU over a window of student features, with the same three heads."""
from __future__ import annotations

import torch
from torch import nn

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS


class SequenceNet(nn.Module):
    """(B, W, D) student features -> per-step logits / values (B, W, k).

    Partial windows are edge-padded by the runtime; ``mask`` (B, W) only weights the training loss.
    ``skip`` adds a per-step linear path from the features to the heads (v1); without it every output
    goes through the recurrent state, so per-frame jitter in the features cannot reach the heads directly.
    """

    def __init__(self, feature_dim: int = 128, hidden: int = 128, layers: int = 1, dropout: float = 0.1,
                 skip: bool = True) -> None:
        super().__init__()
        self.input_norm = nn.LayerNorm(feature_dim)
        self.gru = nn.GRU(feature_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Linear(feature_dim, 2 * hidden) if skip else None
        self.expression = nn.Linear(2 * hidden, len(EXPRESSIONS))
        self.action_units = nn.Linear(2 * hidden, len(ACTION_UNITS))
        self.valence_arousal = nn.Linear(2 * hidden, 2)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.input_norm(features)
        h, _ = self.gru(x)
        h = self.dropout(torch.relu(h + self.skip(x) if self.skip is not None else h))
        return {
            "expression_logits": self.expression(h),
            "au_logits": self.action_units(h),
            "valence_arousal": torch.tanh(self.valence_arousal(h)),
        }


class ServingSequence(nn.Module):
    """The sequence model as served and exported: probabilities, fixed output order."""

    OUTPUTS = ("expression", "action_units", "valence_arousal")

    def __init__(self, net: SequenceNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(features)
        return (torch.softmax(out["expression_logits"], dim=-1), torch.sigmoid(out["au_logits"]),
                out["valence_arousal"])
