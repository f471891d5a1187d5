"""A dataset's splits as tensors: ``load`` (uint8 images and int64 labels, fetched first where needed),
``to_float`` (images in [0, 1] with a channel axis) and ``info`` (what a fetched dataset holds)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from spikevision.data import datasets
from spikevision.data.fetching import data_root, ensure
from spikevision.data.idx import read_idx
from spikevision.errors import InvalidType, InvalidValue


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset: ``images`` uint8 ``[N, 28, 28]``, ``labels`` int64 ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str
    split: str
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def load(dataset: str = "mnist", split: str = "train", root: str | os.PathLike | None = None, *,
         download: bool = True) -> Split:
    """Load a split as uint8 tensors, fetching the files first if needed (and ``download`` is True).

    Args:
        dataset: "mnist" or "fashion-mnist".
        split: "train" (60,000 images) or "test" (10,000 images).
        root: data root (see `data_root`).
        download: if False, only files already in the data directory are used.
    Returns:
        Split with ``images`` uint8 ``[N, 28, 28]`` and ``labels`` int64 ``[N]``.
    """
    spec = datasets.get(dataset)
    datasets.check_split(split)
    files = [spec.files[split, "images"], spec.files[split, "labels"]]
    directory = ensure(spec, root, files, download=download)
    images = read_idx(directory / files[0].name)
    labels = read_idx(directory / files[1].name).long()
    return Split(images=images, labels=labels, dataset=spec.name, split=split, classes=spec.classes)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """Scale uint8 images to float32 in [0, 1] with a channel axis.

    Args:
        images: uint8 ``[N, H, W]``.
    Returns:
        float32 ``[N, 1, H, W]``, ``images / 255``.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise InvalidType(f"to_float expects a uint8 tensor [N, H, W], got {got}")
    if images.dim() != 3:
        raise InvalidValue(f"to_float expects images of shape [N, H, W], got {list(images.shape)}")
    return images.unsqueeze(1).to(torch.float32).div_(255.0)


def _pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Exact mean and (population) std of ``images / 255`` from a 256-bin histogram, no float copy."""
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / n
    return float(mean), float(var.sqrt())


def info(dataset: str = "mnist", root: str | os.PathLike | None = None) -> dict:
    """Describe a fetched dataset: where its files are, counts, label histogram, pixel mean/std per split.

    Args:
        dataset: "mnist" or "fashion-mnist".
        root: data root (see `data_root`); the files must already be there (see `fetch`).
    Returns:
        ``{"dataset", "directory", "classes", "splits": {split: {"count", "image_shape", "label_counts",
        "pixel_mean", "pixel_std", "files"}}}``, JSON-serialisable.
    """
    spec = datasets.get(dataset)
    directory = data_root(root) / spec.name
    splits = {}
    for split in datasets.SPLITS:
        data = load(dataset, split, root, download=False)
        mean, std = _pixel_stats(data.images)
        splits[split] = {
            "count": len(data),
            "image_shape": list(data.images.shape[1:]),
            "label_counts": torch.bincount(data.labels, minlength=len(spec.classes)).tolist(),
            "pixel_mean": mean,
            "pixel_std": std,
            "files": {kind: str(directory / spec.files[split, kind].name) for kind in ("images", "labels")},
        }
    return {"dataset": spec.name, "directory": str(directory), "classes": list(spec.classes), "splits": splits}
