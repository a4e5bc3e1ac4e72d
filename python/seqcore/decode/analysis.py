"""Error analysis as the course teaches it: is a wrong output the beam search's fault or the model's?

For an input x with the right output y* and the beam's output y^:
  - y^ == y*: correct;
  - objective(y*) > objective(y^): the model prefers y*, but the search did not find it: beam search;
  - otherwise the model scores the wrong y^ at least as high: the model.
The objective is the one the beam optimises, log P(y|x) / Ty**alpha (plain log P(y|x) when alpha = 0).
Counted over a data set, the split says where to spend effort: a wider beam, or a better model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..kernels._validate import as_int
from ._common import DEFAULT_LENGTH_PENALTY, check_length_penalty, objective

CORRECT, BEAM_SEARCH, MODEL = "correct", "beam search", "model"
VERDICTS = (CORRECT, BEAM_SEARCH, MODEL)


@runtime_checkable
class Scorer(Protocol):
    """What ``error_analysis`` needs of a model.

    ``log_prob(x, y)``: [N] float, log P(y_n | x_n) = the sum of log P(y_t | y_<t, x) over the output's
    tokens (EOS included if the model has one), for a list x of inputs and a list y of outputs.
    ``beam_search(x, *, beam_width, length_penalty)``: the top hypothesis for each input of the list x,
    in the representation of y (the one ``log_prob`` takes and ``==`` compares: strings, token lists or
    arrays).  Optional: ``output_length(y) -> int``, Ty of an output (EOS included); without it Ty is
    ``len(y)``.  Only consulted when length_penalty > 0.
    """

    def log_prob(self, x: Sequence[Any], y: Sequence[Any]) -> Any: ...

    def beam_search(self, x: Sequence[Any], *, beam_width: int, length_penalty: float) -> Sequence[Any]: ...


@dataclass(frozen=True, eq=False)
class ErrorRecord:
    """One example: the input, the right output y*, the beam's y^, their log-probs and objectives, the verdict."""

    x: Any
    y_star: Any
    y_hat: Any
    log_p_star: float
    log_p_hat: float
    objective_star: float
    objective_hat: float
    verdict: str  # "correct", "beam search" or "model"


@dataclass(frozen=True, eq=False)
class ErrorAnalysis:
    """Per-example records and the counts over them."""

    records: tuple[ErrorRecord, ...]
    beam_width: int
    length_penalty: float

    @property
    def counts(self) -> dict[str, int]:
        """{verdict: examples}, every verdict present."""
        out = dict.fromkeys(VERDICTS, 0)
        for r in self.records:
            out[r.verdict] += 1
        return out

    @property
    def verdict(self) -> str:
        """The verdict of a single example (an analysis of one)."""
        if len(self.records) != 1:
            raise ValueError(f"verdict is the verdict of one example; this analysis has {len(self.records)} "
                             "(see counts or records)")  # fmt: skip
        return self.records[0].verdict

    @property
    def beam_errors(self) -> list[ErrorRecord]:
        return [r for r in self.records if r.verdict == BEAM_SEARCH]

    @property
    def model_errors(self) -> list[ErrorRecord]:
        return [r for r in self.records if r.verdict == MODEL]

    def summary(self) -> str:
        """A table of the counts and what they suggest."""
        n, c = len(self.records), self.counts
        alpha = f"length penalty {self.length_penalty:g}"
        lines = [f"error analysis of {n} example{'s' if n != 1 else ''} (beam width {self.beam_width}, {alpha})"]
        why = {
            CORRECT: "y^ = y*",
            BEAM_SEARCH: "objective(y*) > objective(y^): the model prefers y*, the search missed it",
            MODEL: "objective(y*) <= objective(y^): the model prefers the wrong output",
        }
        for v in VERDICTS:
            share = f"{100 * c[v] / n:5.1f}%" if n else "    -"
            lines.append(f"  {v:<12} {c[v]:>6}  {share}  {why[v]}")
        errors = c[BEAM_SEARCH] + c[MODEL]
        if errors:
            beam = c[BEAM_SEARCH] / errors
            advice = "widen the beam" if beam > 0.5 else "improve the model" if beam < 0.5 else "both matter"
            lines.append(
                f"of {errors} error{'s' if errors != 1 else ''}: {100 * beam:.1f}% beam search, "
                f"{100 * (1 - beam):.1f}% model -> {advice}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        x, y = np.asarray(a), np.asarray(b)
    except Exception:  # noqa: BLE001 - objects NumPy cannot hold: their own ==
        return bool(a == b)
    return x.shape == y.shape and bool(np.all(x == y))


def _log_probs(model: Any, xs: list, ys: list, which: str) -> np.ndarray:
    lp = np.asarray(model.log_prob(xs, ys), dtype=np.float64)
    if lp.shape != (len(xs),):
        raise ValueError(f"model.log_prob must return one log-prob per example, shape ({len(xs)},), got {lp.shape} "
                         f"(for {which})")  # fmt: skip
    if np.isnan(lp).any() or (lp > 0).any():
        raise ValueError(f"model.log_prob must return log-probabilities (<= 0, not NaN), got {lp} (for {which})")
    return lp


def _length(model: Any, y: Any) -> int:
    measure = getattr(model, "output_length", None)
    n = measure(y) if callable(measure) else len(y)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"an output's length Ty must be an int >= 1 (model.output_length(y) or len(y)), got {n!r}")
    return int(n)


def error_analysis(
    model: Scorer,
    x: Any,
    y_star: Any,
    *,
    beam_width: int = 3,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
    batch: bool | None = None,
) -> ErrorAnalysis:
    """Whether the beam search or the model is at fault for each wrong output, and the counts.

    model: a ``Scorer`` (log_prob, beam_search, optionally output_length).  x, y_star: one example, or
    equal-length lists / tuples of inputs and right outputs.  batch: whether x and y_star are lists of
    examples; by default they are when x is a list or tuple (pass batch=False for one example whose input
    is a list).  The beam runs with beam_width and length_penalty (alpha), and the verdict compares the
    objective it optimises, log P(y|x) / Ty**alpha.  Returns an ``ErrorAnalysis``: ``records``,
    ``counts``, ``summary()``, and ``verdict`` for one example.
    """
    for method in ("log_prob", "beam_search"):
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must have a {method} method (see seqcore.decode.Scorer), got "
                            f"{type(model).__name__}")  # fmt: skip
    beam_width = as_int("beam_width", beam_width, 1)
    alpha = check_length_penalty(length_penalty)
    if batch is None:
        batch = isinstance(x, (list, tuple))
    if batch:
        if not isinstance(x, (list, tuple)) or not isinstance(y_star, (list, tuple)):
            raise TypeError("x and y_star must be lists or tuples of examples when batch is true")
        xs, ys = list(x), list(y_star)
        if len(xs) != len(ys):
            raise ValueError(f"x and y_star must hold as many examples, got {len(xs)} inputs and {len(ys)} outputs")
    else:
        xs, ys = [x], [y_star]
    if not xs:
        return ErrorAnalysis((), beam_width, alpha)
    y_hat = list(model.beam_search(xs, beam_width=beam_width, length_penalty=alpha))
    if len(y_hat) != len(xs):
        raise ValueError(f"model.beam_search must return one output per input, got {len(y_hat)} for {len(xs)}")
    lp_star = _log_probs(model, xs, ys, "y_star")
    lp_hat = _log_probs(model, xs, y_hat, "the beam's outputs")
    if alpha > 0:
        obj_star = objective(lp_star, [_length(model, y) for y in ys], alpha)
        obj_hat = objective(lp_hat, [_length(model, y) for y in y_hat], alpha)
    else:
        obj_star, obj_hat = lp_star, lp_hat
    records = []
    for k in range(len(xs)):
        if _same(y_hat[k], ys[k]):
            verdict = CORRECT
        elif obj_star[k] > obj_hat[k]:
            verdict = BEAM_SEARCH
        else:
            verdict = MODEL
        records.append(
            ErrorRecord(
                xs[k],
                ys[k],
                y_hat[k],
                float(lp_star[k]),
                float(lp_hat[k]),
                float(obj_star[k]),
                float(obj_hat[k]),
                verdict,
            )  # fmt: skip
        )
    return ErrorAnalysis(tuple(records), beam_width, alpha)
