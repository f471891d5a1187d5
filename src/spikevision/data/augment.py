"""Random changes to training images ``[B, C, H, W]``: shifts, mirrors, and what mouse-drawn digits vary in.

Digits drawn with a mouse differ from MNIST's in size, slant, stroke width and wobble: ``random_affine``,
``random_stroke`` and ``random_elastic`` train a network for them (the ``drawn`` preset). ``random_erase``
blanks a random rectangle (random erasing, Zhong et al. 2020): a network must then read a garment from what
is left of it (tried on ``fashion``: the README's notes). Each takes the step's generator and draws nothing
when it is off, so turning one on never changes the draws of the others in runs that leave it off. Draws are
made on the CPU generator, wherever the images are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ELASTIC_SMOOTHING = 3.0  # pixels: the Gaussian that turns white noise into a smooth displacement field
ERASE_AREA = (0.02, 0.33)  # the erased rectangle's share of the image, and its aspect ratio (height / width):
ERASE_ASPECT = (0.3, 3.3)  # random erasing's published ranges, also torchvision's RandomErasing defaults


def augment(images: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """Training images ``[B, ..., H, W]`` changed as ``cfg`` (a ``TrainConfig``) says, in a fixed order; all of a
    sample's channels and frames alike (an event sample's ``[T, P, H, W]`` frames move as one)."""
    shape = images.shape
    images = images.reshape(shape[0], -1, *shape[-2:])  # (B, C, H, W): the dimensions between, as channels
    images = random_stroke(images, cfg.augment_stroke, generator)
    images = random_elastic(images, cfg.augment_elastic, generator)
    images = random_affine(images, cfg.augment_rotate, cfg.augment_scale, generator)
    images = random_shift(images, cfg.augment_shift, generator)
    images = random_flip(images, cfg.augment_flip, generator)
    return random_erase(images, cfg.augment_erase, generator).reshape(shape)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image ``[B, C, H, W]`` by its own random offset in [-max_shift, max_shift] pixels."""
    if max_shift == 0:
        return images
    b, _, h, w = images.shape
    device = images.device
    padded = F.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator).to(device)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator).to(device)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(images: torch.Tensor, enabled: bool, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the images ``[B, C, H, W]`` left-right (no draw at all when disabled)."""
    if not enabled:
        return images
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_affine(images: torch.Tensor, max_degrees: float, max_scale: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Rotate each image by up to ``max_degrees`` either way and scale it by a factor in [1 - s, 1 + s]."""
    if max_degrees == 0 and max_scale == 0:
        return images
    b = images.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(max_degrees)
    scale = 1 + (torch.rand(b, generator=generator) * 2 - 1) * max_scale
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale  # output -> input coordinates: the inverse
    zero = torch.zeros(b)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_stroke(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """With ``probability``, make an image's strokes thicker or thinner (even odds), by a random amount."""
    if probability == 0:
        return images
    b = images.shape[0]
    changed = torch.rand(b, generator=generator) < probability
    thicker = torch.rand(b, generator=generator) < 0.5
    amount = 0.3 + 0.7 * torch.rand(b, generator=generator)  # how far towards a full 3x3 dilation / erosion
    dilated = F.max_pool2d(images, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-images, 3, stride=1, padding=1)
    shape = (b, 1, 1, 1)
    amount = amount.to(images).view(shape)
    thick = torch.maximum(images, dilated * amount)
    thin = images + (eroded - images) * amount * 0.7  # never all the way: a thin stroke would vanish
    # Drawn strokes are as bright when thin: keep each image's brightest pixel.
    thin = thin * (images.flatten(1).amax(1) / thin.flatten(1).amax(1).clamp_min(1e-6)).view(shape)
    out = torch.where(thicker.to(images.device).view(shape), thick, thin)
    return torch.where(changed.to(images.device).view(shape), out, images)


def random_elastic(images: torch.Tensor, max_pixels: float, generator: torch.Generator) -> torch.Tensor:
    """Bend each image by a smooth random displacement field of at most ``max_pixels`` (the hand's wobble)."""
    if max_pixels == 0:
        return images
    b, _, h, w = images.shape
    noise = torch.rand(b, 2, h, w, generator=generator).to(images) * 2 - 1
    radius = int(3 * ELASTIC_SMOOTHING)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * ELASTIC_SMOOTHING**2))
    kernel = kernel / kernel.sum()
    field = F.conv2d(noise.reshape(b * 2, 1, h, w), kernel.view(1, 1, 1, -1), padding=(0, radius))
    field = F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0)).reshape(b, 2, h, w)
    field = field / field.flatten(1).abs().amax(1).clamp_min(1e-12).view(b, 1, 1, 1)  # peak 1 pixel
    field = field * max_pixels * torch.tensor([2 / w, 2 / h], dtype=images.dtype, device=images.device).view(1, 2, 1, 1)
    identity = torch.eye(2, 3, dtype=images.dtype, device=images.device).expand(b, 2, 3)
    grid = F.affine_grid(identity, list(images.shape), align_corners=False) + field.permute(0, 2, 3, 1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_erase(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """With ``probability``, set a random rectangle of an image ``[B, C, H, W]`` to 0 (black background).

    Its area is a share of the image drawn from ``ERASE_AREA`` and its aspect ratio log-uniformly from
    ``ERASE_ASPECT``; a side longer than the image is cut to it, and the rectangle lies wholly inside it.
    """
    if probability == 0:
        return images
    b, _, h, w = images.shape
    erased = torch.rand(b, generator=generator) < probability
    area = (ERASE_AREA[0] + (ERASE_AREA[1] - ERASE_AREA[0]) * torch.rand(b, generator=generator)) * h * w
    low, high = math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1])
    aspect = torch.exp(low + (high - low) * torch.rand(b, generator=generator))
    eh = torch.sqrt(area * aspect).round().clamp(1, h).long()
    ew = torch.sqrt(area / aspect).round().clamp(1, w).long()
    top = (torch.rand(b, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=generator) * (w - ew + 1)).long()
    rows = torch.arange(h)[None, :]
    cols = torch.arange(w)[None, :]
    inside_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])  # (B, H)
    inside_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])  # (B, W)
    mask = (inside_rows[:, :, None] & inside_cols[:, None, :] & erased[:, None, None]).to(images.device)
    return images.masked_fill(mask[:, None], 0.0)
