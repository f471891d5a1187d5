"""A Triton kernel that Triton's interpreter runs and its compiler rejects: the negative control of
``tests/test_triton_compile.py`` (its loop-carried ``total`` starts as an int and becomes a float)."""

import triton
import triton.language as tl


@triton.jit
def type_changing_loop(out, steps):
    total = 0
    for _ in range(steps):
        total += 0.5
    tl.store(out, total)
