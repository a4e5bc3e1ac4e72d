"""seqcore.datasets.squad: SQuAD v1.1 reading and writing, span checks, errors that say where."""

from __future__ import annotations

import copy
import json
import os

import pytest

from seqcore.datasets import Answer, QAExample, qa_examples, read_squad, write_squad
from seqcore.datasets.squad import squad_dict

CONTEXT_A = "The Normans gave their name to Normandy, a region in France."
CONTEXT_B = "Beyoncé Giselle Knowles-Carter was born on September 4, 1981, in Houston."

DOC = {
    "version": "1.1",
    "data": [
        {
            "title": "Normans",
            "paragraphs": [
                {
                    "context": CONTEXT_A,
                    "qas": [
                        {
                            "id": "q1",
                            "question": "In what country is Normandy?",
                            "answers": [
                                {"text": "France", "answer_start": 53},
                                {"text": "France.", "answer_start": 53},
                            ],
                        },
                        {
                            "id": "q2",
                            "question": "Who gave their name to Normandy?",
                            "answers": [{"text": "The Normans", "answer_start": 0}],
                        },
                    ],
                }
            ],
        },
        {
            "title": "Beyoncé",
            "paragraphs": [
                {
                    "context": CONTEXT_B,
                    "qas": [
                        {
                            "id": "q3",
                            "question": "Where was Beyoncé born?",
                            "answers": [{"text": "Houston", "answer_start": 65}],
                        }
                    ],
                }
            ],
        },
    ],
}


def test_reads_a_dict_and_a_file(tmp_path):
    examples = read_squad(DOC)
    assert [e.id for e in examples] == ["q1", "q2", "q3"]
    q1 = examples[0]
    assert q1.context == CONTEXT_A and q1.question == "In what country is Normandy?"
    assert q1.answers == (Answer("France", 53), Answer("France.", 53))
    assert examples[2].answers[0].end == 72 and CONTEXT_B[65:72] == "Houston"  # offsets count code points
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    assert read_squad(path) == examples
    assert read_squad(str(path)) == examples


def test_round_trip_groups_shared_contexts(tmp_path):
    examples = read_squad(DOC)
    path = tmp_path / "out.json"
    write_squad(path, examples, title="mine")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "1.1" and [a["title"] for a in doc["data"]] == ["mine"]
    paragraphs = doc["data"][0]["paragraphs"]
    assert [len(p["qas"]) for p in paragraphs] == [2, 1]  # q1 and q2 share their context
    assert read_squad(path) == examples
    assert "Beyoncé" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes


def test_round_trip_of_generated_examples(tmp_path):
    examples = qa_examples(300, seed=5)
    path = tmp_path / "gen.json"
    write_squad(path, examples)
    assert read_squad(path) == examples
    n_contexts = len({e.context for e in examples})
    assert len(json.loads(path.read_text())["data"][0]["paragraphs"]) == n_contexts < len(examples)


def test_examples_with_a_shared_context_apart_come_back_grouped():
    a1, b1, a2 = (QAExample(f"id{k}", c, "?", (Answer(c[:3], 0),)) for k, c in enumerate(("aaa", "bbb", "aaa")))
    assert read_squad(squad_dict([a1, b1, a2])) == [a1, a2, b1]


def _broken(path: list, key: str, value=None, delete: bool = False) -> dict:
    doc = copy.deepcopy(DOC)
    node = doc
    for step in path:
        node = node[step]
    if delete:
        del node[key]
    else:
        node[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_broken([], "data", delete=True), r"<dict>: missing key 'data'"),
        (_broken(["data", 1], "paragraphs", delete=True), r"data\[1\]: missing key 'paragraphs'"),
        (
            _broken(["data", 0, "paragraphs", 0], "context", delete=True),
            r"data\[0\]\.paragraphs\[0\]: missing key 'context'",
        ),
        (_broken(["data", 0, "paragraphs", 0], "qas", delete=True), r"paragraphs\[0\]: missing key 'qas'"),
        (_broken(["data", 0, "paragraphs", 0, "qas", 1], "id", delete=True), r"qas\[1\]: missing key 'id'"),
        (_broken(["data", 0, "paragraphs", 0, "qas", 1], "question", delete=True), r"qas\[1\]: missing key 'question'"),
        (
            _broken(["data", 1, "paragraphs", 0, "qas", 0], "answers", delete=True),
            r"data\[1\]\.paragraphs\[0\]\.qas\[0\]: missing key 'answers'",
        ),
        (
            _broken(["data", 0, "paragraphs", 0, "qas", 0, "answers", 1], "text", delete=True),
            r"qas\[0\]\.answers\[1\] \(id 'q1'\): missing key 'text'",
        ),
        (
            _broken(["data", 0, "paragraphs", 0, "qas", 0, "answers", 0], "answer_start", delete=True),
            r"answers\[0\] \(id 'q1'\): missing key 'answer_start'",
        ),
        (
            _broken(["data", 0, "paragraphs", 0, "qas", 0, "answers", 0], "answer_start", "53"),
            r"'answer_start' must be int, got str",
        ),
        (
            _broken(["data", 0, "paragraphs", 0, "qas", 0, "answers", 0], "answer_start", True),
            r"'answer_start' must be int, got bool",
        ),
        (_broken(["data", 0, "paragraphs", 0, "qas", 0, "answers", 0], "answer_start", -1), r"answer_start >= 0"),
        (_broken(["data", 0, "paragraphs", 0], "context", None), r"'context' must be str, got NoneType"),
        (_broken([], "data", {}), r"'data' must be list, got dict"),
        (_broken(["data"], 0, "x"), r"data\[0\]: expected a JSON object, got str"),
        (_broken(["data", 1, "paragraphs", 0, "qas", 0], "answers", []), r"\(id 'q3'\): no answers"),
        (_broken(["data", 1, "paragraphs", 0, "qas", 0], "id", "q1"), r"qas\[0\]: id 'q1' occurs twice"),
    ],
)
def test_errors_name_the_key_and_where(doc, message):
    with pytest.raises(ValueError, match=message):
        read_squad(doc)


def test_answer_that_does_not_match_its_context_names_the_id(tmp_path):
    doc = _broken(["data", 1, "paragraphs", 0, "qas", 0, "answers", 0], "answer_start", 64)
    with pytest.raises(ValueError, match=r"QAExample 'q3': answers\[0\] 'Houston' at 64 does not match"):
        read_squad(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json data\[1\]\.paragraphs\[0\]\.qas\[0\]: QAExample 'q3'"):
        read_squad(path)


def test_not_json_and_bad_arguments(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json' is not valid JSON"):
        read_squad(path)
    with pytest.raises(TypeError, match="expected a path or a dict"):
        read_squad([DOC])
    with pytest.raises(FileNotFoundError):
        read_squad(tmp_path / "missing.json")


def test_qa_example_checks_its_spans():
    ok = QAExample("x1", "hello world", "which?", [Answer("world", 6)])  # a list is stored as a tuple
    assert ok.answers == (Answer("world", 6),)
    with pytest.raises(
        ValueError, match=r"QAExample 'x2': answers\[0\] 'world' at 5 does not match the context there \(' worl'\)"
    ):
        QAExample("x2", "hello world", "which?", (Answer("world", 5),))
    with pytest.raises(
        ValueError, match=r"'x3': answers\[0\] 'hi there' at 0 does not match the context there \('hi'\)"
    ):
        QAExample("x3", "hi", "?", (Answer("hi there", 0),))  # a span running past the context's end
    with pytest.raises(ValueError, match="QAExample 'x4': needs at least one answer"):
        QAExample("x4", "hi", "?", ())
    with pytest.raises(TypeError, match=r"'x5': answers\[0\] must be an Answer"):
        QAExample("x5", "hi", "?", (("hi", 0),))
    with pytest.raises(TypeError, match="'x6': answers must be a tuple of Answer"):
        QAExample("x6", "hi", "?", Answer("hi", 0))
    with pytest.raises(ValueError, match="id must be a non-empty str"):
        QAExample("", "hi", "?", (Answer("hi", 0),))
    with pytest.raises(ValueError, match="Answer.text must be a non-empty str"):
        Answer("", 0)
    with pytest.raises(ValueError, match="Answer.start must be an int >= 0"):
        Answer("a", -1)


def test_write_is_atomic(tmp_path):
    path = tmp_path / "keep.json"
    write_squad(path, read_squad(DOC))
    before = path.read_bytes()
    good = read_squad(DOC)
    with pytest.raises(ValueError, match="id 'q1' occurs twice"):
        write_squad(path, good + good[:1])
    with pytest.raises(TypeError, match=r"examples\[1\] must be a QAExample"):
        write_squad(path, [good[0], "q2"])
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.json"]
