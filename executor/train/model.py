"""megatron-core `GPTModel` shaped by a plan, with a layout-independent initialisation.

`build_model(plan, vocab_size)` is the one place a plan's model section becomes Megatron objects;
the trainer and the evaluation adapter (executor/evaluate) both call it. It expects
`parallel_state` to be initialised (a single process is TP=1, see `init_single_process`).
"""

from __future__ import annotations

import math
import zlib

import torch

from planner.errors import PlanInputError
from planner.compute.memory import padded_vocab_size  # Megatron-LM's rule: a multiple of 128 x TP

def model_vocab_size(plan, tokenizer_vocab_size: int, tensor_parallel_size: int) -> int:
    """Embedding rows: the larger of the tokenizer's and the plan's vocabulary, padded to a multiple
    of 128 x TP (Megatron-LM's `_vocab_size_with_padding`).

    A BPE trained on a small corpus can stop below the planned size; keeping the planned size then
    gives the model exactly the shape the planner costed (unused rows are like Megatron's padding).
    """
    return padded_vocab_size(max(tokenizer_vocab_size, plan.model.vocab_size), tensor_parallel_size)


def transformer_config(plan, *, on_gpu: bool):
    """`TransformerConfig` from the plan's model shape, layout and recipe."""
    # deferred: megatron-core takes seconds to import
    from megatron.core.transformer.transformer_config import TransformerConfig

    from megatron.core import parallel_state as ps  # deferred: megatron-core takes seconds to import

    m, r = plan.model, plan.recipe
    lay = plan.layout.layout if plan.layout else None
    # sizes from the initialised parallel state (a TP=2 run is loaded for inference at TP=1)
    tp, pp = ps.get_tensor_model_parallel_world_size(), ps.get_pipeline_model_parallel_world_size()
    cp = ps.get_context_parallel_world_size()
    vpp = (lay.virtual_pipeline_model_parallel_size if lay else 1) if pp > 1 else 1
    recompute = lay.recompute if lay else "none"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(r.precision, torch.float32)
    if not on_gpu:
        dtype = torch.float32
    return TransformerConfig(
        num_layers=m.num_layers,
        hidden_size=m.hidden_size,
        num_attention_heads=m.num_attention_heads,
        num_query_groups=m.num_query_groups,
        ffn_hidden_size=m.ffn_hidden_size,
        gated_linear_unit=m.activation == "swiglu",
        activation_func=torch.nn.functional.silu if m.activation == "swiglu" else torch.nn.functional.gelu,
        normalization=m.normalization,
        add_bias_linear=m.add_bias_linear,
        hidden_dropout=r.hidden_dropout,
        attention_dropout=r.attention_dropout,
        init_method_std=r.init_method_std,
        tensor_model_parallel_size=tp,
        pipeline_model_parallel_size=pp,
        virtual_pipeline_model_parallel_size=vpp if vpp > 1 else None,
        context_parallel_size=cp,
        sequence_parallel=bool(lay and lay.sequence_parallel and tp > 1),
        recompute_granularity=None if recompute == "none" else recompute,
        recompute_method="uniform" if recompute == "full" else None,
        recompute_num_layers=1 if recompute == "full" else None,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        use_cpu_initialization=not on_gpu,
        perform_initialization=True,
        bias_dropout_fusion=False,
        bias_activation_fusion=False,
        apply_rope_fusion=False,
        masked_softmax_fusion=False,
        persist_layer_norm=False,
        gradient_accumulation_fusion=False,
        deterministic_mode=not on_gpu,
    )


def transformer_engine_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        # deferred: transformer_engine is optional and CUDA-only
        import transformer_engine  # noqa: F401
    except ImportError:
        return False
    return True


def layer_spec(plan):
    """Transformer Engine's layer spec where TE is installed (GPU), megatron-core's local one otherwise."""
    from megatron.core.models.gpt import gpt_layer_specs  # deferred: megatron-core takes seconds to import

    if transformer_engine_available():
        return gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec()
    return gpt_layer_specs.get_gpt_layer_local_spec(normalization=plan.model.normalization)


def _check_sequence_parallel(config) -> None:
    if config.sequence_parallel and not transformer_engine_available():
        raise PlanInputError(
            "layout.layout.sequence_parallel (true) needs Transformer Engine's layer spec (a GPU with "
            "transformer_engine installed): megatron-core's local norm does not support sequence "
            "parallelism; set sequence_parallel: false for this machine"
        )


def build_model(plan, vocab_size: int, *, on_gpu: bool | None = None, vp_stage: int | None = None,
                seed: int | None = None):
    """One `GPTModel` chunk for this rank, initialised identically whatever the layout.

    `vocab_size` is the tokenizer's; the model gets `model_vocab_size` rows (see there).
    """
    # deferred: megatron-core takes seconds to import
    from megatron.core import parallel_state
    from megatron.core.models.gpt.gpt_model import GPTModel

    on_gpu = torch.cuda.is_available() if on_gpu is None else on_gpu
    config = transformer_config(plan, on_gpu=on_gpu)
    _check_sequence_parallel(config)
    tp = parallel_state.get_tensor_model_parallel_world_size()
    model = GPTModel(
        config=config,
        transformer_layer_spec=layer_spec(plan),
        vocab_size=model_vocab_size(plan, vocab_size, tp),
        max_sequence_length=plan.model.seq_length,
        pre_process=parallel_state.is_pipeline_first_stage(ignore_virtual=False, vp_stage=vp_stage),
        post_process=parallel_state.is_pipeline_last_stage(ignore_virtual=False, vp_stage=vp_stage),
        share_embeddings_and_output_weights=plan.model.tied_embeddings,
        position_embedding_type="rope" if plan.model.position_embedding == "rope" else "learned_absolute",
        vp_stage=vp_stage,
    )
    if on_gpu:
        model.cuda(torch.cuda.current_device())
    init_layout_invariant(model, plan.recipe.seed if seed is None else seed,
                          plan.recipe.init_method_std, plan.model.num_layers)
    return model


def _init_kind(key: str) -> str:
    if key.endswith("bias"):
        return "zeros"
    if "norm" in key and key.endswith("weight"):
        return "ones"
    if key.endswith(("linear_proj.weight", "linear_fc2.weight")):
        return "scaled"
    return "normal"


def _fill_shard(sh, seed: int, std: float, num_layers: int) -> None:
    """Draw the whole tensor from a generator seeded by (seed, key); keep this rank's slice."""
    kind = _init_kind(sh.key)
    if kind in ("zeros", "ones"):
        sh.data.data.fill_(0.0 if kind == "zeros" else 1.0)
        return
    scale = std / math.sqrt(2.0 * num_layers) if kind == "scaled" else std
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + zlib.crc32(sh.key.encode()))
    full = torch.empty(sh.global_shape, dtype=torch.float32).normal_(0.0, scale, generator=gen)
    pre = sh.prepend_axis_num
    index = [slice(o, o + 1) for o in sh.global_offset[:pre]]
    index += [slice(o, o + n) for o, n in zip(sh.global_offset[pre:], sh.data.shape)]
    shard = full[tuple(index)].reshape(sh.data.shape)
    sh.data.data.copy_(shard.to(sh.data.device, sh.data.dtype))


def init_layout_invariant(model, seed: int, std: float, num_layers: int) -> None:
    """Re-initialise every parameter as a function of (seed, checkpoint key) only.

    Megatron initialises each TP shard from its own RNG, and a SwiGLU fc1 shard holds halves of the
    gate and up projections, so TP=1 and TP=2 start from different functions. Drawing each tensor
    whole in the checkpoint's (layout-independent) coordinates and keeping the local slice makes
    every layout start from the same model: Megatron's init rule (normal(0, std); output
    projections std / sqrt(2 L), Megatron-LM `scaled_init_method_normal`; norms 1; biases 0).
    """
    # deferred: megatron-core takes seconds to import
    from megatron.core.dist_checkpointing.mapping import ShardedTensor, ShardedTensorFactory
    from megatron.core.dist_checkpointing.dict_utils import nested_values

    with torch.no_grad():
        for item in nested_values(model.sharded_state_dict(prefix="")):
            if isinstance(item, ShardedTensorFactory):
                built = item.build()
                items = [built] if isinstance(built, ShardedTensor) else list(nested_values(built))
            else:
                items = [item]
            for sh in items:
                if isinstance(sh, ShardedTensor) and sh.data.is_floating_point() and "_extra_state" not in sh.key:
                    _fill_shard(sh, seed, std, num_layers)
