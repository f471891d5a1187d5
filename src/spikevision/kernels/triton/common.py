"""What every family's Triton kernels share: the spike comparison and the surrogate gradients.

Codes: reset 0 subtract, 1 zero, 2 none; surrogate 0 atan, 1 fast_sigmoid, 2 sigmoid, 3 triangular,
4 straight_through, with the constants ``(a, c)`` of ``fused.surrogate_constants``, read from a tensor
``consts`` so that they keep the inputs' dtype. Every kernel is launched with floating-point fusion off, so that
each step rounds as torch's elementwise ops do.
"""

import triton
import triton.language as tl


@triton.jit
def fired(v, th):
    return tl.where(v - th > 0, 1.0, 0.0).to(v.dtype)


@triton.jit
def surrogate(code: tl.constexpr, x, a, c):
    if code == 0:  # atan
        y = a * x
        g = c / (1.0 + y * y)
    elif code == 1:  # fast_sigmoid
        d = a * tl.abs(x) + 1.0
        g = 1.0 / (d * d)
    elif code == 2:  # sigmoid, in the form that never overflows
        e = tl.exp(-tl.abs(a * x))
        g = a * e / ((1.0 + e) * (1.0 + e))
    elif code == 3:  # triangular
        g = tl.maximum(1.0 - tl.abs(x) * a, 0.0) * a
    else:  # straight_through
        g = x * 0.0 + 1.0
    return g
