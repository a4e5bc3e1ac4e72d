"""seqcore.decode: greedy decoding, beam search and the course's error analysis.

Decoding runs over any ``step_fn(prev_tokens, state) -> (log_probs, state)``, so every model decodes
through it (the date translator, the Transformer); beam search's per-step work (scores, the top
candidates over beam x vocabulary, splitting them into beam and token, finishing hypotheses, the
stopping rule) is the ``seqcore.kernels.beam_search_step`` kernel, and the state follows the beams
through ``seqcore.kernels.gather_rows``.  This package sits above ``kernels`` and below ``models``.
docs/decode.md has the objective, the stopping rule and the error analysis.
"""

from ..kernels import LOG_PROB_SLACK
from ._common import DEFAULT_LENGTH_PENALTY, length_norms, objective
from .analysis import BEAM_SEARCH, CORRECT, MODEL, ErrorAnalysis, ErrorRecord, Scorer, error_analysis
from .beam import Hypothesis, beam_search
from .greedy import GreedyResult, greedy

__all__ = [
    "BEAM_SEARCH",
    "CORRECT",
    "DEFAULT_LENGTH_PENALTY",
    "LOG_PROB_SLACK",
    "MODEL",
    "ErrorAnalysis",
    "ErrorRecord",
    "GreedyResult",
    "Hypothesis",
    "Scorer",
    "beam_search",
    "error_analysis",
    "greedy",
    "length_norms",
    "objective",
]
