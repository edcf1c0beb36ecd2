"""A plan's model section <-> a Hugging Face Llama `config.json`; refusals name field, value and fix.

Values the plan does not carry are megatron-core's defaults, which is what `build_model` trains
with: RoPE base 10000 without scaling (`GPTModel(rotary_base=10000, rope_scaling=False)`), RMSNorm
epsilon 1e-5 (`TransformerConfig.layernorm_epsilon`), head dim = hidden / heads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.errors import PlanInputError

if TYPE_CHECKING:  # convert imports torch; hfconfig stays light for `llmplan plan --continue-from`
    from executor.hf.convert import LlamaShape

ROPE_THETA = 10000.0
RMS_NORM_EPS = 1e-5
LLAMA_TYPES = ("llama",)


def model_vocab_size(plan, tokenizer_vocab_size: int) -> int:
    """The model's own vocabulary rows: the trainer's `max(tokenizer, plan)` before Megatron's
    128 x TP padding (executor.train.model.model_vocab_size); the padding is what export drops."""
    return max(int(tokenizer_vocab_size), int(plan.model.vocab_size))


def shape_of(plan, vocab_size: int) -> LlamaShape:
    # deferred: convert imports torch; hfconfig stays light for `llmplan plan --continue-from`
    from executor.hf.convert import LlamaShape

    m = plan.model
    return LlamaShape(num_layers=m.num_layers, hidden_size=m.hidden_size, num_attention_heads=m.num_attention_heads,
                      num_query_groups=m.num_query_groups, ffn_hidden_size=m.ffn_hidden_size, vocab_size=vocab_size,
                      tied_embeddings=m.tied_embeddings, add_bias_linear=m.add_bias_linear)


def check_llama_family(plan) -> None:
    """The plan's model must be one HF `LlamaForCausalLM` can hold."""
    m = plan.model
    wrong = [f"model.{name}: {value!r}; the Llama family needs {need!r}"
             for name, value, need in (("activation", m.activation, "swiglu"),
                                       ("position_embedding", m.position_embedding, "rope"),
                                       ("normalization", m.normalization, "RMSNorm")) if value != need]
    if wrong:
        raise PlanInputError("the model is not in the Llama architecture family; no HF Llama export", wrong)


DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}  # HF torch_dtype -> plan precision


def plan_dtype_name(plan) -> str:
    """The HF `torch_dtype` name of the plan's training precision (the GPU trainer's parameter dtype)."""
    return {v: k for k, v in DTYPES.items()}.get(plan.recipe.precision, "float32")


def llama_config(plan, vocab_size: int, eod_id: int, dtype_name: str = "float32") -> dict:
    """`config.json` of `LlamaForCausalLM` for the plan's model with `vocab_size` rows."""
    check_llama_family(plan)
    m = plan.model
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": m.hidden_size,
        "intermediate_size": m.ffn_hidden_size,
        "num_hidden_layers": m.num_layers,
        "num_attention_heads": m.num_attention_heads,
        "num_key_value_heads": m.num_query_groups,
        "head_dim": m.hidden_size // m.num_attention_heads,
        "hidden_act": "silu",
        "max_position_embeddings": m.seq_length,
        "rms_norm_eps": RMS_NORM_EPS,
        "rope_theta": ROPE_THETA,  # transformers < 5 reads these two, >= 5 rope_parameters
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": ROPE_THETA},
        "attention_bias": m.add_bias_linear,
        "mlp_bias": m.add_bias_linear,
        "attention_dropout": 0.0,
        "initializer_range": plan.recipe.init_method_std,
        "vocab_size": vocab_size,
        "tie_word_embeddings": m.tied_embeddings,
        "bos_token_id": eod_id,
        "eos_token_id": eod_id,
        "pad_token_id": None,
        "torch_dtype": dtype_name,  # transformers < 5
        "dtype": dtype_name,
        "use_cache": True,
    }


def _rope_theta(config: dict) -> float:
    params = config.get("rope_parameters") or {}  # transformers >= 5 nests it here
    return float(config.get("rope_theta", params.get("rope_theta", ROPE_THETA)))


def _rope_scaling(config: dict):
    params = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or None
    if scaling is None and params.get("rope_type", "default") != "default":
        scaling = params
    return scaling


def check_against_plan(config: dict, plan, source: str) -> LlamaShape:
    """The HF config must be the plan's model exactly (continued pretraining keeps the shape)."""
    check_llama_family(plan)
    if config.get("model_type") not in LLAMA_TYPES:
        raise PlanInputError(f"model_type {config.get('model_type')!r} is not a Llama-family model", [
            "config.json: model_type must be 'llama' (LlamaForCausalLM); convert other families first"], source)
    m = plan.model
    heads = config.get("num_attention_heads")
    wants = {
        "num_hidden_layers": ("model.num_layers", m.num_layers),
        "hidden_size": ("model.hidden_size", m.hidden_size),
        "num_attention_heads": ("model.num_attention_heads", m.num_attention_heads),
        "num_key_value_heads": ("model.num_query_groups", m.num_query_groups),
        "intermediate_size": ("model.ffn_hidden_size", m.ffn_hidden_size),
        "vocab_size": ("model.vocab_size", m.vocab_size),
        "tie_word_embeddings": ("model.tied_embeddings", m.tied_embeddings),
        "attention_bias": ("model.add_bias_linear", m.add_bias_linear),
        "hidden_act": ("model.activation", "silu"),
        "head_dim": ("hidden_size / num_attention_heads", m.hidden_size // m.num_attention_heads),
        "rms_norm_eps": ("megatron-core layernorm_epsilon", RMS_NORM_EPS),
    }
    defaults = {"num_key_value_heads": heads, "tie_word_embeddings": False, "attention_bias": False,
                "hidden_act": "silu", "head_dim": (config.get("hidden_size") or 0) // (heads or 1),
                "rms_norm_eps": 1e-6}
    lines = []
    for key, (field, want) in wants.items():
        got = config.get(key, defaults.get(key))
        if got != want and not (isinstance(want, float) and isinstance(got, float) and abs(got - want) < 1e-12):
            lines.append(f"config.json {key}: {got!r} does not match {field} ({want!r}) of the plan")
    if _rope_theta(config) != ROPE_THETA:
        lines.append(f"config.json rope_theta: {_rope_theta(config)!r}; llmplan trains with megatron-core's "
                     f"rotary_base {ROPE_THETA:g}")
    if _rope_scaling(config) is not None:
        lines.append(f"config.json rope_scaling: {_rope_scaling(config)!r}; llmplan trains without RoPE scaling")
    if lines:
        lines.append("fix: derive the plan from this model's shape (the shape is fixed for continued pretraining)")
        raise PlanInputError("the Hugging Face model does not match the plan's model", lines, source)
    return shape_of(plan, m.vocab_size)
