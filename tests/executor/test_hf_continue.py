"""`llmplan plan --continue-from HF_DIR`, then `import-model --plan` and `export-model` (issue 16): the
plan derived from a Transformers directory is one import accepts, and the tokens seen travel on."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("megatron.core")

from exec_helpers import cli  # noqa: E402


def _tokenizer(path) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"<|endoftext|>": 0, **{f"w{i}": i + 1 for i in range(999)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(path))


def test_a_plan_continued_from_a_transformers_dir_imports_and_its_card_counts_the_tokens_seen(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=4096, hidden_size=128, intermediate_size=352, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    src = tmp_path / "hf"
    LlamaForCausalLM(config).save_pretrained(src)
    _tokenizer(src / "tokenizer.json")
    plan_path = tmp_path / "plan.yaml"
    code, out = cli("plan", "--continue-from", str(src), "--tokens-seen", "10M", "--gpu", "CPU", "--gpus", "2",
                    "--price", "0.05", "-o", str(plan_path))
    assert code == 0, out
    from planner.io import read_plan

    plan = read_plan(plan_path)
    assert plan.data.tokenizer.kind == "file" and plan.data.tokenizer.path == str((src / "tokenizer.json").resolve())
    code, out = cli("import-model", str(src), "--plan", str(plan_path), "-o", str(tmp_path / "run"))
    assert code == 0, out
    origin = json.loads((tmp_path / "run" / "checkpoints" / "imported_from.json").read_text())
    assert origin["tokens_seen"] == 10e6  # from the plan's goals.continue_from
    code, out = cli("export-model", str(tmp_path / "run"), "-o", str(tmp_path / "back"))
    assert code == 0, out
    card = (tmp_path / "back" / "README.md").read_text()
    print("FIGURE card rows:", [line for line in card.splitlines() if "tokens" in line and "|" in line])
    assert "continuing after 10,000,000 tokens seen" in card and "10,000,000 tokens before import" in card
