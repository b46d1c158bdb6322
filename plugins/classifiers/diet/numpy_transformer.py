"""DIET's transformer encoder in numpy, over the weights it is given, in the memory layout that suits the batch.

:func:`transformer` takes its weights as one :class:`TransformerWeights`
(built once per loaded model by :class:`.numpy_model.NumpyDIET`), not a model
object. The same computation runs in one of two layouts:

- **row-major** (positions x features), for few positions (one message):
  every elementwise operation and layer norm runs along long contiguous rows;
- **feature-major** (features x positions), for parse and evaluation
  batches: the grouped kernels (:class:`.kernels.GroupedKernel`) gather
  their inputs and put their outputs back in order by copying whole rows,
  about 5x faster than gathering the columns of a row-major batch, and those
  copies are the largest cost of a row-major batch after the products.

Both give the same result (a test checks it). In both, every dense product
is one 2-d product over the batch's positions: numpy multiplies a 3-d array by
a 2-d one batch element by batch element, re-reading the kernel each time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
import numpy as np
from intently.plugins.classifiers.diet.kernels import Kernel

#: The transformer gathers a batch's real positions when they are fewer than this share of its
#: padded positions; with less padding, gathering and scattering back cost more than they save.
PACK_BELOW = 0.8
#: From this many positions on the transformer works feature-major (see the module docstring).
FEATURE_MAJOR_FROM = 32
LN_EPSILON = 1e-6
#: A Python float: a numpy float64 scalar would promote float32 arrays to float64 (NEP 50).
_GELU_C = math.sqrt(2.0 / math.pi)


def positional_encoding(length: int, units: int) -> np.ndarray:
    """Sinusoidal position signal (length x units), sin on even, cos on odd columns."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rates = 1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units)
    angles = position * rates[None, :]
    out = np.empty((length, units))
    out[:, 0::2] = np.sin(angles[:, 0::2])
    out[:, 1::2] = np.cos(angles[:, 1::2])
    return out


class PositionSignal:
    """:func:`positional_encoding` of ``length`` rows in one dtype, computed once per power-of-two
    bucket (a fresh one costs more than the rest of a short message's first layer)."""

    def __init__(self, units: int, dtype: type = np.float32) -> None:
        self.units = units
        self.dtype = dtype
        self._table = np.zeros((0, units), dtype=dtype)

    def __call__(self, length: int) -> np.ndarray:
        if length > len(self._table):
            size = 1 << max(5, (length - 1).bit_length())
            self._table = positional_encoding(size, self.units).astype(self.dtype)
        return self._table[:length]


@attrs.frozen(eq=False)
class EncoderLayer:
    """One pre-layer-norm transformer layer: attention (query, key and value kernels side by
    side in ``attention_inputs``, then ``output``) and the gelu feed-forward ``ffn1``/``ffn2``."""

    ln1_gamma: np.ndarray
    ln1_beta: np.ndarray
    attention_inputs: Kernel
    output: Kernel
    ln2_gamma: np.ndarray
    ln2_beta: np.ndarray
    ffn1: Kernel
    ffn1_bias: np.ndarray
    ffn2: Kernel
    ffn2_bias: np.ndarray


@attrs.frozen(eq=False)
class TransformerWeights:
    """What :func:`transformer` computes with: the input projection, the layers, the final layer norm."""

    units: int
    heads: int
    input: Kernel
    input_bias: np.ndarray
    layers: tuple[EncoderLayer, ...]
    final_gamma: np.ndarray
    final_beta: np.ndarray
    positions: PositionSignal

    @classmethod
    def of(cls, arrays: Mapping[str, np.ndarray], kernels: Mapping[str, Kernel], *, units: int, heads: int,
           layers: int, dtype: type = np.float32) -> TransformerWeights:
        """The encoder's weights from a model's ``arrays`` (by the names of :func:`.weights.architecture`)
        and its dense ``kernels``: ``encoder/kernel``, and per layer ``layer_<i>/attention_inputs``,
        ``layer_<i>/output/kernel``, ``layer_<i>/ffn1/kernel`` and ``layer_<i>/ffn2/kernel``."""
        encoder_layers = []
        for layer in range(layers):
            p = f"layer_{layer}/"
            encoder_layers.append(EncoderLayer(
                ln1_gamma=arrays[p + "ln1/gamma"], ln1_beta=arrays[p + "ln1/beta"],
                attention_inputs=kernels[p + "attention_inputs"], output=kernels[p + "output/kernel"],
                ln2_gamma=arrays[p + "ln2/gamma"], ln2_beta=arrays[p + "ln2/beta"],
                ffn1=kernels[p + "ffn1/kernel"], ffn1_bias=arrays[p + "ffn1/bias"],
                ffn2=kernels[p + "ffn2/kernel"], ffn2_bias=arrays[p + "ffn2/bias"]))
        return cls(units=units, heads=heads, input=kernels["encoder/kernel"], input_bias=arrays["encoder/bias"],
                   layers=tuple(encoder_layers), final_gamma=arrays["final_ln/gamma"],
                   final_beta=arrays["final_ln/beta"],
                   positions=PositionSignal(units, dtype))


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
    def product(kernel: Kernel, x: np.ndarray) -> np.ndarray:
        return kernel.rows(x)

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
    def product(kernel: Kernel, x: np.ndarray) -> np.ndarray:
        return kernel.feature_major(x)

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


def transformer(weights: TransformerWeights, x: np.ndarray, mask: np.ndarray, *, feature_major: bool | None = None
                ) -> np.ndarray:
    """The encoder with ``weights`` on a padded batch (B x L x width); B x L x units, zero at padded positions.

    Training batches have as many padded positions as real ones, or more: when
    real positions are fewer than :data:`PACK_BELOW` of the batch only they are
    multiplied, and only the attention works on the padded layout (padded keys
    masked). Parse batches, sorted by length, have little padding and are
    multiplied as they are. ``feature_major``: the layout (default: by the
    number of positions, :data:`FEATURE_MAJOR_FROM`).
    """
    units, heads = weights.units, weights.heads
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
    dot, vector = layout.product, layout.vector

    x = dot(weights.input, layout.enter(x))
    x += vector(weights.input_bias)
    x *= math.sqrt(units)
    signal = weights.positions(length)
    if packed:
        x += layout.enter(signal[real % length])
    else:
        layout.add_signal(x, signal, batch, length)
    depth = units // heads
    # Padded keys get -1e9 before the softmax (nothing to add when no position is padding).
    bias = ((1.0 - mask)[:, None, None, :] * -1e9).astype(x.dtype) if len(real) < positions else None
    for layer in weights.layers:
        h = layer_norm(x, vector(layer.ln1_gamma), vector(layer.ln1_beta), axis)
        projections = dot(layer.attention_inputs, h)
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
        x = x + dot(layer.output, layout.select(out, real) if packed else out)
        h = layer_norm(x, vector(layer.ln2_gamma), vector(layer.ln2_beta), axis)
        inner = dot(layer.ffn1, h)
        inner += vector(layer.ffn1_bias)
        inner = gelu(inner)
        h = dot(layer.ffn2, inner)
        del inner
        h += vector(layer.ffn2_bias)
        x += h
    x = layout.leave(gelu(layer_norm(x, vector(weights.final_gamma), vector(weights.final_beta), axis)))
    if packed:
        x = _RowMajor.scatter(x, real, positions)
    return x.reshape(batch, length, units)
