"""What megatron-core needs to train on a machine without a GPU (gloo), in one place.

megatron-core 0.16 is CUDA-first. Measured on torch 2.13 CPU (see docs/training.md): `GPTModel`
forward and backward under TP=2 with gloo work once `torch.cuda.current_device()` (used for scratch
buffers) and the CUDA RNG tracker are routed to the CPU. The pipeline schedules (a `device="cuda"`
token counter), Megatron `DistributedDataParallel` (CUDA grad buffers and streams), the Megatron
optimizer (`found_inf` and scale tensors on CUDA) and the async checkpoint writer
(`torch.cuda.synchronize()`) do not, so this module supplies the torch equivalents the CPU path uses
in their place:

- `install_cpu_shim()`: the routing above (call once, before any megatron import that allocates).
- `CpuGradSync`: data-parallel gradient averaging by all-reduce over the DP group (what Megatron
  DDP does, without the overlap), plus the TP all-reduce of sequence-parallel norm gradients
  (what `finalize_model_grads` does).
- `CpuOptimizer`: torch AdamW with Megatron's parameter groups (no weight decay on biases and 1-D
  parameters), Megatron's clipping rule, and a `sharded_state_dict` built with megatron's own
  `optim_state_to_sharding_state`, so its checkpoints have Megatron's layout;
  `local_grad_norm_squares` + `reduce_step_statistics`: Megatron's TP-aware gradient norm, reduced
  in the same collective as the logged loss and the stop-signal flag.
- `SyncTorchDistSaveStrategy`: dist_checkpointing's torch_dist format written synchronously with
  torch.distributed.checkpoint's `FileSystemWriter` (same files, loadable by Megatron's loader).
- `refuse_unsupported_on_cpu(layout)`: PP>1 and CP>1 need the CUDA schedules; a clear error.
"""

from __future__ import annotations

import math
from itertools import chain
from pathlib import Path

import torch
import torch.distributed as dist

from planner.errors import PlanInputError

_INSTALLED = False


def install_cpu_shim() -> None:
    """Route megatron-core's CUDA buffer and RNG-state calls to the CPU (idempotent)."""
    global _INSTALLED
    if _INSTALLED or torch.cuda.is_available():
        return
    torch.cuda.current_device = lambda: "cpu"
    torch.cuda.get_rng_state = lambda device=None: torch.get_rng_state()
    torch.cuda.set_rng_state = lambda state, device=None: torch.set_rng_state(state)
    # torch.manual_seed itself calls torch.cuda.manual_seed_all: seed the CPU generator directly
    torch.cuda.manual_seed = lambda seed: torch.default_generator.manual_seed(int(seed))
    torch.cuda.manual_seed_all = lambda seed: None
    import megatron.core.tensor_parallel.random as mrandom  # deferred: megatron-core takes seconds to import

    mrandom._set_cuda_rng_state = lambda state, device=-1, graph_safe=False: torch.set_rng_state(state)
    mrandom._get_cuda_rng_state = lambda device="cuda", clone=False, graph_safe=False: torch.get_rng_state()
    _INSTALLED = True


def refuse_unsupported_on_cpu(layout) -> None:
    """PP>1 and CP>1 use megatron's CUDA-only schedules and p2p code: refuse them by name."""
    problems = []
    if layout.pipeline_model_parallel_size > 1:
        problems.append(f"pipeline_model_parallel_size ({layout.pipeline_model_parallel_size})")
    if layout.virtual_pipeline_model_parallel_size > 1:
        problems.append(
            f"virtual_pipeline_model_parallel_size ({layout.virtual_pipeline_model_parallel_size})"
        )
    if layout.context_parallel_size > 1:
        problems.append(f"context_parallel_size ({layout.context_parallel_size})")
    if problems:
        raise PlanInputError(
            f"layout.layout: {', '.join(problems)} must be 1 without a GPU: megatron-core's pipeline "
            "schedules and context-parallel attention need CUDA; run on GPUs, or plan a layout "
            "with tensor and data parallelism only for a CPU run"
        )


class CpuGradSync:
    """Average gradients over the data-parallel group after the last micro-batch."""

    def __init__(self, model: torch.nn.Module, dp_group, tp_group, sequence_parallel: bool) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.dp_group = dp_group
        self.tp_group = tp_group
        self.sequence_parallel = sequence_parallel

    def _all_reduce_flat(self, grads: list[torch.Tensor], group, average: bool) -> None:
        if not grads or dist.get_world_size(group) == 1:
            return
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat, group=group)
        if average:
            flat /= dist.get_world_size(group)
        for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(synced)

    def __call__(self) -> None:
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if self.sequence_parallel:
            sp = [p.grad for p in self.params if getattr(p, "sequence_parallel", False)]
            self._all_reduce_flat(sp, self.tp_group, average=False)
        self._all_reduce_flat([p.grad for p in self.params], self.dp_group, average=True)


def megatron_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Megatron's default groups: no weight decay on biases and 1-D parameters (norm weights)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith(".bias") or p.ndim == 1 else decay).append(p)
    groups = [{"params": decay, "wd_mult": 1.0, "weight_decay": weight_decay},
              {"params": no_decay, "wd_mult": 0.0, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def local_grad_norm_squares(params: list[torch.nn.Parameter]) -> torch.Tensor:
    """This rank's share of the squared L2 gradient norm, counting TP-replicated parameters once.

    Same rule as megatron.core.optimizer.clip_grads.get_grad_norm_fp32: a parameter counts on
    every TP rank if it is tensor-parallel, else only on TP rank 0; the caller sums the shares
    over the model-parallel group.
    """
    # deferred: megatron-core takes seconds to import
    from megatron.core.tensor_parallel import param_is_not_tensor_parallel_duplicate

    grads = [p.grad.detach() for p in params if p.grad is not None and param_is_not_tensor_parallel_duplicate(p)]
    if not grads:
        return torch.zeros((), dtype=torch.float64)
    return torch.stack(torch._foreach_norm(grads)).double().pow(2).sum()


def reduce_step_statistics(norm_squares: torch.Tensor, loss: torch.Tensor, stop: bool) -> tuple[float, float, bool]:
    """One all-reduce over all ranks for the grad norm, the DP-mean loss and the stop flag.

    Without PP/CP (the CPU path), every DP replica holds the same gradients after the DP all-reduce
    and every TP rank the same loss, so world sums divided by DP (norm) and by TP x DP (loss) are
    the model-parallel norm and the data-parallel mean. One collective instead of three per step.
    """
    from megatron.core import parallel_state as ps  # deferred: megatron-core takes seconds to import

    dp, tp = ps.get_data_parallel_world_size(), ps.get_tensor_model_parallel_world_size()
    stats = torch.stack([norm_squares.double() / dp, loss.double().reshape(()) / (tp * dp),
                         torch.tensor(1.0 if stop else 0.0, dtype=torch.float64)])
    dist.all_reduce(stats)
    return math.sqrt(stats[0].item()), stats[1].item(), stats[2].item() > 0


class CpuOptimizer:
    """torch AdamW with Megatron's groups, gradient clipping and a Megatron-layout checkpoint."""

    def __init__(self, model, recipe) -> None:
        self.model = model
        self.optimizer = torch.optim.AdamW(
            megatron_param_groups(model, recipe.weight_decay),
            lr=recipe.lr, betas=(recipe.adam_beta1, recipe.adam_beta2), eps=recipe.adam_eps,
            weight_decay=recipe.weight_decay,
        )
        self.clip_grad = recipe.clip_grad

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(chain.from_iterable(g["params"] for g in self.optimizer.param_groups))

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self, norm: float) -> bool:
        """Clip (Megatron's rule: scale by clip/(norm+1e-6) when below 1) and step; False if skipped."""
        params = self.parameters()
        if not math.isfinite(norm):
            self.zero_grad()
            return False
        if self.clip_grad > 0:
            coeff = self.clip_grad / (norm + 1.0e-6)
            if coeff < 1.0:
                torch._foreach_mul_([p.grad for p in params if p.grad is not None], coeff)
        self.optimizer.step()
        return True

    def init_state(self) -> None:
        """Create zero AdamW state (as torch would on the first step), so a load has targets."""
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if not self.optimizer.state[p]:
                    self.optimizer.state[p] = {
                        "step": torch.tensor(0.0),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                    }

    def sharded_state_dict(self, model_sharded_state_dict, is_loading: bool = False):
        """Megatron's FP32Optimizer layout: per-parameter state as sharded tensors, one common step."""
        # deferred: megatron-core takes seconds to import
        from megatron.core.dist_checkpointing.optimizer import (
            get_param_id_to_sharded_param_map,
            optim_state_to_sharding_state,
        )

        if is_loading:
            self.init_state()
        state = self.optimizer.state_dict()
        steps = {float(s["step"]) for s in state["state"].values() if "step" in s}
        if len(steps) > 1:
            raise ValueError(f"optimizer step differs between parameters: {sorted(steps)}")
        id_map = get_param_id_to_sharded_param_map(model_sharded_state_dict, self.parameters())
        optim_state_to_sharding_state(state, id_map, exclude_keys="step")
        for s in state["state"].values():
            s.pop("step", None)
        state["state"]["common_step"] = torch.tensor(steps.pop() if steps else 0.0)
        return state

    def load_state_dict(self, state) -> None:
        step = state["state"].pop("common_step")
        for s in state["state"].values():
            s["step"] = step.clone().float()
        self.optimizer.load_state_dict(state)


def sync_save_strategy():
    """dist_checkpointing's torch_dist format, written synchronously without CUDA calls."""
    # deferred: megatron-core takes seconds to import, with torch's distributed checkpoint
    from megatron.core.dist_checkpointing.strategies.base import SaveShardedStrategy
    from megatron.core.dist_checkpointing.strategies.torch import (
        MCoreSavePlanner,
        _replace_state_dict_keys_with_sharded_keys,
        mcore_to_pyt_state_dict,
    )
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint import save as dcp_save

    class SyncTorchDistSaveStrategy(SaveShardedStrategy):
        def save(self, sharded_state_dict, checkpoint_dir) -> None:
            sharded_state_dict, _, _ = _replace_state_dict_keys_with_sharded_keys(
                sharded_state_dict, True
            )
            pyt_state_dict = mcore_to_pyt_state_dict(sharded_state_dict, False)
            dcp_save(
                pyt_state_dict,
                storage_writer=FileSystemWriter(Path(checkpoint_dir), thread_count=1),
                planner=MCoreSavePlanner(dedup_replicated_tensors=False, flatten_state_dict=False),
            )

        def can_handle_sharded_objects(self) -> bool:
            return True

    return SyncTorchDistSaveStrategy("torch_dist", 1)
