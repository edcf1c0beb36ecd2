"""Synthetic check of planner.model.scaling_fit (issue 17, Must show 1).

Losses from the Besiroglu et al. 2024 Table 1 law (E=1.8172, A=482.01, B=2085.43, α=0.3478,
β=0.3658) on a ladder of SIZES model sizes log-uniform over 2 decades (1e7-1e9 parameters), each
at RATIOS tokens per parameter, times log-normal noise of NOISE (0.5% of the loss: the seed-to-seed
spread of final validation losses of small runs). For each of TRIALS seeds: fit with BOOTSTRAP
resamples, count the true parameters inside their 80% intervals, and compare the extrapolated loss
at 10x the largest size and 10x its tokens at 20 tokens/param (100x the largest rung's compute)
with the true one.

    OMP_NUM_THREADS=1 python benchmarks/bench_scaling_fit.py [--trials 50] [--bootstrap 200] [--noise 0.005]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from planner.model.scaling_fit import Target, fit_ladder
from planner.schema.scaling_law import PARAM_NAMES, FitPoint
from planner.model.sizing import BESIROGLU_2024 as TRUE

TRUE_PARAMS = {"E": TRUE.E, "A": TRUE.A, "B": TRUE.B, "alpha": TRUE.alpha, "beta": TRUE.beta}


def synthetic_points(seed: int, sizes, ratios, noise: float) -> list[FitPoint]:
    rng = np.random.default_rng(seed)
    return [FitPoint(name=f"n{n:.3g}-r{r:g}", num_params=n, num_tokens=n * r,
                     loss=TRUE.loss(n, n * r) * math.exp(rng.normal(0.0, noise)))
            for n in sizes for r in ratios]


def run_trials(trials: int, bootstrap: int, noise: float, num_sizes: int = 6, ratios=(10.0, 20.0, 40.0),
               num_starts: int = 8, loo_refits: bool = True) -> dict:
    """Coverage per parameter and extrapolation errors over `trials` seeded ladders."""
    sizes = np.geomspace(1e7, 1e9, num_sizes)
    target = Target("100x", sizes[-1] * 10, sizes[-1] * 10 * 20.0)
    true_loss = TRUE.loss(target.num_params, target.num_tokens)
    inside = dict.fromkeys(PARAM_NAMES, 0)
    errors, interval_hits, not_identified = [], 0, 0
    for seed in range(trials):
        fit = fit_ladder(synthetic_points(seed, sizes, ratios, noise), num_bootstrap=bootstrap, seed=seed,
                         targets=[target], num_starts=num_starts, loo_refits=loo_refits)
        for name in PARAM_NAMES:
            iv = fit.intervals.get(name)
            inside[name] += bool(iv and iv.p10 <= TRUE_PARAMS[name] <= iv.p90)
        ex = fit.extrapolations[0]
        if ex.predicted_loss is None:
            not_identified += 1
            continue
        errors.append(ex.predicted_loss / true_loss - 1.0)
        interval_hits += ex.interval.p10 <= true_loss <= ex.interval.p90
    err = np.abs(np.array(errors))
    return {
        "coverage": {k: v / trials for k, v in inside.items()},
        "extrapolation_true_loss": true_loss,
        "extrapolation_abs_error_median": float(np.median(err)) if err.size else math.nan,
        "extrapolation_abs_error_max": float(err.max()) if err.size else math.nan,
        "extrapolation_within_2pct": float((err <= 0.02).mean()) if err.size else 0.0,
        "extrapolation_interval_coverage": interval_hits / trials,
        "not_identified": not_identified,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--noise", type=float, default=0.005)
    p.add_argument("--sizes", type=int, default=6)
    p.add_argument("--ratios", default="10,20,40")
    a = p.parse_args()
    ratios = tuple(float(x) for x in a.ratios.split(","))
    start = time.perf_counter()
    out = run_trials(a.trials, a.bootstrap, a.noise, a.sizes, ratios)
    print(f"{a.trials} trials, {a.sizes} sizes (1e7-1e9) x ratios {ratios}, noise {a.noise:.2%}, "
          f"{a.bootstrap} bootstrap resamples, {time.perf_counter() - start:.1f} s")
    print("true parameter inside its 80% interval: " +
          ", ".join(f"{k} {v:.0%}" for k, v in out["coverage"].items()))
    print(f"extrapolated loss at 100x the largest rung's compute (true {out['extrapolation_true_loss']:.4f}): "
          f"|error| median {out['extrapolation_abs_error_median']:.2%}, max {out['extrapolation_abs_error_max']:.2%}, "
          f"within 2% in {out['extrapolation_within_2pct']:.0%} of trials; its 80% interval holds the truth in "
          f"{out['extrapolation_interval_coverage']:.0%}; not identified: {out['not_identified']}")


if __name__ == "__main__":
    main()
