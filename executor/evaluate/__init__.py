"""Evaluation of a run's checkpoints with lm-evaluation-harness (see docs/evaluation.md).

Modules: `scoring` (windows, batched log-likelihoods, greedy decoding over a small model
interface), `adapter` (the lm-eval model `llmplan`), `checkpoint` (a scorer on a run's latest
checkpoint), `tasks` (bundled offline task files and their resolution), `runner` (runs lm-eval,
validation perplexity, writes RUN_DIR/eval/). torch and lm_eval are imported by those modules only.
"""
