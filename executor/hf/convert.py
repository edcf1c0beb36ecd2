"""Tensor layout between a megatron-core `GPTModel` (global, TP=1 coordinates) and Hugging Face Llama.

Pure functions over `{name: tensor}` dicts; no files, no processes. The Megatron side is the state
dict of a TP=1 model (what `load_for_inference` returns whatever TP the run trained with: the
torch_dist checkpoint stores global tensors and dist_checkpointing reshards on load).

Layouts (megatron-core 0.16, `transformer/attention.py` and `transformer/mlp.py`):

- `linear_qkv.weight` [g·(q/g + 2)·d, h]: per query group, its q/g query heads, then its key head,
  then its value head (GQA per-group interleaving; `SelfAttention.get_query_key_value_tensors`
  views the output as [.., g, (q/g + 2)·d] and splits each group into [q/g·d, d, d]). HF splits it
  into `q_proj` [q·d, h], `k_proj` [g·d, h], `v_proj` [g·d, h]; query head j of group j // (q/g) is
  HF's head j too (`repeat_kv` repeats kv head i for query heads i·q/g .. (i+1)·q/g - 1).
- `linear_fc1.weight` [2·f, h] with SwiGLU: the first half goes through silu (gate), the second half
  multiplies it (up): `MLP.forward` -> `glu(x) = silu(x[:f]) * x[f:]`; HF: `down(silu(gate(x)) * up(x))`.
- Rotary: megatron-core's default `rotary_interleaved=False` rotates halves (`_rotate_half`), the
  convention HF Llama uses, so q and k rows need no permutation (Meta's original checkpoints, with
  interleaved pairs, are the ones HF's own converter permutes).
- Vocabulary: Megatron pads the embedding and output rows to a multiple of 128 x TP
  (`_vocab_size_with_padding`); the export keeps the model's own `vocab_size` rows and drops the
  padding; the import pads with zero rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LlamaShape:
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_query_groups: int
    ffn_hidden_size: int
    vocab_size: int  # rows that are the model's vocabulary (HF config.vocab_size)
    tied_embeddings: bool
    add_bias_linear: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def heads_per_group(self) -> int:
        return self.num_attention_heads // self.num_query_groups


def _layer(i: int) -> tuple[str, str]:
    return f"decoder.layers.{i}.", f"model.layers.{i}."


def split_qkv(qkv: torch.Tensor, shape: LlamaShape) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Megatron's per-group interleaved [g·(q/g+2)·d, ...] -> (q [q·d, ...], k [g·d, ...], v [g·d, ...])."""
    g, r, d = shape.num_query_groups, shape.heads_per_group, shape.head_dim
    grouped = qkv.reshape(g, r + 2, d, *qkv.shape[1:])
    rest = qkv.shape[1:]
    q = grouped[:, :r].reshape(g * r * d, *rest)
    k = grouped[:, r].reshape(g * d, *rest)
    v = grouped[:, r + 1].reshape(g * d, *rest)
    return q.contiguous(), k.contiguous(), v.contiguous()


def fuse_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shape: LlamaShape) -> torch.Tensor:
    """The inverse of `split_qkv`."""
    g, r, d = shape.num_query_groups, shape.heads_per_group, shape.head_dim
    rest = q.shape[1:]
    grouped = torch.cat([q.reshape(g, r, d, *rest), k.reshape(g, 1, d, *rest), v.reshape(g, 1, d, *rest)], dim=1)
    return grouped.reshape(g * (r + 2) * d, *rest).contiguous()


def _pairs(shape: LlamaShape) -> list[tuple[str, str]]:
    """(Megatron name, HF name) of the tensors copied unchanged (biases included where planned)."""
    pairs = [("decoder.final_layernorm.weight", "model.norm.weight")]
    for i in range(shape.num_layers):
        mg, hf = _layer(i)
        pairs += [(mg + "input_layernorm.weight", hf + "input_layernorm.weight"),
                  (mg + "pre_mlp_layernorm.weight", hf + "post_attention_layernorm.weight"),
                  (mg + "self_attention.linear_proj.weight", hf + "self_attn.o_proj.weight"),
                  (mg + "mlp.linear_fc2.weight", hf + "mlp.down_proj.weight")]
        if shape.add_bias_linear:
            pairs += [(mg + "self_attention.linear_proj.bias", hf + "self_attn.o_proj.bias"),
                      (mg + "mlp.linear_fc2.bias", hf + "mlp.down_proj.bias")]
    return pairs


def _suffixes(shape: LlamaShape) -> tuple[str, ...]:
    return ("weight", "bias") if shape.add_bias_linear else ("weight",)


def megatron_to_hf(state: dict[str, torch.Tensor], shape: LlamaShape) -> dict[str, torch.Tensor]:
    """A TP=1 `GPTModel` state dict -> HF `LlamaForCausalLM` tensors (padded vocab rows dropped)."""
    out = {hf: state[mg].clone() for mg, hf in _pairs(shape)}
    for i in range(shape.num_layers):
        mg, hf = _layer(i)
        for sfx in _suffixes(shape):
            q, k, v = split_qkv(state[f"{mg}self_attention.linear_qkv.{sfx}"], shape)
            out[f"{hf}self_attn.q_proj.{sfx}"], out[f"{hf}self_attn.k_proj.{sfx}"] = q, k
            out[f"{hf}self_attn.v_proj.{sfx}"] = v
            gate, up = state[f"{mg}mlp.linear_fc1.{sfx}"].chunk(2, dim=0)
            out[f"{hf}mlp.gate_proj.{sfx}"], out[f"{hf}mlp.up_proj.{sfx}"] = gate.clone(), up.clone()
    out["model.embed_tokens.weight"] = state["embedding.word_embeddings.weight"][: shape.vocab_size].clone()
    if not shape.tied_embeddings:
        out["lm_head.weight"] = state["output_layer.weight"][: shape.vocab_size].clone()
    return out


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    if t.shape[0] == rows:
        return t.clone()
    return torch.cat([t, t.new_zeros(rows - t.shape[0], *t.shape[1:])])


def hf_to_megatron(tensors: dict[str, torch.Tensor], shape: LlamaShape, padded_rows: int) -> dict[str, torch.Tensor]:
    """HF Llama tensors -> a TP=1 `GPTModel` state dict with `padded_rows` vocab rows (zeros added)."""
    out = {mg: tensors[hf].clone() for mg, hf in _pairs(shape)}
    for i in range(shape.num_layers):
        mg, hf = _layer(i)
        for sfx in _suffixes(shape):
            qkv = [tensors[f"{hf}self_attn.{p}_proj.{sfx}"] for p in "qkv"]
            out[f"{mg}self_attention.linear_qkv.{sfx}"] = fuse_qkv(*qkv, shape)
            out[f"{mg}mlp.linear_fc1.{sfx}"] = torch.cat(
                [tensors[f"{hf}mlp.gate_proj.{sfx}"], tensors[f"{hf}mlp.up_proj.{sfx}"]]).contiguous()
    out["embedding.word_embeddings.weight"] = _pad_rows(tensors["model.embed_tokens.weight"], padded_rows)
    if not shape.tied_embeddings:
        out["output_layer.weight"] = _pad_rows(tensors["lm_head.weight"], padded_rows)
    return out


def expected_hf_shapes(shape: LlamaShape) -> dict[str, tuple[int, ...]]:
    """Every tensor an HF directory of this shape must hold, with its shape (checked on import)."""
    h, d, f = shape.hidden_size, shape.head_dim, shape.ffn_hidden_size
    q, kv = shape.num_attention_heads * d, shape.num_query_groups * d
    out: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (shape.vocab_size, h), "model.norm.weight": (h,)}
    if not shape.tied_embeddings:
        out["lm_head.weight"] = (shape.vocab_size, h)
    for i in range(shape.num_layers):
        p = f"model.layers.{i}."
        dims = {"self_attn.q_proj": (q, h), "self_attn.k_proj": (kv, h), "self_attn.v_proj": (kv, h),
                "self_attn.o_proj": (h, q), "mlp.gate_proj": (f, h), "mlp.up_proj": (f, h), "mlp.down_proj": (h, f)}
        for name, dim in dims.items():
            out[f"{p}{name}.weight"] = dim
            if shape.add_bias_linear:
                out[f"{p}{name}.bias"] = dim[:1]
        out[p + "input_layernorm.weight"] = (h,)
        out[p + "post_attention_layernorm.weight"] = (h,)
    return out
