"""The transformer as an ONNX Runtime graph: written once per model into the cache, int8 on request.

Two ways to write it (``bench/embed.py`` times both in one run, ``bench/results/embed.md``):

* :func:`write_fused_graph` (used): the BERT layout emitted directly as ONNX Runtime's fused
  ``com.microsoft`` operators, 86 nodes.
* :func:`write_optimized_export`: ``torch.onnx.export`` of the same model, then ONNX Runtime's
  transformers optimizer (``onnxruntime.transformers.optimizer``), the maintained path.

Both take ``inputs_embeds`` (the 250k-row word-embedding table stays in numpy, memory-mapped), an additive
attention bias and position ids, so that several texts can share one row (``OnnxEncoder.encode_packed``).
:func:`quantize_int8` makes the int8 copy with ``onnxruntime.quantization.quantize_dynamic``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Bumped when the written graph changes; part of the cached file's name.
GRAPH_VERSION = 3


def graph_path(cache_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Where the (fp32) graph of the model with ``fingerprint`` is cached."""
    return Path(cache_dir) / "onnx" / f"query-v{GRAPH_VERSION}-{fingerprint[:20]}.onnx"


#: Bumped when the int8 copy changes (which MatMuls are quantized); part of its file name.
INT8_VERSION = 2


def int8_path(graph: Path) -> Path:
    """Where the int8 copy of ``graph`` is cached, beside it."""
    return graph.with_name(f"{graph.stem}-int8-v{INT8_VERSION}.onnx")


def write_atomically(path: Path, write) -> None:
    """``write(tmp)`` then rename over ``path``, so that a reader never sees half a graph."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def session(path: Path, spinning: bool, threads: int):
    """An ONNX Runtime CPU session; ``spinning`` threads busy-wait between operators (~15% faster on long
    batches, but they take a core from BM25 while a query is encoded)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_int8(source: Path, target: Path) -> None:
    """The int8 copy of a graph: MatMul weights per output channel, activations quantized per batch at run
    time (dynamic). Left in fp32: the fused Attention (quantized, QAttention per tensor, short texts kept
    cosine 0.85-0.89 to fp32) and each layer's FFN down-projection, whose GELU inputs have the widest
    range (with them quantized, dev passages kept mean cosine 0.9966 to fp32; without, 0.9994)."""
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    for node in model.graph.node:
        node.name = node.name or node.output[0]  # the fused graph's nodes are named by their output
    keep = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.output[0].endswith("_down")]

    def write(tmp: Path) -> None:
        named = tmp.with_name(tmp.name + ".named.onnx")
        try:
            onnx.save(model, str(named))
            quantize_dynamic(str(named), str(tmp), op_types_to_quantize=["MatMul"], per_channel=True,
                             reduce_range=False, weight_type=QuantType.QInt8, nodes_to_exclude=keep,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
        finally:
            named.unlink(missing_ok=True)

    logging.getLogger("root").setLevel(logging.ERROR)  # quantize_dynamic warns through the root logger
    write_atomically(target, write)


def check_bert_layout(config) -> None:
    """Raise ValueError for a model that is not BERT-shaped (it then runs on torch)."""
    if (config.model_type != "bert" or getattr(config, "position_embedding_type", "absolute") != "absolute"
            or config.hidden_act != "gelu" or getattr(config, "is_decoder", False)):
        raise ValueError(f"no fused graph for a {config.model_type} model ({config.hidden_act})")


class _GraphBuilder:
    """Nodes and initializers of the fused graph, named as they are added."""

    def __init__(self):
        self.initializers, self.nodes = [], []

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        domain = "" if op in ("Gather", "MatMul") else "com.microsoft"
        self.nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output


def _layer(g: _GraphBuilder, w: dict, i: int, x: str, heads: int, eps: float, out: str) -> str:
    """One encoder layer: Attention (packed QKV, additive bias), MatMul, SkipLayerNormalization, MatMul,
    BiasGelu, MatMul, SkipLayerNormalization."""
    qkv_w = np.concatenate([w[f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
    qkv_b = np.concatenate([w[f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
    att = g.node("Attention", [x, g.const(f"l{i}_qkv_w", qkv_w), g.const(f"l{i}_qkv_b", qkv_b), "", "",
                               "attention_bias"], f"l{i}_attention", num_heads=heads)
    att = g.node("MatMul", [att, g.const(f"l{i}_out_w", w["attention.output.dense.weight"].T)], f"l{i}_att_out")
    mid = g.node("SkipLayerNormalization", [
        att, x, g.const(f"l{i}_ln1_g", w["attention.output.LayerNorm.weight"]),
        g.const(f"l{i}_ln1_b", w["attention.output.LayerNorm.bias"]),
        g.const(f"l{i}_out_b", w["attention.output.dense.bias"])], f"l{i}_mid", epsilon=eps)
    up = g.node("MatMul", [mid, g.const(f"l{i}_up_w", w["intermediate.dense.weight"].T)], f"l{i}_up")
    up = g.node("BiasGelu", [up, g.const(f"l{i}_up_b", w["intermediate.dense.bias"])], f"l{i}_gelu")
    down = g.node("MatMul", [up, g.const(f"l{i}_down_w", w["output.dense.weight"].T)], f"l{i}_down")
    return g.node("SkipLayerNormalization", [
        down, mid, g.const(f"l{i}_ln2_g", w["output.LayerNorm.weight"]),
        g.const(f"l{i}_ln2_b", w["output.LayerNorm.bias"]), g.const(f"l{i}_down_b", w["output.dense.bias"])],
        out, epsilon=eps)


def _io(hidden: int) -> tuple[list, list]:
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", hidden]),
        helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT, ["batch", 1, "tokens", "tokens"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "tokens"]),
    ]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden])]
    return inputs, outputs


def write_fused_graph(transformer, path: Path) -> None:
    """Write a BERT transformer as a graph of ONNX Runtime's fused operators: 86 nodes, where tracing the
    model gave ~700 (most of them shape arithmetic), which cost ~5 ms per query on two cores."""
    import onnx
    from onnx import helper

    config = transformer.config
    check_bert_layout(config)
    weights = {k: v.detach().float().numpy() for k, v in transformer.state_dict().items()}
    hidden, heads, eps = config.hidden_size, config.num_attention_heads, float(config.layer_norm_eps)
    g = _GraphBuilder()
    emb = "embeddings."
    positions = g.node("Gather", [g.const("position_table", weights[emb + "position_embeddings.weight"]),
                                  "position_ids"], "positions")
    x = g.node("SkipLayerNormalization", [
        "inputs_embeds", positions, g.const("embeddings_gamma", weights[emb + "LayerNorm.weight"]),
        g.const("embeddings_beta", weights[emb + "LayerNorm.bias"]),
        g.const("token_type_0", weights[emb + "token_type_embeddings.weight"][0])], "layer0_in", epsilon=eps)
    layers = config.num_hidden_layers
    for i in range(layers):
        prefix = f"encoder.layer.{i}."
        w = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        x = _layer(g, w, i, x, heads, eps, "last_hidden_state" if i == layers - 1 else f"layer{i + 1}_in")
    inputs, outputs = _io(hidden)
    graph = helper.make_graph(g.nodes, "sangam-encoder", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, str(path))


def _embeds_encoder(transformer):
    """The transformer's encoder stack on ``inputs_embeds``, bias and positions (the fused graph's inputs):
    what ``torch.onnx.export`` traces for :func:`write_optimized_export`."""
    import torch

    class EmbedsEncoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, inputs_embeds, attention_bias, position_ids):
            emb = self.bert.embeddings
            x = emb.LayerNorm(inputs_embeds + emb.position_embeddings(position_ids)
                              + emb.token_type_embeddings.weight[0])
            for layer in self.bert.encoder.layer:
                out = layer(x, attention_mask=attention_bias)
                x = out[0] if isinstance(out, tuple) else out
            return x

    return EmbedsEncoder(transformer).eval()


def write_optimized_export(transformer, path: Path) -> int:
    """``torch.onnx.export`` of the encoder stack, then ONNX Runtime's transformers optimizer (BERT fusion
    of attention, LayerNorm, GELU); returns the number of nodes it kept."""
    import torch
    from onnxruntime.transformers import optimizer

    check_bert_layout(transformer.config)
    hidden = transformer.config.hidden_size
    wrapped = _embeds_encoder(transformer)
    # The optimizer's attention fusion matches the eager pattern (MatMul, Softmax), not SDPA's.
    previous = transformer.config._attn_implementation
    transformer.config._attn_implementation = "eager"
    raw = path.with_name(path.stem + ".raw.onnx")
    sample = (torch.zeros(1, 7, hidden), torch.zeros(1, 1, 7, 7), torch.arange(7)[None])
    dynamic = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_bias": {0: "batch", 2: "tokens", 3: "tokens"},
               "position_ids": {0: "batch", 1: "tokens"}, "last_hidden_state": {0: "batch", 1: "tokens"}}
    with torch.inference_mode(), contextlib.ExitStack() as stack:
        stack.callback(setattr, transformer.config, "_attn_implementation", previous)
        torch.onnx.export(wrapped, sample, str(raw), input_names=["inputs_embeds", "attention_bias", "position_ids"],
                          output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    try:
        optimized = optimizer.optimize_model(str(raw), model_type="bert", num_heads=transformer.config.num_attention_heads,
                                             hidden_size=hidden, opt_level=1)
        optimized.save_model_to_file(str(path))
        return len(optimized.model.graph.node)
    finally:
        raw.unlink(missing_ok=True)
