"""Optimizer updates: one compiled loop over the flat arrays, in place.

Arrays arrive C-contiguous and non-overlapping (checked in ``seqcore.kernels``), so each
is viewed as 1-D.  Scalars are passed in the arrays' dtype: float32 arrays are updated in
float32 arithmetic, as in the reference.  An absent optional state is a 0-size array.
"""

from __future__ import annotations

import numpy as np

from ._kernels import _kernel


@_kernel
def _sgd(p, g, vel, lr, momentum, use_momentum, nesterov):
    if not use_momentum:
        for i in range(p.size):
            p[i] -= lr * g[i]
    elif nesterov:
        for i in range(p.size):
            v = momentum * vel[i] - lr * g[i]
            vel[i] = v
            p[i] += momentum * v - lr * g[i]
    else:
        for i in range(p.size):
            v = momentum * vel[i] - lr * g[i]
            vel[i] = v
            p[i] += v


@_kernel
def _adam(p, g, m, v, vhat, amsgrad, alpha, beta1, c1, beta2, c2, eps, decay, decoupled):
    """c1 = 1 - beta1, c2 = 1 - beta2 (rounded to the dtype once, as the reference does)."""
    for i in range(p.size):
        pi = p[i]
        if decoupled:
            pi -= pi * decay
        gi = g[i]
        mi = beta1 * m[i] + c1 * gi
        vi = beta2 * v[i] + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if amsgrad:  # vhat = max(vhat, v), NaN if either is (np.maximum)
            h = vhat[i]
            if h > vi or h != h:
                vi = h
            vhat[i] = vi
        p[i] = pi - alpha * mi / (np.sqrt(vi) + eps)


@_kernel
def _rmsprop(p, g, vel, buf, mg, centered, use_momentum, lr, rho, c, momentum, eps):
    """c = 1 - rho."""
    for i in range(p.size):
        gi = g[i]
        vi = rho * vel[i] + c * (gi * gi)
        vel[i] = vi
        if centered:
            mi = rho * mg[i] + c * gi
            mg[i] = mi
            denom = vi - mi * mi
        else:
            denom = vi
        inc = lr * gi / np.sqrt(denom + eps)
        if use_momentum:
            bi = momentum * buf[i] + inc
            buf[i] = bi
            p[i] -= bi
        else:
            p[i] -= inc


@_kernel
def _adagrad(p, g, acc, lr, eps):
    for i in range(p.size):
        gi = g[i]
        ai = acc[i] + gi * gi
        acc[i] = ai
        p[i] -= lr * gi / np.sqrt(ai + eps)


def _flat(a, like):
    return like.reshape(-1)[:0] if a is None else a.reshape(-1)


def sgd_update(param, grad, velocity, lr, momentum, nesterov):
    dt = param.dtype.type
    use = momentum != 0.0
    _sgd(
        param.reshape(-1),
        grad.reshape(-1),
        _flat(velocity if use else None, param),
        dt(lr),
        dt(momentum),
        use,
        nesterov,
    )


def adam_update(param, grad, m, v, vhat, alpha, beta1, beta2, eps, decay):
    dt = param.dtype.type
    p = param.reshape(-1)
    _adam(
        p,
        grad.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        _flat(vhat, param),
        vhat is not None,
        dt(alpha),
        dt(beta1),
        dt(1.0 - beta1),
        dt(beta2),
        dt(1.0 - beta2),
        dt(eps),
        dt(decay),
        decay != 0.0,
    )


def rmsprop_update(param, grad, velocity, momentum_buf, mg, lr, rho, momentum, eps):
    dt = param.dtype.type
    use = momentum > 0.0
    _rmsprop(
        param.reshape(-1),
        grad.reshape(-1),
        velocity.reshape(-1),
        _flat(momentum_buf if use else None, param),
        _flat(mg, param),
        mg is not None,
        use,
        dt(lr),
        dt(rho),
        dt(1.0 - rho),
        dt(momentum),
        dt(eps),
    )


def adagrad_update(param, grad, accumulator, lr, eps):
    dt = param.dtype.type
    _adagrad(param.reshape(-1), grad.reshape(-1), accumulator.reshape(-1), dt(lr), dt(eps))
