"""Data: the datasets (``datasets``: one record each), their files fetched and verified (``fetching``), read
(``idx``) and loaded as tensors (``tensors``); the spike codings (``encoding``), training-time changes to
images (``augment``), any picture of a digit made MNIST-like (``preprocess``) and digits drawn as a mouse
draws them (``drawn``).

The names most callers use are here::

    >>> from spikevision import data
    >>> train = data.load("mnist", "train")        # fetches on first use
    >>> train.images.shape, train.images.dtype     # (torch.Size([60000, 28, 28]), torch.uint8)
    >>> x = data.to_float(train.images[:8])        # float32 [8, 1, 28, 28] in [0, 1]
"""

from __future__ import annotations

from spikevision.data.datasets import NAMES as DATASETS
from spikevision.data.datasets import SPLITS, classes
from spikevision.data.fetching import DataNotFoundError, data_root, fetch, origins
from spikevision.data.idx import read_idx
from spikevision.data.tensors import Split, info, load, to_float
from spikevision.errors import DataWarning

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataNotFoundError",
    "DataWarning",
    "Split",
    "classes",
    "data_root",
    "fetch",
    "info",
    "load",
    "origins",
    "read_idx",
    "to_float",
]
