"""Everything that draws: the only package whose modules import matplotlib (Agg only, never pyplot).

- ``plotting``: drawing functions that each take an ``ax`` and return their artists; figures saved atomically.
- ``animation``: frames drawn straight into arrays -> GIF (Pillow) and MP4 (imageio-ffmpeg's ffmpeg).
- ``figures``: composed figures of a run directory (training curves, confusion matrix, layer activity,
  output membranes, sweeps).
- ``lab``: the figures of the lab's own sections: one LIF neuron (section 5), digits as spikes (section 4).

Nothing outside this package imports matplotlib (``tests/test_plotting.py`` checks the source), so the
numerical core, training and the command line's parser load without it.
"""
