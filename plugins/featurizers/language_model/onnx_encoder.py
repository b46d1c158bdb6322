"""The numpy BERT encoder's computation as an ONNX graph, run by onnxruntime (the optional ``fast`` extra).

:class:`OnnxBertEncoder` takes a :class:`.bert.BertEncoder` (whose weights
were read from safetensors) and builds, in memory, an ONNX graph of the same
computation: the embeddings, then per layer one fused query/key/value product,
attention over the unpadded positions, the output product, layer norms and
the feed-forward block. Nothing is written to disk and no model file from
outside is ever loaded, so an archive still cannot make intently run code.
onnxruntime fuses the graph (attention, GELU, layer norm with the residual
add) and runs it on one thread, as the rest of parsing is single-threaded.
Its results equal the numpy encoder's to float32 rounding; the featurizer
uses it when ``onnxruntime`` and ``onnx`` are installed and falls back to numpy
otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from intently.plugins.featurizers.language_model.bert import BertEncoder

#: The ONNX opset the graph uses (LayerNormalization needs 17).
OPSET = 17


def onnxruntime_available() -> bool:
    """Whether onnxruntime and onnx can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxBertEncoder:
    """:meth:`encode` of a :class:`.bert.BertEncoder`, by onnxruntime.

    Raises:
        ImportError: onnxruntime or onnx is not installed.
    """

    def __init__(self, encoder: BertEncoder, *, threads: int = 1) -> None:
        import onnxruntime

        self.config = encoder.config
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        model = build_graph(encoder)
        self._session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """As :meth:`.bert.BertEncoder.encode`: ``(batch, length, hidden)`` float32."""
        batch, length = ids.shape
        if length > self.config.max_position_embeddings:
            raise ValueError(f"{length} positions exceed the model's {self.config.max_position_embeddings}")
        key_bias = np.where(mask, np.float32(0.0), np.float32(-1e9)).astype(np.float32)[:, None, None, :]
        (states,) = self._session.run(None, {
            "ids": np.ascontiguousarray(ids, dtype=np.int64),
            "positions": np.arange(length, dtype=np.int64),
            "key_bias": key_bias,
        })
        return states


def build_graph(encoder: BertEncoder) -> Any:
    """The ONNX ``ModelProto`` of ``encoder``'s forward pass (weights inlined as initializers)."""
    from onnx import TensorProto, helper, numpy_helper

    config = encoder.config
    hidden, heads = config.hidden_size, config.num_attention_heads
    size = hidden // heads
    eps = float(config.layer_norm_eps)
    nodes: list[Any] = []
    initializers: list[Any] = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    node.initializers = initializers  # type: ignore[attr-defined]

    def layer_norm(x: str, weights: tuple[np.ndarray, np.ndarray], name: str) -> str:
        return node("LayerNormalization", [x, constant(f"{name}.w", weights[0]), constant(f"{name}.b", weights[1])],
                    name, axis=-1, epsilon=eps)

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        product = node("MatMul", [x, constant(f"{name}.w", weight)], f"{name}.mm")
        return node("Add", [product, constant(f"{name}.b", bias)], name)

    words = node("Gather", [constant("word_embeddings", encoder.word_embeddings), "ids"], "words", axis=0)
    positions = node("Gather", [constant("position_embeddings", encoder.position_embeddings), "positions"],
                     "position_rows", axis=0)
    x = node("Add", [words, positions], "embedded0")
    x = node("Add", [x, constant("token_type0", encoder.token_type_embeddings[0])], "embedded")
    x = layer_norm(x, encoder.embedding_norm, "embedding_norm")
    split_shape = constant("split_shape", np.asarray([0, 0, heads, size], dtype=np.int64))
    merge_shape = constant("merge_shape", np.asarray([0, 0, hidden], dtype=np.int64))
    scale = constant("scale", np.asarray(1.0 / math.sqrt(size), dtype=np.float32))
    half = constant("half", np.asarray(0.5, dtype=np.float32))
    one = constant("one", np.asarray(1.0, dtype=np.float32))
    root2 = constant("root2", np.asarray(math.sqrt(2.0), dtype=np.float32))
    for index, layer in enumerate(encoder.layers):
        p = f"l{index}"
        qkv = linear(x, layer.qkv, layer.qkv_bias, f"{p}.qkv")
        nodes.append(helper.make_node("Split", [qkv, constant(f"{p}.split", np.asarray([hidden] * 3, np.int64))],
                                      [f"{p}.q0", f"{p}.k0", f"{p}.v0"], axis=-1))
        q = node("Transpose", [node("Reshape", [f"{p}.q0", split_shape], f"{p}.q1")], f"{p}.q", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [f"{p}.k0", split_shape], f"{p}.k1")], f"{p}.k", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [f"{p}.v0", split_shape], f"{p}.v1")], f"{p}.v", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), scale], f"{p}.scaled")
        scores = node("Add", [scores, "key_bias"], f"{p}.biased")
        weights = node("Softmax", [scores], f"{p}.softmax", axis=-1)
        context = node("Transpose", [node("MatMul", [weights, v], f"{p}.ctx0")], f"{p}.ctx1", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_shape], f"{p}.ctx")
        attended = linear(context, layer.attention_output, layer.attention_output_bias, f"{p}.ao")
        x = layer_norm(node("Add", [attended, x], f"{p}.res1"), layer.attention_norm, f"{p}.ln1")
        inner = linear(x, layer.intermediate, layer.intermediate_bias, f"{p}.inner")
        inner = _activation(node, inner, config.hidden_act, f"{p}.act", half, one, root2)
        output = linear(inner, layer.output, layer.output_bias, f"{p}.out")
        x = layer_norm(node("Add", [output, x], f"{p}.res2"), layer.output_norm, f"{p}.ln2")
    nodes.append(helper.make_node("Identity", [x], ["states"]))
    graph = helper.make_graph(
        nodes, "bert",
        inputs=[
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("positions", TensorProto.INT64, ["length"]),
            helper.make_tensor_value_info("key_bias", TensorProto.FLOAT, ["batch", 1, 1, "length"]),
        ],
        outputs=[helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "length", hidden])],
        initializer=initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="intently")


def _activation(node: Any, x: str, name: str, prefix: str, half: str, one: str, root2: str) -> str:
    if name == "relu":
        return node("Relu", [x], prefix)
    if name == "gelu":
        erf = node("Erf", [node("Div", [x, root2], f"{prefix}.div")], f"{prefix}.erf")
        return node("Mul", [node("Mul", [x, half], f"{prefix}.half"), node("Add", [erf, one], f"{prefix}.plus")], prefix)
    # gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    from onnx import numpy_helper

    nodes_constants = {
        f"{prefix}.c": np.float32(math.sqrt(2 / math.pi)), f"{prefix}.k": np.float32(0.044715),
    }
    extra = [numpy_helper.from_array(np.asarray(value), key) for key, value in nodes_constants.items()]
    node.initializers.extend(extra)  # type: ignore[attr-defined]
    cube = node("Mul", [node("Mul", [x, x], f"{prefix}.x2"), x], f"{prefix}.x3")
    inner = node("Add", [x, node("Mul", [cube, f"{prefix}.k"], f"{prefix}.kx3")], f"{prefix}.sum")
    tanh = node("Tanh", [node("Mul", [inner, f"{prefix}.c"], f"{prefix}.scaled")], f"{prefix}.tanh")
    return node("Mul", [node("Mul", [x, half], f"{prefix}.half"), node("Add", [tanh, one], f"{prefix}.plus")], prefix)
