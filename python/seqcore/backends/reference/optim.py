"""Optimizer updates in plain NumPy, in place, Keras's formulas one line each.

Arrays arrive validated: param, grad and the state arrays share one shape and float dtype,
and the arrays written do not overlap.  Scalars arrive as Python floats and are rounded to
the arrays' dtype once, so float32 arrays are updated in float32 arithmetic.
"""

from __future__ import annotations

import numpy as np


def sgd_update(param, grad, velocity, lr, momentum, nesterov):
    dt = param.dtype.type
    if momentum == 0.0:
        param -= dt(lr) * grad
        return
    velocity[...] = dt(momentum) * velocity - dt(lr) * grad
    if nesterov:
        param += dt(momentum) * velocity - dt(lr) * grad
    else:
        param += velocity


def adam_update(param, grad, m, v, vhat, alpha, beta1, beta2, eps, decay):
    """decay = lr * weight_decay; alpha = lr * sqrt(1 - beta2**step) / (1 - beta1**step)."""
    dt = param.dtype.type
    if decay != 0.0:
        param -= param * dt(decay)
    m[...] = dt(beta1) * m + dt(1.0 - beta1) * grad
    v[...] = dt(beta2) * v + dt(1.0 - beta2) * (grad * grad)
    if vhat is not None:
        np.maximum(vhat, v, out=vhat)
        param -= dt(alpha) * m / (np.sqrt(vhat) + dt(eps))
    else:
        param -= dt(alpha) * m / (np.sqrt(v) + dt(eps))


def rmsprop_update(param, grad, velocity, momentum_buf, mg, lr, rho, momentum, eps):
    dt = param.dtype.type
    velocity[...] = dt(rho) * velocity + dt(1.0 - rho) * (grad * grad)
    if mg is not None:
        mg[...] = dt(rho) * mg + dt(1.0 - rho) * grad
        denom = velocity - mg * mg
    else:
        denom = velocity
    increment = dt(lr) * grad / np.sqrt(denom + dt(eps))
    if momentum > 0.0:
        momentum_buf[...] = dt(momentum) * momentum_buf + increment
        param -= momentum_buf
    else:
        param -= increment


def adagrad_update(param, grad, accumulator, lr, eps):
    dt = param.dtype.type
    accumulator += grad * grad
    param -= dt(lr) * grad / np.sqrt(accumulator + dt(eps))
