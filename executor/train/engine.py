"""One optimizer step and one evaluation pass, on Megatron's GPU components or their CPU stand-ins.

`MegatronEngine` (GPU): Megatron `DistributedDataParallel` (+ distributed optimizer when planned),
`get_megatron_optimizer` (bf16 with fp32 master weights, clipping), `get_forward_backward_func`
(the no-pipelining, 1F1B or interleaved schedule the layout implies), `finalize_model_grads`.
`CpuEngine`: the same loss and the same step order with cpu_compat's gradient sync and optimizer.
Both take a list of micro-batches (dicts of tokens, labels, loss_mask, position_ids) and return the
DP-averaged mean loss per token.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.distributed as dist

from executor.train.cpu_compat import CpuGradSync, CpuOptimizer, local_grad_norm_squares, reduce_step_statistics


def masked_mean_loss(loss_mask: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the tokens the loss mask keeps (GPTModel returns per-token loss)."""
    mask = loss_mask.reshape(-1).float()
    return (output.float().reshape(-1) * mask).sum() / mask.sum().clamp(min=1.0)


def causal_mask(seq_length: int, device) -> torch.Tensor:
    """Megatron's boolean causal mask, True where attention is masked: [1, 1, s, s]."""
    return torch.triu(torch.ones(seq_length, seq_length, device=device), diagonal=1).bool().view(
        1, 1, seq_length, seq_length)


def _dp_mean(value: torch.Tensor) -> float:
    from megatron.core import parallel_state  # deferred: megatron-core takes seconds to import

    group = parallel_state.get_data_parallel_group()
    dist.all_reduce(value, group=group)
    return value.item() / dist.get_world_size(group)


class CpuEngine:
    """Gradient accumulation over micro-batches, DP all-reduce, clipping, AdamW (see cpu_compat)."""

    def __init__(self, plan, model) -> None:
        from megatron.core import parallel_state  # deferred: megatron-core takes seconds to import

        self.model = model
        self.chunks = [model]
        self.modules = [model]  # what checkpoints hold (no wrapper on CPU)
        self.optimizer = CpuOptimizer(model, plan.recipe)
        self.grad_sync = CpuGradSync(
            model, parallel_state.get_data_parallel_group(), parallel_state.get_tensor_model_parallel_group(),
            model.config.sequence_parallel,
        )
        self.mask = causal_mask(plan.model.seq_length, "cpu")

    def _loss(self, batch) -> torch.Tensor:
        out = self.model(batch["tokens"], batch["position_ids"], self.mask, labels=batch["labels"])
        return masked_mean_loss(batch["loss_mask"], out)

    def train_step(self, batches: list[dict], stop: bool = False) -> tuple[float, float, bool, bool]:
        """-> (DP-mean loss, grad norm, step applied, any rank asked to stop)."""
        self.model.train()
        self.optimizer.zero_grad()
        total = torch.zeros(())
        for batch in batches:
            loss = self._loss(batch) / len(batches)
            loss.backward()
            total += loss.detach()
        self.grad_sync()
        norm, mean_loss, stop_any = reduce_step_statistics(
            local_grad_norm_squares(self.optimizer.parameters()), total, stop)
        ok = self.optimizer.step(norm)
        return mean_loss, norm, ok, stop_any

    @torch.no_grad()
    def eval_loss(self, batches: list[dict]) -> float:
        self.model.eval()
        total = sum(self._loss(b) for b in batches) / len(batches)
        return _dp_mean(torch.as_tensor(total, dtype=torch.float32))


class MegatronEngine:
    """Megatron DDP + distributed optimizer + pipeline schedules (needs CUDA)."""

    def __init__(self, plan, chunks: list) -> None:
        # deferred: megatron-core takes seconds to import
        from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig
        from megatron.core.distributed import finalize_model_grads
        from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer

        lay, r = plan.layout.layout, plan.recipe
        config = chunks[0].config
        self.modules = chunks  # unwrapped, as Megatron-LM's save_checkpoint unwraps them
        ddp_config = DistributedDataParallelConfig(
            grad_reduce_in_fp32=True, overlap_grad_reduce=False,
            use_distributed_optimizer=lay.use_distributed_optimizer,
        )
        self.chunks = [
            DistributedDataParallel(config=config, ddp_config=ddp_config, module=chunk,
                                    disable_bucketing=i > 0)
            for i, chunk in enumerate(chunks)
        ]
        opt_config = OptimizerConfig(
            optimizer="adam", lr=r.lr, min_lr=r.min_lr, weight_decay=r.weight_decay,
            adam_beta1=r.adam_beta1, adam_beta2=r.adam_beta2, adam_eps=r.adam_eps,
            clip_grad=r.clip_grad, bf16=config.bf16, fp16=config.fp16, params_dtype=config.params_dtype,
            use_distributed_optimizer=lay.use_distributed_optimizer,
        )
        self.optimizer = get_megatron_optimizer(opt_config, self.chunks)
        config.grad_scale_func = self.optimizer.scale_loss
        config.finalize_model_grads_func = finalize_model_grads
        if lay.data_parallel_size > 1:
            config.no_sync_func = [c.no_sync for c in self.chunks]
            config.no_sync_func = config.no_sync_func[0] if len(self.chunks) == 1 else config.no_sync_func
        self.num_microbatches = lay.num_microbatches
        self.micro_batch_size = lay.micro_batch_size
        self.seq_length = plan.model.seq_length

    @staticmethod
    def _forward_step(data_iterator, model):
        batch = {k: v.cuda(non_blocking=True) for k, v in next(data_iterator).items()}
        out = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"])

        def loss_func(loss_mask, output):
            loss = masked_mean_loss(loss_mask, output)
            return loss, {"lm loss": loss.detach()}

        return out, partial(loss_func, batch["loss_mask"])

    def _run(self, batches: list[dict], forward_only: bool) -> float:
        # deferred: megatron-core takes seconds to import
        from megatron.core import parallel_state
        from megatron.core.pipeline_parallel import get_forward_backward_func

        iterators = [iter(batches) for _ in self.chunks]
        losses = get_forward_backward_func()(
            forward_step_func=self._forward_step,
            data_iterator=iterators if len(iterators) > 1 else iterators[0],
            model=self.chunks if len(self.chunks) > 1 else self.chunks[0],
            num_microbatches=len(batches), seq_length=self.seq_length,
            micro_batch_size=self.micro_batch_size, decoder_seq_length=self.seq_length,
            forward_only=forward_only,
        )
        local = torch.zeros((), device="cuda")
        if parallel_state.is_pipeline_last_stage(ignore_virtual=True):
            local += torch.stack([x["lm loss"] for x in losses]).mean()
        dist.all_reduce(local, group=parallel_state.get_pipeline_model_parallel_group())
        return _dp_mean(local)

    def train_step(self, batches: list[dict], stop: bool = False) -> tuple[float, float, bool, bool]:
        """-> (DP-mean loss, grad norm, step applied, any rank asked to stop)."""
        for chunk in self.chunks:
            chunk.train()
            chunk.zero_grad_buffer()
        self.optimizer.zero_grad()
        loss = self._run(batches, forward_only=False)
        ok, grad_norm, _ = self.optimizer.step()
        flag = torch.tensor([1 if stop else 0], dtype=torch.int32, device="cuda")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return loss, float(grad_norm or 0.0), bool(ok), bool(flag.item())

    @torch.no_grad()
    def eval_loss(self, batches: list[dict]) -> float:
        for chunk in self.chunks:
            chunk.eval()
        return self._run(batches, forward_only=True)
