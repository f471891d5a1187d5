"""Vector operations for the numba loops, written in LLVM IR (numba intrinsics).

The fused pair (``lif_linear``) spends most of a trained network's step adding one weight row per spike:
about 15 million rows per step at the seed preset's 30 % hidden firing. Written in numba's Python, LLVM
keeps those adds scalar (it cannot tell the accumulator from the weight rows apart) and the running sum in
memory, about 6 ns a spike. Here each row is one vector operation and the running sum stays in a register.

Each lane is added in the same order as the scalar loop, with the same IEEE additions, so the results are
bit for bit those of plain loops. Vectors are ``LANES`` wide (LLVM splits them into the machine's own
registers: one AVX-512 register of float32, two of AVX2, four of NEON).

    >>> _simd.sum_spiking_rows(words, rows, 0, acc)   # acc[0:16] += rows[j, 0:16] for every set bit j

numba's on-disk cache keys each loop on its own source file, not on this one: after editing this module,
touch ``lif_linear.py`` (or empty the cache) so that the loops are compiled again.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # the weight rows' width: lif_linear pads them to whole vectors of this many lanes
WORD = 64  # neurons per word of spike bits


def _contiguous(*arrays) -> bool:
    """Whether every argument is a C-contiguous array (the flat indexing below needs it; others do not type)."""
    return all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)


def _vector(context, array_type):
    return ir.VectorType(context.get_value_type(array_type.dtype), LANES)


def _align(context, array_type) -> int:
    return context.get_abi_sizeof(context.get_value_type(array_type.dtype))


def _lanes_at(builder, array, index, vector):
    """A pointer to the elements of ``array`` from flat ``index`` on, as one ``vector``."""
    return builder.bitcast(builder.gep(array.data, [index]), vector.as_pointer())


def _each_set_bit(context, builder, words, body):
    """Call ``body(j)`` for each set bit ``j`` of ``words`` (neuron ``64 w + i`` is bit ``i`` of word ``w``),
    lowest first: one pass per spike, no branch per neuron."""
    i64 = ir.IntType(64)
    count = builder.extract_value(words.shape, 0)
    with cgutils.for_range(builder, count) as loop:
        word = builder.load(builder.gep(words.data, [loop.index]))
        _each_bit_of(builder, word, builder.mul(loop.index, i64(WORD)), body)


def _each_bit_of(builder, word, base, body):
    """Call ``body(base + i)`` for each set bit ``i`` of the uint64 ``word``, lowest first."""
    i64 = ir.IntType(64)
    bits_slot = cgutils.alloca_once(builder, i64)
    builder.store(word, bits_slot)
    test, step, done = (builder.append_basic_block(name) for name in ("bits.test", "bits.step", "bits.done"))
    builder.branch(test)
    builder.position_at_end(test)
    bits = builder.load(bits_slot)
    builder.cbranch(builder.icmp_unsigned("!=", bits, i64(0)), step, done)
    builder.position_at_end(step)
    low = builder.cttz(bits, ir.IntType(1)(1))  # bits != 0 here
    builder.store(builder.and_(bits, builder.sub(bits, i64(1))), bits_slot)
    body(builder.add(base, low))
    builder.branch(test)
    builder.position_at_end(done)


def _over_spiking_rows(words, rows, lane, vec, body):
    """The signature and code of an operation on ``rows[j, lane:lane+LANES]`` for each set bit ``j`` of
    ``words`` and on ``vec[lane:lane+LANES]``: ``body(builder, vec_lanes, vector, align)`` emits what comes
    before the rows and returns ``(per_row(row_lanes), finish())``, the code for each row and after the last."""
    if not _contiguous(words, rows, vec) or rows.dtype != vec.dtype or rows.ndim != 2:
        return None

    def codegen(context, builder, sig, args):
        vector, align = _vector(context, sig.args[1]), _align(context, sig.args[1])
        word_arr, row_arr, vec_arr = (context.make_array(sig.args[i])(context, builder, args[i]) for i in (0, 1, 3))
        width, lane_index = builder.extract_value(row_arr.shape, 1), args[2]
        per_row, finish = body(builder, _lanes_at(builder, vec_arr, lane_index, vector), vector, align)

        def visit(j):
            per_row(_lanes_at(builder, row_arr, builder.add(builder.mul(j, width), lane_index), vector))

        _each_set_bit(context, builder, word_arr, visit)
        finish()
        return context.get_dummy_value()

    return types.void(words, rows, lane, vec), codegen


def _running_sum(builder, target, vector, align):
    total = cgutils.alloca_once(builder, vector)  # in the entry block: LLVM turns it into a register
    builder.store(builder.load(target, align=align), total)

    def per_row(row):
        builder.store(builder.fadd(builder.load(total), builder.load(row, align=align)), total)

    return per_row, lambda: builder.store(builder.load(total), target, align=align)


def _added_step(builder, source, vector, align):
    step = builder.load(source, align=align)

    def per_row(row):
        builder.store(builder.fadd(builder.load(row, align=align), step), row, align=align)

    return per_row, lambda: None


@intrinsic
def sum_spiking_rows(typingctx, words, rows, lane, acc):
    """``acc[lane:lane+LANES] += rows[j, lane:lane+LANES]`` for each set bit ``j`` of ``words``, in order.

    ``rows`` is C-contiguous ``[N, L]`` with ``L`` a multiple of ``LANES``; ``acc`` has ``L`` elements of the
    same dtype. The running sum is one vector the whole time (a register, not memory).
    """
    return _over_spiking_rows(words, rows, lane, acc, _running_sum)


@intrinsic
def add_to_word_rows(typingctx, word, rows, first, lane, g, at):
    """``rows[first + i, lane:lane+LANES] += g.flat[at+lane : at+lane+LANES]`` for each set bit ``i`` of ``word``.

    One word of spikes (64 neurons from row ``first``) and one row of ``g`` (from flat index ``at``): the
    indices travel as numbers, so a caller going over many words and steps makes no array views (inside a
    parallel loop each view costs a reference count). ``rows`` is C-contiguous ``[N, L]``, ``g`` C-contiguous.
    """
    if not _contiguous(rows, g) or rows.dtype != g.dtype or rows.ndim != 2 or not isinstance(word, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        vector, align = _vector(context, sig.args[1]), _align(context, sig.args[1])
        row_arr, g_arr = (context.make_array(sig.args[i])(context, builder, args[i]) for i in (1, 4))
        width, lane_index = builder.extract_value(row_arr.shape, 1), args[3]
        per_row, _ = _added_step(builder, _lanes_at(builder, g_arr, builder.add(args[5], lane_index), vector),
                                 vector, align)

        def visit(j):
            per_row(_lanes_at(builder, row_arr, builder.add(builder.mul(j, width), lane_index), vector))

        _each_bit_of(builder, args[0], args[2], visit)
        return context.get_dummy_value()

    return types.void(word, rows, first, lane, g, at), codegen


@intrinsic
def spike_word(typingctx, mem, thr, start):
    """The spikes ``mem[i] - thr[i] > 0`` of the 64 neurons from ``start`` as the bits of a uint64 (neuron
    ``start + i`` is bit ``i``): one vector compare instead of 64 scalar ones. ``start + 64 <= len``."""
    if not _contiguous(mem, thr) or mem.dtype != thr.dtype or mem.ndim != 1 or thr.ndim != 1:
        return None

    def codegen(context, builder, sig, args):
        element = context.get_value_type(sig.args[0].dtype)
        vector, align = ir.VectorType(element, WORD), _align(context, sig.args[0])
        mem_arr, thr_arr = (context.make_array(sig.args[i])(context, builder, args[i]) for i in (0, 1))
        m = builder.load(_lanes_at(builder, mem_arr, args[2], vector), align=align)
        t = builder.load(_lanes_at(builder, thr_arr, args[2], vector), align=align)
        above = builder.fcmp_ordered(">", builder.fsub(m, t), ir.Constant(vector, [0.0] * WORD))
        return builder.bitcast(above, ir.IntType(WORD))

    return types.uint64(mem, thr, start), codegen
