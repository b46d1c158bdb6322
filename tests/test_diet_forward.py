"""DIET's transformer over explicit weights (no model object), its kernels, and the parse schedule."""

from __future__ import annotations

import math
import threading
from unittest import mock

import numpy as np
import pytest
from intently.plugins.classifiers.diet import parse_schedule
from intently.plugins.classifiers.diet.kernels import GROUPED_ROWS_LIMIT, GroupedKernel, Kernel
from intently.plugins.classifiers.diet.numpy_transformer import TransformerWeights, positional_encoding, transformer
from intently.plugins.classifiers.diet.weights import connection_groups, initial_weights

SPEC = {"sparse_dim": 0, "dense_dim": 6, "dense_dimension": 6, "hidden": [], "units": 8, "layers": 2, "heads": 2,
        "embedding": 4, "label_dimension": 4, "density": 0.5, "n_labels": 2, "n_tags": 0,
        "connections": "grouped", "connection_seed": 3}


def encoder_arrays() -> dict[str, np.ndarray]:
    weights, _ = initial_weights(SPEC, 0)
    rng = np.random.default_rng(1)
    return {name: (value + (value != 0) * rng.normal(scale=0.2, size=value.shape)
                   + (value == 0) * (name.endswith(("bias", "beta")) * rng.normal(scale=0.2, size=value.shape))
                   ).astype(np.float32)
            for name, value in weights.items()}


def kernels_of(arrays: dict[str, np.ndarray], *, grouped: bool) -> dict[str, Kernel]:
    def kernel(name: str) -> Kernel:
        groups = connection_groups(name, arrays[name].shape, SPEC["density"], SPEC["connection_seed"])
        return Kernel(arrays[name], GroupedKernel.of(arrays[name], groups) if grouped else None)

    kernels = {"encoder/kernel": kernel("encoder/kernel")}
    for layer in range(SPEC["layers"]):
        p = f"layer_{layer}/"
        for name in ("output", "ffn1", "ffn2"):
            kernels[f"{p}{name}/kernel"] = kernel(f"{p}{name}/kernel")
        parts = [kernel(f"{p}{name}/kernel") for name in ("query", "key", "value")]
        kernels[p + "attention_inputs"] = Kernel(
            np.concatenate([part.array for part in parts], axis=1),
            GroupedKernel.side_by_side([part.grouped for part in parts]) if grouped else None)
    return kernels


def reference(arrays: dict[str, np.ndarray], x: np.ndarray, length: int) -> np.ndarray:
    """The encoder on one message's ``length`` real positions, written plainly in float64."""
    w = {name: value.astype(np.float64) for name, value in arrays.items()}
    units, heads = SPEC["units"], SPEC["heads"]
    depth = units // heads

    def norm(h: np.ndarray, name: str) -> np.ndarray:
        centered = h - h.mean(axis=-1, keepdims=True)
        return centered / np.sqrt((centered**2).mean(axis=-1, keepdims=True) + 1e-6) * w[name + "/gamma"] + w[
            name + "/beta"]

    def gelu(h: np.ndarray) -> np.ndarray:
        return 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))

    h = (x[:length] @ w["encoder/kernel"] + w["encoder/bias"]) * math.sqrt(units) + positional_encoding(length, units)
    for layer in range(SPEC["layers"]):
        p = f"layer_{layer}/"
        n = norm(h, p + "ln1")
        q, k, v = (n @ w[f"{p}{name}/kernel"] for name in ("query", "key", "value"))
        out = []
        for head in range(heads):
            columns = slice(head * depth, (head + 1) * depth)
            logits = q[:, columns] @ k[:, columns].T / math.sqrt(depth)
            attention = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append(attention / attention.sum(axis=1, keepdims=True) @ v[:, columns])
        h = h + np.concatenate(out, axis=1) @ w[p + "output/kernel"]
        n = norm(h, p + "ln2")
        h = h + gelu(n @ w[p + "ffn1/kernel"] + w[p + "ffn1/bias"]) @ w[p + "ffn2/kernel"] + w[p + "ffn2/bias"]
    return gelu(norm(h, "final_ln"))


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("lengths", [[5], [3, 7, 1], [40] * 3])
def test_the_transformer_computes_the_encoder_from_the_weights_it_is_given(grouped, lengths):
    arrays = encoder_arrays()
    weights = TransformerWeights.of(arrays, kernels_of(arrays, grouped=grouped), units=SPEC["units"],
                                    heads=SPEC["heads"], layers=SPEC["layers"])
    lengths = np.array(lengths)
    length = int(lengths.max())
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.float32)
    x = (np.random.default_rng(2).normal(size=(len(lengths), length, 6)) * mask[:, :, None]).astype(np.float32)
    for feature_major in (False, True, None):
        out = transformer(weights, x, mask, feature_major=feature_major)
        assert out.shape == (len(lengths), length, SPEC["units"]) and out.dtype == np.float32
        assert not out[mask == 0].any()
        for b, n in enumerate(lengths):
            np.testing.assert_allclose(out[b, :n], reference(arrays, x[b], int(n)), rtol=1e-4, atol=1e-4)


def test_a_kernel_multiplies_block_by_block_only_for_few_rows():
    rng = np.random.default_rng(0)
    groups = connection_groups("k", (16, 24), 0.25, seed=1)
    array = (rng.normal(size=(16, 24)) * (groups[0][:, None] == groups[1][None, :])).astype(np.float32)
    kernel = Kernel(array, GroupedKernel.of(array, groups))
    assert kernel.grouped is not None
    for rows in (3, GROUPED_ROWS_LIMIT, GROUPED_ROWS_LIMIT + 1):
        x = rng.normal(size=(rows, 16)).astype(np.float32)
        with mock.patch.object(GroupedKernel, "__call__", wraps=kernel.grouped.__call__, autospec=False) as blocks:
            np.testing.assert_allclose(kernel.rows(x), x @ array, rtol=1e-5, atol=1e-5)
        assert blocks.called == (rows <= GROUPED_ROWS_LIMIT)
        np.testing.assert_allclose(kernel.feature_major(np.ascontiguousarray(x.T)), (x @ array).T,
                                   rtol=1e-5, atol=1e-5)
    plain = Kernel(array)
    x = rng.normal(size=(3, 16)).astype(np.float32)
    np.testing.assert_array_equal(plain.rows(x), x @ array)


def test_the_plan_puts_every_message_once_in_batches_of_the_row_limit():
    lengths = np.random.default_rng(0).integers(1, 40, size=700)
    groups = parse_schedule.plan(lengths)
    batches = [index for group in groups for index in group]
    assert sorted(np.concatenate(batches).tolist()) == list(range(700))
    assert np.all(np.diff(lengths[np.concatenate(batches)]) >= 0)  # by length: little padding
    for index in batches:
        assert len(index) * (int(lengths[index].max()) + 1) <= parse_schedule.PARSE_ROWS or len(index) == 1
    assert len(groups) >= min(parse_schedule.PARSE_THREADS, len(batches))
    assert parse_schedule.plan(np.array([7])) == [[np.array([0])]]


def test_run_parses_each_group_once_on_the_parse_threads_and_raises_their_errors():
    groups = [[np.array([i])] for i in range(5)]
    seen: list[tuple[int, str]] = []

    def parse(group: list[np.ndarray]) -> None:
        seen.append((int(group[0][0]), threading.current_thread().name))

    with mock.patch.object(parse_schedule, "PARSE_THREADS", 2):
        parse_schedule.run(parse, groups)
    assert sorted(i for i, _ in seen) == list(range(5))
    assert all(name.startswith("intently-diet") for _, name in seen)
    seen.clear()
    with mock.patch.object(parse_schedule, "PARSE_THREADS", 1):
        parse_schedule.run(parse, groups)
    assert [i for i, _ in seen] == list(range(5)) and {name for _, name in seen} == {threading.current_thread().name}

    def fail(group: list[np.ndarray]) -> None:
        if int(group[0][0]) == 3:
            raise ValueError("group 3")

    with mock.patch.object(parse_schedule, "PARSE_THREADS", 2), pytest.raises(ValueError, match="group 3"):
        parse_schedule.run(fail, groups)
