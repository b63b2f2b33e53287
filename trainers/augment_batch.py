"""Strong, fast augmentation of whole batches of grey face crops (torch on the CPU).

What a face looks like to the runtime varies far more than the labelled stills do: pose and framing
(affine: rotation, scale, shift, flips), distance (down- then up-sampling), camera and codec (blur, JPEG,
noise), light (brightness, contrast, gamma) and things in front of the face (occlusion patches). Each
is applied to a random part of the batch with its own strength. Seeded by the caller's generator, so a
run is repeatable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class AugmentOptions:
    rotate_deg: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.08
    flip: float = 0.5
    low_res: float = 0.25          # share of faces shrunk to 35-75% and scaled back up
    blur: float = 0.15
    jpeg: float = 0.2
    noise: float = 0.15
    occlude: float = 0.3
    face_parts: float = 0.0        # share of faces with the lower face (mask, hand) or the eyes (sunglasses) hidden,
                                   # so expression must also be read from the rest (brows for anger; issue 29)
    context: float = 0.7           # share of faces whose margin (outside the source image) gets random context
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.7, 1.3)
    gamma: tuple[float, float] = (0.75, 1.35)

    @classmethod
    def light(cls) -> "AugmentOptions":
        """Milder settings for fine-tuning a trained model at a low learning rate."""
        return cls(rotate_deg=8.0, scale=(0.93, 1.07), shift=0.04, low_res=0.1, blur=0.05, jpeg=0.1, noise=0.05,
                   occlude=0.1, context=0.5, brightness=0.1, contrast=(0.85, 1.15), gamma=(0.9, 1.1))


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (hi - lo) + lo


def _pick(gen: torch.Generator, n: int, p: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def fill_context(x: torch.Tensor, inside: torch.Tensor, gen: torch.Generator, share: float) -> torch.Tensor:
    """Replace the pixels outside the source image (``inside`` False) with random context: a flat grey,
    smooth noise, or another face's crop of the batch (real background, hair and shoulders)."""
    n, _, s, _ = x.shape
    chosen = _pick(gen, n, share)
    if not bool(chosen.any()):
        return x
    kind = torch.randint(0, 3, (n,), generator=gen)
    flat = torch.rand(n, 1, 1, 1, generator=gen).expand(-1, 1, s, s)
    smooth = F.interpolate(torch.rand(n, 1, 6, 6, generator=gen), size=(s, s), mode="bicubic",
                           align_corners=False).clamp(0, 1)
    other = x[torch.randperm(n, generator=gen)]
    fill = torch.where((kind == 0).view(n, 1, 1, 1), flat, torch.where((kind == 1).view(n, 1, 1, 1), smooth, other))
    outside = (~inside).unsqueeze(1) & chosen.view(n, 1, 1, 1)
    return torch.where(outside, fill, x)


def augment(x: torch.Tensor, gen: torch.Generator, opt: AugmentOptions | None = None,
            inside: torch.Tensor | None = None) -> torch.Tensor:
    """x: (N, 1, S, S) float in [0, 1] -> augmented copy, same shape and range. ``inside`` (N, S, S) bool
    marks pixels that come from the source image; the rest get random context first."""
    opt = opt or AugmentOptions()
    n, _, s, _ = x.shape
    if inside is not None:
        x = fill_context(x, inside, gen, opt.context)
    # geometry: one affine grid for the batch
    angle = _uniform(gen, n, -opt.rotate_deg, opt.rotate_deg) * (np.pi / 180.0)
    scale = _uniform(gen, n, *opt.scale)
    flip = torch.where(_pick(gen, n, opt.flip), -1.0, 1.0)
    tx, ty = _uniform(gen, n, -opt.shift, opt.shift) * 2, _uniform(gen, n, -opt.shift, opt.shift) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # distance: shrink and enlarge again
    low = torch.nonzero(_pick(gen, n, opt.low_res)).flatten()
    if len(low):
        side = int(s * float(_uniform(gen, 1, 0.35, 0.75)))
        small = F.interpolate(x[low], size=(side, side), mode="area")
        x[low] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    # blur: a separable 5-tap Gaussian with a random sigma for the chosen faces
    blur = torch.nonzero(_pick(gen, n, opt.blur)).flatten()
    if len(blur):
        sigma = float(_uniform(gen, 1, 0.6, 1.4))
        k = torch.exp(-torch.arange(-2, 3, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
        k = k / k.sum()
        y = F.conv2d(F.pad(x[blur], (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
        x[blur] = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))
    # light
    gamma = _uniform(gen, n, *opt.gamma).view(n, 1, 1, 1)
    x = x.clamp(0, 1) ** gamma
    contrast = _uniform(gen, n, *opt.contrast).view(n, 1, 1, 1)
    bright = _uniform(gen, n, -opt.brightness, opt.brightness).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + bright
    # sensor noise
    noisy = _pick(gen, n, opt.noise).view(n, 1, 1, 1)
    sigma = _uniform(gen, n, 0.01, 0.04).view(n, 1, 1, 1)
    x = x + noisy * sigma * torch.randn(x.shape, generator=gen)
    x = x.clamp(0, 1)
    # occlusion: a rectangle of random grey or noise
    for i in torch.nonzero(_pick(gen, n, opt.occlude)).flatten().tolist():
        h = int(s * float(_uniform(gen, 1, 0.15, 0.4)))
        w = int(s * float(_uniform(gen, 1, 0.15, 0.4)))
        y0 = int(torch.randint(0, s - h + 1, (1,), generator=gen))
        x0 = int(torch.randint(0, s - w + 1, (1,), generator=gen))
        if float(torch.rand(1, generator=gen)) < 0.5:
            x[i, :, y0:y0 + h, x0:x0 + w] = float(torch.rand(1, generator=gen))
        else:
            x[i, :, y0:y0 + h, x0:x0 + w] = torch.rand((1, h, w), generator=gen)
    x = occlude_face_parts(x, gen, opt.face_parts)
    # codec: JPEG round trip (OpenCV) for the chosen faces
    chosen = torch.nonzero(_pick(gen, n, opt.jpeg)).flatten().tolist()
    if chosen:
        import cv2

        for i in chosen:
            q = int(torch.randint(15, 70, (1,), generator=gen))
            img = (x[i, 0].numpy() * 255.0 + 0.5).astype(np.uint8)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok:
                x[i, 0] = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0)
    return x


def occlude_face_parts(x: torch.Tensor, gen: torch.Generator, share: float) -> torch.Tensor:
    """Hide the lower face (two thirds of the chosen faces: a face mask or a hand from between nose and mouth
    down) or the eyes (a band of sunglasses) of a random ``share`` of the batch, in place.

    Positions follow the alignment template (``align.template``: eyes at 47% of the crop's height, nose tip 61%,
    mouth corners 76%) with a random jitter, because the crops were geometrically augmented before. The occluder is
    a flat random grey with a little texture, the look of fabric, skin or dark glass."""
    n, _, s, _ = x.shape
    for i in torch.nonzero(_pick(gen, n, share)).flatten().tolist():
        u = torch.rand(5, generator=gen).tolist()
        x0, x1 = int(s * (0.12 + 0.1 * u[0])), int(s * (0.78 + 0.1 * u[1]))
        if u[2] < 2 / 3:   # lower face: from between the nose tip and the mouth to the bottom
            y0, y1 = int(s * (0.63 + 0.08 * u[3])), s
        else:              # eyes: sunglasses
            y0 = int(s * (0.37 + 0.05 * u[3]))
            y1 = y0 + int(s * (0.14 + 0.06 * u[4]))
        level = float(torch.rand(1, generator=gen))
        texture = 0.04 * torch.randn((1, y1 - y0, x1 - x0), generator=gen)
        x[i, :, y0:y1, x0:x1] = (level + texture).clamp(0, 1)
    return x


__all__ = ["AugmentOptions", "augment", "occlude_face_parts"]


def mask_patches(x: torch.Tensor, ratio: float, gen: torch.Generator, grid: int = 8,
                 fill: float = 0.0) -> torch.Tensor:
    """Hide a random ``ratio`` of a ``grid`` x ``grid`` patch layout per image (seed 001's masked views).

    ``x`` (N, C, H, W), normalised; hidden patches get ``fill`` (0: the normalised mean). Each image draws
    its own patches, so two calls give two nearly complementary views of the same face."""
    n, _, h, w = x.shape
    hidden = int(round(ratio * grid * grid))
    if hidden <= 0:
        return x
    scores = torch.rand(n, grid * grid, generator=gen)
    keep = torch.ones(n, grid * grid)
    keep.scatter_(1, scores.argsort(dim=1)[:, :hidden], 0.0)
    keep = F.interpolate(keep.view(n, 1, grid, grid), size=(h, w), mode="nearest").to(x.dtype)
    return x * keep + fill * (1 - keep)
