"""The frame-level multi-task student: aligned face crop -> features, expression, AUs, valence/arousal."""
from __future__ import annotations

import torch
from torch import nn

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

STUDENT_ARCHS = ("tiny", "small", "grey", "grey-wide", "fpn", "resnet18", "resnet50")


def _conv_bn(cin: int, cout: int, stride: int = 1, groups: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _InvertedResidual(nn.Module):
    """MobileNetV2-style block: expand 1x1, depthwise 3x3, project 1x1, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            _conv_bn(cin, hidden, kernel=1),
            _conv_bn(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_res else y


def _small_backbone(width: float = 1.0) -> tuple[nn.Module, int]:
    """A fast CPU backbone for 112x112 crops (a few MFLOPs): returns (module, out channels)."""
    c = [max(8, int(v * width)) for v in (16, 24, 40, 80, 128)]
    layers = [_conv_bn(3, c[0], stride=2)]  # 56
    layers += [_InvertedResidual(c[0], c[1], 2), _InvertedResidual(c[1], c[1], 1)]  # 28
    layers += [_InvertedResidual(c[1], c[2], 2), _InvertedResidual(c[2], c[2], 1)]  # 14
    layers += [_InvertedResidual(c[2], c[3], 2), _InvertedResidual(c[3], c[3], 1)]  # 7
    layers += [_conv_bn(c[3], c[4], kernel=1)]
    return nn.Sequential(*layers), c[4]


class GreyInput(nn.Module):
    """RGB -> luminance (ITU-R BT.601 weights) inside the model, so colour and grey faces look alike.

    The labelled faces are almost all greyscale; serving crops are colour. Converting in the graph keeps
    the runtime path unchanged (the card still says RGB) and makes colour irrelevant to the prediction.
    With equal mean/std on the three channels the grey of the normalised input is the normalised grey.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weights", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weights).sum(dim=1, keepdim=True)


def _grey_backbone(widths: tuple[int, int, int, int]) -> tuple[nn.Module, int]:
    """A VGG-style CNN on a grey 64x64 crop: a 3x3 stem at full size, then three stages of two 3x3
    convolutions (stride-2 max-pooling between), the shape that works best for small grey faces
    (FER+ baselines), sized to stay under 2 ms per face in ONNX Runtime on two CPU cores."""
    c0, c1, c2, c3 = widths
    layers = [GreyInput(), _conv_bn(1, c0), nn.MaxPool2d(2)]           # 32
    layers += [_conv_bn(c0, c1), _conv_bn(c1, c1), nn.MaxPool2d(2)]    # 16
    layers += [_conv_bn(c1, c2), _conv_bn(c2, c2), nn.MaxPool2d(2)]    # 8
    layers += [_conv_bn(c2, c3), _conv_bn(c3, c3)]                     # 8
    return nn.Sequential(*layers), c3


class PyramidBackbone(nn.Module):
    """Seed 003's multi-task feature pyramid on the grey backbone: three stages' outputs (strides 4, 8, 8
    of the input) get 1x1 lateral projections, a top-down pass adds each coarser level into the finer one,
    a 3x3 convolution smooths each level, and the levels are pooled and concatenated before the heads, so
    the heads see fine texture (wrinkles, AUs) as well as the coarse configuration (expression).

    Returns (B, 3 * width, 1, 1): ``StudentNet``'s global pool then is an identity."""

    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 128, 192), width: int = 64) -> None:
        super().__init__()
        c0, c1, c2, c3 = widths
        self.stem = nn.Sequential(GreyInput(), _conv_bn(1, c0), nn.MaxPool2d(2))
        self.stage1 = nn.Sequential(_conv_bn(c0, c1), _conv_bn(c1, c1), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(_conv_bn(c1, c2), _conv_bn(c2, c2), nn.MaxPool2d(2))
        self.stage3 = nn.Sequential(_conv_bn(c2, c3), _conv_bn(c3, c3))
        self.lateral = nn.ModuleList([nn.Conv2d(c, width, 1) for c in (c1, c2, c3)])
        self.smooth = nn.ModuleList([_conv_bn(width, width) for _ in range(3)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_channels = 3 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l1 = self.stage1(self.stem(x))
        l2 = self.stage2(l1)
        l3 = self.stage3(l2)
        p3 = self.lateral[2](l3)
        p2 = self.lateral[1](l2) + p3  # same stride: no resampling
        p1 = self.lateral[0](l1) + nn.functional.interpolate(p2, size=l1.shape[-2:], mode="nearest")
        levels = [smooth(p) for smooth, p in zip(self.smooth, (p1, p2, p3))]
        return torch.cat([self.pool(p) for p in levels], dim=1)


def _tiny_backbone() -> tuple[nn.Module, int]:
    """A very small net for tests and quick experiments."""
    return nn.Sequential(_conv_bn(3, 16, 2), _conv_bn(16, 32, 2), _conv_bn(32, 64, 2)), 64


def _resnet_backbone(name: str, weights_path: str | None) -> tuple[nn.Module, int]:
    import torchvision

    net = getattr(torchvision.models, name)(weights=None)
    if weights_path:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    out = net.fc.in_features
    body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                         net.layer4)
    return body, out


class StudentNet(nn.Module):
    """Backbone -> global pool -> feature vector -> expression / AU / VA heads.

    ``forward`` returns raw outputs for training (logits); ``ServingStudent`` wraps it with the
    activations the runtime reports. With ``va_from_scores`` (seed 001, EMMA) the valence/arousal head
    reads the expression and AU scores (detached: VA does not train the other heads) beside the features.
    """

    def __init__(self, arch: str = "small", feature_dim: int = 128, dropout: float = 0.2,
                 backbone_weights: str | None = None, va_from_scores: bool = False,
                 mirror_average: bool = False) -> None:
        super().__init__()
        #: Served (eval mode) on the face and its mirror image, outputs averaged: a two-view ensemble that
        #: is steadier and more accurate than either view (set when shipping; training sees one view).
        self.mirror_average = mirror_average
        if arch == "small":
            self.backbone, channels = _small_backbone()
        elif arch == "grey":
            self.backbone, channels = _grey_backbone((32, 64, 128, 192))
        elif arch == "grey-wide":
            self.backbone, channels = _grey_backbone((48, 96, 160, 256))
        elif arch == "fpn":
            self.backbone = PyramidBackbone()
            channels = self.backbone.out_channels
        elif arch == "tiny":
            self.backbone, channels = _tiny_backbone()
        elif arch in ("resnet18", "resnet50"):
            self.backbone, channels = _resnet_backbone(arch, backbone_weights)
        else:
            raise ValueError(f"unknown student architecture {arch!r}; choose one of {STUDENT_ARCHS}")
        self.arch = arch
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.neck = nn.Sequential(nn.Flatten(), nn.Linear(channels, feature_dim), nn.BatchNorm1d(feature_dim),
                                  nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.expression = nn.Linear(feature_dim, len(EXPRESSIONS))
        self.action_units = nn.Linear(feature_dim, len(ACTION_UNITS))
        self.va_from_scores = va_from_scores
        scores = len(EXPRESSIONS) + len(ACTION_UNITS) if va_from_scores else 0
        self.valence_arousal = nn.Linear(feature_dim + scores, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.mirror_average and not self.training:
            n = x.shape[0]
            both = self._forward(torch.cat([x, torch.flip(x, dims=[3])]))
            return {name: (value[:n] + value[n:]) * 0.5 for name, value in both.items()}
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.neck(self.pool(self.backbone(x)))
        h = self.dropout(features)
        expression, action_units = self.expression(h), self.action_units(h)
        va_input = h
        if self.va_from_scores:
            scores = torch.cat([expression.softmax(-1), action_units.sigmoid()], dim=-1).detach()
            va_input = torch.cat([h, scores], dim=-1)
        return {
            "features": features,
            "expression_logits": expression,
            "au_logits": action_units,
            "valence_arousal": torch.tanh(self.valence_arousal(va_input)),
        }


class ServingStudent(nn.Module):
    """The student as served and exported: probabilities instead of logits, a fixed output order."""

    OUTPUTS = ("features", "expression", "action_units", "valence_arousal")

    def __init__(self, net: StudentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        return (out["features"], torch.softmax(out["expression_logits"], dim=-1),
                torch.sigmoid(out["au_logits"]), out["valence_arousal"])
