"""The GPU engine: each kernel family's Triton kernels (``lif``, ``cuba``, ``alif``, ``lif_linear``), what they
share (``common``) and how they are launched (``runtime``). Importing this package imports no triton."""
