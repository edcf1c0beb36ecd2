"""Export to and import from Hugging Face Transformers, on tiny runs really trained at TP=2 and DP=2.

The Megatron side is the run's checkpoint through the evaluator's loader (a TP=1 `GPTModel`,
resharded by dist_checkpointing); the HF side is `transformers.AutoModelForCausalLM` on the export.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("megatron.core")

from exec_helpers import cli  # noqa: E402
from hf_support import (  # noqa: E402, F401 - fixtures
    dp2_run,
    hf_model,
    megatron_model,
    plan_variant,
    prepared_data,
    run_train,
    tp2_run,
)

from executor.evaluate.checkpoint import megatron_logits_fn  # noqa: E402
from planner.io import read_plan  # noqa: E402

pytestmark = pytest.mark.slow

LOGIT_TOL = 1e-4


def _tokens(vocab: int) -> torch.Tensor:
    return torch.randint(0, vocab, (3, 128), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("layout", ["tp2", "dp2"])
def test_export_loads_in_transformers_with_logits_within_1e_4_of_megatron(layout, request):
    run = request.getfixturevalue(f"{layout}_run")
    lay = read_plan(run / "checkpoints" / "plan.yaml").layout.layout
    assert (lay.tensor_model_parallel_size, lay.data_parallel_size) == {"tp2": (2, 1), "dp2": (1, 2)}[layout]
    model, tok = megatron_model(run)
    hf = hf_model(run / "hf")
    vocab = hf.config.vocab_size
    tokens = _tokens(tok.vocab_size)
    with torch.no_grad():
        diff = (megatron_logits_fn(model, vocab)(tokens) - hf(tokens).logits).abs().max().item()
    print(f"FIGURE {layout}: max |logit diff| Megatron vs HF on 3x128 tokens, float32: {diff:.3g}")
    assert diff <= LOGIT_TOL


def _megatron_greedy(model, prompt: list[int], num: int, eod: int, vocab: int) -> list[int]:
    ids = list(prompt)
    for _ in range(num):
        nxt = int(megatron_logits_fn(model, vocab)(torch.tensor([ids]))[0, -1].argmax())
        ids.append(nxt)
        if nxt == eod:
            break
    return ids[len(prompt):]


def test_greedy_generations_of_32_tokens_are_identical(tp2_run):
    from tokenizers import Tokenizer

    model, tok = megatron_model(tp2_run)
    hf = hf_model(tp2_run / "hf")
    text = Tokenizer.from_file(str(tp2_run / "hf" / "tokenizer.json"))
    prompts = ["The for statement", "Class definitions", "Exceptions are raised"]
    for prompt in prompts:
        ids = text.encode(prompt).ids
        mine = _megatron_greedy(model, ids, 32, tok.eod, hf.config.vocab_size)
        theirs = hf.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False)[0, len(ids):].tolist()
        print(f"FIGURE greedy {prompt!r}: {len(mine)} tokens, identical={mine == theirs}")
        assert mine == theirs


def test_export_writes_a_llama_config_tokenizer_and_model_card(tp2_run):
    from transformers import AutoTokenizer

    out = tp2_run / "hf"
    config = json.loads((out / "config.json").read_text())
    assert (config["architectures"], config["num_key_value_heads"], config["intermediate_size"]) == (
        ["LlamaForCausalLM"], 2, 352)
    assert config["vocab_size"] == 4096 and config["tie_word_embeddings"] is False
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.eos_token == "<|endoftext|>" and tok.eos_token_id == config["eos_token_id"]
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == config["eos_token_id"]
    card = (out / "README.md").read_text()
    for needle in ("tokens trained (this checkpoint) | 40,960", "device-hours", "CO2 (kg)", "pydoc"):
        assert needle in card


def test_a_sharded_export_holds_the_same_tensors_and_loads(tp2_run, tmp_path):
    from safetensors.torch import load_file

    code, out = cli("export-model", str(tp2_run), "-o", str(tmp_path / "sharded"), "--max-shard-size-mb", "2")
    assert code == 0, out
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 3 and not (tmp_path / "sharded" / "model.safetensors").exists()
    whole = load_file(str(tp2_run / "hf" / "model.safetensors"))
    parts = {}
    for name in shards:
        parts.update(load_file(str(tmp_path / "sharded" / name)))
    assert sorted(parts) == sorted(whole) and all(torch.equal(parts[k], whole[k]) for k in whole)
    hf = hf_model(tmp_path / "sharded")
    assert torch.equal(hf.lm_head.weight, whole["lm_head.weight"])


def test_hf_import_export_round_trip_is_bit_identical(tp2_run, tmp_path):
    from safetensors.torch import load_file

    code, out = cli("import-model", str(tp2_run / "hf"), "--plan", str(tp2_run / "checkpoints" / "plan.yaml"),
                    "-o", str(tmp_path / "imported"), "--tokens-seen", "40960")
    assert code == 0, out
    code, out = cli("export-model", str(tmp_path / "imported"), "-o", str(tmp_path / "again"))
    assert code == 0, out
    assert "| continued from | " in (card := (tmp_path / "again" / "README.md").read_text())
    assert "(40,960 tokens before import;" in card
    before, after = tp2_run / "hf" / "model.safetensors", tmp_path / "again" / "model.safetensors"
    first, second = load_file(str(before)), load_file(str(after))
    assert sorted(first) == sorted(second)
    same = sum(torch.equal(first[k], second[k]) and first[k].dtype == second[k].dtype for k in first)
    print(f"FIGURE round trip HF -> import -> export: {same}/{len(first)} tensors bit-identical")
    assert same == len(first)
    assert before.read_bytes() == after.read_bytes()


def _hf_loss_on_first_batch(hf, plan, data_dir, cache_dir) -> float:
    """The trainer's step-1 loss rule (mean over micro-batches of the masked token mean) on its batch."""
    from executor.train import data
    from executor.train.checkpoint import _init_single_process

    _init_single_process()
    tok = data.read_tokenizer_meta(data_dir, plan.data.tokenizer.eod_token)
    train, _ = data.build_datasets(plan, data_dir, tok, cache_dir, build_on_rank=lambda: True)
    lay, losses = plan.layout.layout, []
    with torch.no_grad():
        for m in range(lay.global_batch_size // lay.micro_batch_size):
            batch = data.collate(train, range(m * lay.micro_batch_size, (m + 1) * lay.micro_batch_size))
            logits = hf(batch["tokens"]).logits
            ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), reduction="none")
            mask = batch["loss_mask"].flatten().float()
            losses.append(((ce * mask).sum() / mask.sum()).item())
    return sum(losses) / len(losses)


def test_import_then_train_20_steps_starts_at_the_hf_models_loss(tp2_run, prepared_data, tmp_path):
    plan_path = tp2_run / "checkpoints" / "plan.yaml"
    run = tmp_path / "continued"
    code, out = cli("import-model", str(tp2_run / "hf"), "--plan", str(plan_path), "-o", str(run))
    assert code == 0, out
    run_train(2, plan_path, prepared_data, run, "--max-steps", "20")
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 21))
    hf_loss = _hf_loss_on_first_batch(hf_model(tp2_run / "hf"), read_plan(plan_path), prepared_data,
                                      run / "data_cache")
    print(f"FIGURE import + train: step-1 loss {metrics[0]['loss']:.6f}, HF loss on that batch {hf_loss:.6f}, "
          f"|diff| {abs(metrics[0]['loss'] - hf_loss):.3g}; step 20 loss {metrics[-1]['loss']:.4f}")
    assert abs(metrics[0]["loss"] - hf_loss) <= 1e-4
    assert (run / "checkpoints" / "iter_0000020").is_dir()


def test_export_of_a_run_without_a_checkpoint_exits_2(tmp_path):
    (tmp_path / "run").mkdir()
    code, out = cli("export-model", str(tmp_path / "run"), "-o", str(tmp_path / "hf"))
    assert code == 2 and "no checkpoint to export" in out
    assert not (tmp_path / "hf").exists()


def test_export_of_a_missing_step_exits_2_and_lists_the_steps(tp2_run, tmp_path):
    code, out = cli("export-model", str(tp2_run), "--step", "7", "-o", str(tmp_path / "hf"))
    assert code == 2 and "no checkpoint at step 7" in out and "iter_0000020" in out


def _copy_export(tp2_run, dest, drop=(), config_changes=None):
    import shutil

    shutil.copytree(tp2_run / "hf", dest)
    for name in drop:
        (dest / name).unlink()
    if config_changes:
        config = json.loads((dest / "config.json").read_text())
        config.update(config_changes)
        (dest / "config.json").write_text(json.dumps(config))
    return dest


def test_import_without_a_tokenizer_exits_2(tp2_run, tmp_path):
    src = _copy_export(tp2_run, tmp_path / "hf", drop=["tokenizer.json"])
    code, out = cli("import-model", str(src), "--plan", str(tp2_run / "checkpoints" / "plan.yaml"),
                    "-o", str(tmp_path / "out"))
    assert code == 2 and "no tokenizer" in out and "tokenizer.json is missing" in out
    assert not (tmp_path / "out").exists()


def test_import_into_a_plan_of_another_shape_exits_2_naming_the_fields(tp2_run, tmp_path):
    plan = plan_variant(tmp_path, model__ffn_hidden_size=384, model__num_layers=2)
    code, out = cli("import-model", str(tp2_run / "hf"), "--plan", str(plan), "-o", str(tmp_path / "out"))
    assert code == 2, out
    assert "intermediate_size: 352 does not match model.ffn_hidden_size (384)" in out
    assert "num_hidden_layers: 4 does not match model.num_layers (2)" in out


def test_import_of_another_architecture_or_rope_exits_2(tp2_run, tmp_path):
    plan = str(tp2_run / "checkpoints" / "plan.yaml")
    src = _copy_export(tp2_run, tmp_path / "gpt2", config_changes={"model_type": "gpt2"})
    code, out = cli("import-model", str(src), "--plan", plan, "-o", str(tmp_path / "a"))
    assert code == 2 and "model_type 'gpt2' is not a Llama-family model" in out
    src = _copy_export(tp2_run, tmp_path / "rope", config_changes={
        "rope_theta": 500000.0, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}})
    code, out = cli("import-model", str(src), "--plan", plan, "-o", str(tmp_path / "b"))
    assert code == 2 and "rope_theta: 500000.0" in out


def test_import_of_weights_with_a_wrong_tensor_shape_exits_2(tp2_run, tmp_path):
    from safetensors.torch import load_file, save_file

    src = _copy_export(tp2_run, tmp_path / "hf")
    tensors = load_file(str(src / "model.safetensors"))
    tensors["model.layers.1.self_attn.k_proj.weight"] = tensors["model.layers.1.self_attn.q_proj.weight"].clone()
    save_file(tensors, str(src / "model.safetensors"))
    code, out = cli("import-model", str(src), "--plan", str(tp2_run / "checkpoints" / "plan.yaml"),
                    "-o", str(tmp_path / "out"))
    assert code == 2 and "model.layers.1.self_attn.k_proj.weight: shape (128, 128), the plan implies (64, 128)" in out


@pytest.mark.parametrize("tied", [False, True])
def test_a_model_written_by_transformers_imports_with_its_logits_and_exports_back_unchanged(
        tied, prepared_data, tmp_path):
    """Independent of llmplan's export: a random `LlamaForCausalLM` saved by transformers itself."""
    import shutil

    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=4096, hidden_size=128, intermediate_size=352, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=tied, bos_token_id=0,
                         eos_token_id=0)
    torch.manual_seed(0)
    original = LlamaForCausalLM(config).eval()
    src = tmp_path / "hf"
    original.save_pretrained(src)
    shutil.copyfile(prepared_data / "tokenizer.json", src / "tokenizer.json")
    plan = plan_variant(tmp_path, model__tied_embeddings=tied)
    code, out = cli("import-model", str(src), "--plan", str(plan), "-o", str(tmp_path / "run"))
    assert code == 0, out
    model, _ = megatron_model(tmp_path / "run")
    tokens = _tokens(4096)
    with torch.no_grad():
        diff = (megatron_logits_fn(model, 4096)(tokens) - original(tokens).logits).abs().max().item()
    print(f"FIGURE transformers-written model (tied={tied}) imported: max |logit diff| {diff:.3g}")
    assert diff <= LOGIT_TOL
    code, out = cli("export-model", str(tmp_path / "run"), "-o", str(tmp_path / "back"))
    assert code == 0, out
    before, after = load_file(str(src / "model.safetensors")), load_file(str(tmp_path / "back" / "model.safetensors"))
    assert sorted(before) == sorted(after) and all(torch.equal(before[k], after[k]) for k in before)
    assert ("lm_head.weight" in after) is not tied


def test_a_pp2_checkpoint_exports_exactly_the_tensors_of_the_same_model_at_tp1(prepared_data, tmp_path):
    """PP=2 (one pipeline stage per CPU process, built and saved; the CPU trainer cannot train PP): the
    initialisation is layout-independent, so the export must equal a TP=1 model of the same seed,
    layer for layer (stage 2's local layers 0-1 are global layers 2-3)."""
    import subprocess
    import sys

    from megatron.core.tensor_parallel.random import model_parallel_cuda_manual_seed
    from safetensors.torch import load_file

    from executor.hf.convert import megatron_to_hf
    from executor.hf.hfconfig import shape_of
    from executor.train.checkpoint import _init_single_process
    from executor.train.model import build_model
    from hf_support import ROOT, test_env

    plan_path = plan_variant(tmp_path, layout__layout__tensor_model_parallel_size=1,
                             layout__layout__pipeline_model_parallel_size=2)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(ROOT / "tests" / "executor" / "hf_pp_checkpoint.py"), str(plan_path),
                           str(prepared_data), str(tmp_path / "run")],
                          cwd=ROOT, env=test_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    code, out = cli("export-model", str(tmp_path / "run"), "-o", str(tmp_path / "hf"))
    assert code == 0, out
    exported = load_file(str(tmp_path / "hf" / "model.safetensors"))
    plan = read_plan(plan_path)
    _init_single_process()
    model_parallel_cuda_manual_seed(plan.recipe.seed)
    reference = build_model(plan, 4096, on_gpu=False).state_dict()
    expected = megatron_to_hf({k: v for k, v in reference.items() if "_extra_state" not in k}, shape_of(plan, 4096))
    assert sorted(expected) == sorted(exported)
    same = sum(torch.equal(expected[k], exported[k]) for k in expected)
    print(f"FIGURE PP=2 checkpoint -> export: {same}/{len(expected)} tensors equal to the TP=1 model of the same seed")
    assert same == len(expected)
    assert not torch.equal(exported["model.layers.1.mlp.up_proj.weight"], exported["model.layers.3.mlp.up_proj.weight"])


def test_a_bfloat16_model_round_trips_bit_identical_through_a_bf16_plan(prepared_data, tmp_path):
    """Published Llama checkpoints are bf16: import stores the plan's precision (as the GPU trainer's
    checkpoints do) and `--dtype auto` exports what the checkpoint stores."""
    import shutil

    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=4096, hidden_size=128, intermediate_size=352, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(1)
    src = tmp_path / "hf"
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(src)
    shutil.copyfile(prepared_data / "tokenizer.json", src / "tokenizer.json")
    plan = plan_variant(tmp_path, recipe__precision="bf16")
    code, out = cli("import-model", str(src), "--plan", str(plan), "-o", str(tmp_path / "run"))
    assert code == 0, out
    code, out = cli("export-model", str(tmp_path / "run"), "-o", str(tmp_path / "back"))
    assert code == 0, out
    before, after = load_file(str(src / "model.safetensors")), load_file(str(tmp_path / "back" / "model.safetensors"))
    assert {t.dtype for t in after.values()} == {torch.bfloat16}
    assert sorted(before) == sorted(after) and all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((tmp_path / "back" / "config.json").read_text())["torch_dtype"] == "bfloat16"
