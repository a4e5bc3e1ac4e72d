"""The compiled half of the kernels: vectorizable math, one fused loop per recurrent time step, row loops.

``recurrent.py`` runs the time loop in Python and does every matrix product
with BLAS (``np.dot``); the functions here do the element-wise work in between
(and ``softmax.py``'s row loops, which share the vectorized exp).
A step kernel covers all B rows at step ``s``: row ``b`` runs iff ``s < L[b]``
and then reads time ``t = s`` (or ``L[b] - 1 - s`` when ``reverse``); a row
that does not run writes zeros at ``t = s`` (its padding, visited once).

Compiled functions that call each other live in this one file on purpose:
numba's on-disk cache (``cache=True``) is invalidated by changes to the file
that defines a function, not to the files it calls into, so a math helper kept
elsewhere could be served stale from the cache after an edit.  ``error_model="numpy"`` drops the
division-by-zero checks that would keep LLVM from vectorizing the loops.
Constants are of the data's type (``one = gates.dtype.type(1)``): a float64
literal would turn float32 arithmetic into float64, with half the SIMD lanes.
LLVM vectorizes a cheap loop only if few runtime checks prove that the arrays
it writes do not overlap the others it touches, so the backward kernels split
a row's work into several small loops of a few arrays each (2-6x faster than one
loop over all of them).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from numba import njit, types
from numba.extending import intrinsic, overload

# ---------------------------------------------------------------- exp, sigmoid, tanh
#
# numba lowers math.exp / math.tanh to scalar libm calls (no SVML), and
# math.tanh alone costs ~18 ns an element, most of an LSTM step.  These
# versions are arithmetic plus bit casts, so LLVM vectorizes the gate loops that
# inline them, and they come in two precisions chosen by the argument's type:
# float32 code stays float32 (8 lanes to an AVX vector, a shorter polynomial),
# float64 code is accurate to a few ulp (the tests compare float64 to 1e-10).
# Both follow IEEE at the edges: exp overflows to inf, underflows through the
# subnormals to 0, NaN stays NaN, tanh(-0.0) is -0.0.
#
#   exp(x) = (1 + m) * 2**n,  n = round(x / ln 2),  m = expm1(r),  r = x - n ln 2,  |r| <= ln(2)/2
#   tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|), or -m / (2 + m) near 0 (there n = 0, m = expm1(-2|x|)),
#             which avoids the cancellation in 1 - e
#   sigmoid(x) = 1 / (1 + exp(-x)), the reference's formula

_FLOAT_LAYOUT = {types.float32: (32, 23, 127), types.float64: (64, 52, 1023)}  # bits, mantissa bits, bias


@intrinsic
def _scale2(typingctx, p, nf):
    """p * 2**nf for an integer-valued nf of p's float type.  2**nf is built from bits as two normal
    factors, so a subnormal result rounds once and a large one overflows to inf."""
    if p not in _FLOAT_LAYOUT or nf != p:
        return None
    bits, mantissa, bias = _FLOAT_LAYOUT[p]

    def codegen(context, builder, signature, args):
        value, exponent = args
        ftype, itype = value.type, ir.IntType(bits)

        def const(v):
            return ir.Constant(itype, v)

        # the integer n: adding 1.5 * 2**mantissa puts it in the low bits of the float's pattern
        shift = ir.Constant(ftype, 1.5 * 2.0**mantissa)
        n = builder.sub(builder.bitcast(builder.fadd(exponent, shift), itype), builder.bitcast(shift, itype))
        # n1 = floor(n / 2) by a logical shift of n + 2 (bias + 1) >= 0 (AVX2 has no 64-bit arithmetic shift)
        n1 = builder.sub(builder.lshr(builder.add(n, const(2 * (bias + 1))), const(1)), const(bias + 1))

        def pow2(k):
            return builder.bitcast(builder.shl(builder.add(k, const(bias)), const(mantissa)), ftype)

        return builder.fmul(builder.fmul(value, pow2(n1)), pow2(builder.sub(n, n1)))

    return p(p, nf), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c, fused where the CPU has FMA (llvm.fmuladd lets LLVM choose)."""
    if a not in _FLOAT_LAYOUT or b != a or c != a:
        return None

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return a(a, a, a), codegen


@intrinsic
def _select(typingctx, cond, a, b):
    """a if cond else b as one LLVM select: both sides are computed, nothing branches.  (A Python
    conditional expression in these inlined helpers would also vectorize, but numba's inliner warns
    about the phi nodes it leaves.)"""
    if cond != types.boolean or a not in _FLOAT_LAYOUT or b != a:
        return None

    def codegen(context, builder, signature, args):
        return builder.select(*args)

    return a(cond, a, b), codegen


_fast = njit(cache=True, error_model="numpy", inline="always")  # math helpers, inlined into the kernels
# nogil: the kernels touch only the arrays they are given, so callers on other threads run alongside
# (docs/threading.md), as with the cpp backend.
_kernel = njit(cache=True, error_model="numpy", nogil=True)


@_fast
def _expm1_reduced64(r):
    """expm1(r) for |r| <= ln(2)/2: the Taylor series to r**13 (relative error below 1e-17)."""
    q = 1.0 / 6227020800.0
    q = _fma(q, r, 1.0 / 479001600.0)
    q = _fma(q, r, 1.0 / 39916800.0)
    q = _fma(q, r, 1.0 / 3628800.0)
    q = _fma(q, r, 1.0 / 362880.0)
    q = _fma(q, r, 1.0 / 40320.0)
    q = _fma(q, r, 1.0 / 5040.0)
    q = _fma(q, r, 1.0 / 720.0)
    q = _fma(q, r, 1.0 / 120.0)
    q = _fma(q, r, 1.0 / 24.0)
    q = _fma(q, r, 1.0 / 6.0)
    q = _fma(q, r, 0.5)
    q = _fma(q, r, 1.0)
    return r * q


_F32_TAYLOR = tuple(np.float32(1.0 / math.factorial(k)) for k in range(9))  # 1/k! as float32 constants


@_fast
def _expm1_reduced32(r):
    """expm1(r) for |r| <= ln(2)/2 in float32: the Taylor series to r**8 (relative error below 1e-8)."""
    c = _F32_TAYLOR
    q = _fma(c[8], r, c[7])
    q = _fma(q, r, c[6])
    q = _fma(q, r, c[5])
    q = _fma(q, r, c[4])
    q = _fma(q, r, c[3])
    q = _fma(q, r, c[2])
    q = _fma(q, r, c[1])
    return r * q


def _float_math(ft, expm1_reduced, lowest, highest, ln2_hi, ln2_lo):
    """exp, sigmoid and tanh for the float type ft, every constant of that type.

    lowest, highest: exp clamps x to them (as selects, not min/max, so NaN passes); beyond them the
    result is 0 or inf anyway.  ln2_hi + ln2_lo = ln 2, with n * ln2_hi exact (Cody-Waite).
    """
    one, two, log2e = ft(1), ft(2), ft(1.4426950408889634)
    lowest, highest, ln2_hi, ln2_lo = ft(lowest), ft(highest), ft(ln2_hi), ft(ln2_lo)
    rounder = ft(1.5 * 2.0 ** np.finfo(ft).nmant)  # adding and subtracting it rounds to an integer
    near_zero = ft(-0.34)  # -2|x| above this: n is 0 (|u / ln 2| < 0.5) and tanh takes -m / (2 + m)

    @_fast
    def expm1_parts(x):
        """(m, n) with exp(x) = (1 + m) * 2**n and m = expm1(r) to full precision."""
        x = _select(x > highest, highest, x)
        x = _select(x < lowest, lowest, x)
        n = (x * log2e + rounder) - rounder
        r = (x - n * ln2_hi) - n * ln2_lo
        return expm1_reduced(r), n

    @_fast
    def exp(x):
        m, n = expm1_parts(x)
        return _scale2(one + m, n)

    @_fast
    def sigmoid(x):
        return one / (one + exp(-x))

    @_fast
    def tanh(x):
        u = -two * abs(x)
        m, n = expm1_parts(u)
        e = _scale2(one + m, n)
        small = u > near_zero
        # choose numerator and denominator, then divide once: a division in a branch would not vectorize
        num = _select(small, -m, one - e)
        den = _select(small, two + m, one + e)
        return math.copysign(num / den, x)

    return exp, sigmoid, tanh


_MATH = {
    types.float32: _float_math(np.float32, _expm1_reduced32, -104.0, 89.0, 0.693359375, -2.12194440e-4),
    types.float64: _float_math(np.float64, _expm1_reduced64, -746.0, 710.0, 0.6931471803691238, 1.9082149292705877e-10),
}


def exp(x):
    """e**x for a float32 or float64 scalar, in compiled code (numba picks the precision by overload)."""
    raise NotImplementedError("compiled code only")


def sigmoid(x):
    """1 / (1 + e**-x) for a float32 or float64 scalar, in compiled code."""
    raise NotImplementedError("compiled code only")


def tanh(x):
    """tanh(x) for a float32 or float64 scalar, in compiled code."""
    raise NotImplementedError("compiled code only")


def _register(stub, which):
    @overload(stub, inline="always")
    def _typed(x):
        if x in _MATH:
            impl = _MATH[x][which]
            return lambda x: impl(x)
        return None


for _which, _stub in enumerate((exp, sigmoid, tanh)):
    _register(_stub, _which)


# ---------------------------------------------------------------- shared helpers


@_fast
def _time(s, length, reverse):
    """The time index that step s of a row of this length reads."""
    return length - 1 - s if reverse else s


@_fast
def _before(t, reverse):
    """The time index of the step that ran just before the one that read t."""
    return t + 1 if reverse else t - 1


@_fast
def _incoming_grad(out, first, dhT_row, next_row, dy, b, t):
    """out = dL/dh entering a row's step: dhT at the row's first backward step (its last forward step),
    else what the step after passed back; plus dy[b, t] unless dy is empty (None)."""
    src = dhT_row if first else next_row
    for j in range(out.size):
        out[j] = src[j]
    if dy.size != 0:
        dy_t = dy[b, t]
        for j in range(out.size):
            out[j] += dy_t[j]


@_kernel
def previous_states(y, h0, L, reverse):
    """prev[b, t]: the state the step that read x[b, t] started from (h0 for a row's first step), 0 past L[b].

    The backward's weight gradient dU is then one GEMM, prev.T @ dgates.
    """
    B, T, H = y.shape
    prev = np.empty_like(y)
    for b in range(B):
        first = _time(0, L[b], reverse)
        for t in range(T):
            if t >= L[b]:
                prev[b, t, :] = 0
            elif t == first:
                prev[b, t, :] = h0[b]
            else:
                prev[b, t, :] = y[b, _before(t, reverse)]
    return prev


@_kernel
def zero_padding(a, L):
    """a[b, t] = 0 for t >= L[b], in place."""
    for b in range(a.shape[0]):
        a[b, L[b] :, :] = 0


# ---------------------------------------------------------------- LSTM (gate blocks i, f, c~, o)


@_kernel
def lstm_step(s, reverse, L, gates, rec, bias, h, c, y, cs):
    """Step s of the forward.  gates[b, t] holds x[b, t] @ W on entry and the activated gates on exit;
    rec = h @ U; h, c are the running states, y, cs the [B,T,H] outputs."""
    B, _, H = y.shape
    for b in range(B):
        if s >= L[b]:
            gates[b, s, :] = 0
            y[b, s, :] = 0
            cs[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        a, r = gates[b, t], rec[b]
        for j in range(H):
            i = sigmoid(a[j] + r[j] + bias[j])
            f = sigmoid(a[H + j] + r[H + j] + bias[H + j])
            g = tanh(a[2 * H + j] + r[2 * H + j] + bias[2 * H + j])
            o = sigmoid(a[3 * H + j] + r[3 * H + j] + bias[3 * H + j])
            a[j], a[H + j], a[2 * H + j], a[3 * H + j] = i, f, g, o
            c_new = f * c[b, j] + i * g
            h_new = o * tanh(c_new)
            c[b, j], cs[b, t, j] = c_new, c_new
            h[b, j], y[b, t, j] = h_new, h_new


@_kernel
def lstm_grad_step(s, reverse, L, gates, cs, c0, dy, dhT, dh_next, dc, dh, dg, dgates):
    """Step s of the backward: the pre-activation gate gradients into dg [B,4H] (zero for rows not
    running) and dgates[b, t].  dh_next = (previous step's dg) @ U.T; dc is the running cell gradient,
    dh a [B,H] scratch.  An empty dy stands for None."""
    B, _, H = cs.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            dg[b, :] = 0
            dgates[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        c_prev = c0[b] if s == 0 else cs[b, _before(t, reverse)]
        gt, ct, d, dcb, dht = gates[b, t], cs[b, t], dg[b], dc[b], dh[b]
        _incoming_grad(dht, s == L[b] - 1, dhT[b], dh_next[b], dy, b, t)
        tanh_c = dgates[b, t, 2 * H : 3 * H]  # parked in the output row, overwritten by the copy below
        for j in range(H):
            tanh_c[j] = tanh(ct[j])
        for j in range(H):
            o, tc = gt[3 * H + j], tanh_c[j]
            dcb[j] = dcb[j] + dht[j] * o * (one - tc * tc)
            d[3 * H + j] = dht[j] * tc * o * (one - o)
        for j in range(H):
            i, f, g, dc_t = gt[j], gt[H + j], gt[2 * H + j], dcb[j]
            d[j] = dc_t * g * i * (one - i)
            d[H + j] = dc_t * c_prev[j] * f * (one - f)
            d[2 * H + j] = dc_t * i * (one - g * g)
            dcb[j] = dc_t * f
        dgates[b, t, :] = d


# ---------------------------------------------------------------- GRU (gate blocks z, r, h~)


@_kernel
def gru_step(s, reverse, L, gates, rec, b_in, b_rec, h, y, hr):
    """Step s of the reset_after=True forward (one GEMM a step: rec = h @ U).
    gates[b, t] holds x[b, t] @ W on entry and z, r, h~ on exit; hr[b, t] gets h @ U_h + b_rec_h."""
    B, _, H = y.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            gates[b, s, :] = 0
            y[b, s, :] = 0
            hr[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        a, r = gates[b, t], rec[b]
        for j in range(H):
            z = sigmoid(a[j] + b_in[j] + r[j] + b_rec[j])
            rg = sigmoid(a[H + j] + b_in[H + j] + r[H + j] + b_rec[H + j])
            rec_h = r[2 * H + j] + b_rec[2 * H + j]
            hh = tanh(a[2 * H + j] + b_in[2 * H + j] + rg * rec_h)
            a[j], a[H + j], a[2 * H + j] = z, rg, hh
            hr[b, t, j] = rec_h
            h_new = z * h[b, j] + (one - z) * hh
            h[b, j], y[b, t, j] = h_new, h_new


@_kernel
def gru_gates_zr(s, reverse, L, gates, rec_zr, bias, h, rh):
    """First half of a reset_after=False step: z, r from rec_zr = h @ U[:, :2H], and rh = r * h,
    which the candidate's GEMM needs.  Rows not running get rh = 0 (gru_candidate zeroes their padding)."""
    B, H = rh.shape
    for b in range(B):
        if s >= L[b]:
            rh[b, :] = 0
            continue
        t = _time(s, L[b], reverse)
        a, r = gates[b, t], rec_zr[b]
        for j in range(H):
            z = sigmoid(a[j] + bias[j] + r[j])
            rg = sigmoid(a[H + j] + bias[H + j] + r[H + j])
            a[j], a[H + j] = z, rg
            rh[b, j] = rg * h[b, j]


@_kernel
def gru_candidate(s, reverse, L, gates, rec_h, bias, h, y):
    """Second half of a reset_after=False step: h~ from rec_h = (r * h) @ U[:, 2H:], then the new state."""
    B, _, H = y.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            gates[b, s, :] = 0
            y[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        a = gates[b, t]
        for j in range(H):
            hh = tanh(a[2 * H + j] + bias[2 * H + j] + rec_h[b, j])
            a[2 * H + j] = hh
            z = a[j]
            h_new = z * h[b, j] + (one - z) * hh
            h[b, j], y[b, t, j] = h_new, h_new


@_kernel
def gru_grad_step(s, reverse, L, gates, hr, y, h0, dy, dhT, dh_next, dh, dh_part, dg_rec, dgates_in, dgates_rec):
    """Step s of the reset_after=True backward.  Writes the gradients at the input pre-activations
    (dz, dr, dn) to dgates_in[b, t] and at the recurrent ones (dz, dr, dn * r) to dg_rec and
    dgates_rec[b, t]; dh_part = dh_t * z, the part of dh_prev besides dg_rec @ U.T."""
    B, _, H = y.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            dg_rec[b, :] = 0
            dgates_in[b, s, :] = 0
            dgates_rec[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        hp = h0[b] if s == 0 else y[b, _before(t, reverse)]
        gt, rec, di, dr_, dht, part = gates[b, t], hr[b, t], dgates_in[b, t], dg_rec[b], dh[b], dh_part[b]
        _incoming_grad(dht, s == L[b] - 1, dhT[b], dh_next[b], dy, b, t)
        for j in range(H):
            z, r, hh = gt[j], gt[H + j], gt[2 * H + j]
            dn = dht[j] * (one - z) * (one - hh * hh)
            di[j] = dht[j] * (hp[j] - hh) * z * (one - z)
            di[H + j] = dn * rec[j] * r * (one - r)
            di[2 * H + j] = dn
        for j in range(2 * H):
            dr_[j] = di[j]
        for j in range(H):
            dr_[2 * H + j] = di[2 * H + j] * gt[H + j]
        for j in range(H):
            part[j] = dht[j] * gt[j]
        dgates_rec[b, t, :] = dr_


@_kernel
def gru_grad_zn(s, reverse, L, gates, y, h0, dy, dhT, dh_next, dh, dn, dzr, dgates):
    """First half of a reset_after=False backward step: dh_t into dh, dz into dzr[:, :H] and dgates,
    dn (the candidate's pre-activation gradient) into dn and dgates.  dr needs dn @ U_h.T first."""
    B, _, H = y.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            dn[b, :] = 0
            dzr[b, :] = 0
            dgates[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        hp = h0[b] if s == 0 else y[b, _before(t, reverse)]
        gt, dgt, dht = gates[b, t], dgates[b, t], dh[b]
        _incoming_grad(dht, s == L[b] - 1, dhT[b], dh_next[b], dy, b, t)
        for j in range(H):
            z, hh = gt[j], gt[2 * H + j]
            dgt[j] = dht[j] * (hp[j] - hh) * z * (one - z)
            dgt[2 * H + j] = dht[j] * (one - z) * (one - hh * hh)
        dzr[b, :H] = dgt[:H]
        dn[b, :] = dgt[2 * H :]


@_kernel
def gru_grad_r(s, reverse, L, gates, y, h0, drh, dh, dh_part, dzr, dgates):
    """Second half: dr from drh = dn @ U_h.T (the gradient at r * h_prev) into dzr[:, H:] and dgates;
    dh_part = dh_t * z + drh * r, the part of dh_prev besides dzr @ U[:, :2H].T."""
    B, _, H = y.shape
    one = gates.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            continue
        t = _time(s, L[b], reverse)
        hp = h0[b] if s == 0 else y[b, _before(t, reverse)]
        gt, dgt, dr_h, dht, part = gates[b, t], dgates[b, t], drh[b], dh[b], dh_part[b]
        for j in range(H):
            r = gt[H + j]
            dgt[H + j] = dr_h[j] * hp[j] * r * (one - r)
        dzr[b, H:] = dgt[H : 2 * H]
        for j in range(H):
            part[j] = dht[j] * gt[j] + dr_h[j] * gt[H + j]


# ---------------------------------------------------------------- basic tanh RNN


@_kernel
def rnn_step(s, reverse, L, y, rec, bias, h):
    """Step s of the forward.  y[b, t] holds x[b, t] @ W on entry and the new state on exit; rec = h @ U."""
    B, _, H = y.shape
    for b in range(B):
        if s >= L[b]:
            y[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        a, r = y[b, t], rec[b]
        for j in range(H):
            h_new = tanh(a[j] + r[j] + bias[j])
            a[j], h[b, j] = h_new, h_new


@_kernel
def rnn_grad_step(s, reverse, L, y, dy, dhT, dh_next, dg, dpre):
    """Step s of the backward: the pre-activation gradient into dg [B,H] and dpre[b, t]; dh_next = dg @ U.T
    of the step after.  An empty dy stands for None."""
    B, _, H = y.shape
    one = y.dtype.type(1)
    for b in range(B):
        if s >= L[b]:
            dg[b, :] = 0
            dpre[b, s, :] = 0
            continue
        t = _time(s, L[b], reverse)
        yt, d = y[b, t], dg[b]
        _incoming_grad(d, s == L[b] - 1, dhT[b], dh_next[b], dy, b, t)
        for j in range(H):
            d[j] = d[j] * (one - yt[j] * yt[j])
        dpre[b, t, :] = d


# ---------------------------------------------------------------- softmax family: rows of the last axis
#
# Reductions keep four float64 partial results: independent chains that LLVM packs into one vector, where
# a single running sum waits on every add and, without fastmath, may not be reordered.  Sums thus
# accumulate in float64 also for float32 data; the results are rounded to the data's type before use.


@_fast
def _row_max(row):
    """The row's maximum.  A NaN may be skipped, but it still reaches every output of its row through
    the sum of exp (NaN everywhere, as in the reference, whose max is NaN)."""
    m0 = m1 = m2 = m3 = row[0]
    n4 = row.size - row.size % 4
    for i in range(0, n4, 4):
        m0 = _select(row[i] > m0, row[i], m0)
        m1 = _select(row[i + 1] > m1, row[i + 1], m1)
        m2 = _select(row[i + 2] > m2, row[i + 2], m2)
        m3 = _select(row[i + 3] > m3, row[i + 3], m3)
    for i in range(n4, row.size):
        m0 = _select(row[i] > m0, row[i], m0)
    m0 = _select(m1 > m0, m1, m0)
    m2 = _select(m3 > m2, m3, m2)
    return _select(m2 > m0, m2, m0)


@_fast
def _row_dot(a, b):
    """sum(a * b) in float64."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = a.size - a.size % 4
    for i in range(0, n4, 4):
        s0 += np.float64(a[i]) * np.float64(b[i])
        s1 += np.float64(a[i + 1]) * np.float64(b[i + 1])
        s2 += np.float64(a[i + 2]) * np.float64(b[i + 2])
        s3 += np.float64(a[i + 3]) * np.float64(b[i + 3])
    for i in range(n4, a.size):
        s0 += np.float64(a[i]) * np.float64(b[i])
    return (s0 + s1) + (s2 + s3)


@_fast
def _row_sum(a):
    """sum(a) in float64."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = a.size - a.size % 4
    for i in range(0, n4, 4):
        s0 += np.float64(a[i])
        s1 += np.float64(a[i + 1])
        s2 += np.float64(a[i + 2])
        s3 += np.float64(a[i + 3])
    for i in range(n4, a.size):
        s0 += np.float64(a[i])
    return (s0 + s1) + (s2 + s3)


@_fast
def _log_softmax_row(x, out, scratch):
    """out = x - max - log(sum(exp(x - max))), the reference's formula; scratch holds the exps."""
    m = _row_max(x)
    for j in range(x.size):
        out[j] = x[j] - m
    for j in range(x.size):
        scratch[j] = exp(out[j])
    log_total = out.dtype.type(math.log(_row_sum(scratch)))
    for j in range(x.size):
        out[j] = out[j] - log_total


@_kernel
def softmax_rows(x, out):
    for n in range(x.shape[0]):
        xr, o = x[n], out[n]
        m = _row_max(xr)
        for j in range(xr.size):
            o[j] = exp(xr[j] - m)
        total = o.dtype.type(_row_sum(o))
        for j in range(xr.size):
            o[j] = o[j] / total


@_kernel
def log_softmax_rows(x, out):
    scratch = np.empty(x.shape[1], x.dtype)
    for n in range(x.shape[0]):
        _log_softmax_row(x[n], out[n], scratch)


@_kernel
def softmax_backward_rows(y, dy, out):
    """y * (dy - sum(dy * y))."""
    for n in range(y.shape[0]):
        yr, dyr, o = y[n], dy[n], out[n]
        dot = y.dtype.type(_row_dot(dyr, yr))
        for j in range(yr.size):
            o[j] = yr[j] * (dyr[j] - dot)


@_kernel
def log_softmax_backward_rows(y, dy, out):
    """dy - exp(y) * sum(dy)."""
    for n in range(y.shape[0]):
        yr, dyr, o = y[n], dy[n], out[n]
        total = y.dtype.type(_row_sum(dyr))
        for j in range(yr.size):
            o[j] = dyr[j] - exp(yr[j]) * total


@_kernel
def cross_entropy_sparse_rows(logits, labels, probs, loss):
    """loss[n] = -log_softmax(logits[n])[labels[n]]; probs = exp(log_softmax), as the reference stores it."""
    scratch = np.empty(logits.shape[1], logits.dtype)
    for n in range(logits.shape[0]):
        p = probs[n]
        _log_softmax_row(logits[n], p, scratch)
        loss[n] = -p[labels[n]]
        for j in range(p.size):
            p[j] = exp(p[j])


@_kernel
def cross_entropy_dense_rows(logits, labels, probs, loss):
    """loss[n] = -sum(labels[n] * log_softmax(logits[n])); probs = exp(log_softmax)."""
    scratch = np.empty(logits.shape[1], logits.dtype)
    for n in range(logits.shape[0]):
        p = probs[n]
        _log_softmax_row(logits[n], p, scratch)
        loss[n] = -_row_dot(labels[n], p)
        for j in range(p.size):
            p[j] = exp(p[j])


@_kernel
def cross_entropy_sparse_backward_rows(probs, labels, dloss, out):
    """(probs - onehot(labels)) * dloss."""
    one = probs.dtype.type(1)
    for n in range(probs.shape[0]):
        p, o, label = probs[n], out[n], labels[n]
        for j in range(p.size):
            o[j] = p[j] * dloss[n]
        o[label] = (p[label] - one) * dloss[n]


@_kernel
def cross_entropy_dense_backward_rows(probs, labels, dloss, out):
    """(probs * sum(labels) - labels) * dloss: a target need not sum to one."""
    for n in range(probs.shape[0]):
        p, t, o = probs[n], labels[n], out[n]
        total = probs.dtype.type(_row_sum(t))
        for j in range(p.size):
            o[j] = (p[j] * total - t[j]) * dloss[n]
