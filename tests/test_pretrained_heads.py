"""The fine-tunable heads on a tiny random BERT (loaded from a directory like a real checkpoint):
TokenClassifier (label alignment, words cut by max_length, character offsets from ``tag``, a short overfit to
F1 1.0), SpanQA (targets per window, the best span: context only, at most max_answer_length, across windows),
the fine-tuning loop (FineTuneConfig, freezing, ``seconds``, a NaN loss), and the gradients of both losses against
central differences and against Hugging Face's BertForTokenClassification / BertForQuestionAnswering in float64."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from engine_helpers import gradcheck  # noqa: E402
from pretrained_helpers import TINY_SIZES, one_thread, write_tiny_model  # noqa: E402
from seqcore.pretrained import BertModel, load_bert  # noqa: E402
from seqcore.pretrained.finetune import FineTuneConfig, FineTuneHistory  # noqa: E402
from seqcore.pretrained.heads import IGNORE, SpanQA, TokenClassifier  # noqa: E402
from seqcore.pretrained.weights import _to_hf, parameter_map  # noqa: E402

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
NER = [
    (["John", "Smith", "lives", "in", "Paris", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["Mary", "works", "at", "Acme", "Corp", "in", "Berlin"], ["B-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC"]),
    (["Who", "visited", "New", "York", "?"], ["O", "O", "B-LOC", "I-LOC", "O"]),
    (["Mary", "Smith", "was", "born", "in", "London"], ["B-PER", "I-PER", "O", "O", "O", "B-LOC"]),
]
CONTEXT = (
    "john smith lives in paris and mary works at acme corp in berlin . "
    "the city of london is new . mary was born in new york and john works for acme ."
)


def qa_example(qid: str, question: str, context: str, answer: str, nth: int = 0) -> SimpleNamespace:
    start = -1
    for _ in range(nth + 1):
        start = context.index(answer, start + 1)
    return SimpleNamespace(
        id=qid, question=question, context=context, answers=[SimpleNamespace(text=answer, start=start)]
    )


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny"), seed=11, add_pooler=False)


def encoder(tiny_dir, dtype: str = "float64") -> BertModel:
    return load_bert(tiny_dir, dtype=dtype)


# ==================================================================== TokenClassifier


def test_labels_sit_on_first_pieces(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir), LABELS)
    words = [["John", "Smith's", "playing"], ["Paris"]]
    b = tc.encode(words, [["B-PER", "I-PER", "O"], ["B-LOC"]])
    # [CLS] john smith ' [UNK] play ##ing [SEP]: the label on the first piece of each word, -100 elsewhere
    assert b.labels[0].tolist() == [IGNORE, 1, 2, IGNORE, IGNORE, 0, IGNORE, IGNORE]
    assert b.labels[1].tolist() == [IGNORE, 3, IGNORE] + [IGNORE] * 5
    assert b.labels.dtype == np.int64 and b.labels.shape == b.input_ids.shape
    assert not hasattr(tc.encode(words), "labels")


def test_words_cut_by_max_length_get_o(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir), LABELS, max_length=6)
    tc.dense.kernel.data[...] = 0.0
    tc.dense.bias.data[...] = np.eye(len(LABELS))[LABELS.index("B-LOC")] * 5.0
    words = [["paris"] * 9, ["berlin", "london"]]
    tags = tc.predict(words, batch_size=1)
    assert tags == [["B-LOC"] * 4 + ["O"] * 5, ["B-LOC", "B-LOC"]]
    assert tc.predict([]) == []


def _rule_logits(tc: TokenClassifier, rules: dict[str, str]):
    """logits(batch) giving each token the label ``rules`` has for its piece (else O): a stand-in trained model."""

    def logits(batch):
        out = np.zeros((*batch.input_ids.shape, len(tc.labels)))
        for r, row in enumerate(batch.input_ids):
            for t, piece in enumerate(tc.tokenizer.convert_ids_to_tokens(row)):
                out[r, t, tc.label2id[rules.get(piece, "O")]] = 6.0
        return out

    return logits


def test_tag_gives_character_offsets(tiny_dir, monkeypatch):
    tc = TokenClassifier(encoder(tiny_dir), LABELS)
    rules = {"john": "B-PER", "smith": "I-PER", "paris": "B-LOC", "play": "B-ORG", "##ing": "O", "cafe": "B-LOC"}
    monkeypatch.setattr(tc, "logits", _rule_logits(tc, rules))
    text = "  John  Smith lives in Paris; Playing at the Café."
    ents = tc.tag(text)
    assert [(e["entity_group"], e["word"]) for e in ents] == [
        ("PER", "John  Smith"), ("LOC", "Paris"), ("ORG", "Playing"), ("LOC", "Café"),
    ]  # fmt: skip
    for e in ents:
        assert text[e["start"] : e["end"]] == e["word"]
        p = math.exp(6) / (math.exp(6) + len(LABELS) - 1)
        assert e["score"] == pytest.approx(p)
    many = tc.tag(["Paris", "nothing here"])
    assert [[e["word"] for e in es] for es in many] == [["Paris"], []]
    with pytest.raises(TypeError, match="text: expected a string"):
        tc.tag(["ok", 3])


def test_short_fine_tuning_overfits(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    history = tc.fit(NER, epochs=100, batch_size=4, learning_rate=3e-2, warmup_ratio=0.1, progress=False)
    assert isinstance(history, FineTuneHistory) and history.steps == 100 and not history.stopped_early
    assert history.loss[-1] < 0.1 * history.loss[0]
    scores = tc.evaluate(NER)
    assert scores["f1"] == 1.0 and scores["accuracy"] == 1.0
    assert tc.predict([w for w, _ in NER]) == [t for _, t in NER]
    ents = tc.tag("Mary works at Acme Corp in Berlin")
    assert [(e["entity_group"], e["word"]) for e in ents] == [("PER", "Mary"), ("ORG", "Acme Corp"), ("LOC", "Berlin")]


@pytest.mark.filterwarnings("ignore:.*is undefined:UserWarning")  # an epoch with no predicted entity yet
def test_examples_with_tokens_and_tags_attributes_and_validation(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    objs = [SimpleNamespace(tokens=w, tags=t) for w, t in NER]
    history = tc.fit(objs, epochs=2, batch_size=2, progress=False, validation=objs[:2])
    assert history.steps == 4 and len(history.evaluations) == 2
    assert set(history.evaluations[0]) == {"precision", "recall", "f1", "accuracy"}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda tc: tc.fit(NER, bogus=1), TypeError, r"fit: unknown settings \['bogus'\]"),
        (lambda tc: tc.fit(NER, config={"epochs": 1}), TypeError, "config: expected a FineTuneConfig"),
        (lambda tc: tc.fit([]), ValueError, "examples: expected at least one example"),
        (lambda tc: tc.fit([(["a", "b"], ["O"])], progress=False), ValueError, r"examples\[0\]: 2 tokens but 1 tags"),
        (lambda tc: tc.fit([(["a"], ["B-MISC"])], progress=False), ValueError, r"'B-MISC' is not one of the labels"),
        (lambda tc: tc.fit(NER, epochs=0), ValueError, "epochs"),
    ],
)
def test_token_classifier_fit_errors(tiny_dir, call, error, match):
    with pytest.raises(error, match=match):
        call(TokenClassifier(encoder(tiny_dir), LABELS))


def test_token_classifier_constructor_errors(tiny_dir):
    enc = encoder(tiny_dir)
    for bad in ([], ["O", "O"], ["O", 3]):
        with pytest.raises(ValueError, match="labels: expected distinct label strings"):
            TokenClassifier(enc, bad)
    with pytest.raises(ValueError, match="max_length: expected a positive int"):
        TokenClassifier(enc, LABELS, max_length=0)
    with pytest.raises(ValueError, match="max_length: at most max_position_embeddings = 64, got 65"):
        TokenClassifier(enc, LABELS, max_length=65)
    assert TokenClassifier(enc, LABELS).max_length == 64  # the default 128, capped at the encoder's positions
    with pytest.raises(TypeError, match="encoder: expected a seqcore.pretrained.BertModel"):
        TokenClassifier("not a model", LABELS)  # type: ignore[arg-type]
    bare = BertModel(enc.config)
    with pytest.raises(ValueError, match="no tokenizer"):
        TokenClassifier(bare, LABELS)
    assert TokenClassifier.from_encoder(enc, LABELS).encoder is enc


# ==================================================================== SpanQA


def test_targets_inside_and_outside_windows(tiny_dir):
    qa = SpanQA(encoder(tiny_dir), max_length=16, doc_stride=3)
    answer = "acme corp"
    a = CONTEXT.index(answer)
    batch = qa.encode(["who works at acme?"], [CONTEXT])
    assert len(batch) > 3
    starts, ends = qa._targets(batch, [(a, a + len(answer))])
    inside = 0
    for r in range(len(batch)):
        ctx = [t for t, s in enumerate(batch.sequence_ids[r]) if s == 1]
        first, last = batch.offsets[r][ctx[0]][0], batch.offsets[r][ctx[-1]][1]
        if first <= a and a + len(answer) <= last:  # the whole answer is in this window
            inside += 1
            assert CONTEXT[batch.offsets[r][starts[r]][0] : batch.offsets[r][ends[r]][1]] == answer
            assert batch.sequence_ids[r][starts[r]] == batch.sequence_ids[r][ends[r]] == 1
        else:  # absent or only partly there: the [CLS] token
            assert starts[r] == ends[r] == 0
    assert 1 <= inside < len(batch)


def test_a_window_holding_part_of_the_answer_points_at_cls(tiny_dir):
    qa = SpanQA(encoder(tiny_dir), max_length=12, doc_stride=1)
    context = "paris and london and berlin and new york"
    batch = qa.encode(["where?"], [context])  # [CLS] where ? [SEP] = 4 tokens + [SEP]: 7 context tokens a window
    answer = "berlin and new york"
    a = context.index(answer)
    starts, ends = qa._targets(batch, [(a, a + len(answer))])
    for r in range(len(batch)):
        ctx = [batch.offsets[r][t] for t, s in enumerate(batch.sequence_ids[r]) if s == 1]
        holds = ctx[0][0] <= a and a + len(answer) <= ctx[-1][1]
        assert (starts[r] > 0) == holds


def test_best_span_stays_in_the_context_and_short(tiny_dir):
    qa = SpanQA(encoder(tiny_dir), max_answer_length=3)
    seq = [None, 0, 0, 0, None, 1, 1, 1, 1, 1, 1, None, None]
    L = len(seq)
    rng = np.random.default_rng(0)
    for trial in range(50):
        start, end = rng.standard_normal(L), rng.standard_normal(L)
        start[[1, 2, 3]] += 10  # the question's tokens, [CLS] and padding look best, but are never chosen
        end[[0, 3, 11, 12]] += 10
        if trial % 2:
            start[5], end[10] = 8.0, 8.0  # the best pair is too long (6 tokens)
        s, e, score = qa._best_span(start, end, seq)
        best = max(
            (start[i] + end[j], i, j) for i in range(L) for j in range(i, min(L, i + 3)) if seq[i] == 1 and seq[j] == 1
        )
        assert (score, s, e) == pytest.approx(best) and (s, e) == best[1:]
        assert seq[s] == seq[e] == 1 and 0 <= e - s < 3
    assert qa._best_span(np.zeros(4), np.zeros(4), [None, 0, 0, None]) is None


def test_answer_picks_the_best_window(tiny_dir, monkeypatch):
    qa = SpanQA(encoder(tiny_dir), max_length=16, doc_stride=2)
    question, context = "where?", CONTEXT
    batch = qa.encode([question], [context])
    assert len(batch) >= 4
    start, end = context.index("new york"), context.index("new york") + len("new york")

    def logits(b):
        """Start logits on "new", end logits on "york"; later windows score a little higher, so the answer must
        come from the last window that holds both, with character offsets into the context."""
        out = np.zeros((*b.input_ids.shape, 2))
        for r in range(len(b)):
            for t, (s, e) in enumerate(b.offsets[r]):
                if b.sequence_ids[r][t] == 1 and s == start:
                    out[r, t, 0] = 5.0 + 0.1 * r
                if b.sequence_ids[r][t] == 1 and e == end:
                    out[r, t, 1] = 5.0
        return out

    monkeypatch.setattr(qa, "logits", logits)
    holding = [r for r in range(len(batch)) if _holds(batch, r, start, end)]
    assert holding and holding[-1] < len(batch) - 1 or len(holding) > 1
    got = qa.answer(question, context)
    assert got == {"answer": "new york", "start": start, "end": end, "score": pytest.approx(10.0 + 0.1 * holding[-1])}
    both = qa.answer_batch([question, "who?"], [context, "mary smith"], batch_size=1)
    assert both[0] == got
    assert both[1]["score"] == 0.0 and both[1]["answer"] == "mary"  # all-zero logits: the first one-token span
    with pytest.raises(ValueError, match=r"contexts: expected one per question \(2\), got 1"):
        qa.answer_batch(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="question, context: expected strings"):
        qa.answer("q", 3)  # type: ignore[arg-type]


def _holds(batch, r, start, end):
    ctx = [o for o, q in zip(batch.offsets[r], batch.sequence_ids[r]) if q == 1]
    return ctx[0][0] <= start and end <= ctx[-1][1]


def test_span_qa_fits_a_few_examples(tiny_dir):
    qa = SpanQA(encoder(tiny_dir, "float32"), max_length=24, doc_stride=4, max_answer_length=4)
    examples = [
        qa_example("a", "who lives in paris?", CONTEXT, "john smith"),
        qa_example("b", "where does mary work?", CONTEXT, "acme corp"),
        qa_example("c", "where was mary born?", CONTEXT, "new york", nth=0),
    ]
    assert len(qa.encode([e.question for e in examples], [e.context for e in examples])) > 3  # several windows
    history = qa.fit(examples, epochs=80, batch_size=8, learning_rate=1e-2, progress=False)
    assert history.loss[-1] < 0.05 * history.loss[0]
    assert qa.evaluate(examples) == {"exact_match": 100.0, "f1": 100.0}
    assert qa.predict(examples) == {"a": "john smith", "b": "acme corp", "c": "new york"}


def test_span_qa_errors(tiny_dir):
    enc = encoder(tiny_dir)
    with pytest.raises(ValueError, match="max_length: at most max_position_embeddings = 64"):
        SpanQA(enc, max_length=65)
    assert SpanQA(enc).max_length == 64  # the default 256, capped
    for name in ("max_length", "doc_stride", "max_answer_length"):
        with pytest.raises(ValueError, match=f"{name}: expected a positive int"):
            SpanQA(enc, **{name: 0})
    qa = SpanQA(enc, max_length=32, doc_stride=4)
    wrong = qa_example("x", "who?", "mary smith", "mary")
    wrong.answers[0].start = 3
    with pytest.raises(ValueError, match=r"examples\[0\]: the answer 'mary' is not at character 3"):
        qa.fit([wrong], progress=False)
    with pytest.raises(ValueError, match=r"examples\[0\]: no answer"):
        qa.fit([SimpleNamespace(id="y", question="q", context="c", answers=[])], progress=False)
    with pytest.raises(ValueError, match="examples: expected at least one example"):
        qa.fit([], progress=False)


# ==================================================================== the fine-tuning loop


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0), ("batch_size", 0), ("batch_size", 2.0), ("learning_rate", 0.0), ("learning_rate", 2.0),
        ("warmup_ratio", 1.5), ("weight_decay", -0.1), ("max_grad_norm", 0.0), ("freeze_layers", -1),
        ("freeze_layers", True), ("seconds", 0.0), ("seed", -1), ("epochs", float("nan")),
    ],
)  # fmt: skip
def test_fine_tune_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        FineTuneConfig(**{field: value})


def test_fine_tune_config_defaults_are_berts():
    c = FineTuneConfig()
    assert (c.learning_rate, c.warmup_ratio, c.weight_decay, c.max_grad_norm) == (5e-5, 0.1, 0.01, 1.0)
    assert FineTuneConfig(max_grad_norm=None, seconds=None).max_grad_norm is None


def test_freezing_keeps_those_weights(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    enc = tc.encoder
    frozen = [*enc.embeddings.weights, *enc.encoder_layers[0].weights]
    free = [*enc.encoder_layers[1].weights, *tc.dense.weights]
    before_frozen = [v.data.copy() for v in frozen]
    before_free = [v.data.copy() for v in free]
    tc.fit(NER, epochs=3, batch_size=2, learning_rate=1e-2, warmup_ratio=0.0, freeze_embeddings=True,
           freeze_layers=1, progress=False)  # fmt: skip
    for v, b in zip(frozen, before_frozen):
        np.testing.assert_array_equal(v.data, b, err_msg=v.name)
    changed = [v.name for v, b in zip(free, before_free) if not np.array_equal(v.data, b)]
    assert len(changed) == len(free), set(v.name for v in free) - set(changed)


def test_unfrozen_fine_tuning_moves_every_weight(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    weights = tc.weights
    assert len(weights) == 5 + 16 * 2 + 2  # embeddings, both encoder layers (no pooler), the head
    before = [v.data.copy() for v in weights]
    tc.fit(NER, epochs=2, batch_size=4, learning_rate=1e-2, warmup_ratio=0.0, progress=False)
    unchanged = [v.name for v, b in zip(weights, before) if np.array_equal(v.data, b)]
    # rows with no gradient (positions past the longest sentence, token type 1) still move by weight decay
    assert unchanged == [], unchanged


def test_freezing_more_layers_than_there_are(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir), LABELS)
    with pytest.raises(ValueError, match="freeze_layers: the encoder has 2 layers, got 3"):
        tc.fit(NER, freeze_layers=3, progress=False)


def test_seconds_stops_early(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    history = tc.fit(NER, epochs=50, batch_size=1, seconds=1e-9, progress=False)
    assert history.stopped_early and history.steps == 1 and len(history.loss) == 1


def test_nan_loss_raises(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
    tc.dense.bias.data[0] = np.nan
    with pytest.raises(FloatingPointError, match="the loss became nan at step 0"):
        tc.fit(NER, epochs=1, progress=False)


def test_same_seed_same_result(tiny_dir):
    runs = []
    for _ in range(2):
        tc = TokenClassifier(encoder(tiny_dir, "float32"), LABELS)
        tc.dense.kernel.data[...] = np.random.default_rng(1).normal(0, 0.02, tc.dense.kernel.shape)
        runs.append(tc.fit(NER, epochs=2, batch_size=2, seed=3, progress=False).loss)
    assert runs[0] == runs[1]


# ==================================================================== gradients


def _ner_batch(tc: TokenClassifier):
    return tc.encode([w for w, _ in NER], [t for _, t in NER])


def _qa_batch(qa: SpanQA):
    batch = qa.encode(["who lives in paris?", "where?"], [CONTEXT, "in berlin"])
    a = CONTEXT.index("john smith")
    b = "in berlin".index("berlin")
    batch.start_positions, batch.end_positions = qa._targets(batch, [(a, a + 10), (b, b + 6)])
    return batch


def _randomise_head(head, seed: int) -> None:
    rng = np.random.default_rng(seed)
    head.dense.kernel.data[...] = rng.normal(0, 0.5, head.dense.kernel.shape)
    head.dense.bias.data[...] = rng.normal(0, 0.5, head.dense.bias.shape)


def test_token_classifier_loss_gradients_match_finite_differences(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir), LABELS, max_length=12)
    _randomise_head(tc, 0)
    batch = _ner_batch(tc)
    enc = tc.encoder
    gradcheck(
        lambda: tc._loss(batch),
        variables=[tc.dense.kernel, tc.dense.bias, enc.encoder_layers[1].ffn_output.bias,
                   enc.encoder_layers[0].mha.value_bias, enc.embeddings.layer_norm.beta],
        what="TokenClassifier loss",
    )  # fmt: skip


def test_span_qa_loss_gradients_match_finite_differences(tiny_dir):
    qa = SpanQA(encoder(tiny_dir), max_length=16, doc_stride=3)
    _randomise_head(qa, 1)
    batch = _qa_batch(qa)
    assert (batch.start_positions > 0).any() and (batch.start_positions == 0).any()
    enc = qa.encoder
    gradcheck(
        lambda: qa._loss(batch),
        variables=[qa.dense.kernel, qa.dense.bias, enc.encoder_layers[1].layernorm1.gamma,
                   enc.encoder_layers[0].mha.key_bias],
        what="SpanQA loss",
    )  # fmt: skip


def _hf_twin(head, kind: str):
    """The Hugging Face model of ``head`` in float64 with the same weights (dropout off)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        **TINY_SIZES, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, hidden_act="gelu",
        layer_norm_eps=1e-12, num_labels=head.dense.units,
    )  # fmt: skip
    cls = transformers.BertForTokenClassification if kind == "ner" else transformers.BertForQuestionAnswering
    model = cls(cfg).double().eval()
    state = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in head.state_dict().items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    return torch, model


def _compare_grads(head, model, tol: float) -> int:
    params = dict(model.named_parameters())
    checked = 0
    for name, var, how in parameter_map(head.encoder):
        p = params["bert." + name]
        want = p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
        got = np.zeros(var.shape) if var.grad is None else var.grad
        np.testing.assert_allclose(_to_hf(got, how), want, rtol=0, atol=tol, err_msg=name)
        checked += 1
    hw, hb = params[f"{head.head_name}.weight"], params[f"{head.head_name}.bias"]
    np.testing.assert_allclose(head.dense.kernel.grad.T, hw.grad.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(head.dense.bias.grad, hb.grad.numpy(), rtol=0, atol=tol)
    return checked + 2


def test_token_classifier_matches_hugging_face_with_autograd(tiny_dir):
    tc = TokenClassifier(encoder(tiny_dir), LABELS, max_length=12)
    _randomise_head(tc, 2)
    torch, model = _hf_twin(tc, "ner")
    batch = _ner_batch(tc)
    out = model(
        input_ids=torch.tensor(batch.input_ids), attention_mask=torch.tensor(batch.attention_mask),
        token_type_ids=torch.tensor(batch.token_type_ids), labels=torch.tensor(batch.labels),
    )  # fmt: skip
    out.loss.backward()
    keep = batch.attention_mask.astype(bool)
    np.testing.assert_allclose(tc.logits(batch)[keep], out.logits.detach().numpy()[keep], rtol=0, atol=1e-9)
    for v in tc._variables():
        v.grad = None
    loss = tc._loss(batch)
    assert float(loss.data) == pytest.approx(out.loss.item(), abs=1e-10)
    loss.backward()
    assert _compare_grads(tc, model, 1e-8) == 5 + 16 * 2 + 2  # every encoder weight (no pooler) and the head's


def test_span_qa_matches_hugging_face_with_autograd(tiny_dir):
    qa = SpanQA(encoder(tiny_dir), max_length=16, doc_stride=3)
    _randomise_head(qa, 3)
    torch, model = _hf_twin(qa, "qa")
    batch = _qa_batch(qa)
    out = model(
        input_ids=torch.tensor(batch.input_ids), attention_mask=torch.tensor(batch.attention_mask),
        token_type_ids=torch.tensor(batch.token_type_ids), start_positions=torch.tensor(batch.start_positions),
        end_positions=torch.tensor(batch.end_positions),
    )  # fmt: skip
    out.loss.backward()
    keep = batch.attention_mask.astype(bool)
    logits = qa.logits(batch)
    np.testing.assert_allclose(logits[..., 0][keep], out.start_logits.detach().numpy()[keep], rtol=0, atol=1e-9)
    np.testing.assert_allclose(logits[..., 1][keep], out.end_logits.detach().numpy()[keep], rtol=0, atol=1e-9)
    loss = qa._loss(batch)
    assert float(loss.data) == pytest.approx(out.loss.item(), abs=1e-10)
    loss.backward()
    _compare_grads(qa, model, 1e-8)


def test_fine_tune_config_is_a_dataclass():
    assert {f.name for f in dataclasses.fields(FineTuneConfig)} >= {"epochs", "freeze_layers", "seconds", "seed"}


def test_viterbi_equals_brute_force_under_iob2_constraints():
    import itertools

    from seqcore.pretrained.heads import allowed_transitions, viterbi

    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    start_ok, after_ok = allowed_transitions(labels)
    assert not start_ok[2] and not after_ok[0, 2] and after_ok[1, 2] and not after_ok[3, 2]
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 5))
        lp = rng.normal(size=(n, len(labels)))
        best, arg = -np.inf, None
        for seq in itertools.product(range(len(labels)), repeat=n):
            if not start_ok[seq[0]] or any(not after_ok[a, b] for a, b in zip(seq, seq[1:])):
                continue
            value = sum(lp[i, k] for i, k in enumerate(seq))
            if value > best:
                best, arg = value, list(seq)
        assert viterbi(lp, start_ok, after_ok) == arg


def test_constrained_decoding_never_leaves_a_stray_inside_tag():
    from seqcore.pretrained.heads import allowed_transitions, viterbi

    labels = ["O", "B-PER", "I-PER"]
    # the per-word argmax would be O, I-PER: an entity seqeval counts, made of a stray inside tag
    lp = np.log(np.array([[0.9, 0.05, 0.05], [0.2, 0.3, 0.5]]))
    assert [labels[k] for k in lp.argmax(-1)] == ["O", "I-PER"]
    assert [labels[k] for k in viterbi(lp, *allowed_transitions(labels))] == ["O", "B-PER"]
    # labels outside IOB2 are left unconstrained
    start_ok, after_ok = allowed_transitions(["PER", "LOC", "O"])
    assert start_ok.all() and after_ok.all()


def test_tag_names_the_argument_for_a_non_text(tmp_path):
    model = TokenClassifier(load_bert(write_tiny_model(tmp_path / "m")), ["O", "B-X", "I-X"])
    with pytest.raises(TypeError, match="text: expected a string or a list of strings, got int"):
        model.tag(5)
    with pytest.raises(TypeError, match="text: expected a string, got int"):
        model.tag(["ok", 5])
