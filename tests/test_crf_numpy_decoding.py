"""CRFEntityExtractor's own CRF format: numpy decoding equal to crfsuite's, safe loading, old archives.

crfsuite trains; its model file is read by a pure-Python reader and the CRF is
stored as JSON + .npz and decoded in numpy. These tests check that the tags
equal crfsuite's and the confidences equal them to 1e-9, that a damaged or
hostile model file (new format, and crfsuite files of older archives) ends
in a clean IntentlyError or a correct parse (in a subprocess, so a crash or
hang fails the test), and that parsing never imports pycrfsuite.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from component_helpers import CONFIG
from intently.archive import create_archive
from intently.errors import ComponentError
from intently.features import attach_features
from intently.message import Message
from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor
from intently.plugins.extractors.crf_model import LinearChainCRF
from intently.plugins.extractors.crfsuite_reader import CrfsuiteFormatError, read_crfsuite_model
from intently.plugins.extractors.crfsuite_reference import crfsuite_tag, recording_crfsuite_models
from intently.plugins.linear_chain import marginals_packed
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from test_crf_entity_extractor import annotated, restaurant_data, travel_data

CITIES_ZH = ["北京", "上海", "广州", "深圳", "杭州", "成都", "西安"]
DATES_ZH = ["明天", "后天", "今天", "周末"]


def chinese_data():
    lines = []
    for i, city in enumerate(CITIES_ZH):
        date = DATES_ZH[i % len(DATES_ZH)]
        other = CITIES_ZH[(i + 2) % len(CITIES_ZH)]
        lines += [
            f"我想去[{city}](city)",
            f"帮我订[{date}](date)去[{city}](city)的机票",
            f"[{city}](city)天气怎么样",
            f"[{date}](date)[{other}](city)会下雨吗",
            f"查一下[{city}](city)的酒店",
            "你好",
        ]
    return annotated(lines)


def _tokenizer(language: str):
    if language == "zh":
        from intently.plugins.tokenizers.jieba_tokenizer import JiebaTokenizer

        return JiebaTokenizer()
    return WhitespaceTokenizer()


def _attach_random_dense(messages, seed=0, columns=3):
    """Real-valued dense token features (some zeros), as a dense featurizer would attach."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(sum(len(m.tokens) for m in messages), columns))
    rows[rng.random(rows.shape) < 0.2] = 0.0
    offsets = np.cumsum([0] + [len(m.tokens) for m in messages])
    attach_features(messages, "1_DenseFeaturizer", "sequence", rows, offsets)


DENSE_WINDOW = [["low", "title", "text_dense_features"], ["low", "bias", "suffix3", "text_dense_features"], ["low"]]

CASES = {
    "roles-groups-bilou": (travel_data, "en", {}, False),
    "roles-groups-plain": (travel_data, "en", {"BILOU_flag": False}, False),
    "chinese-jieba-dense-bilou": (chinese_data, "zh", {"features": DENSE_WINDOW}, True),
    "chinese-jieba-plain": (chinese_data, "zh", {"BILOU_flag": False}, False),
}
HELD_OUT = {
    "en": ["fly from Vienna to Oslo", "a small pizza and a large salad", "Tokyo", "nothing here at all",
           " ".join(["to Rome from Paris"] * 15)],
    "zh": ["我想去拉萨", "帮我订明天去北京的机票", "重庆天气怎么样", "北京", "你好你好" * 10],
}


def _trained_with_models(case):
    make_data, language, config, dense = CASES[case]
    data = make_data()
    tokenizer = _tokenizer(language)
    tokenizer.train(data, CONFIG)
    if dense:
        _attach_random_dense(data.training_examples)
    with recording_crfsuite_models() as recorded:
        extractor = CRFEntityExtractor(config)
        extractor.train(data, CONFIG)
    messages = [Message(text=m.text) for m in data.training_examples]
    messages += [Message(text=text) for text in HELD_OUT[language]]
    tokenizer.process(messages)
    if dense:
        _attach_random_dense(messages, seed=1)
    return extractor, [model for owner, model in recorded if owner is extractor], messages


@pytest.mark.parametrize("case", sorted(CASES))
def test_numpy_decoding_equals_crfsuite(case):
    extractor, models, messages = _trained_with_models(case)
    assert len(models) == len(extractor.taggers) and len(extractor.taggers) in (1, 3)
    dense = extractor._dense_rows(messages)
    if CASES[case][3]:
        assert all(rows is not None for rows in dense)
    sequences = [extractor.sequence_features(m.tokens, rows) for m, rows in zip(messages, dense)]
    entity_tags = None
    for (name, crf), model in zip(extractor.taggers.items(), models):
        inputs = sequences if name == "entity" else [
            extractor._with_entity_tags(s, t) for s, t in zip(sequences, entity_tags)
        ]
        ours = crf.tag(inputs, bilou_flag=extractor.bilou_flag)
        reference = crfsuite_tag(model, inputs, bilou_flag=extractor.bilou_flag)
        assert [tags for tags, _ in ours] == [tags for tags, _ in reference]
        for (_, confidences), (_, expected) in zip(ours, reference):
            np.testing.assert_allclose(confidences, expected, rtol=1e-9, atol=1e-12)
        # One message at a time gives the same as the batch.
        for sequence, (tags, confidences) in zip(inputs[-5:], ours[-5:]):
            ((one_tags, one_confidences),) = crf.tag([sequence], bilou_flag=extractor.bilou_flag)
            assert one_tags == tags
            np.testing.assert_allclose(one_confidences, confidences, rtol=1e-12, atol=1e-15)
        if name == "entity":
            entity_tags = [tags for tags, _ in reference]
    # The parse path (process, in chunks) gives the entities of the per-message path.
    batch = [Message(text=m.text, tokens=m.tokens, features=m.features) for m in messages]
    extractor.process(batch)
    assert [m.entities for m in batch] == [extractor.extract(m, rows) for m, rows in zip(messages, dense)]


def test_reader_gives_crfsuite_labels_attributes_and_weights():
    import pycrfsuite

    extractor, models, _ = _trained_with_models("roles-groups-bilou")
    for model in models:
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(model)
        info = tagger.info()
        read = read_crfsuite_model(model)
        assert list(read.labels) == list(tagger.labels())
        assert set(read.attributes) == set(info.attributes)
        crf = LinearChainCRF.from_crfsuite(read)
        for (attribute, label), weight in info.state_features.items():  # the dump rounds to 6 decimals
            a = crf.attributes.index(attribute)
            row = slice(crf.indptr[a], crf.indptr[a + 1])
            (position,) = np.flatnonzero(crf.columns[row] == crf.labels.index(label))
            assert crf.weights[row][position] == pytest.approx(weight, abs=1e-6)
        assert len(crf.weights) == len(info.state_features)
        for (source, target), weight in info.transitions.items():
            assert crf.transitions[crf.labels.index(source), crf.labels.index(target)] == pytest.approx(weight, abs=1e-6)


def test_reader_refuses_what_is_not_a_whole_model():
    _, models, _ = _trained_with_models("roles-groups-plain")
    model = models[0]
    for bad in (b"", b"lCRF", model[:48], model[: len(model) // 2], b"xCRF" + model[4:], model + b"\0"):
        with pytest.raises(CrfsuiteFormatError):
            read_crfsuite_model(bad)


def test_marginals_equal_brute_force_enumeration():
    rng = np.random.default_rng(1)
    n_tags, lengths = 3, np.array([3, 1, 0, 4, 2])
    scores = rng.normal(size=(int(lengths.sum()), n_tags)) * 3
    transitions = rng.normal(size=(n_tags, n_tags)) * 2
    marginals = marginals_packed(scores, lengths, transitions)
    start = 0
    for n in lengths.tolist():
        rows = scores[start : start + n]
        expected = np.zeros((n, n_tags))
        for path in itertools.product(range(n_tags), repeat=n):
            weight = np.exp(sum(rows[t, y] for t, y in enumerate(path))
                            + sum(transitions[a, b] for a, b in itertools.pairwise(path)))
            expected[np.arange(n), list(path)] += weight
        if n:
            np.testing.assert_allclose(marginals[start : start + n], expected / expected[0].sum(), rtol=1e-12)
        start += n
    # Large scores do not overflow; absurd ones (exp underflows, as in crfsuite) give no NaN either.
    large = marginals_packed(scores * 30, lengths, transitions * 30)
    assert np.allclose(large.sum(axis=1), 1.0)
    absurd = marginals_packed(scores * 1e3, lengths, transitions * 1e3)
    assert np.all(np.isfinite(absurd)) and absurd.min() >= 0.0 and absurd.max() <= 1.0 + 1e-12


# --- archives: new format, old format, damaged files ---------------------------------------------------

PIPELINE = {"language": "en", "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "CRFEntityExtractor"}]}
TEXTS = ["fly from Vienna to Oslo", "a small pizza and a large salad", "book a table for two tonight in Berlin"]
COMPONENT = "1_CRFEntityExtractor"


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """A trained archive (format 2), the same model as a format-1 archive, and their unpacked folders."""
    import intently

    root = tmp_path_factory.mktemp("crf-archives")
    with recording_crfsuite_models() as recorded:
        archive = intently.train(PIPELINE, travel_data(), output=root, fixed_model_name="new")
    new_dir = root / "new"
    with tarfile.open(archive) as tar:
        tar.extractall(new_dir, filter="data")
    old_dir = root / "old"
    shutil.copytree(new_dir, old_dir)
    metadata = json.loads((old_dir / "metadata.json").read_text())
    entry = metadata["components"][1]
    folder = old_dir / entry["folder"]
    for path in folder.iterdir():
        path.unlink()
    (extractor, _), *_ = recorded
    taggers = []
    for (_, model), (name, crf) in zip(recorded, extractor.taggers.items()):
        file = f"{COMPONENT}.{name}.crfsuite"
        (folder / file).write_bytes(model)
        taggers.append({"name": name, "file": file, "labels": list(crf.labels)})
    entry["files"] = [t["file"] for t in taggers]
    entry["meta"] = {"format": 1, "trained": True, "taggers": taggers, "comma_entities": []}
    (old_dir / "metadata.json").write_text(json.dumps(metadata))
    old_archive = create_archive(old_dir, root / "old.tar.gz")
    return {"new": (archive, new_dir), "old": (old_archive, old_dir), "root": root}


def _parsed(archive):
    import intently

    interpreter = intently.load_model(archive)
    return [interpreter.parse(text) for text in TEXTS]


def test_old_crfsuite_archives_are_converted_on_load(archives):
    new = _parsed(archives["new"][0])
    assert any(result["entities"] for result in new)
    assert _parsed(archives["old"][0]) == new


def test_load_reports_an_old_archive_with_a_damaged_crfsuite_file(archives, tmp_path):
    _, old_dir = archives["old"]
    folder = tmp_path / "old"
    shutil.copytree(old_dir, folder)
    path = folder / COMPONENT / f"{COMPONENT}.entity.crfsuite"
    path.write_bytes(path.read_bytes()[:-100])
    import intently

    with pytest.raises(ComponentError, match=f"{COMPONENT}: cannot read its model files"):
        intently.load_model(create_archive(folder, tmp_path / "damaged.tar.gz"))


def _npz_bytes(arrays, compressed=False):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _npy_member(header_shape, dtype, data: bytes) -> bytes:
    """An .npy file whose header claims ``header_shape`` but holds ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                   "shape": header_shape})
    return buffer.getvalue() + data


def _mutations(new_dir: Path, old_dir: Path):
    """(name, format folder, file, function of the file's bytes) for every damaged model."""
    npz_name, json_name = f"{COMPONENT}.crf.npz", f"{COMPONENT}.crf.json"
    npz, state = (new_dir / COMPONENT / npz_name).read_bytes(), json.loads((new_dir / COMPONENT / json_name).read_text())
    with np.load(io.BytesIO(npz), allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    n_labels = len(state["taggers"][0]["labels"])
    rng = np.random.default_rng(20)

    def flips(data: bytes, count: int) -> bytes:
        data = bytearray(data)
        for position in rng.integers(0, len(data), size=count):
            data[position] ^= int(rng.integers(1, 256))
        return bytes(data)

    def with_arrays(**changes):
        changed = {**arrays, **changes}
        return _npz_bytes({k: v for k, v in changed.items() if v is not None})

    def with_state(change):
        changed = copy.deepcopy(state)
        change(changed)
        return json.dumps(changed).encode()

    cases = []
    for i in range(30):
        cases.append((f"npz-flip-{i}", "new", npz_name, flips(npz, 1 + i % 4)))
    for i in range(20):
        cases.append((f"json-flip-{i}", "new", json_name, flips(json.dumps(state).encode(), 1 + i % 3)))
    for cut in (0, 10, 100, len(npz) // 2, len(npz) - 1):
        cases.append((f"npz-truncated-{cut}", "new", npz_name, npz[:cut]))
    raw_state = json.dumps(state).encode()
    for cut in (0, 1, len(raw_state) // 2, len(raw_state) - 1):
        cases.append((f"json-truncated-{cut}", "new", json_name, raw_state[:cut]))
    columns, weights = arrays["entity.columns"].copy(), arrays["entity.weights"].copy()
    out_of_range, negative = columns.copy(), columns.copy()
    out_of_range[0], negative[-1] = n_labels + 5, -1
    nan_weights, inf_transitions = weights.copy(), arrays["entity.transitions"].copy()
    nan_weights[3], inf_transitions[0, 1] = np.nan, np.inf
    indptr = arrays["entity.indptr"].copy()
    decreasing, wrong_end = indptr.copy(), indptr.copy()
    decreasing[1], wrong_end[-1] = indptr[2] + 1, indptr[-1] - 1
    cases += [
        ("label-index-out-of-range", "new", npz_name, with_arrays(**{"entity.columns": out_of_range})),
        ("label-index-negative", "new", npz_name, with_arrays(**{"entity.columns": negative})),
        ("nan-weight", "new", npz_name, with_arrays(**{"entity.weights": nan_weights})),
        ("inf-transition", "new", npz_name, with_arrays(**{"entity.transitions": inf_transitions})),
        ("float32-weights", "new", npz_name, with_arrays(**{"entity.weights": weights.astype(np.float32)})),
        ("int64-columns", "new", npz_name, with_arrays(**{"entity.columns": columns.astype(np.int64)})),
        ("transitions-wrong-shape", "new", npz_name, with_arrays(**{"entity.transitions": inf_transitions[1:]})),
        ("indptr-decreasing", "new", npz_name, with_arrays(**{"entity.indptr": decreasing})),
        ("indptr-wrong-end", "new", npz_name, with_arrays(**{"entity.indptr": wrong_end})),
        ("object-dtype", "new", npz_name, _npz_bytes({**arrays, "entity.weights": np.array([{"a": 1}] * len(weights),
                                                                                             dtype=object)})),
        ("missing-array", "new", npz_name, with_arrays(**{"role.weights": None})),
        ("extra-array", "new", npz_name, with_arrays(extra=np.zeros(3))),
        ("compressed", "new", npz_name, _npz_bytes(arrays, compressed=True)),
        ("not-a-zip", "new", npz_name, b"PK\x03\x04" + b"\xff" * 200),
        ("labels-shortened", "new", json_name, with_state(lambda s: s["taggers"][0]["labels"].pop())),
        ("attribute-twice", "new", json_name,
         with_state(lambda s: s["taggers"][0]["attributes"].__setitem__(1, s["taggers"][0]["attributes"][0]))),
        ("label-not-a-string", "new", json_name, with_state(lambda s: s["taggers"][0]["labels"].__setitem__(0, 5))),
        ("count-negative", "new", json_name, with_state(lambda s: s["taggers"][0].__setitem__("features", -1))),
        ("count-huge", "new", json_name, with_state(lambda s: s["taggers"][0].__setitem__("features", 10**12))),
        ("count-not-a-number", "new", json_name, with_state(lambda s: s["taggers"][0].__setitem__("features", "7"))),
        ("taggers-not-a-list", "new", json_name, with_state(lambda s: s.__setitem__("taggers", {"entity": 1}))),
        ("tagger-twice", "new", json_name, with_state(lambda s: s["taggers"].append(s["taggers"][0]))),
        ("unknown-tagger", "new", json_name, with_state(lambda s: s["taggers"][1].__setitem__("name", "evil"))),
        ("newer-format", "new", json_name, with_state(lambda s: s.__setitem__("format", 99))),
        ("deep-json", "new", json_name, b"[" * 200_000 + b"]" * 200_000),
        ("json-not-utf8", "new", json_name, b"\xff\xfe{}"),
    ]
    # An .npy header claiming a huge array over a few bytes of data.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, value in arrays.items():
            member = _npy_member((10**12,), "<f8", b"\0" * 64) if key == "entity.weights" else _npz_member(value)
            archive.writestr(f"{key}.npy", member)
    cases.append(("huge-header", "new", npz_name, buffer.getvalue()))
    old_entity = (old_dir / COMPONENT / f"{COMPONENT}.entity.crfsuite").read_bytes()
    old_name = f"{COMPONENT}.entity.crfsuite"
    for i in range(30):
        cases.append((f"crfsuite-flip-{i}", "old", old_name, flips(old_entity, 1 + i % 6)))
    for cut in (0, 47, 48, 3000, len(old_entity) - 1):
        cases.append((f"crfsuite-truncated-{cut}", "old", old_name, old_entity[:cut]))
    return cases


def _npz_member(value) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


#: Loads and parses each damaged archive; prints one outcome per case, then whether pycrfsuite was imported.
CHILD = r"""
import json, sys, traceback
import intently
from intently.errors import IntentlyError
texts = json.loads(sys.argv[2])
outcomes = {}
for name, path in json.loads(open(sys.argv[1]).read()):
    try:
        interpreter = intently.load_model(path)
        for text in texts:
            result = interpreter.parse(text)
            for entity in result["entities"]:
                assert 0 <= entity["start"] < entity["end"] <= len(text), entity
                assert 0.0 <= entity["confidence_entity"] <= 1.0, entity
        outcomes[name] = "parsed"
    except IntentlyError as error:
        outcomes[name] = "error " + str(error).splitlines()[0][:300]
    except BaseException:
        outcomes[name] = "UNHANDLED " + traceback.format_exc()
print(json.dumps({"outcomes": outcomes, "pycrfsuite": "pycrfsuite" in sys.modules}))
"""

#: Cases that must be refused (the others may also parse, e.g. a flipped byte in an attribute name;
#: "compressed" holds the right arrays, deflated, which the shared .npz reader accepts).
MUST_FAIL = ("npz-truncated", "json-truncated", "label-index", "nan-weight", "inf-transition", "float32", "int64",
             "wrong-shape", "indptr", "object-dtype", "missing-array", "extra-array", "not-a-zip",
             "labels-shortened", "attribute-twice", "label-not", "count-", "taggers-not", "tagger-twice",
             "unknown-tagger", "newer-format", "deep-json", "json-not-utf8", "huge-header", "crfsuite-truncated",
             )


def test_damaged_model_files_end_in_a_clean_error_or_a_correct_parse(archives):
    root = archives["root"]
    folders = {"new": archives["new"][1], "old": archives["old"][1]}
    listing = []
    for index, (name, kind, file, data) in enumerate(_mutations(folders["new"], folders["old"])):
        folder = root / f"case-{index}"
        if not folder.exists():
            shutil.copytree(folders[kind], folder)
        (folder / COMPONENT / file).write_bytes(data)
        listing.append((name, str(create_archive(folder, root / f"case-{index}.tar.gz"))))
        shutil.rmtree(folder)
    listing.append(("new-format-intact", str(archives["new"][0])))
    listing.append(("old-format-intact", str(archives["old"][0])))
    (root / "cases.json").write_text(json.dumps(listing))
    done = subprocess.run([sys.executable, "-c", CHILD, str(root / "cases.json"), json.dumps(TEXTS)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the loading process died ({done.returncode}): {done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes = report["outcomes"]
    assert len(outcomes) == len(listing)
    unhandled = {name: outcome for name, outcome in outcomes.items() if not outcome.startswith(("parsed", "error"))}
    assert not unhandled
    for name, outcome in outcomes.items():
        if name.startswith(MUST_FAIL):
            # E405: an archive limit (JSON depth, array size) refused it before the component read it.
            assert outcome.startswith(
                ("error [E302] 1_CRFEntityExtractor: cannot read", "error [E405] 1_CRFEntityExtractor")
            ), (name, outcome)
    assert outcomes["new-format-intact"] == outcomes["old-format-intact"] == "parsed"
    assert report["pycrfsuite"] is False  # parsing (new and converted old models) never imports it
    print("\n".join(f"{name}: {outcome}" for name, outcome in outcomes.items()))


def test_finetuning_a_loaded_model_trains_again(archives, tmp_path):
    import intently

    interpreter = intently.load_model(archives["new"][0])
    extractor = interpreter.pipeline[1]
    assert isinstance(extractor, CRFEntityExtractor)
    loaded = CRFEntityExtractor.load(
        {"name": "CRFEntityExtractor", "unique_name": COMPONENT, "config": extractor.config,
         "meta": extractor.persist(COMPONENT, tmp_path)},
        tmp_path,
        finetune=True,
    )
    data = travel_data().merge(restaurant_data())
    WhitespaceTokenizer().train(data, CONFIG)
    loaded.train(data, CONFIG)
    assert "cuisine" in loaded.labels["entity"] and "role" in loaded.taggers


def test_a_model_without_entities_needs_no_files(tmp_path):
    data = annotated(["hello there", "bye"])
    WhitespaceTokenizer().train(data, CONFIG)
    extractor = CRFEntityExtractor()
    extractor.train(data, CONFIG)
    meta = extractor.persist("crf", tmp_path)
    assert not list(tmp_path.iterdir())
    loaded = CRFEntityExtractor.load({"name": "CRFEntityExtractor", "unique_name": "crf", "config": {}, "meta": meta},
                                     tmp_path)
    assert loaded.taggers == {}
