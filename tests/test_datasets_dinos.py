"""The embedded dinosaur genus names (the Dinosaur Island data set)."""

from __future__ import annotations

import re

from seqcore.datasets import DINOS_PATH, dinos_path, dinosaur_names
from seqcore.text import read_items


def test_enough_names_all_lowercase_ascii():
    names = dinosaur_names()
    assert len(names) >= 500
    bad = [n for n in names if not re.fullmatch(r"[a-z]+", n)]
    assert bad == []


def test_sorted_and_unique():
    names = dinosaur_names()
    assert names == sorted(set(names))


def test_well_known_genera_present():
    names = set(dinosaur_names())
    for genus in (
        "tyrannosaurus",
        "triceratops",
        "velociraptor",
        "stegosaurus",
        "brachiosaurus",
        "allosaurus",
        "ankylosaurus",
        "diplodocus",
        "iguanodon",
        "spinosaurus",
        "parasaurolophus",
        "aachenosaurus",
        "zuniceratops",
    ):
        assert genus in names, genus


def test_path_and_file_format():
    path = dinos_path()
    assert path == DINOS_PATH and path.is_file()
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and not raw.endswith(b"\n\n") and b"\r" not in raw
    assert read_items(path) == dinosaur_names()


def test_returns_fresh_list():
    names = dinosaur_names()
    names.clear()
    assert len(dinosaur_names()) >= 500
