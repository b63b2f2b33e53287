"""The face-api expression network (npm ``@vladmandic/face-api`` 1.7.15, MIT), ported to torch.

Files: ``model/face_expression_model-weights_manifest.json`` and ``model/face_expression_model.bin``
(from ``npm pack @vladmandic/face-api@1.7.15``). Input: RGB face crop zero-padded to a centred square,
resized to 112x112 with TensorFlow's bilinear resize (no half-pixel centres), minus the channel mean,
divided by 255, TF "same" padding. Labels: neutral, happy, sad, angry, fearful, disgusted, surprised.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
#: Column i of the ABAW order (neutral, anger, disgust, fear, happiness, sadness, surprise, other)
#: takes face-api class TO_ABAW[i]; "other" has no source.
TO_ABAW = (0, 3, 5, 4, 1, 2, 6)
MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_SIZE = 112
FILES = ("face_expression_model-weights_manifest.json", "face_expression_model.bin")
SHA256 = {
    "face_expression_model-weights_manifest.json": "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
    "face_expression_model.bin": "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
}


def read_weights(model_dir: str | Path) -> dict[str, np.ndarray]:
    """Decode the tfjs manifest + .bin (uint8-quantised tensors: raw * scale + min) into float32 arrays."""
    model_dir = Path(model_dir)
    manifest = json.loads((model_dir / FILES[0]).read_text())
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = spec["shape"]
            count = int(np.prod(shape)) if shape else 1
            q = spec.get("quantization")
            if q:
                dtype = np.dtype(q["dtype"])
                raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
                offset += count * dtype.itemsize
                values = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                raw = np.frombuffer(data, dtype=np.float32, count=count, offset=offset)
                offset += count * 4
                values = raw.astype(np.float32)
            weights[spec["name"]] = values.reshape(shape)
        if offset != len(data):
            raise ValueError(f"{model_dir}: manifest describes {offset} bytes, files hold {len(data)}")
    return weights


def _same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow 'same' padding for a 3x3 kernel: any odd extra goes to the bottom/right."""
    h = x.shape[-1]
    total = max(3 - stride, 0) if h % stride == 0 else max(3 - h % stride, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class _Separable(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 0, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(_same_pad(x, self.stride)))


class _Plain(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(cin, cout, 3, stride, 0, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(_same_pad(x, self.stride))


class _DenseBlock(nn.Module):
    def __init__(self, cin: int, cout: int, first: bool) -> None:
        super().__init__()
        self.conv0 = _Plain(cin, cout, 2) if first else _Separable(cin, cout, 2)
        self.conv1 = _Separable(cout, cout, 1)
        self.conv2 = _Separable(cout, cout, 1)
        self.conv3 = _Separable(cout, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)


class FaceApiExpressionNet(nn.Module):
    """(N, 3, 112, 112) normalised RGB -> (N, 7) probabilities in face-api's label order."""

    def __init__(self) -> None:
        super().__init__()
        self.dense0 = _DenseBlock(3, 32, first=True)
        self.dense1 = _DenseBlock(32, 64, first=False)
        self.dense2 = _DenseBlock(64, 128, first=False)
        self.dense3 = _DenseBlock(128, 256, first=False)
        self.fc = nn.Linear(256, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))
        x = F.avg_pool2d(x, 7, stride=2).flatten(1)
        return self.fc(x).softmax(-1)

    def load_tfjs(self, weights: dict[str, np.ndarray]) -> "FaceApiExpressionNet":
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a))

        with torch.no_grad():
            for b in range(4):
                block = getattr(self, f"dense{b}")
                for c in range(4):
                    prefix = f"dense{b}/conv{c}"
                    conv = getattr(block, f"conv{c}")
                    if isinstance(conv, _Plain):
                        conv.conv.weight.copy_(t(weights[f"{prefix}/filters"].transpose(3, 2, 0, 1)))
                        conv.conv.bias.copy_(t(weights[f"{prefix}/bias"]))
                    else:  # depthwise HWC1 -> C1HW, pointwise 11IO -> OI11
                        conv.depthwise.weight.copy_(t(weights[f"{prefix}/depthwise_filter"].transpose(2, 3, 0, 1)))
                        conv.pointwise.weight.copy_(t(weights[f"{prefix}/pointwise_filter"].transpose(3, 2, 0, 1)))
                        conv.pointwise.bias.copy_(t(weights[f"{prefix}/bias"]))
            self.fc.weight.copy_(t(weights["fc/weights"].T))
            self.fc.bias.copy_(t(weights["fc/bias"]))
        return self.eval()


def load_faceapi(model_dir: str | Path) -> FaceApiExpressionNet:
    """The ported network with the package's weights (sha256 checked)."""
    from realtime_affect.assets import sha256_file

    model_dir = Path(model_dir)
    for name, digest in SHA256.items():
        path = model_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: run `npm pack @vladmandic/face-api@1.7.15` and untar it")
        if sha256_file(path) != digest:
            raise ValueError(f"{path}: sha256 differs from @vladmandic/face-api 1.7.15's file")
    return FaceApiExpressionNet().load_tfjs(read_weights(model_dir))


def tf_resize_bilinear(img: np.ndarray, size: int) -> np.ndarray:
    """TensorFlow's resize_bilinear (align_corners=False, half_pixel_centers=False) of an HxWxC array."""
    h, w = img.shape[:2]
    ys = np.arange(size) * (h / size)
    xs = np.arange(size) * (w / size)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    dy = (ys - y0)[:, None, None]
    dx = (xs - x0)[None, :, None]
    a = img.astype(np.float32)
    top = a[y0][:, x0] * (1 - dx) + a[y0][:, x1] * dx
    bottom = a[y1][:, x0] * (1 - dx) + a[y1][:, x1] * dx
    return top * (1 - dy) + bottom * dy


def faceapi_input(rgb_crop: np.ndarray) -> np.ndarray:
    """face-api's preprocessing of one RGB crop: centred zero-pad to square, TF resize, (x - mean) / 255.

    Returns (3, 112, 112) float32.
    """
    h, w = rgb_crop.shape[:2]
    side = max(h, w)
    square = np.zeros((side, side, 3), np.float32)
    y, x = (side - h) // 2, (side - w) // 2
    square[y:y + h, x:x + w] = rgb_crop
    resized = tf_resize_bilinear(square, INPUT_SIZE)
    return ((resized - np.array(MEAN_RGB, np.float32)) / 255.0).transpose(2, 0, 1).astype(np.float32)
