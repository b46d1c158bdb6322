"""DIETClassifier: roles and groups, multi-intent labels, hold-out evaluation, checkpoints, the linear shortcut."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from component_helpers import parse, persist_and_load, train
from intently.errors import ComponentConfigError
from intently.message import Message
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet import inference
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.classifiers.diet.training import (
    EpochReporter,
    hold_out,
    most_held_out,
    span_f1,
    tag_spans,
)
from intently.plugins.classifiers.diet.weights import initial_weights
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.linear_chain import decode
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.training_data.reader import read_yaml_string
from test_diet_classifier import SMALL

CITIES = ["Berlin", "Paris", "Rome", "Oslo", "Madrid", "Vienna", "Prague", "Lisbon"]


def pipeline(tokenizer: dict | None = None, **config) -> list:
    return [
        WhitespaceTokenizer(tokenizer or {}),
        CountVectorsFeaturizer(unique_name="1_words"),
        CountVectorsFeaturizer({"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3}, unique_name="2_chars"),
        DIETClassifier({**SMALL, **config}, unique_name="3_diet"),
    ]


def role_group_yaml() -> str:
    lines = []
    for i, origin in enumerate(CITIES):
        target = CITIES[(i + 3) % len(CITIES)]
        lines.append(
            f'fly from [{origin}]{{"entity": "city", "role": "departure"}} '
            f'to [{target}]{{"entity": "city", "role": "destination"}}'
        )
        lines.append(
            f'a ticket to [{target}]{{"entity": "city", "role": "destination"}} '
            f'from [{origin}]{{"entity": "city", "role": "departure"}}'
        )
        lines.append(
            '[two]{"entity": "number", "group": "1"} [large]{"entity": "size", "group": "1"} pizzas and '
            '[one]{"entity": "number", "group": "2"} [small]{"entity": "size", "group": "2"} pizza'
        )
    body = "\n".join(f"      - {line}" for line in lines)
    return f'version: "3.1"\nnlu:\n  - intent: book\n    examples: |\n{body}\n'


@pytest.fixture(scope="module")
def role_model() -> list:
    # Roles depend on the context ("from X" / "to X"): a slightly bigger model than SMALL.
    components = pipeline(epochs=100, transformer_size=64, number_of_transformer_layers=2)
    train(components, read_yaml_string(role_group_yaml()))
    return components


def test_roles_are_learned_and_reported(role_model):
    diet = role_model[-1]
    assert diet.role_tags and diet.group_tags
    (message,) = parse(role_model, ["fly from Oslo to Rome"])
    found = [(e.value, e.entity, e.role) for e in message.entities]
    assert found == [("Oslo", "city", "departure"), ("Rome", "city", "destination")]
    entity = message.entities[0].to_dict()
    assert entity["extractor"] == "DIETClassifier"
    assert 0 < entity["confidence_role"] <= 1 and 0 < entity["confidence_entity"] <= 1


def test_groups_are_learned(role_model):
    (message,) = parse(role_model, ["two large pizzas and one small pizza"])
    found = [(e.value, e.entity, e.group) for e in message.entities]
    assert found == [("two", "number", "1"), ("large", "size", "1"), ("one", "number", "2"), ("small", "size", "2")]


def test_roles_and_groups_survive_persist_and_load(role_model, tmp_path):
    texts = ["a ticket to Paris from Vienna", "two large pizzas and one small pizza"]
    before = [m.to_parse_dict() for m in parse(role_model, texts)]
    # Decoded together (the packed Viterbi, three tag heads) as each message alone.
    alone = [parse(role_model, [text])[0].to_parse_dict() for text in texts]
    spans = [[(e["start"], e["end"], e["entity"], e.get("role"), e.get("group")) for e in r["entities"]]
             for r in before]
    assert spans == [[(e["start"], e["end"], e["entity"], e.get("role"), e.get("group")) for e in r["entities"]]
                     for r in alone]
    assert any(span[3] for span in spans[0]) and any(span[4] for span in spans[1])
    loaded = [*role_model[:-1], persist_and_load(role_model[-1], tmp_path)]
    assert [m.to_parse_dict() for m in parse(loaded, texts)] == before


MULTI = {
    "greet": ["hello", "hi there", "good morning", "hey", "hello friend", "hi"],
    "ask_weather": ["what is the weather", "will it rain", "is it sunny today", "weather forecast please",
                    "how cold is it", "is it going to snow"],
    "greet+ask_weather": ["hello what is the weather", "hi will it rain", "hey is it sunny today",
                          "good morning weather forecast please", "hello how cold is it"],
    "bye": ["bye", "see you", "goodbye", "bye bye", "see you later", "good night"],
}


def multi_yaml() -> str:
    blocks = []
    for intent, texts in MULTI.items():
        body = "\n".join(f"      - {t}" for t in texts)
        blocks.append(f"  - intent: {intent}\n    examples: |\n{body}")
    return 'version: "3.1"\nnlu:\n' + "\n".join(blocks) + "\n"


def test_multi_intent_labels_are_composed_of_their_parts():
    components = pipeline({"intent_tokenization_flag": True, "intent_split_symbol": "+"}, epochs=60,
                          entity_recognition=False)
    train(components, read_yaml_string(multi_yaml()))
    diet = components[-1]
    assert diet.spec["label_parts"] == ["ask_weather", "bye", "greet"]
    assert diet.labels == ["ask_weather", "bye", "greet", "greet+ask_weather"]
    messages = parse(components, ["hey what is the weather", "hello", "will it snow", "see you"])
    assert [m.intent for m in messages] == ["greet+ask_weather", "greet", "ask_weather", "bye"]


def test_without_the_flag_a_multi_intent_label_is_a_label_of_its_own():
    components = pipeline(epochs=2, entity_recognition=False)
    train(components, read_yaml_string(multi_yaml()))
    assert "label_parts" not in components[-1].spec


def test_hold_out_evaluation_and_checkpoint_keep_the_best_epoch():
    components = pipeline(epochs=12, evaluate_on_number_of_examples=6, evaluate_every_number_of_epochs=3,
                          checkpoint_model=True, entity_recognition=False)
    train(components, read_yaml_string(multi_yaml()))
    diet = components[-1]
    history = diet.training_history
    assert [h["epoch"] for h in history] == list(range(1, 13))
    evaluated = [h for h in history if "val_i_acc" in h]
    assert [h["epoch"] for h in evaluated] == [3, 6, 9, 12]
    assert all("loss" in h and "i_acc" in h for h in history)
    assert all(0.0 <= h["val_i_acc"] <= 1.0 for h in evaluated)


def test_too_many_held_out_examples_is_a_config_error_naming_the_limit():
    data = read_yaml_string(multi_yaml())
    limit = len(data.training_examples) - len(data.intents)
    with pytest.raises(ComponentConfigError) as error:
        train(pipeline(epochs=1, evaluate_on_number_of_examples=limit + 1, entity_recognition=False), data)
    assert "evaluate_on_number_of_examples" in str(error.value)
    assert f"hold out at most {limit} examples" in error.value.hint
    components = pipeline(epochs=1, evaluate_on_number_of_examples=limit, entity_recognition=False)
    train(components, data)
    assert "val_i_acc" in components[-1].training_history[-1]


def test_evaluating_every_minus_one_epochs_scores_the_last_epoch_only():
    config = {**DIETClassifier.defaults, "evaluate_every_number_of_epochs": -1}
    weights, _ = initial_weights(TINY_SPEC, 0)
    reporter = EpochReporter("diet", config, 3, ScriptedValidation([0.5]), [], TINY_SPEC)
    for epoch in range(3):
        reporter(epoch, {"loss": 1.0}, lambda: weights)
    assert [h.get("val_i_acc") for h in reporter.history] == [None, None, 0.5]


@pytest.mark.parametrize(
    ("examples", "size", "kept", "dropped"),
    # Rasa's own cases (48 examples): 15 -> 3 batches when dropping, 4 when not; 18 -> 3; 20 -> 2 / 3; 64 -> 1.
    [(48, 15, 4, 3), (48, 18, 3, 3), (48, 20, 3, 2), (48, 32, 2, 2), (48, 64, 1, 1), (48, 1, 48, 48)],
)
def test_drop_small_last_batch_leaves_out_a_last_batch_under_half_full(examples, size, kept, dropped):
    assert len(diet_data.batch_slices(examples, size)) == kept
    batches = diet_data.batch_slices(examples, size, drop_small_last=True)
    assert len(batches) == dropped
    assert all(b.start == i * size for i, b in enumerate(batches))


@pytest.mark.parametrize("drop", [True, False])
def test_training_batches_follow_drop_small_last_batch(drop):
    components = pipeline(epochs=2, batch_size=7, drop_small_last_batch=drop, entity_recognition=False)
    with mock.patch.object(diet_data, "batch_slices", wraps=diet_data.batch_slices) as slices:
        train(components, read_yaml_string(multi_yaml()))
    assert slices.call_count == 2
    assert all(call.kwargs["drop_small_last"] is drop for call in slices.call_args_list)


class ScriptedValidation:
    """Stands in for :class:`Validation`: returns the next scripted validation accuracy."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)

    def evaluate(self, model, tag_names, *, bilou):
        return {"val_i_acc": self.scores.pop(0)}


TINY_SPEC = {"sparse_dim": 0, "dense_dim": 2, "dense_dimension": 2, "hidden": [], "units": 2, "layers": 0,
             "heads": 1, "embedding": 2, "label_dimension": 2, "density": 1.0, "n_labels": 2, "n_tags": 0}


def test_checkpoint_keeps_the_weights_of_the_best_validation_epoch():
    config = {**DIETClassifier.defaults, "evaluate_every_number_of_epochs": 2, "checkpoint_model": True}
    spec = TINY_SPEC
    weights, _ = initial_weights(spec, 0)
    reporter = EpochReporter("diet", config, 6, ScriptedValidation([0.5, 0.9, 0.7]), [], spec)
    for epoch in range(6):
        snapshot = {k: v + epoch for k, v in weights.items()}
        reporter(epoch, {"loss": 1.0 / (epoch + 1)}, lambda snapshot=snapshot: snapshot)
    reporter.close()
    assert reporter.best_epoch == 4
    np.testing.assert_array_equal(reporter.best_weights["label_table"], weights["label_table"] + 3)
    assert [h.get("val_i_acc") for h in reporter.history] == [None, 0.5, None, 0.9, None, 0.7]


def test_without_checkpoint_no_weights_are_kept():
    config = {**DIETClassifier.defaults, "evaluate_every_number_of_epochs": 1, "checkpoint_model": False}
    weights, _ = initial_weights(TINY_SPEC, 0)
    reporter = EpochReporter("diet", config, 2, ScriptedValidation([0.5, 0.9]), [], TINY_SPEC)
    for epoch in range(2):
        reporter(epoch, {"loss": 1.0}, lambda: weights)
    assert reporter.best_weights is None and reporter.best_epoch is None


def test_entity_f1_is_reported_per_epoch(role_model):
    history = role_model[-1].training_history
    assert len(history) == 100 and all(0.0 <= h["e_f1"] <= 1.0 for h in history)
    assert history[-1]["e_f1"] > history[0]["e_f1"]


@pytest.mark.parametrize(
    "labels",
    [[0, 0, 1, 1, 1, 2], [0, 1, 2, 3], [-1, -1, -1, 0, 0], [0] * 5 + [1] * 2 + [2] * 9, [3, 3, 0, 1, 1, 1, 2, 2]],
)
def test_hold_out_at_its_limit_keeps_one_example_of_every_label(labels):
    labels = np.array(labels)
    most = most_held_out(labels)
    assert most == len(labels) - len(set(labels.tolist()))
    for seed in range(20):
        train_index, held = hold_out(labels, most, np.random.default_rng(seed))
        assert len(held) == most and set(labels[train_index]) == set(labels.tolist())
        assert sorted(train_index.tolist() + held.tolist()) == list(range(len(labels)))
    train_index, held = hold_out(labels, most + 5, np.random.default_rng(0))
    assert len(held) == most


def test_hold_out_is_stratified_and_keeps_every_label():
    labels = np.array([0] * 10 + [1] * 10 + [2] * 2)
    train_index, held = hold_out(labels, 6, np.random.default_rng(0))
    assert len(held) == 6 and len(train_index) == 16
    assert set(labels[train_index]) == {0, 1, 2}
    assert sorted(set(train_index) | set(held)) == list(range(22))


def test_tag_spans_and_span_f1():
    names = ["O", "B-city", "I-city", "L-city", "U-city"]
    assert tag_spans([1, 2, 3, 0, 4], names, bilou=True) == {(0, 2, "city"), (4, 4, "city")}
    assert tag_spans([2, 3, 0], names, bilou=True) == set()  # no B-: inconsistent
    assert tag_spans([1, 1, 0, 1], ["O", "city"], bilou=False) == {(0, 1, "city"), (3, 3, "city")}
    # Training passes numpy arrays (a plain-tag run ending the message was an ambiguous truth value).
    assert tag_spans(np.array([0, 1, 1]), ["O", "city"], bilou=False) == {(1, 2, "city")}
    assert span_f1([[1, 3, 4]], [[1, 3, 0]], names, bilou=True) == pytest.approx(2 / 3)
    assert span_f1([[0]], [[0]], names, bilou=True) == 1.0


def assert_parse_path_equals_forward(components: list, texts: list[str]) -> None:
    diet = components[-1]
    messages = [Message(text=t) for t in texts]
    for component in components[:-1]:
        component.process(messages)
    batch = inference.first_layer(messages, diet.dims, diet.model)
    fast_sims, fast_scores = diet.model.heads(batch.x, batch.token_linear, batch.sentence_linear, batch.mask,
                                              batch.lengths)
    padded = diet_data.pad(diet_data.build_inputs(messages, diet.dims))
    sims, scores = diet.model.forward(padded.sparse, padded.dense, padded.mask, padded.lengths)
    np.testing.assert_allclose(fast_sims, sims, rtol=1e-4, atol=1e-4)
    assert fast_scores.keys() == scores.keys()
    for head in scores:
        for b, n in enumerate(padded.lengths):
            np.testing.assert_allclose(fast_scores[head][b, :n], scores[head][b, :n], rtol=1e-4, atol=1e-4)
    rows = inference.first_layer_rows(messages, diet.dims, diet.model)
    for b, n in enumerate(padded.lengths):  # each message alone: the unpadded one-message batch
        alone = rows.pad(np.array([b]))
        assert alone.mask.all()
        alone_sims, alone_scores = diet.model.heads(alone.x, alone.token_linear, alone.sentence_linear,
                                                    alone.mask, alone.lengths)
        if sims is not None:
            np.testing.assert_allclose(alone_sims[0], sims[b], rtol=1e-4, atol=1e-4)
        for head in scores:
            np.testing.assert_allclose(alone_scores[head][0, :n], scores[head][b, :n], rtol=1e-4, atol=1e-4)


TEXTS = ["fly from Oslo to Rome", "two large pizzas", "hello", "to Paris"]


@pytest.mark.parametrize("lengths", [[4, 4, 4], [1, 9, 2, 3, 1], [40] * 8])
def test_both_transformer_layouts_compute_the_same(role_model, lengths):
    from intently.plugins.classifiers.diet.numpy_transformer import transformer

    model = role_model[-1].model
    assert model.grouped  # the block products of both layouts, and the dense ones of 328 positions
    lengths = np.array(lengths)
    length = int(lengths.max()) + 1
    mask = (np.arange(length)[None, :] <= lengths[:, None]).astype(np.float32)  # [1, 9, ...]: packed
    x = np.random.default_rng(0).normal(size=(len(lengths), length, model.spec["dense_dimension"]))
    x = (x * mask[:, :, None]).astype(np.float32)
    row_major = transformer(model.encoder, x, mask, feature_major=False)
    feature_major = transformer(model.encoder, x, mask, feature_major=True)
    np.testing.assert_allclose(feature_major, row_major, rtol=1e-4, atol=1e-5)
    assert not row_major[mask == 0].any() and not feature_major[mask == 0].any()
    assert np.abs(row_major[mask == 1]).max() > 0.1


def test_parse_path_equals_the_padded_forward_pass(role_model):
    assert_parse_path_equals_forward(role_model, TEXTS)


def test_linear_shortcut_adds_its_kernels_and_parses_the_same_on_both_paths():
    components = pipeline(epochs=3, linear_shortcut=True)
    train(components, read_yaml_string(role_group_yaml()))
    names = set(components[-1].weights)
    assert {"linear_labels/kernel", "linear_tags/kernel", "linear_role_tags/kernel",
            "linear_group_tags/kernel"} <= names
    assert_parse_path_equals_forward(components, TEXTS)
    off = pipeline(epochs=1)
    train(off, read_yaml_string(role_group_yaml()))
    assert not any(name.startswith("linear_") for name in off[-1].weights)



def test_masked_language_model_trains_and_parses(tmp_path):
    components = pipeline(epochs=40, use_masked_language_model=True, entity_recognition=False)
    train(components, read_yaml_string(multi_yaml()))
    diet = components[-1]
    assert {"mlm/mask", "mlm_text_embed/kernel", "mlm_label_embed/kernel"} <= set(diet.weights)
    assert [m.intent for m in parse(components, ["hello", "see you"])] == ["greet", "bye"]
    loaded = persist_and_load(diet, tmp_path)
    assert set(loaded.weights) == set(diet.weights)


def test_masked_language_model_needs_a_transformer():
    from intently.errors import ComponentConfigError

    with pytest.raises(ComponentConfigError, match="use_masked_language_model"):
        DIETClassifier({"use_masked_language_model": True, "number_of_transformer_layers": 0})


BILOU_TAGS = ["O", "B-a", "I-a", "L-a", "U-a", "B-b", "I-b", "L-b", "U-b"]


def test_decoding_never_breaks_the_bilou_scheme():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 7, len(BILOU_TAGS))) * 3
    transitions = rng.normal(size=(len(BILOU_TAGS), len(BILOU_TAGS)))
    lengths = rng.integers(1, 8, size=50)
    paths, _ = decode(scores, transitions, lengths, BILOU_TAGS, bilou=True)
    for path in paths:
        tags = [BILOU_TAGS[i] for i in path]
        # Every path is exactly a sequence of whole entities: its spans re-encode it.
        spans = tag_spans(list(path), BILOU_TAGS, bilou=True)
        covered = sum(end - start + 1 for start, end, _ in spans)
        assert covered == sum(t != "O" for t in tags), tags


def test_crf_loss_equals_brute_force_over_allowed_paths():
    tf_model = pytest.importorskip("intently.plugins.classifiers.diet.tf_model")
    import itertools

    from intently.plugins.linear_chain import transition_constraints

    n = len(BILOU_TAGS)
    spec = {**TINY_SPEC, "n_labels": 0, "n_tags": n}
    weights, masks = initial_weights(spec, 0)
    rng = np.random.default_rng(1)
    weights["crf/transitions"] = rng.normal(size=(n, n)).astype(np.float32)
    model = tf_model.DIETModel(spec, weights, masks, dict(DIETClassifier.defaults), 0, {"entity": BILOU_TAGS})
    scores = rng.normal(size=(1, 3, n)).astype(np.float32)
    gold = np.array([[1, 3, 0]])  # B-a L-a O
    loss = float(model.crf_loss(scores, gold, np.array([3])))
    pairs, start, end = transition_constraints(BILOU_TAGS, bilou=True)
    trans = weights["crf/transitions"].astype(np.float64)

    def path_score(path):
        total = sum(scores[0, t, tag] for t, tag in enumerate(path))
        return total + sum(trans[a, b] for a, b in itertools.pairwise(path))

    allowed = [p for p in itertools.product(range(n), repeat=3)
               if start[p[0]] == 0 and end[p[-1]] == 0 and all(pairs[a, b] == 0 for a, b in itertools.pairwise(p))]
    log_z = np.log(np.sum(np.exp([path_score(p) for p in allowed])))
    assert loss == pytest.approx(log_z - path_score(gold[0]), rel=1e-4)


@pytest.mark.parametrize("rows", [1, 3, 400])
def test_sparse_dot_equals_scipy(rows):
    import scipy.sparse
    from intently.plugins.classifiers.diet.sparse_product import sparse_dot

    rng = np.random.default_rng(rows)
    matrix = scipy.sparse.random(rows, 300, density=0.05, format="csr", random_state=rows) * 3
    matrix = scipy.sparse.vstack([matrix, scipy.sparse.csr_matrix((1, 300))], format="csr")  # an empty row
    kernel = rng.normal(size=(300, 40)).astype(np.float32)
    np.testing.assert_allclose(sparse_dot(matrix, kernel), matrix @ kernel, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rows", [1, 4, 3000])
def test_sparse_blocks_side_by_side_equal_scipy(rows):
    import scipy.sparse
    from unittest import mock

    from intently.plugins.classifiers.diet import sparse_product
    from intently.plugins.classifiers.diet.sparse_product import sparse_dot_blocks

    rng = np.random.default_rng(rows)
    widths = [7, 120, 1, 300]
    blocks = [scipy.sparse.random(rows, width, density=0.05, format="csr", random_state=rows + width) * 2
              for width in widths]
    blocks[1] = scipy.sparse.csr_matrix((rows, 120))  # a block with no non-zero at all
    blocks[2] = scipy.sparse.csr_array(blocks[2].astype(np.float32))  # the newer sparse-array class
    # An empty first row: where the stacked rows of a block start.
    blocks[3] = scipy.sparse.csr_matrix(scipy.sparse.diags((np.arange(rows) > 0).astype(float)) @ blocks[3])
    blocks[3].eliminate_zeros()
    kernel = rng.normal(size=(sum(widths), 40)).astype(np.float32)
    expected = scipy.sparse.hstack(blocks, format="csr") @ kernel
    np.testing.assert_allclose(sparse_dot_blocks(blocks, kernel), expected, rtol=1e-4, atol=1e-4)
    # Without scipy's private CSR routine: the public product, the same result.
    with mock.patch.object(sparse_product, "_csr_matvecs", None):
        np.testing.assert_allclose(sparse_dot_blocks(blocks, kernel), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="columns"):
        sparse_dot_blocks(blocks[1:], kernel)


@pytest.mark.parametrize(("shape", "density", "groups"), [((256, 1024), 0.2, 5), ((40, 30), 0.5, 2), ((3, 8), 0.2, 3)])
def test_grouped_connections_keep_a_density_share_and_multiply_block_by_block(shape, density, groups):
    from intently.plugins.classifiers.diet.kernels import GroupedKernel
    from intently.plugins.classifiers.diet.weights import connection_groups

    in_group, out_group = connection_groups("layer_0/ffn1/kernel", shape, density, seed=7)
    assert set(in_group) == set(out_group) == set(range(groups))  # never more groups than rows or columns
    mask = in_group[:, None] == out_group[None, :]
    assert mask.mean() == pytest.approx(1 / groups, abs=0.02)
    assert mask.any(axis=0).all() and mask.any(axis=1).all()  # every input and output keeps connections
    again = connection_groups("layer_0/ffn1/kernel", shape, density, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(again, (in_group, out_group)))
    other = connection_groups("layer_1/ffn1/kernel", shape, density, seed=7)
    assert not np.array_equal(other[0], in_group) or not np.array_equal(other[1], out_group)
    rng = np.random.default_rng(0)
    kernel = (rng.normal(size=shape) * mask).astype(np.float32)
    grouped = GroupedKernel.of(kernel, (in_group, out_group))
    x = rng.normal(size=(13, shape[0])).astype(np.float32)
    np.testing.assert_allclose(grouped(x), x @ kernel, rtol=1e-4, atol=1e-4)
    second = (rng.normal(size=shape) * mask).astype(np.float32)
    joined = GroupedKernel.side_by_side([grouped, GroupedKernel.of(second, (in_group, out_group))])
    np.testing.assert_allclose(joined(x), np.concatenate([x @ kernel, x @ second], axis=1), rtol=1e-4, atol=1e-4)
    kernel[~mask] = 1.0  # weights outside the groups: no grouped form
    assert GroupedKernel.of(kernel, (in_group, out_group)) is None


def test_side_by_side_grouped_kernels_with_their_own_groups():
    from intently.plugins.classifiers.diet.kernels import GroupedKernel
    from intently.plugins.classifiers.diet.weights import connection_groups

    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 64)).astype(np.float32)
    kernels, expected = [], []
    for name in ("query", "key", "value"):  # different groups per kernel, one shape
        groups = connection_groups(f"layer_0/{name}/kernel", (64, 64), 0.2, seed=3)
        kernel = (rng.normal(size=(64, 64)) * (groups[0][:, None] == groups[1][None, :])).astype(np.float32)
        kernels.append(GroupedKernel.of(kernel, groups))
        expected.append(x @ kernel)
    joined = GroupedKernel.side_by_side(kernels)
    np.testing.assert_allclose(joined(x), np.concatenate(expected, axis=1), rtol=1e-4, atol=1e-4)
    other = GroupedKernel.of(np.zeros((64, 128), dtype=np.float32), connection_groups("k", (64, 128), 0.5, seed=3))
    with pytest.raises(ValueError, match="same shape"):
        GroupedKernel.side_by_side([kernels[0], other])


def test_full_density_and_old_models_have_no_groups():
    from intently.plugins.classifiers.diet.numpy_model import NumpyDIET
    from intently.plugins.classifiers.diet.weights import connection_groups

    assert connection_groups("layer_0/query/kernel", (64, 64), 1.0, seed=1) is None
    spec = {**TINY_SPEC, "dense_dim": 8, "dense_dimension": 8, "units": 8, "layers": 1, "heads": 2, "density": 0.2}
    old, _ = initial_weights(spec, 0)  # no "connections": Rasa's random per-weight masks
    assert NumpyDIET(spec, old).grouped == {}
    grouped_spec = {**spec, "connections": "grouped", "connection_seed": 3}
    weights, masks = initial_weights(grouped_spec, 0)
    model = NumpyDIET(grouped_spec, weights)
    # Every masked kernel but the sparse first layer's, and each layer's query, key and value side by side.
    assert set(model.grouped) == {name for name in masks if name != "input/kernel"} | {"layer_0/attention_inputs"}
    assert weights["layer_0/query/kernel"].any()


def test_viterbi_finds_each_messages_best_path_whatever_its_length():
    import itertools

    from intently.plugins.linear_chain import viterbi

    rng = np.random.default_rng(5)
    n_tags = 3
    lengths = np.array([4, 0, 1, 3, 2, 4])
    scores = rng.normal(size=(len(lengths), 4, n_tags)).astype(np.float32) * 2
    transitions = rng.normal(size=(n_tags, n_tags)).astype(np.float32)
    start, end = rng.normal(size=n_tags).astype(np.float32), rng.normal(size=n_tags).astype(np.float32)
    paths, confidences = viterbi(scores, transitions, lengths, start, end)
    for b, n in enumerate(lengths):
        assert len(paths[b]) == len(confidences[b]) == n
        if n == 0:
            continue

        def score(path, b=b):
            return (start[path[0]] + end[path[-1]] + sum(scores[b, t, tag] for t, tag in enumerate(path))
                    + sum(transitions[x, y] for x, y in itertools.pairwise(path)))

        best = max(itertools.product(range(n_tags), repeat=int(n)), key=score)
        assert tuple(paths[b]) == best
        assert np.all((confidences[b] > 0) & (confidences[b] <= 1))


@pytest.mark.parametrize(("labels", "scale", "decimals"), [(3, 2, None), (3, 30, None), (3, 3, 0), (12, 2, None),
                                                          (12, 3, 0)])
def test_bilou_viterbi_step_equals_the_dense_constrained_step(labels, scale, decimals):
    from intently.plugins.linear_chain import (
        FEW_PREDECESSORS,
        TagDecoder,
        transition_constraints,
        viterbi,
    )

    # scale 30: peaked scores, most predecessors ruled out by the bounds; decimals 0: many ties;
    # 12 labels: more predecessors than are compared one by one (25 closing tags).
    tags = diet_data.tag_set([[f"U-{chr(97 + i)}" for i in range(labels)]], bilou=True)
    assert (1 + 2 * labels > FEW_PREDECESSORS) == (labels == 12)
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(40, 9, len(tags))) * scale
    transitions = rng.normal(size=(len(tags), len(tags)))
    if decimals is not None:
        scores, transitions = scores.round(decimals), transitions.round(decimals)
    lengths = rng.integers(1, 10, size=40)
    decoder = TagDecoder(tags, transitions, bilou=True)
    assert decoder.step is not None
    fast_paths, fast_conf = decoder(scores, lengths)
    pairs, start, end = transition_constraints(tags, bilou=True)
    paths, conf = viterbi(scores, transitions + pairs, lengths, start, end)
    for a, b, c, d in zip(fast_paths, paths, fast_conf, conf):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(c, d, rtol=1e-4, atol=1e-6)  # float32 against float64
    for i in range(len(lengths)):  # one message at a time: the one-message path
        (one_path,), (one_conf,) = decoder(scores[i : i + 1], lengths[i : i + 1])
        np.testing.assert_array_equal(one_path, paths[i])
        np.testing.assert_allclose(one_conf, conf[i], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("labels", "scale", "decimals", "bilou"), [
    (3, 2, None, True), (3, 30, None, True), (3, 3, 0, True), (12, 2, None, True), (12, 3, 0, True),
    (3, 2, None, False), (3, 3, 0, False)])
def test_packed_viterbi_equals_the_padded_one(labels, scale, decimals, bilou):
    """Many messages decoded at once on their token rows (parsing) give the padded decoder's paths."""
    from intently.plugins.linear_chain import TagDecoder, transition_constraints, viterbi

    # scale 30: peaked scores (one predecessor per message left); decimals 0: many ties.
    tags = diet_data.tag_set([[f"U-{chr(97 + i)}" for i in range(labels)]], bilou=True)
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(60, 11, len(tags))) * scale
    transitions = rng.normal(size=(len(tags), len(tags)))
    if decimals is not None:
        scores, transitions = scores.round(decimals), transitions.round(decimals)
    lengths = rng.integers(0, 12, size=60)  # zero: a message without tokens (no rows)
    lengths[:3] = [11, 1, 0]
    pairs, start, end = transition_constraints(tags, bilou=bilou)
    paths, conf = viterbi(scores, transitions + pairs, lengths, start, end)
    decoder = TagDecoder(tags, transitions, bilou=bilou)
    assert (decoder.step is not None) == bilou
    stacked = np.concatenate([scores[b, :n] for b, n in enumerate(lengths)])
    packed_paths, packed_conf = decoder.packed(stacked, lengths)
    assert packed_paths.shape == packed_conf.shape == (lengths.sum(),)
    np.testing.assert_array_equal(packed_paths, np.concatenate(paths))
    np.testing.assert_allclose(packed_conf, np.concatenate(conf), rtol=1e-4, atol=1e-6)
    one_path, one_conf = decoder.packed(scores[0, :11], lengths[:1])  # one message: the one-message path
    np.testing.assert_array_equal(one_path, paths[0])
    np.testing.assert_allclose(one_conf, conf[0], rtol=1e-4, atol=1e-6)


def test_the_per_message_bilou_bound_keeps_only_what_can_win_each_message():
    from intently.plugins.linear_chain import TagDecoder

    tags = diet_data.tag_set([["U-a", "B-b", "L-b", "U-c"]], bilou=True)
    transitions = np.random.default_rng(1).normal(size=(len(tags), len(tags))).astype(np.float32)
    step = TagDecoder(tags, transitions, bilou=True).step
    closed = np.random.default_rng(2).normal(size=(6, len(step.closed))).astype(np.float32)
    closed[0, 1] = closed[1, 3] = 50.0  # one predecessor far ahead in two messages
    closed[2] = 0.0  # every predecessor tied in another
    table = closed[:, None, :] + step.open_transitions[None]
    for rows in (closed, closed[:2]):  # the second: a leader alone in every message
        scores, best = step._open_rows(rows)
        np.testing.assert_array_equal(scores, table[: len(rows)].max(axis=2))
        np.testing.assert_array_equal(best, step.closed[table[: len(rows)].argmax(axis=2)])


def test_the_bilou_step_leaves_out_predecessors_that_cannot_win():
    from intently.plugins.linear_chain import TagDecoder

    tags = diet_data.tag_set([["U-a", "B-b", "L-b", "U-c"]], bilou=True)
    transitions = np.random.default_rng(1).normal(size=(len(tags), len(tags))).astype(np.float32)
    step = TagDecoder(tags, transitions, bilou=True).step
    closed = np.zeros((2, len(step.closed)), dtype=np.float32)
    closed[:, 1] = 50.0  # one predecessor far ahead of the others: the only one scored
    table = closed[:, None, :] + step.open_transitions[None]
    flatnonzero, kept = np.flatnonzero, []

    def spy(array):
        kept.append(flatnonzero(array))
        return kept[-1]

    with mock.patch.object(np, "flatnonzero", spy):
        scores, best = step._open_step(closed)
    assert [columns.tolist() for columns in kept] == [[1]]
    np.testing.assert_array_equal(scores, table.max(axis=2))
    np.testing.assert_array_equal(best, step.closed[table.argmax(axis=2)])


def test_tag_scores_see_the_sentence_unless_turned_off(role_model):
    assert {"tags_context/kernel", "role_tags_context/kernel", "group_tags_context/kernel"} <= set(
        role_model[-1].weights)
    off = pipeline(epochs=1, sentence_to_tags=False)
    train(off, read_yaml_string(role_group_yaml()))
    assert not any("context" in name for name in off[-1].weights)
    parse(off, ["fly from Oslo to Rome"])


def test_sentence_to_tags_must_be_a_boolean():
    from intently.errors import ComponentConfigError

    with pytest.raises(ComponentConfigError, match="sentence_to_tags"):
        DIETClassifier({"sentence_to_tags": "yes"})


def test_parse_batches_hold_at_most_the_row_limit_and_every_message_once():
    from intently.plugins.classifiers.diet.parse_schedule import row_batches

    lengths = np.array([3, 40, 1, 7, 7, 2, 300, 5])
    order = np.argsort(lengths, kind="stable")
    batches = row_batches(order, lengths, 32)
    assert np.array_equal(np.concatenate(batches), order)
    for batch in batches:
        rows = len(batch) * (int(lengths[batch].max()) + 1)
        assert rows <= 32 or len(batch) == 1  # a message too long for the limit goes alone
    assert [len(b) for b in batches] == [4, 2, 1, 1]


def test_decode_groups_keep_the_batches_in_order_and_give_every_thread_work():
    from intently.plugins.classifiers.diet.parse_schedule import decode_groups, row_batches

    lengths = np.random.default_rng(0).integers(1, 30, size=512)
    batches = row_batches(np.argsort(lengths, kind="stable"), lengths, 256)
    for messages, threads, expected in ((256, 2, 2), (64, 2, 8), (100_000, 2, 2), (100_000, 1, 1)):
        groups = decode_groups(batches, lengths, messages, threads)
        assert len(groups) == expected
        assert [index.tolist() for group in groups for index in group] == [index.tolist() for index in batches]
        rows = [sum(len(index) * (int(lengths[index].max()) + 1) for index in group) for group in groups]
        assert max(rows) <= 1.5 * min(rows)  # cut by rows: longer messages come last
    assert decode_groups(batches[:1], lengths, 256, 2) == [batches[:1]]


@pytest.mark.parametrize("constrain", [False, True])
def test_intent_loss_is_the_softmax_loss_plus_the_sigmoid_term_averaged_over_labels(constrain):
    tf_model = pytest.importorskip("intently.plugins.classifiers.diet.tf_model")

    spec = {**TINY_SPEC, "n_labels": 5}
    weights, masks = initial_weights(spec, 0)
    config = {**DIETClassifier.defaults, "constrain_similarities": constrain}
    model = tf_model.DIETModel(spec, weights, masks, config, 0)
    rng = np.random.default_rng(2)
    sims = rng.normal(size=(4, 5)).astype(np.float32) * 3
    labels = np.array([0, 3, 3, -1])  # -1: an example without an intent is left out
    loss, accuracy = model.intent_loss(sims, labels)
    kept, gold = sims[:3].astype(np.float64), labels[:3]
    log_softmax = kept - np.log(np.exp(kept).sum(axis=1, keepdims=True))
    expected = -log_softmax[np.arange(3), gold].mean()
    if constrain:
        positive = np.eye(5)[gold]
        sigmoid_ce = np.logaddexp(0, kept) - positive * kept  # softplus(x) - y x
        expected += sigmoid_ce.mean(axis=1).mean()  # averaged over the labels, as Rasa does
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(accuracy) == pytest.approx(np.mean(kept.argmax(axis=1) == gold))


@pytest.mark.parametrize("constrain", [False, True])
def test_batch_negatives_join_the_softmax_and_the_sigmoid_term_as_in_rasa(constrain):
    """The batch terms of Rasa's DotProductLoss, with fixed draws, against numpy."""
    tf_model = pytest.importorskip("intently.plugins.classifiers.diet.tf_model")
    import tensorflow as tf

    spec = {**TINY_SPEC, "n_labels": 4}
    weights, masks = initial_weights(spec, 0)
    config = {**DIETClassifier.defaults, "constrain_similarities": constrain, "number_of_negative_examples": 3}
    model = tf_model.DIETModel(spec, weights, masks, config, 0)
    rng = np.random.default_rng(5)
    text = rng.normal(size=(5, 3)).astype(np.float32)
    label_embeddings = rng.normal(size=(4, 3)).astype(np.float32)
    sims = text @ label_embeddings.T
    labels = np.array([0, 2, 2, -1, 1])  # the example without an intent is left out before drawing
    # Fixed draws (rows of the 4 labelled examples; the second call draws labels).
    draws = iter([np.array([[1, 2, 3], [0, 1, 3], [2, 0, 0], [1, 1, 2]]),
                  np.array([[0, 1, 3], [2, 2, 0], [1, 3, 3], [1, 0, 2]])])
    model.negative_draws = lambda rows, candidates: tf.constant(next(draws), tf.int32)
    loss, accuracy = model.intent_loss(tf.constant(sims), tf.constant(labels, tf.int64),
                                       (tf.constant(text), tf.constant(label_embeddings)))

    keep = labels >= 0
    t, s, y = text[keep].astype(np.float64), sims[keep].astype(np.float64), labels[keep]
    others = np.array([[1, 2, 3], [0, 1, 3], [2, 0, 0], [1, 1, 2]])
    drawn = np.array([[0, 1, 3], [2, 2, 0], [1, 3, 3], [1, 0, 2]])
    bad_input = y[others] == y[:, None]  # the same intent is not a negative
    bad_label = drawn == y[:, None]
    label_input = np.where(bad_input, -1e9, s[others, y[:, None]])
    label_label = np.where(bad_label, -1e9, np.einsum("nd,nkd->nk", label_embeddings[y], label_embeddings[drawn]))
    input_input = np.where(bad_input, -1e9, np.einsum("nd,nkd->nk", t, t[others]))
    # Rasa: with the sigmoid term only label-input joins the softmax, without it every similarity does.
    logits = np.concatenate([s, label_input] + ([] if constrain else [label_label, input_input]), axis=1)
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    expected = -log_softmax[np.arange(4), y].mean()
    if constrain:
        every = np.concatenate([s, label_input, label_label, input_input], axis=1)
        target = np.zeros_like(every)
        target[np.arange(4), y] = 1
        expected += (np.logaddexp(0, every) - target * every).mean(axis=1).mean()
    assert bad_input.any() and bad_label.any()
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(accuracy) == pytest.approx(np.mean(s.argmax(axis=1) == y))


def test_faster_learning_variables_keep_their_values_and_move_faster():
    """Scaled variables (tag heads, transitions) start at the given weights and move ``scale x`` per Adam step."""
    tf_model = pytest.importorskip("intently.plugins.classifiers.diet.tf_model")
    import tensorflow as tf

    n = len(BILOU_TAGS)
    spec = {**TINY_SPEC, "n_labels": 0, "n_tags": n}
    weights, masks = initial_weights(spec, 0)
    model = tf_model.DIETModel(spec, weights, masks, dict(DIETClassifier.defaults), 0, {"entity": BILOU_TAGS})
    before = model.numpy_weights()
    for name, value in weights.items():
        np.testing.assert_allclose(before[name], value, rtol=1e-6, atol=1e-7)
    sparse = tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (3, 0))
    dense = tf.constant(np.random.default_rng(0).normal(size=(3, 2)), tf.float32)
    model._train_step(sparse, dense, tf.ones((1, 3)), tf.constant([2], tf.int64), tf.constant([-1], tf.int64),
                      tf.constant([[[1], [3], [0]]], tf.int64))
    after = model.numpy_weights()
    lr = DIETClassifier.defaults["learning_rate"]
    # Adam's first step moves every element with a gradient by about the learning rate.
    moved = {name: np.abs(after[name] - before[name]).max() for name in ("tags/kernel", "crf/transitions")}
    assert moved["tags/kernel"] == pytest.approx(tf_model.TAG_HEAD_SCALE * lr, rel=0.05)
    assert moved["crf/transitions"] == pytest.approx(tf_model.LINEAR_SCALE * lr, rel=0.05)
