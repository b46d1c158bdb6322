"""DIET's transformer encoder in numpy, in the memory layout that suits the batch.

The same computation runs in one of two layouts:

- **row-major** (positions x features), for few positions (one message):
  every elementwise operation and layer norm runs along long contiguous rows;
- **feature-major** (features x positions), for parse and evaluation
  batches: the grouped kernels (:class:`.numpy_model.GroupedKernel`) gather
  their inputs and put their outputs back in order by copying whole rows,
  about 5x faster than gathering the columns of a row-major batch, and those
  copies are the largest cost of a row-major batch after the products.

Both give the same result (a test checks it). In both, every dense product
is one 2-d product over the batch's positions: numpy multiplies a 3-d array by
a 2-d one batch element by batch element, re-reading the kernel each time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from intently.plugins.classifiers.diet.numpy_model import NumpyDIET

#: The transformer gathers a batch's real positions when they are fewer than this share of its
#: padded positions; with less padding, gathering and scattering back cost more than they save.
PACK_BELOW = 0.8
#: From this many positions on the transformer works feature-major (see the module docstring).
FEATURE_MAJOR_FROM = 32
#: Up to this many positions a grouped kernel multiplies block by block; above it one dense
#: product is faster, its larger blocks using BLAS better than the small group blocks.
GROUPED_ROWS_LIMIT = 256
LN_EPSILON = 1e-6
#: A Python float: a numpy float64 scalar would promote float32 arrays to float64 (NEP 50).
_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (as ``tf.nn.gelu(approximate=True)``): in numpy about 10x faster than erf.

    Computed in one buffer besides ``x`` (which is not changed): the feed-forward
    activations of a parse batch are the largest arrays of parsing, and the
    plain expression would hold six of them at once.
    """
    out = x * x
    out *= x
    out *= 0.044715
    out += x
    out *= _GELU_C
    np.tanh(out, out=out)
    out += 1.0
    out *= x
    out *= 0.5
    return out


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, axis: int = -1) -> np.ndarray:
    """Layer normalisation over ``axis`` (``x`` is not changed; ``gamma``/``beta`` broadcast against ``x``).

    Written as in-place ufunc calls on two buffers: ``ndarray.mean`` and the
    plain expression cost twice as much on the few rows of one message.
    """
    inverse_width = 1.0 / x.shape[axis]
    centered = np.add.reduce(x, axis=axis, keepdims=True)
    centered *= -inverse_width
    centered = np.add(x, centered)
    squares = np.multiply(centered, centered)
    scale = np.add.reduce(squares, axis=axis, keepdims=True)
    scale *= inverse_width
    scale += LN_EPSILON
    np.sqrt(scale, out=scale)
    centered /= scale
    centered *= gamma
    centered += beta
    return centered


class _RowMajor:
    """Activations as (positions x features)."""

    feature_axis = -1

    @staticmethod
    def enter(x: np.ndarray) -> np.ndarray:
        return x

    @staticmethod
    def vector(v: np.ndarray) -> np.ndarray:
        return v

    @staticmethod
    def product(model: NumpyDIET, x: np.ndarray, grouped_name: str, kernel: np.ndarray) -> np.ndarray:
        return model.dot(x, grouped_name, kernel)

    @staticmethod
    def select(x: np.ndarray, real: np.ndarray) -> np.ndarray:
        return x[real]

    @staticmethod
    def scatter(t: np.ndarray, real: np.ndarray, positions: int) -> np.ndarray:
        out = np.zeros((positions, t.shape[1]), dtype=t.dtype)
        out[real] = t
        return out

    @staticmethod
    def add_signal(x: np.ndarray, signal: np.ndarray, batch: int, length: int) -> None:
        x.reshape(batch, length, -1)[...] += signal[None]

    @staticmethod
    def split_heads(projections: np.ndarray, batch: int, length: int, heads: int, depth: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = projections.reshape(batch, length, 3, heads, depth).transpose(2, 0, 3, 1, 4)
        return parts[0], parts[1].transpose(0, 1, 3, 2), parts[2]

    @staticmethod
    def merge_heads(out: np.ndarray) -> np.ndarray:
        """(batch, heads, length, depth) -> (positions, units)."""
        batch, heads, length, depth = out.shape
        return out.transpose(0, 2, 1, 3).reshape(batch * length, heads * depth)

    @staticmethod
    def leave(x: np.ndarray) -> np.ndarray:
        return x


class _FeatureMajor:
    """Activations as (features x positions)."""

    feature_axis = 0

    @staticmethod
    def enter(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.T)

    @staticmethod
    def vector(v: np.ndarray) -> np.ndarray:
        return v[:, None]

    @staticmethod
    def product(model: NumpyDIET, x: np.ndarray, grouped_name: str, kernel: np.ndarray) -> np.ndarray:
        grouped = model.grouped.get(grouped_name)
        if grouped is not None and x.shape[1] <= GROUPED_ROWS_LIMIT:
            return grouped.feature_major(x)
        return kernel.T @ x  # BLAS reads the transposed kernel in place

    @staticmethod
    def select(x: np.ndarray, real: np.ndarray) -> np.ndarray:
        return x[:, real]

    @staticmethod
    def scatter(t: np.ndarray, real: np.ndarray, positions: int) -> np.ndarray:
        out = np.zeros((t.shape[0], positions), dtype=t.dtype)
        out[:, real] = t
        return out

    @staticmethod
    def add_signal(x: np.ndarray, signal: np.ndarray, batch: int, length: int) -> None:
        x.reshape(-1, batch, length)[...] += signal.T[:, None, :]

    @staticmethod
    def split_heads(projections: np.ndarray, batch: int, length: int, heads: int, depth: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = projections.reshape(3, heads, depth, batch, length)
        return parts[0].transpose(2, 0, 3, 1), parts[1].transpose(2, 0, 1, 3), parts[2].transpose(2, 0, 3, 1)

    @staticmethod
    def merge_heads(out: np.ndarray) -> np.ndarray:
        """(batch, heads, length, depth) -> (units, positions)."""
        batch, heads, length, depth = out.shape
        return out.transpose(1, 3, 0, 2).reshape(heads * depth, batch * length)

    @staticmethod
    def leave(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.T)


def transformer(model: NumpyDIET, x: np.ndarray, mask: np.ndarray, *, feature_major: bool | None = None
                ) -> np.ndarray:
    """The encoder on a padded batch (B x L x width); B x L x units, zero at padded positions.

    Training batches have as many padded positions as real ones, or more: when
    real positions are fewer than :data:`PACK_BELOW` of the batch only they are
    multiplied, and only the attention works on the padded layout (padded keys
    masked). Parse batches, sorted by length, have little padding and are
    multiplied as they are. ``feature_major``: the layout (default: by the
    number of positions, :data:`FEATURE_MAJOR_FROM`).
    """
    w, units, heads = model.w, model.spec["units"], model.spec["heads"]
    batch, length, _ = x.shape
    positions = batch * length
    real = np.flatnonzero(mask.reshape(-1) > 0)
    packed = len(real) < PACK_BELOW * positions
    x = x.reshape(positions, -1)
    if packed:
        x = x[real]
    if feature_major is None:
        feature_major = len(x) >= FEATURE_MAJOR_FROM
    layout = _FeatureMajor if feature_major else _RowMajor
    axis = layout.feature_axis

    def dot(t: np.ndarray, name: str) -> np.ndarray:
        return layout.product(model, t, name, w[name])

    def vector(name: str) -> np.ndarray:
        return layout.vector(w[name])

    x = dot(layout.enter(x), "encoder/kernel")
    x += vector("encoder/bias")
    x *= math.sqrt(units)
    signal = model.positions(length)
    if packed:
        x += layout.enter(signal[real % length])
    else:
        layout.add_signal(x, signal, batch, length)
    depth = units // heads
    # Padded keys get -1e9 before the softmax (nothing to add when no position is padding).
    bias = ((1.0 - mask)[:, None, None, :] * -1e9).astype(x.dtype) if len(real) < positions else None
    for layer in range(model.spec["layers"]):
        p = f"layer_{layer}/"
        h = layer_norm(x, vector(p + "ln1/gamma"), vector(p + "ln1/beta"), axis)
        projections = layout.product(model, h, f"layer_{layer}/attention_inputs", model.attention_inputs[layer])
        if packed:
            projections = layout.scatter(projections, real, positions)
        queries, keys, values = layout.split_heads(projections, batch, length, heads, depth)
        logits = queries @ keys
        logits *= 1.0 / math.sqrt(depth)
        if bias is not None:
            logits += bias
        logits -= logits.max(axis=-1, keepdims=True)
        att = np.exp(logits, out=logits)
        att /= att.sum(axis=-1, keepdims=True)
        out = layout.merge_heads(att @ values)
        x = x + dot(layout.select(out, real) if packed else out, p + "output/kernel")
        h = layer_norm(x, vector(p + "ln2/gamma"), vector(p + "ln2/beta"), axis)
        inner = dot(h, p + "ffn1/kernel")
        inner += vector(p + "ffn1/bias")
        inner = gelu(inner)
        h = dot(inner, p + "ffn2/kernel")
        del inner
        h += vector(p + "ffn2/bias")
        x += h
    x = layout.leave(gelu(layer_norm(x, vector("final_ln/gamma"), vector("final_ln/beta"), axis)))
    if packed:
        x = _RowMajor.scatter(x, real, positions)
    return x.reshape(batch, length, units)
