"""The data-preparation pipeline: filter shards -> global dedup -> tokenizer -> tokenize shards ->
merge, with completion markers so a re-run (after a crash or a SIGKILL) skips finished work and
produces byte-identical files.

Stages and what they leave (OUT is the run's `data/` directory):
  filter   (per shard)  OUT/work/filter/NNNNN/{docs.jsonl,keys.npy,sources.npy,sigs.npy} + NNNNN.done
  dedup    (global)     OUT/work/dedup/{remove.npy,valid.npy} + dedup.done
  tokenizer(global)     OUT/tokenizer.json + OUT/work/tokenizer.done
  tokenize (per shard)  OUT/work/tokenize/NNNNN/<prefix>.bin/.idx + NNNNN.done
  merge    (global)     OUT/<source>_text_document.bin/.idx, OUT/<source>_val_text_document.bin/.idx,
                        OUT/stats.json, OUT/manifest.json (written last: its presence means done)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from executor.prepare.dedup_stage import build_tokenizer, run_dedup
from executor.prepare.readers import resolve_format
from executor.prepare.report import merge_outputs
from planner.errors import PlanInputError
from planner.io import atomic_write_text
from planner.schema.data import DataSpec
from executor.prepare import shards as sh

STAGES = ("filter", "dedup", "tokenizer", "tokenize", "merge")


def _worker_init() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm  # deferred: tqdm (data extra) only while shards run

    return tqdm(total=total, desc=desc, unit="shard", disable=quiet, leave=False)


def run_shards(fn: Callable, args_list: list[tuple], pool: ProcessPoolExecutor | None, desc: str,
               quiet: bool) -> None:
    """Run `fn(*args)` for each pending shard, in the process pool when there is one."""
    if not args_list:
        return
    with _progress(len(args_list), desc, quiet) as bar:
        if pool is None or len(args_list) == 1:
            for args in args_list:
                fn(*args)
                bar.update(1)
            return
        for fut in as_completed([pool.submit(fn, *args) for args in args_list]):
            fut.result()
            bar.update(1)


class Pipeline:
    """One preparation run: `spec` into `out_dir` over `num_shards` shards."""

    def __init__(self, spec: DataSpec, out_dir: str | Path, workers: int | None = None,
                 quiet: bool = False) -> None:
        self.spec = spec
        self.out = Path(out_dir)
        self.work = self.out / "work"
        self.num_shards = spec.num_shards
        self.workers = workers or spec.num_workers
        self.quiet = quiet
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor | None:
        """One pool of spawned workers for the whole run (each imports its libraries once)."""
        if self._pool is None and self.workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                             initializer=_worker_init)
        return self._pool

    # -- bookkeeping ---------------------------------------------------------------------------
    def check_config(self) -> None:
        """Refuse to mix outputs of different data settings in one directory."""
        cfg = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, indent=1)
        path = self.work / "config.json"
        if path.exists() and path.read_text(encoding="utf-8") != cfg:
            raise PlanInputError(
                f"{self.out} holds data prepared with different data settings",
                [f"--out: use a new directory, or delete {self.work} to start over"])
        if not path.exists():
            atomic_write_text(path, cfg)

    def markers(self, stage: str) -> list[dict]:
        found = [sh.read_marker(sh.marker_path(self.work / stage, i)) for i in range(self.num_shards)]
        missing = [i for i, m in enumerate(found) if m is None]
        if missing:
            raise PlanInputError(f"stage {stage!r} has unfinished shards {missing[:10]}",
                                 [f"--stage: run stage {stage!r} for every shard first"])
        return found  # type: ignore[return-value]

    def offsets(self) -> list[int]:
        kept = [m["docs_kept"] for m in self.markers("filter")]
        return [int(x) for x in np.concatenate([[0], np.cumsum(kept)[:-1]])] if kept else []

    # -- stages --------------------------------------------------------------------------------
    def filter(self, shards: list[int] | None = None) -> None:
        todo = [i for i in (shards if shards is not None else range(self.num_shards))
                if not sh.marker_path(self.work / "filter", i).exists()]
        run_shards(sh.filter_shard, [(self.spec, self.work, i, self.num_shards) for i in todo],
                   self.pool if len(todo) > 1 else None, "filter", self.quiet)

    def dedup(self) -> None:
        if not (self.work / "dedup.done").exists():
            run_dedup(self.spec, self.work, self.num_shards)

    def tokenizer(self) -> None:
        if not (self.work / "tokenizer.done").exists() or not (self.out / "tokenizer.json").exists():
            build_tokenizer(self.spec, self.work, self.out, self.num_shards, self.offsets())

    def tokenize(self, shards: list[int] | None = None) -> None:
        for marker, stage in (("dedup.done", "dedup"), ("tokenizer.done", "tokenizer")):
            if not (self.work / marker).exists():
                raise PlanInputError(f"stage 'tokenize' needs stage {stage!r} to have finished in {self.out}",
                                     [f"--stage: run `--stage {stage}` (or the whole run) first"])
        offsets = self.offsets()
        todo = [i for i in (shards if shards is not None else range(self.num_shards))
                if not sh.marker_path(self.work / "tokenize", i).exists()]
        run_shards(sh.tokenize_shard,
                   [(self.spec, self.work, i, offsets[i], self.out / "tokenizer.json") for i in todo],
                   self.pool if len(todo) > 1 else None, "tokenize", self.quiet)

    def merge(self) -> dict:
        return merge_outputs(self.spec, self.work, self.out, self.markers("filter"),
                             self.markers("tokenize"))

    def run(self, stage: str = "all", shards: list[int] | None = None) -> dict | None:
        """Run one stage (for `shards`, where the stage is per shard) or everything still to do."""
        if stage not in STAGES + ("all",):
            raise PlanInputError(f"unknown stage {stage!r}", [f"--stage: one of all, {', '.join(STAGES)}"])
        for src in self.spec.sources:  # a missing input is reported before anything is written
            resolve_format(src)
        self.out.mkdir(parents=True, exist_ok=True)
        self.check_config()
        if stage == "all" and (self.out / "manifest.json").exists():
            return json.loads((self.out / "stats.json").read_text(encoding="utf-8"))
        result = None
        try:
            for name in STAGES:
                if stage in ("all", name):
                    step = getattr(self, name)
                    result = step(shards) if name in ("filter", "tokenize") else step()
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
        return result if stage in ("all", "merge") else None


def prepare(spec: DataSpec, out_dir: str | Path, workers: int | None = None, quiet: bool = False) -> dict:
    """Prepare every source of `spec` into `out_dir`; returns the stats (also in stats.json)."""
    return Pipeline(spec, out_dir, workers, quiet).run("all")  # type: ignore[return-value]
