"""Music for the sequence models: note tokens, MIDI files and piano rolls.

from seqcore.music import NoteToken, Vocabulary, read_midi, write_midi, draw_piano_roll

tokens = read_midi("solo.mid", with_chords=True)
vocab = Vocabulary.build([tokens])
write_midi(tokens, "copy.mid")
draw_piano_roll(tokens, "copy.png")       # needs matplotlib: pip install "seqcore[plot]"

See docs/music.md for the token format.
"""

from __future__ import annotations

from .midi import read_midi, write_midi
from .pianoroll import draw_piano_roll
from .tokens import (
    CHORD_QUALITIES,
    GRID,
    NoteToken,
    Vocabulary,
    canonical_chord,
    chord_pitches,
    chord_root,
    chord_symbol,
    chord_tones,
    note_name,
    note_number,
    quantize_duration,
    take_beats,
    total_beats,
)

__all__ = [
    "CHORD_QUALITIES",
    "GRID",
    "NoteToken",
    "Vocabulary",
    "canonical_chord",
    "chord_pitches",
    "chord_root",
    "chord_symbol",
    "chord_tones",
    "draw_piano_roll",
    "note_name",
    "note_number",
    "quantize_duration",
    "read_midi",
    "take_beats",
    "total_beats",
    "write_midi",
]
