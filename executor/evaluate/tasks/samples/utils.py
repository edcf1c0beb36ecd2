"""Functions the bundled sample tasks name with `!function utils.<name>`.

lm-eval resolves `!function` against a file beside the task YAML, so this file re-exports the
harness's own definitions from the installed lm-eval package: the bundled HellaSwag and TruthfulQA
samples are processed and scored exactly as lm-eval's `hellaswag` and `truthfulqa_mc2` tasks are.
"""

from lm_eval.tasks.hellaswag.utils import process_docs
from lm_eval.tasks.truthfulqa.utils import process_results_mc2

__all__ = ["process_docs", "process_results_mc2"]
