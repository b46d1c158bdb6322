"""DIET's weights (initialisation, random connection masks) and its forward pass in numpy.

Parsing uses only this module: no TensorFlow. The TensorFlow model
(:mod:`.tf_model`) computes exactly the same function (checked by a test to
1e-4), so a model trained there is parsed here from its ``.npz`` weights.

Architecture (Rasa's DIET, see the package docstring for the differences):
sparse rows -> randomly connected dense layer; concatenated with the dense
rows -> optional feed-forward layers (gelu) -> a pre-layer-norm transformer
encoder (input projection scaled by sqrt(units), sinusoidal positions,
multi-head self-attention with a padding mask, gelu feed-forward, final layer
norm, gelu) -> the sentence position embedded for intents (dot product with
the label embeddings), the token positions projected to CRF tag scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import scipy.special

#: Names of the weight matrices that are masked by ``connection_density``.
MASKED_SUFFIX = "/kernel"
LN_EPSILON = 1e-6


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU."""
    return 0.5 * x * (1.0 + scipy.special.erf(x / np.sqrt(2.0)))


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPSILON) * gamma + beta


def positional_encoding(length: int, units: int) -> np.ndarray:
    """Sinusoidal position signal (length x units), sin on even, cos on odd columns."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rates = 1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units)
    angles = position * rates[None, :]
    out = np.empty((length, units))
    out[:, 0::2] = np.sin(angles[:, 0::2])
    out[:, 1::2] = np.cos(angles[:, 1::2])
    return out


def connection_mask(shape: tuple[int, int], density: float, rng: np.random.Generator) -> np.ndarray:
    """A fixed random binary mask keeping about ``density`` of the connections.

    As in Rasa's ``RandomlyConnectedDense``, every input and every output keeps
    at least one connection (a diagonal-like set of connections is always on).
    """
    rows, cols = shape
    mask = rng.random(shape) < density
    if density < 1.0:
        mask[np.arange(rows), np.arange(rows) % cols] = True
        mask[np.arange(cols) % rows, np.arange(cols)] = True
    else:
        mask[:] = True
    return mask.astype(np.float32)


def architecture(spec: dict[str, Any]) -> list[tuple[str, tuple[int, ...], bool]]:
    """``(name, shape, masked)`` of every weight for a model ``spec``.

    ``spec``: sparse_dim, dense_dim, dense_dimension, hidden (list), units,
    layers, heads, embedding, label_dimension, n_labels, n_tags.
    """
    weights: list[tuple[str, tuple[int, ...], bool]] = []
    width = 0
    if spec["sparse_dim"]:
        weights += [("input/kernel", (spec["sparse_dim"], spec["dense_dimension"]), True),
                    ("input/bias", (spec["dense_dimension"],), False)]
        width += spec["dense_dimension"]
    width += spec["dense_dim"]
    for i, size in enumerate(spec["hidden"]):
        weights += [(f"hidden_{i}/kernel", (width, size), True), (f"hidden_{i}/bias", (size,), False)]
        width = size
    if spec["layers"] > 0:
        units = spec["units"]
        weights += [("encoder/kernel", (width, units), True), ("encoder/bias", (units,), False)]
        for layer in range(spec["layers"]):
            p = f"layer_{layer}/"
            weights += [(p + "ln1/gamma", (units,), False), (p + "ln1/beta", (units,), False)]
            weights += [(p + f"{n}/kernel", (units, units), True) for n in ("query", "key", "value", "output")]
            weights += [(p + "ln2/gamma", (units,), False), (p + "ln2/beta", (units,), False)]
            weights += [(p + "ffn1/kernel", (units, 4 * units), True), (p + "ffn1/bias", (4 * units,), False)]
            weights += [(p + "ffn2/kernel", (4 * units, units), True), (p + "ffn2/bias", (units,), False)]
        weights += [("final_ln/gamma", (units,), False), ("final_ln/beta", (units,), False)]
        width = units
    if spec["n_labels"]:
        weights += [("text_embed/kernel", (width, spec["embedding"]), False),
                    ("text_embed/bias", (spec["embedding"],), False),
                    ("label_table", (spec["n_labels"], spec["label_dimension"]), False),
                    ("label_embed/kernel", (spec["label_dimension"], spec["embedding"]), False),
                    ("label_embed/bias", (spec["embedding"],), False)]
    if spec["n_tags"]:
        weights += [("tags/kernel", (width, spec["n_tags"]), False), ("tags/bias", (spec["n_tags"],), False),
                    ("crf/transitions", (spec["n_tags"], spec["n_tags"]), False)]
    return weights


def initial_weights(spec: dict[str, Any], seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Glorot-uniform kernels, zero biases, unit layer-norm gains; and the connection masks."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for name, shape, masked in architecture(spec):
        if name.endswith("/gamma"):
            value = np.ones(shape)
        elif name.endswith(("/bias", "/beta")) or name == "crf/transitions":
            value = np.zeros(shape)
        else:
            limit = np.sqrt(6.0 / (shape[0] + shape[-1]))
            value = rng.uniform(-limit, limit, shape)
        weights[name] = value.astype(np.float32)
        if masked:
            masks[name] = connection_mask(shape, spec["density"], rng)
            weights[name] *= masks[name]
    return weights, masks


class NumpyDIET:
    """The forward pass of a trained DIET model over padded batches.

    It computes in float32 by default, as TensorFlow trains: half the memory
    traffic of float64 and the same results to about 1e-5.
    """

    def __init__(self, spec: dict[str, Any], weights: dict[str, np.ndarray], dtype: type = np.float32) -> None:
        self.spec = spec
        self.dtype = dtype
        self.w = {name: np.asarray(value, dtype=dtype) for name, value in weights.items()}
        missing = [name for name, _, _ in architecture(spec) if name not in self.w]
        if missing:
            raise ValueError(f"weights missing: {', '.join(missing[:5])}")
        self.label_embeddings: np.ndarray | None = None
        if spec["n_labels"]:
            table = self.w["label_table"]
            self.label_embeddings = table @ self.w["label_embed/kernel"] + self.w["label_embed/bias"]

    def encode(self, sparse: scipy.sparse.csr_matrix | None, dense: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
        """Token/sentence outputs (B x L x H) of a padded batch."""
        batch, length = mask.shape
        parts = []
        if self.spec["sparse_dim"]:
            parts.append(np.asarray(sparse.astype(self.dtype) @ self.w["input/kernel"]) + self.w["input/bias"])
        if self.spec["dense_dim"]:
            parts.append(np.asarray(dense, dtype=self.dtype))
        x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        for i in range(len(self.spec["hidden"])):
            x = gelu(x @ self.w[f"hidden_{i}/kernel"] + self.w[f"hidden_{i}/bias"])
        x = x.reshape(batch, length, -1)
        if self.spec["layers"] > 0:
            x = self._transformer(x, mask)
        return x

    def _transformer(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, units, heads = self.w, self.spec["units"], self.spec["heads"]
        batch, length, _ = x.shape
        x = (x @ w["encoder/kernel"] + w["encoder/bias"]) * np.sqrt(units)
        x = x + positional_encoding(length, units).astype(x.dtype)[None]
        depth = units // heads
        bias = ((1.0 - mask)[:, None, None, :] * -1e9).astype(x.dtype)
        for layer in range(self.spec["layers"]):
            p = f"layer_{layer}/"
            h = layer_norm(x, w[p + "ln1/gamma"], w[p + "ln1/beta"])

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, heads, depth).transpose(0, 2, 1, 3)

            q, k, v = (split(h @ w[p + f"{n}/kernel"]) for n in ("query", "key", "value"))
            logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(depth) + bias
            logits -= logits.max(axis=-1, keepdims=True)
            att = np.exp(logits)
            att /= att.sum(axis=-1, keepdims=True)
            out = (att @ v).transpose(0, 2, 1, 3).reshape(batch, length, units)
            x = x + out @ w[p + "output/kernel"]
            h = layer_norm(x, w[p + "ln2/gamma"], w[p + "ln2/beta"])
            h = gelu(h @ w[p + "ffn1/kernel"] + w[p + "ffn1/bias"]) @ w[p + "ffn2/kernel"] + w[p + "ffn2/bias"]
            x = x + h
        return gelu(layer_norm(x, w["final_ln/gamma"], w["final_ln/beta"]))

    def similarities(self, outputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Dot-product similarities (B x labels) of the sentence positions with every label."""
        sentence = outputs[np.arange(len(lengths)), lengths]
        text = sentence @ self.w["text_embed/kernel"] + self.w["text_embed/bias"]
        assert self.label_embeddings is not None
        return text @ self.label_embeddings.T

    def tag_scores(self, outputs: np.ndarray) -> np.ndarray:
        """CRF emission scores (B x L x tags)."""
        return outputs @ self.w["tags/kernel"] + self.w["tags/bias"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def viterbi(scores: np.ndarray, transitions: np.ndarray, lengths: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Best tag paths of a linear-chain CRF, vectorised over the batch.

    Returns, per message, the tag ids of its ``lengths[b]`` tokens and each
    tag's confidence: the softmax over tags of the best-path scores ending at
    that token (Rasa's CRF confidence).
    """
    batch, length, n_tags = scores.shape
    delta = scores[:, 0, :].copy()
    deltas = [delta]
    pointers = np.zeros((batch, length, n_tags), dtype=np.int64)
    for t in range(1, length):
        candidates = delta[:, :, None] + transitions[None, :, :]
        best = candidates.argmax(axis=1)
        new = np.take_along_axis(candidates, best[:, None, :], axis=1)[:, 0, :] + scores[:, t, :]
        active = (t < lengths)[:, None]
        delta = np.where(active, new, delta)
        pointers[:, t, :] = best
        deltas.append(delta)
    paths, confidences = [], []
    for b in range(batch):
        n = int(lengths[b])
        if n == 0:
            paths.append(np.zeros(0, dtype=np.int64))
            confidences.append(np.zeros(0))
            continue
        path = np.empty(n, dtype=np.int64)
        path[n - 1] = int(np.argmax(deltas[n - 1][b]))
        for t in range(n - 1, 0, -1):
            path[t - 1] = pointers[b, t, path[t]]
        probs = softmax(np.stack([deltas[t][b] for t in range(n)]), axis=-1)
        paths.append(path)
        confidences.append(probs[np.arange(n), path])
    return paths, confidences
