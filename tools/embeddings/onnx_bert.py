"""Turn BERT safetensors weights into an ONNX graph that onnxruntime runs, with numpy and ``onnx`` only.

We ship no torch, so instead of exporting a model we write the encoder out op by op: embeddings
(word + position + token type) and LayerNorm, then per layer multi-head self-attention with the padding
mask, a GELU (erf) feed-forward block and the two residual LayerNorms, and finally mean pooling over the
attention mask. The graph uses standard ONNX ops (opset 17) plus onnxruntime's fused Attention kernel.
Inputs are ``input_ids`` and ``attention_mask`` (int64, batch x seq, any seq); the output
``sentence_embedding`` is (batch, hidden), not normalised. All single-segment inputs use token type 0, so
that row is folded into the position table instead of being a third input.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # the first opset with LayerNormalization
GRAPH_VERSION = 2  # bump when the graph below changes, so cached files are rebuilt
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    num_heads: int
    num_layers: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            hidden_size=raw["hidden_size"],
            num_heads=raw["num_attention_heads"],
            num_layers=raw["num_hidden_layers"],
            layer_norm_eps=raw["layer_norm_eps"],
        )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file: an 8-byte little-endian header length, a JSON header, raw data."""
    blob = path.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    header.pop("__metadata__", None)
    base = 8 + header_len
    tensors = {}
    for name, spec in header.items():
        start, end = spec["data_offsets"]
        dtype = np.dtype(_DTYPES[spec["dtype"]])
        array = np.frombuffer(blob, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        tensors[name] = array.reshape(spec["shape"])
    return tensors


class _BertGraph:
    """Writes the graph node by node; each helper returns the name of the tensor it produced."""

    def __init__(self, weights: dict[str, np.ndarray], cfg: BertConfig) -> None:
        self.w = weights
        self.cfg = cfg
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray | float | int) -> str:
        array = np.array(value, dtype=np.float32 if isinstance(value, float) else None, order="C")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(
        self, op_type: str, *inputs: str, out: str | None = None, domain: str = "", **attrs: object
    ) -> str:
        out = out or f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out

    def linear(self, x: str, prefix: str) -> str:
        """x @ W.T + b with torch's (out, in) weight layout."""
        weight = self.const(f"{prefix}.weight", self.w[f"{prefix}.weight"].T)
        bias = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("Add", self.op("MatMul", x, weight), bias)

    def layer_norm(self, x: str, prefix: str) -> str:
        scale = self.const(f"{prefix}.weight", self.w[f"{prefix}.weight"])
        bias = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=self.cfg.layer_norm_eps)

    def embeddings(self) -> str:
        w = {name.split(".")[1]: array for name, array in self.w.items() if name.startswith("embeddings.")}
        # Single-segment input is all token type 0, so that row is folded into the position table.
        word_table = self.const("word_table", w["word_embeddings"])
        position_table = self.const(
            "position_table", w["position_embeddings"] + w["token_type_embeddings"][0]
        )
        seq_len = self.op("Gather", self.op("Shape", "input_ids"), self.const("dim1", np.array(1)))
        positions = self.op(
            "Range", self.const("zero", np.array(0)), seq_len, self.const("step", np.array(1))
        )
        x = self.op(
            "Add", self.op("Gather", word_table, "input_ids"), self.op("Gather", position_table, positions)
        )
        return self.layer_norm(x, "embeddings.LayerNorm")

    def self_attention(self, x: str, mask: str, p: str) -> str:
        """Multi-head self-attention, one fused QKV projection; ``mask`` is (batch, seq) int32, 0 = padding.

        onnxruntime's com.microsoft Attention kernel does the same math as MatMul/Softmax/Transpose nodes
        but 5-13% faster end to end on 2 cores (more for longer texts); this graph is only run by onnxruntime.
        """
        names = ("query", "key", "value")
        qkv_weight = np.concatenate([self.w[f"{p}.{n}.weight"] for n in names]).T  # (hidden, 3 * hidden)
        qkv_bias = np.concatenate([self.w[f"{p}.{n}.bias"] for n in names])
        inputs = (x, self.const(f"{p}.qkv.weight", qkv_weight), self.const(f"{p}.qkv.bias", qkv_bias), mask)
        return self.op("Attention", *inputs, domain="com.microsoft", num_heads=self.cfg.num_heads)

    def encoder_layer(self, x: str, mask: str, i: int) -> str:
        p = f"encoder.layer.{i}"
        attention = self.self_attention(x, mask, f"{p}.attention.self")
        attention = self.linear(attention, f"{p}.attention.output.dense")
        x = self.layer_norm(self.op("Add", attention, x), f"{p}.attention.output.LayerNorm")
        h = self.linear(x, f"{p}.intermediate.dense")
        # GELU(h) = 0.5 * h * (1 + erf(h / sqrt(2))), the exact form BERT was trained with.
        erf = self.op("Erf", self.op("Div", h, self.const(f"{p}.sqrt2", float(np.sqrt(2)))))
        h = self.op("Mul", h, self.op("Add", erf, self.const(f"{p}.one", 1.0)))
        h = self.linear(self.op("Mul", h, self.const(f"{p}.half", 0.5)), f"{p}.output.dense")
        return self.layer_norm(self.op("Add", h, x), f"{p}.output.LayerNorm")

    def mean_pool(self, x: str, mask: str) -> str:
        """Mean over real tokens: (batch, 1, seq) @ (batch, seq, hidden), divided by the token count."""
        summed = self.op("MatMul", self.op("Unsqueeze", mask, self.const("axis1", np.array([1]))), x)
        summed = self.op("Squeeze", summed, "axis1")
        counts = self.op("ReduceSum", mask, self.const("last_axis", np.array([-1])), keepdims=1)
        counts = self.op("Max", counts, self.const("min_count", 1e-9))
        return self.op("Div", summed, counts, out="sentence_embedding")


def build_bert_graph(weights: dict[str, np.ndarray], cfg: BertConfig) -> onnx.ModelProto:
    """The encoder plus mean pooling as an ONNX model (see the module docstring for inputs/outputs)."""
    g = _BertGraph(weights, cfg)
    x = g.embeddings()
    attention_mask = g.op("Cast", "attention_mask", to=TensorProto.INT32)
    for i in range(cfg.num_layers):
        x = g.encoder_layer(x, attention_mask, i)
    g.mean_pool(x, g.op("Cast", "attention_mask", to=TensorProto.FLOAT))

    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
        for n in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info(
        "sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden_size]
    )
    graph = helper.make_graph(g.nodes, "bert_mean_pooled", inputs, [output], initializer=g.initializers)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sleuth")
    onnx.checker.check_model(model)
    return model


def converted_model_path(cache_dir: Path, cache_key: str) -> Path:
    """Where the graph for weights named ``cache_key`` (their sha256) lives, built or not."""
    return cache_dir / f"bert-{cache_key[:16]}.g{GRAPH_VERSION}.onnx"


def write_onnx_model(safetensors_path: Path, config_path: Path, target: Path) -> None:
    """Convert the weights and write the model to ``target`` via a temporary file and a rename, so a crash
    or a concurrent build never leaves a half-written model behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    model = build_bert_graph(read_safetensors(safetensors_path), BertConfig.from_json(config_path))
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the cache is as readable as its directory
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_int8_model(source: Path, target: Path) -> None:
    """``source``'s weights quantised to int8, one scale per output channel (onnxruntime's dynamic
    quantisation): measured 0.63x the float32 time here (one text per run, see minilm.py) at a mean cosine
    of 0.993 to its vectors, where one scale per tensor gave 0.94. Static (calibrated) int8 kept 0.9995
    but ran slower than float32 here. Written via a temporary file and a rename, like the float32 model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        quantize_dynamic(
            str(source),
            tmp_name,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # our graph's shapes are symbolic, so the quantiser cannot infer every tensor's type itself
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
