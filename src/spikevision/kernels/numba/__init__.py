"""The CPU engine: each kernel family's loops compiled by numba (``lif``, ``cuba``, ``alif``, ``lif_linear``), what
they share (``common``, ``simd``), how they are called (``runtime``), and numba's on-disk cache of them
(``cache``) with the workers that fill it ahead of a run (``warm``). Importing this package imports no numba."""
