"""Loaded by every Python process started with this directory on PYTHONPATH (``check_determinism.py --first-sqrt``).

With FIRST_SQRT_LOG set: just before the first optimiser step, hash torch.sqrt of a fixed 2**20-element tensor
(split over torch's threads, like Adam's sqrt of a large layer's moments) and write the hash to that file at exit.
With FIRST_SQRT_NO_WARMUP set too: turn off ``train._settle_vector_math``, to see what it prevents.
"""

import atexit
import hashlib
import os

_log = os.environ.get("FIRST_SQRT_LOG")
if _log:
    import torch

    from spikevision.runs import train

    if os.environ.get("FIRST_SQRT_NO_WARMUP"):
        train._settle_vector_math = lambda: None
    _hashes: list[str] = []
    _original_step = torch.optim.Adam.step  # AdamW inherits it

    def _step(self, *args, **kwargs):
        if not _hashes:
            x = torch.rand(1 << 20, generator=torch.Generator().manual_seed(5))
            _hashes.append(hashlib.sha1(x.sqrt().numpy().tobytes()).hexdigest()[:12])
        return _original_step(self, *args, **kwargs)

    torch.optim.Adam.step = _step
    atexit.register(lambda: open(_log, "w").write("".join(_hashes)))
