"""A piano-roll picture (PNG) of note tokens, drawn with matplotlib's Agg backend.

matplotlib is optional (``pip install "seqcore[plot]"``) and imported only when a roll is
drawn.  The figure is made without pyplot, so drawing never touches pyplot's global state or
opens a window, and the PNG is written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from .._atomic import atomic_write_bytes
from .midi import ChordSpan, PathLike, _check_chords, _check_tokens, _spans_from_tokens
from .tokens import GRID, NoteToken, chord_root, chord_tones, note_name

__all__ = ["draw_piano_roll", "require_matplotlib"]

_CHORD_TONE, _OTHER_TONE = "#2b6cb0", "#dd6b20"


def require_matplotlib() -> Any:
    """Import matplotlib's Figure and Agg canvas, or raise ImportError saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            'drawing a piano roll needs matplotlib, an optional dependency: pip install "seqcore[plot]"'
        ) from exc
    return Figure, FigureCanvasAgg


def draw_piano_roll(
    tokens: Iterable[NoteToken],
    path: PathLike,
    *,
    chords: Sequence[ChordSpan] | None = None,
    title: str | None = None,
    dpi: int = 100,
    beats_per_bar: int = 4,
) -> None:
    """Draw ``tokens`` as a piano roll and write it to ``path`` as a PNG (atomically).

    Time runs left to right in beats with a line at every bar; pitch runs upwards.  With
    chords -- ``chords`` as (symbol or None, duration) pairs from the start, or else the
    tokens' own chords -- the chord symbols are written above the roll and each note is
    coloured by whether it is a tone of the chord under it (blue) or not (orange).
    """
    toks = _check_tokens(tokens)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 20 <= dpi <= 1200:
        raise ValueError(f"dpi: expected an int in 20..1200, got {dpi!r}")
    if isinstance(beats_per_bar, bool) or not isinstance(beats_per_bar, int) or not 1 <= beats_per_bar <= 32:
        raise ValueError(f"beats_per_bar: expected an int in 1..32, got {beats_per_bar!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title: expected a string or None, got {type(title).__name__}")
    spans = _check_chords(chords) if chords is not None else _spans_from_tokens(toks)
    Figure, FigureCanvasAgg = require_matplotlib()

    # chord spans as (start beat, end beat, symbol)
    chord_spans: list[tuple[Fraction, Fraction, str]] = []
    t = Fraction(0)
    for symbol, steps in spans:
        end = t + Fraction(steps, GRID)
        if symbol is not None:
            chord_spans.append((t, end, symbol))
        t = end
    has_chords = bool(chord_spans)

    def chord_at(beat: Fraction) -> str | None:
        for start, end, symbol in chord_spans:
            if start <= beat < end:
                return symbol
        return None

    notes = []  # (start, length, pitch, is chord tone)
    t = Fraction(0)
    for tok in toks:
        if tok.pitch is not None:
            symbol = chord_at(t)
            inside = True
            if symbol is not None:
                tones = {(chord_root(symbol) + i) % 12 for i in chord_tones(symbol)}
                inside = tok.pitch % 12 in tones
            notes.append((float(t), float(tok.duration), tok.pitch, inside))
        t += tok.duration
    total = float(max(t, chord_spans[-1][1] if chord_spans else t))
    pitches = [p for _, _, p, _ in notes] or [60]
    lo, hi = min(pitches) - 2, max(pitches) + 2

    fig = Figure(figsize=(min(24.0, max(6.0, 2.0 + 0.3 * total)), 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for start, length, pitch, inside in notes:
        color = _CHORD_TONE if inside or not has_chords else _OTHER_TONE
        ax.broken_barh([(start, length)], (pitch - 0.4, 0.8), facecolors=color, edgecolors="black", linewidth=0.4)
    for bar in range(0, int(total) + 1, beats_per_bar):
        ax.axvline(bar, color="0.5", linewidth=0.8)
    raised = False
    for i, (start, end, symbol) in enumerate(chord_spans):
        if i % 2:
            ax.axvspan(float(start), float(end), color="0.93", zorder=0)
        # a label after a short chord goes on a second row, so neighbouring symbols don't overlap
        raised = not raised and i > 0 and chord_spans[i - 1][1] - chord_spans[i - 1][0] < 2
        ax.text(float(start) + 0.05, hi + (1.3 if raised else 0.3), symbol, fontsize=8, va="bottom", ha="left")
    ax.set_xlim(0, max(total, 1.0))
    ax.set_ylim(lo, hi + (2.5 if has_chords else 0.0))
    c_notes = [p for p in range(lo, hi + 1) if p % 12 in (0, 7)] or [lo]  # every C and G
    ax.set_yticks(c_notes)
    ax.set_yticklabels([note_name(p) for p in c_notes])
    ax.set_xlabel("beats (quarter notes)")
    ax.set_ylabel("pitch")
    if has_chords:
        from matplotlib.patches import Patch

        ax.legend(
            handles=[Patch(color=_CHORD_TONE, label="chord tone"), Patch(color=_OTHER_TONE, label="other tone")],
            loc="lower right",
            fontsize=7,
        )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
