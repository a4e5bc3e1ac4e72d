"""BLEU (Papineni et al., 2002), equal to sacrebleu's ``corpus_bleu`` and ``sentence_bleu``.

The arguments, the tokenisation ('13a', sacrebleu's default, or 'none'), the clipped multi-reference
n-gram counts, the choice of reference length (the closest, the shorter on a tie), the smoothing
methods ('none', 'floor', 'add-k', 'exp') and effective order are sacrebleu's, and the final
arithmetic repeats its floating-point operations one for one, so scores are equal, not just close.

The work runs in the ``bleu_stats`` kernel (``seqcore.kernels``): the texts go over as UTF-8 bytes
with offsets, each hypothesis and its references are tokenised and counted there (C++ threads on the
cpp backend), and one row of statistics comes back per hypothesis.  Corpus BLEU sums the rows;
sentence BLEU scores each row.  Lower-casing (``lowercase=True``) is ``str.lower()`` here, before
encoding, as sacrebleu does it.

Differences from sacrebleu, all on input it does not accept: an empty corpus scores 0 (sacrebleu
raises IndexError); mismatched numbers of hypotheses and reference segments are a ValueError
(sacrebleu truncates to the shortest); a hypothesis whose references are all None is a ValueError
(sacrebleu fails with a TypeError from deep inside); tokenisers other than '13a' and 'none' are not
provided.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import kernels as K

__all__ = ["BLEUScore", "bleu", "score_from_stats", "sentence_bleu", "sentence_bleu_scores"]

#: smoothing methods and the value each uses when smooth_value is None (Chen & Cherry, 2014)
SMOOTH_DEFAULTS: dict[str, float | int | None] = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}
TOKENIZERS = K.BLEU_TOKENIZERS
#: what log(0) counts as in the geometric mean (sacrebleu's floor)
LOG_ZERO = -9999999999
#: a corpus where this many hypotheses end in " ." is probably tokenised already (sacrebleu warns too)
TOKENIZED_WARNING_LINES = 100


class BLEUScore:
    """A BLEU score with its statistics, formatted as sacrebleu formats it.

    score: 0-100.  counts, totals: matched and total hypothesis n-grams per order (with add-k
    smoothing, orders 2 and up include the added k, as sacrebleu's do).  precisions: per order, in
    percent.  bp: brevity penalty.  sys_len, ref_len: hypothesis and (closest) reference lengths in
    tokens; ratio = sys_len / ref_len (0 when ref_len is 0).  signature: the settings, e.g.
    "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:seqcore-0.1.0".
    """

    name = "BLEU"

    def __init__(
        self,
        score: float,
        counts: list[Any],
        totals: list[Any],
        precisions: list[float],
        bp: float,
        sys_len: int,
        ref_len: int,
        signature: str = "",
    ) -> None:
        self.score = score
        self.counts = counts
        self.totals = totals
        self.precisions = precisions
        self.bp = bp
        self.sys_len = sys_len
        self.ref_len = ref_len
        self.ratio = sys_len / ref_len if ref_len else 0
        self.signature = signature

    @property
    def verbose(self) -> str:
        """What follows the score: "62.3/39.2/26.4/17.9 (BP = 0.972 ratio = 0.973 hyp_len = 1234 ref_len = 1268)"."""
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"{precisions} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} hyp_len = {self.sys_len:d} "
            f"ref_len = {self.ref_len:d})"
        )

    def format(self, width: int = 2, score_only: bool = False, signature: str = "", is_json: bool = False) -> str:
        """sacrebleu's Score.format: "BLEU = 32.15 62.3/..." (with "BLEU|<signature> = ..." when a signature
        is given), just the score with score_only, or a JSON object with is_json."""
        score = f"{self.score:.{width}f}"
        if score_only and not is_json:
            return score
        if is_json:
            doc: dict[str, Any] = {"name": self.name, "score": float(score), "signature": signature}
            doc["verbose_score"] = self.verbose
            for field in signature.split("|") if signature else ():
                key, _, value = field.partition(":")
                doc[key] = value
            return json.dumps(doc, indent=1, ensure_ascii=False)
        head = f"{self.name}|{signature}" if signature else self.name
        return f"{head} = {score} {self.verbose}"

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()


# ---------------------------------------------------------------- arguments


def _check_options(smooth_method: Any, smooth_value: Any, tokenize: Any, max_ngram_order: Any) -> str:
    """Checks the settings; returns the tokenizer's name (None means the default, '13a')."""
    if not isinstance(smooth_method, str) or smooth_method not in SMOOTH_DEFAULTS:
        raise ValueError(f"smooth_method must be one of {', '.join(map(repr, SMOOTH_DEFAULTS))}; got {smooth_method!r}")
    if smooth_value is not None:
        if isinstance(smooth_value, (bool, np.bool_)) or not isinstance(
            smooth_value, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"smooth_value must be a number or None, got {type(smooth_value).__name__}")
        if not math.isfinite(smooth_value) or smooth_value < 0:
            raise ValueError(f"smooth_value must be a finite number >= 0, got {smooth_value!r}")
    if tokenize is None:
        tokenize = "13a"
    if not isinstance(tokenize, str) or tokenize not in TOKENIZERS:
        raise ValueError(
            f"tokenize must be one of {', '.join(map(repr, TOKENIZERS))} (sacrebleu's other tokenizers, such as "
            f"'intl', 'zh' or 'char', are not provided); got {tokenize!r}"
        )
    if isinstance(max_ngram_order, (bool, np.bool_)) or not isinstance(max_ngram_order, (int, np.integer)):
        raise TypeError(f"max_ngram_order must be an int, got {type(max_ngram_order).__name__}")
    if not 1 <= max_ngram_order <= K.BLEU_MAX_ORDER:
        raise ValueError(f"max_ngram_order must lie in [1, {K.BLEU_MAX_ORDER}], got {max_ngram_order}")
    return tokenize


def _sequence(name: str, value: Any, what: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of {what}, got {type(value).__name__}")
    return list(value)


def _not_str(name: str, items: list[Any], allow_none: bool = False) -> None:
    """Raises the TypeError naming the first item of ``items`` that is not a str (or None, if allowed)."""
    for k, item in enumerate(items):
        if not isinstance(item, str) and not (allow_none and item is None):
            wanted = "a str or None" if allow_none else "a str"
            raise TypeError(f"{name}[{k}] must be {wanted}, got {type(item).__name__}")


def _streams(references: Any, S: int) -> list[list[Any]]:
    """references as a list of streams, each one str-or-None per hypothesis."""
    if isinstance(references, (str, bytes)) or not isinstance(references, Iterable):
        raise TypeError(
            "references must be a list of reference streams (each a list of str, one per hypothesis), "
            f"got {type(references).__name__}"
        )
    streams = list(references)
    for r, stream in enumerate(streams):
        if isinstance(stream, str):
            raise TypeError(
                "references must be a list of reference streams (each a list of str, one per hypothesis), got a "
                "list of str; with one reference per hypothesis, pass [references]"
            )
        stream = _sequence(f"references[{r}]", stream, "str (one reference per hypothesis)")
        if len(stream) != S:
            raise ValueError(
                f"references[{r}] has {len(stream)} segments but there are {S} hypotheses: every reference stream "
                "must have one segment (a str, or None for none) per hypothesis"
            )
        streams[r] = stream
    if S and not streams:
        raise ValueError("references must hold at least one reference stream, got none")
    return streams


def _pack(strings: list[Any], lowercase: bool) -> tuple[np.ndarray, np.ndarray]:
    """The strings as UTF-8 bytes back to back and their offsets [n+1] (lone surrogates pass through as the
    three bytes that name them, so every str has an encoding and equal strs equal bytes).  A TypeError
    (from str.join, which checks every item in C) when one is not a str: the caller names it."""
    joined = "".join(strings)
    if lowercase:
        strings = [s.lower() for s in strings]
        joined = "".join(strings)
    data = joined.encode("utf-8", "surrogatepass")
    if len(data) == len(joined):  # ASCII: a str's bytes are its characters
        lengths = np.fromiter(map(len, strings), np.int64, len(strings))
    else:
        lengths = np.fromiter((len(s.encode("utf-8", "surrogatepass")) for s in strings), np.int64, len(strings))
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(data, np.uint8), offsets


def _flatten(streams: list[list[Any]], S: int) -> tuple[list[Any], np.ndarray, int | str]:
    """The references of every hypothesis in stream order, None dropped, with the [S+1] group offsets and the
    signature's reference count ("var" when it varies)."""
    R = len(streams)
    flat = streams[0] if R == 1 else list(itertools.chain.from_iterable(zip(*streams)))
    if not any(None in stream for stream in streams):
        return flat, np.arange(0, R * S + 1, R, dtype=np.int64), R
    present = np.fromiter((x is not None for x in flat), np.bool_, len(flat)).reshape(S, R)
    counts = present.sum(axis=1)
    if S and counts.min() == 0:
        k = int(np.argmin(counts))
        raise ValueError(f"hypothesis {k} has no reference: references[r][{k}] is None in every stream")
    groups = np.zeros(S + 1, np.int64)
    np.cumsum(counts, out=groups[1:])
    nrefs: int | str = int(counts[0]) if S and (counts == counts[0]).all() else "var"
    return [x for x in flat if x is not None], groups, nrefs


def _statistics(
    hypotheses: list[Any], streams: list[list[Any]], lowercase: bool, tokenize: str, max_order: int
) -> tuple[np.ndarray, int | str]:
    """Per-hypothesis statistics [S, 2+2*max_order] and the signature's reference count."""
    S = len(hypotheses)
    try:
        hyp_text, hyp_offsets = _pack(hypotheses, lowercase)
    except TypeError:
        _not_str("hypotheses", hypotheses)
        raise
    if not streams:  # an empty corpus without reference streams
        return np.zeros((0, 2 + 2 * max_order), np.int64), 0
    flat, groups, nrefs = _flatten(streams, S)
    try:
        ref_text, ref_offsets = _pack(flat, lowercase)
    except TypeError:
        for r, stream in enumerate(streams):
            _not_str(f"references[{r}]", stream, allow_none=True)
        raise
    stats = K.bleu_stats(hyp_text, hyp_offsets, ref_text, ref_offsets, groups, max_order=max_order, tokenize=tokenize)
    return stats, nrefs


# ---------------------------------------------------------------- the score


def _signature(nrefs: int | str, lowercase: bool, effective_order: bool, tokenize: str, smooth_method: str,
               smooth_value: Any) -> str:  # fmt: skip
    from .. import __version__

    smooth = smooth_method
    if SMOOTH_DEFAULTS[smooth_method] is not None:
        value = SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value
        smooth += f"[{value:.2f}]"
    case = "lc" if lowercase else "mixed"
    eff = "yes" if effective_order else "no"
    return f"nrefs:{nrefs}|case:{case}|eff:{eff}|tok:{tokenize}|smooth:{smooth}|version:seqcore-{__version__}"


def _log(p: float) -> float:
    return LOG_ZERO if p == 0.0 else math.log(p)


def score_from_stats(
    stats: Sequence[int],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    use_effective_order: bool = False,
    max_ngram_order: int = 4,
    signature: str = "",
) -> BLEUScore:
    """BLEU from summed statistics [hyp_len, ref_len, matches[1..N], totals[1..N]] (N = max_ngram_order).

    The operations are sacrebleu's BLEU.compute_bleu, in its order: p_n = 100 * matches / totals; with
    'exp', the k-th order without a match gets 100 / (2**k * totals); 'floor' gives it 100 * value /
    totals; 'add-k' adds k to matches and totals of orders 2 and up.  Orders past the first without
    n-grams are dropped; with effective order, the mean runs over the orders kept.  BLEU = BP *
    exp(sum(log p_n) / N), log 0 counting as -9999999999, BP = exp(1 - ref_len / hyp_len) when
    hyp_len < ref_len (0 for an empty hypothesis side).  No match at all scores 0.
    """
    N = max_ngram_order
    sys_len, ref_len = int(stats[0]), int(stats[1])
    matches, totals = [int(x) for x in stats[2 : 2 + N]], [int(x) for x in stats[2 + N : 2 + 2 * N]]
    value = SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value

    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * N
    if not any(matches):
        return BLEUScore(0.0, matches, totals, precisions, bp, sys_len, ref_len, signature)

    halvings = 1.0  # 'exp': 2**k for the k-th order without a match
    order = N
    for n in range(1, N + 1):
        if smooth_method == "add-k" and n > 1:
            matches[n - 1] += value
            totals[n - 1] += value
        if totals[n - 1] == 0:
            break
        if use_effective_order:
            order = n
        if matches[n - 1] != 0:
            precisions[n - 1] = 100.0 * matches[n - 1] / totals[n - 1]
        elif smooth_method == "exp":
            halvings *= 2
            precisions[n - 1] = 100.0 / (halvings * totals[n - 1])
        elif smooth_method == "floor":
            precisions[n - 1] = 100.0 * value / totals[n - 1]
    # a list summed left to right, as sacrebleu sums it (Python's sum of floats is exact-order in 3.11)
    score = bp * math.exp(sum([_log(p) for p in precisions[:order]]) / order)
    return BLEUScore(score, matches, totals, precisions, bp, sys_len, ref_len, signature)


# ---------------------------------------------------------------- the public functions


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str | None]],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    force: bool = False,
    lowercase: bool = False,
    tokenize: str = "13a",
    use_effective_order: bool = False,
    max_ngram_order: int = 4,
) -> BLEUScore:
    """Corpus BLEU, equal to ``sacrebleu.corpus_bleu(hypotheses, references, ...)``.

    hypotheses: one str per segment.  references: reference streams, each a list with one str per
    hypothesis (``[refs]`` for a single reference; a None entry means "no reference from this stream
    here", so segments may have different numbers of references; '' is an empty reference).
    smooth_method: 'exp' (default), 'floor', 'add-k' or 'none'; smooth_value: the value of 'floor'
    (default 0.1) and 'add-k' (default 1).  lowercase: compare lower-cased text.  tokenize: '13a'
    (default, mteval-v13a as sacrebleu has it) or 'none' (split on whitespace).  use_effective_order:
    average only over the orders that have n-grams.  force: skip the warning about hypotheses that
    look tokenised already (100 or more ending in " .").

    Raises TypeError for hypotheses/references that are not lists of str (None allowed in references),
    ValueError for a reference stream whose length differs from the hypotheses', a hypothesis without
    any reference, or an unknown smooth_method or tokenize.
    """
    tokenize = _check_options(smooth_method, smooth_value, tokenize, max_ngram_order)
    hyps = _sequence("hypotheses", hypotheses, "str (one per segment)")
    streams = _streams(references, len(hyps))
    stats, nrefs = _statistics(hyps, streams, bool(lowercase), tokenize, int(max_ngram_order))
    if not force and len(hyps) >= TOKENIZED_WARNING_LINES:
        ending = sum(map(str.endswith, hyps, itertools.repeat(" .")))
        if ending >= TOKENIZED_WARNING_LINES:
            warnings.warn(
                f"{ending} hypotheses end in a tokenized period (' .'): BLEU expects detokenized text, and "
                "tokenized input usually scores lower; pass force=True if the text really is detokenized",
                UserWarning,
                stacklevel=2,
            )
    signature = _signature(nrefs, lowercase, use_effective_order, tokenize, smooth_method, smooth_value)
    return score_from_stats(
        stats.sum(axis=0).tolist(),
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        use_effective_order=use_effective_order,
        max_ngram_order=int(max_ngram_order),
        signature=signature,
    )


def sentence_bleu(
    hypothesis: str,
    references: Sequence[str | None],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    use_effective_order: bool = True,
    max_ngram_order: int = 4,
) -> BLEUScore:
    """Sentence BLEU, equal to ``sacrebleu.sentence_bleu(hypothesis, references, ...)``: one hypothesis
    (a str) against its references (a list of str; None entries are skipped).  Effective order is on by
    default, as in sacrebleu, so a short sentence is not scored 0 for lacking 4-grams."""
    if not isinstance(hypothesis, str):
        raise TypeError(f"hypothesis must be a str, got {type(hypothesis).__name__}")
    refs = _sequence("references", references, "str (the references of this hypothesis)")
    _not_str("references", refs, allow_none=True)
    if all(ref is None for ref in refs):
        raise ValueError(f"references must hold at least one str, got {refs!r}")
    return sentence_bleu_scores(
        [hypothesis],
        [[ref] for ref in refs],
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        lowercase=lowercase,
        tokenize=tokenize,
        use_effective_order=use_effective_order,
        max_ngram_order=max_ngram_order,
    )[0]


def sentence_bleu_scores(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str | None]],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    use_effective_order: bool = True,
    max_ngram_order: int = 4,
) -> list[BLEUScore]:
    """The sentence BLEU of every hypothesis (as ``sentence_bleu`` scores each), from one kernel call.

    Arguments as for ``bleu``; effective order is on by default, as for ``sentence_bleu``."""
    tokenize = _check_options(smooth_method, smooth_value, tokenize, max_ngram_order)
    hyps = _sequence("hypotheses", hypotheses, "str (one per segment)")
    streams = _streams(references, len(hyps))
    stats, nrefs = _statistics(hyps, streams, bool(lowercase), tokenize, int(max_ngram_order))
    signature = _signature(nrefs, lowercase, use_effective_order, tokenize, smooth_method, smooth_value)
    rows = stats.tolist()
    return [
        score_from_stats(
            row,
            smooth_method=smooth_method,
            smooth_value=smooth_value,
            use_effective_order=use_effective_order,
            max_ngram_order=int(max_ngram_order),
            signature=signature,
        )
        for row in rows
    ]
