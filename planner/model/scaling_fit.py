"""Fit L(N, D) = E + A/N^α + B/D^β to ladder losses, as Besiroglu et al. 2024 redo Chinchilla's approach 3.

Hoffmann et al. 2022 §3.3 and App. D.2 fit
    log L̂(N, D) = LSE(a − α·log N, b − β·log D, e),   A = e^a, B = e^b, E = e^e,
by minimising Σ_i Huber_δ(log L̂(N_i, D_i) − log L_i) with L-BFGS from a grid of starting points.
Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt", §2 and App. A) keep that
objective with δ = 1e-3, run the optimiser to convergence (Hoffmann's reported fit had stopped
early), and give bootstrap confidence intervals by refitting on resampled points; this module
does the same:

- the start grid is Hoffmann's (α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25});
  the objective is evaluated on all 4,500 starts at once and L-BFGS (scipy, analytic gradient)
  runs from the best `num_starts` of them (a full L-BFGS from every start lands on the same minimum
  on ladders like ours, at 1,000x the time);
- bootstrap: resample the points with replacement `num_bootstrap` times, refit from the full-data
  optimum and the best grid starts, and report p10/p50/p90 of every parameter and of every
  extrapolated loss (80% intervals);
- out-of-sample error: each point is predicted by the law refitted without it (leave-one-out);
  the rms of those log residuals is the fit's error, and every extrapolation's p10-p90 is at least
  ±1.28 of it in log-loss (a normal 80% interval), however narrow the bootstrap says it is;
- E alone not identified (the usual case for small ladders far above their floor): E is profiled
  (`profile_e`): fixed on a grid over [0, min loss), the other four refitted, and kept where the
  residuals stay within the small-sample profile bound of Bates & Watts 1988 §6.1 (80%). The fit
  reports that range of E (never one value of it), and every extrapolation's p10-p90 spans the
  predictions of all those laws, so a target near the ladder gets a narrow interval and one far
  beyond it a wide one;
- identifiability: a term the ladder cannot pin down is reported as None with the reason, never as
  a number (see `design_problems`, `degenerate_problems` and `interval_problems`). A term the
  optimum drives to nothing (an exponent of 13 that makes A/N^α vanish at every rung, or E → 0)
  fits the points but says nothing about them: with 8 points and Huber's near-L1 loss the optimum
  can interpolate five of them that way, and bootstrap refits started from it stay there, so its
  zero-width interval would look like certainty.

Pure functions of arrays; numpy and scipy are imported here (the `fit` extra), never by derive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from planner.model.user_law import Z80
from planner.schema.scaling_law import (
    PARAM_NAMES, EProfile, Extrapolation, FitPoint, Interval, ScalingFit,
)

HUBER_DELTA = 1e-3
"""Besiroglu et al. 2024 §2 (and Hoffmann et al. 2022 App. D.2): δ = 10^-3."""
MIN_SIZES = 3
MIN_RATIOS = 2
MIN_POINTS = 6
MAX_EXPONENT_SPREAD = 0.5
"""An exponent whose 80% bootstrap interval is wider than this is not identified."""
MAX_EXPONENT = 2.0
"""An exponent above this (the top of Hoffmann et al.'s start grid) is a runaway, not a power law."""
MAX_LOG_SPREAD = math.log(1000.0)
"""A coefficient (A, B, E) whose 80% interval spans more than a factor of 1000 is not identified."""
PERCENTILES = (10.0, 50.0, 90.0)
MIN_TERM_SHARE = 0.01
"""A term below this share of the fitted loss at every point is degenerate (not seen by the data)."""
E_PROFILE_GRID = 24


def start_grid() -> np.ndarray:
    """Hoffmann et al. 2022 App. D.2 initialisation grid, as rows (a, b, e, α, β)."""
    exps = np.arange(0.0, 2.01, 0.5)
    es = np.arange(-1.0, 1.01, 0.5)
    coefs = np.arange(0.0, 25.01, 5.0)
    a, b, e, al, be = np.meshgrid(coefs, coefs, es, exps, exps, indexing="ij")
    return np.stack([a.ravel(), b.ravel(), e.ravel(), al.ravel(), be.ravel()], axis=1)


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    absr = np.abs(r)
    return np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta))


def predict_log_loss(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """LSE(a − α·log N, b − β·log D, e) for theta = (a, b, e, α, β); rows of theta broadcast."""
    theta = np.atleast_2d(theta)
    a, b, e, al, be = (theta[:, k:k + 1] for k in range(5))
    terms = np.stack([a - al * log_n, b - be * log_d, np.broadcast_to(e, (theta.shape[0], log_n.size))], axis=-1)
    out = logsumexp(terms, axis=-1)
    return out[0] if out.shape[0] == 1 else out


def objective(theta: np.ndarray, log_n, log_d, log_l, weights, delta: float = HUBER_DELTA):
    """(Σ w_i·Huber_δ(r_i) / δ, its gradient), r_i = LSE(...) − log L_i (scaled by 1/δ for L-BFGS)."""
    a, b, e, al, be = theta
    t1, t2 = a - al * log_n, b - be * log_d
    top = np.maximum(np.maximum(t1, t2), e)
    x1, x2, x3 = np.exp(t1 - top), np.exp(t2 - top), np.exp(e - top)
    total = x1 + x2 + x3
    r = top + np.log(total) - log_l
    dh = weights * np.clip(r, -delta, delta) / (delta * total)
    g1, g2 = dh * x1, dh * x2
    grad = np.array([g1.sum(), g2.sum(), (dh * x3).sum(), -(g1 * log_n).sum(), -(g2 * log_d).sum()])
    absr = np.abs(r)
    huber = np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta))
    return float((weights * huber).sum() / delta), grad


def _grid_losses(grid: np.ndarray, log_n, log_d, log_l, weights, delta) -> np.ndarray:
    r = predict_log_loss(grid, log_n, log_d) - log_l[None, :]
    return (weights[None, :] * _huber(r, delta)).sum(axis=1)


def fit_theta(log_n, log_d, log_l, weights=None, *, starts: np.ndarray | None = None, num_starts: int = 8,
              delta: float = HUBER_DELTA, extra_starts: list | None = None) -> np.ndarray:
    """The θ = (a, b, e, α, β) minimising the Huber objective: L-BFGS from the best grid starts."""
    weights = np.ones_like(log_n) if weights is None else weights
    grid = start_grid() if starts is None else starts
    best = np.argsort(_grid_losses(grid, log_n, log_d, log_l, weights, delta))[:num_starts] if num_starts else []
    candidates = [grid[i] for i in best] + list(extra_starts or [])
    result_theta, result_value = None, math.inf
    for x0 in candidates:
        res = minimize(objective, np.asarray(x0, float), args=(log_n, log_d, log_l, weights, delta), jac=True,
                       method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        if res.fun < result_value:
            result_theta, result_value = res.x, res.fun
    return result_theta


def theta_to_params(theta) -> dict[str, float]:
    a, b, e, al, be = (float(x) for x in theta)
    big = math.log(np.finfo(float).max)
    ex = {k: math.exp(v) if v < big else math.inf for k, v in (("E", e), ("A", a), ("B", b))}
    return {**ex, "alpha": al, "beta": be}


def params_to_theta(p: dict[str, float]) -> np.ndarray:
    return np.array([math.log(p["A"]), math.log(p["B"]), math.log(p["E"]), p["alpha"], p["beta"]])


def design_problems(num_params, num_tokens) -> list[tuple[str, str]]:
    """(parameter, reason) pairs the ladder's design alone leaves unidentified (before any fit)."""
    n, d = np.asarray(num_params, float), np.asarray(num_tokens, float)
    sizes = np.unique(np.round(np.log(n), 3))
    ratios = np.unique(np.round(np.log(d / n), 1))
    problems = []
    if n.size < MIN_POINTS:
        problems += [(p, f"{n.size} points; a five-parameter law needs at least {MIN_POINTS}") for p in PARAM_NAMES]
    if sizes.size < MIN_SIZES:
        problems += [(p, f"{sizes.size} model sizes; the N term needs at least {MIN_SIZES}") for p in ("A", "alpha", "E")]
    if ratios.size < MIN_RATIOS:
        problems += [(p, f"one tokens-per-parameter ratio ({float(np.median(d / n)):.3g}); with D ∝ N the "
                         f"D term cannot be told from the N term, train at least {MIN_RATIOS} ratios per size")
                     for p in ("B", "beta", "A", "alpha")]
    seen, out = set(), []
    for p, why in problems:
        if p not in seen:
            seen.add(p)
            out.append((p, why))
    return out


def interval_problems(samples: np.ndarray) -> list[tuple[str, str]]:
    """(parameter, reason) for bootstrap distributions too wide to call the parameter identified."""
    lo, hi = np.percentile(samples, [10, 90], axis=0)
    out = []
    for k, name in enumerate(("A", "B", "E", "alpha", "beta")):
        spread = hi[k] - lo[k]
        limit = MAX_LOG_SPREAD if k < 3 else MAX_EXPONENT_SPREAD
        if not np.isfinite(spread) or spread > limit:
            what = f"a factor of {math.exp(min(spread, 700)):.3g}" if k < 3 else f"{spread:.3g}"
            out.append((name, f"its 80% bootstrap interval spans {what} (limit "
                              f"{'a factor of 1000' if k < 3 else MAX_EXPONENT_SPREAD}); add sizes or ratios"))
    return out


def degenerate_problems(theta, log_n, log_d) -> list[tuple[str, str]]:
    """(parameter, reason) for terms of the fitted law that are below MIN_TERM_SHARE of the loss at every point."""
    a, b, e, al, be = (float(x) for x in theta)
    terms = np.stack([a - al * log_n, b - be * log_d, np.full_like(log_n, e)])
    share = np.exp(terms - logsumexp(terms, axis=0)).max(axis=1)
    out = []
    if share[0] < MIN_TERM_SHARE:
        out += [(p, f"the size term A/N^alpha is at most {share[0]:.2g} of the fitted loss at every rung (alpha = "
                    f"{al:.3g}): the ladder shows no effect of model size; widen --span-decades or raise the ratios")
                for p in ("A", "alpha")]
    if share[1] < MIN_TERM_SHARE:
        out += [(p, f"the data term B/D^beta is at most {share[1]:.2g} of the fitted loss at every rung (beta = "
                    f"{be:.3g}): the ladder shows no effect of tokens; spread the ratios further apart")
                for p in ("B", "beta")]
    if share[2] < MIN_TERM_SHARE:
        out.append(("E", f"the irreducible loss fell to {math.exp(e):.3g}, at most {share[2]:.2g} of the loss at every "
                         "rung: the losses are too far above their floor to locate it; train longer rungs"))
    return out


def runaway_problems(theta) -> list[tuple[str, str]]:
    """(parameter, reason) for a term the optimum ran off with: an exponent above MAX_EXPONENT (with its
    coefficient in step, A = e^626 and alpha = 51 is a term that is 4% of the loss at the smallest size and
    nothing at the next, a dummy for one size, not a power law) or a coefficient beyond float range."""
    a, b, e, al, be = (float(x) for x in theta)
    big = math.log(np.finfo(float).max)
    out = []
    for coef, exponent, log_value, value in (("A", "alpha", a, al), ("B", "beta", b, be)):
        if value > MAX_EXPONENT or log_value >= big:
            out += [(p, f"the fit ran off to {coef} = e^{log_value:.3g} and {exponent} = {value:.3g} (above "
                        f"{MAX_EXPONENT:g}, the top of Hoffmann's start grid; published exponents are below 1): "
                        "the ladder does not constrain this term; add sizes or ratios") for p in (coef, exponent)]
    if e >= big:
        out.append(("E", f"the fit ran off to E = e^{e:.3g}"))
    return out


@dataclass(frozen=True)
class Target:
    """A point to extrapolate to (the big run, or a held-out rung)."""

    name: str
    num_params: float
    num_tokens: float


def fit_ladder(points: list[FitPoint], *, num_bootstrap: int = 200, seed: int = 0, num_starts: int = 8,
               targets: list[Target] = (), source: str = "", delta: float = HUBER_DELTA,
               bootstrap_starts: int = 0, loo_refits: bool = True) -> ScalingFit:
    """Fit, bootstrap and check one ladder; returns the fit.json model (see the module docstring).

    `loo_refits=False` skips the leave-one-out refits (one full fit per point, from the same starts):
    only for studies of the parameters' own intervals, which they do not change.

    Each bootstrap refit starts from the full-data optimum (and from the best `bootstrap_starts`
    grid points when > 0: slower, and on the ladders tested here it changes no interval).
    """
    n = np.array([p.num_params for p in points], float)
    d = np.array([p.num_tokens for p in points], float)
    loss = np.array([p.loss for p in points], float)
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(loss)
    problems = design_problems(n, d)
    if len(points) < 2:
        return _result(points, None, None, problems, num_bootstrap, seed, delta, targets, source, None)
    theta = fit_theta(log_n, log_d, log_l, num_starts=num_starts, delta=delta)
    problems += [p for p in degenerate_problems(theta, log_n, log_d) + runaway_problems(theta)
                 if p[0] not in {q for q, _ in problems}]
    rng = np.random.default_rng(seed)
    grid = start_grid()
    samples = []
    for _ in range(num_bootstrap):
        idx = rng.integers(0, len(points), len(points))
        w = np.bincount(idx, minlength=len(points)).astype(float)
        samples.append(fit_theta(log_n, log_d, log_l, w, starts=grid, num_starts=bootstrap_starts, delta=delta,
                                 extra_starts=[theta]))
    samples_arr = np.array(samples) if samples else None
    if samples_arr is not None:
        problems += [p for p in interval_problems(samples_arr) if p[0] not in {q for q, _ in problems}]
    loo = leave_one_out(log_n, log_d, log_l, theta, num_starts=num_starts, delta=delta) if loo_refits else None
    profile = profile_e(log_n, log_d, log_l, theta, delta=delta) if {p for p, _ in problems} == {"E"} else None
    return _result(points, theta, samples_arr, problems, num_bootstrap, seed, delta, targets, source, loo, profile)


@dataclass(frozen=True)
class Profile:
    """The laws the ladder cannot reject along E (rows of θ), and the E grid they came from."""

    thetas: np.ndarray
    grid_points: int

    def summary(self) -> EProfile:
        e = np.exp(self.thetas[:, 2])
        return EProfile(low=float(e.min()), high=float(e.max()), grid_points=self.grid_points,
                        admitted=len(self.thetas), criterion=(
                            "S_E <= S_min·(1 + F(1, n-5; 0.8)/(n-5)), S = sum of squared log residuals of the "
                            "law refitted with E held (Bates & Watts 1988 §6.1, profile F bound, 80%)"))


def _fit_fixed_e(e: float, log_n, log_d, log_l, starts: list[np.ndarray], delta: float) -> np.ndarray:
    """θ minimising the Huber objective with e = log E held fixed (the four others free)."""
    def fun(x):
        value, grad = objective(np.insert(x, 2, e), log_n, log_d, log_l, np.ones_like(log_n), delta)
        return value, np.delete(grad, 2)

    best, best_value = None, math.inf
    for x0 in starts:
        res = minimize(fun, np.delete(np.asarray(x0, float), 2), jac=True, method="L-BFGS-B",
                       options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        if res.fun < best_value:
            best, best_value = res.x, res.fun
    return np.insert(best, 2, e)


def profile_e(log_n, log_d, log_l, theta, *, delta: float = HUBER_DELTA, grid_points: int = E_PROFILE_GRID,
              level: float = 0.8) -> Profile:
    """The laws along E that the losses cannot reject (an 80% profile-likelihood set).

    E is held at each grid value over [0, min loss), the four others refitted (Huber, as the fit,
    continuing from the previous grid value's optimum and from the full fit's), and a value kept when the sum of squared log residuals S_E stays within Bates & Watts' small-sample
    profile bound S_E <= S_min·(1 + F(1, n−5; level)/(n−5)) (Bates & Watts 1988, "Nonlinear Regression
    Analysis and Its Applications" §6.1: the profile-t / F form of the likelihood ratio for one
    parameter, exact for a linear model, which Wilks' chi-square approximates only for many points).
    On synthetic ladders shaped like the CPU one (benchmarks/bench_scaling_fit.py --micro) the set held
    the true E in 90% of 50 trials at 1% noise and 98% at 3%; a chi-square (Wilks) cut held it in 60% of 40.
    """
    from scipy.stats import f as f_dist

    n = log_n.size
    e_max = float(np.exp(log_l).min())
    fits, previous = [np.asarray(theta, float)], np.asarray(theta, float)
    for k in range(grid_points):
        e = math.log(max(e_max * k / grid_points, e_max * 1e-6))
        previous = _fit_fixed_e(e, log_n, log_d, log_l, [previous, theta], delta)
        fits.append(previous)
    rss = np.array([float(((predict_log_loss(th, log_n, log_d) - log_l) ** 2).sum()) for th in fits])
    dof = max(n - 5, 1)
    limit = rss.min() * (1.0 + float(f_dist.ppf(level, 1, dof)) / dof)
    return Profile(thetas=np.array([th for th, r in zip(fits, rss) if r <= limit]), grid_points=grid_points)


def leave_one_out(log_n, log_d, log_l, theta, *, num_starts: int = 8, delta: float = HUBER_DELTA) -> np.ndarray | None:
    """log(predicted) − log(measured) of each point under the law refitted on all the others (from the
    full-data optimum and the best grid starts); None below MIN_POINTS + 1 points."""
    if log_n.size < MIN_POINTS + 1:
        return None
    out = np.empty(log_n.size)
    for i in range(log_n.size):
        weights = np.ones_like(log_n)
        weights[i] = 0.0
        theta_i = fit_theta(log_n, log_d, log_l, weights, num_starts=num_starts, delta=delta, extra_starts=[theta])
        out[i] = predict_log_loss(theta_i, log_n[i:i + 1], log_d[i:i + 1])[0] - log_l[i]
    return out


def _interval(values: np.ndarray) -> Interval:
    p10, p50, p90 = np.percentile(values, PERCENTILES)
    return Interval(p10=float(p10), p50=float(p50), p90=float(p90))


def _result(points, theta, samples, problems, num_bootstrap, seed, delta, targets, source, loo,
            profile: Profile | None = None) -> ScalingFit:
    bad = {p for p, _ in problems}
    params = theta_to_params(theta) if theta is not None else dict.fromkeys(PARAM_NAMES)
    identified = {name: theta is not None and name not in bad for name in PARAM_NAMES}
    intervals, cov = {}, None
    if samples is not None and len(samples) >= 2:
        with np.errstate(over="ignore"):
            as_params = {"A": np.exp(samples[:, 0]), "B": np.exp(samples[:, 1]), "E": np.exp(samples[:, 2]),
                         "alpha": samples[:, 3], "beta": samples[:, 4]}
        intervals = {name: _interval(as_params[name]) for name in PARAM_NAMES if identified[name]}
        cov = np.cov(samples[:, [0, 1, 2, 3, 4]].T).tolist()
    fitted = []
    for i, p in enumerate(points):
        pred = None if theta is None else float(np.exp(predict_log_loss(theta, np.log([p.num_params]), np.log([p.num_tokens]))[0]))
        fitted.append(p.model_copy(update={
            "predicted_loss": pred, "residual_log": None if pred is None else math.log(pred / p.loss),
            "loo_predicted_loss": None if loo is None else float(p.loss * math.exp(loo[i])),
            "loo_residual_log": None if loo is None else float(loo[i])}))
    loo_rms = None if loo is None else float(np.sqrt(np.mean(loo ** 2)))
    full = all(identified.values())
    usable = full or profile is not None
    extrapolations = [_extrapolate(t, theta if usable else None, samples, loo_rms or 0.0, profile) for t in targets]
    return ScalingFit(
        method=(f"Besiroglu et al. 2024 / Hoffmann et al. 2022 approach 3: Huber (delta={delta:g}) on log-loss, "
                "log-sum-exp parametrisation, L-BFGS-B from the best starts of Hoffmann's 4,500-point grid; "
                f"{num_bootstrap} bootstrap resamples of the points (percentile intervals); leave-one-out "
                "refits for the out-of-sample error, which sets the least width of every extrapolated p10-p90"),
        params={k: (v if identified[k] else None) for k, v in params.items()},
        intervals=intervals, identified=identified,
        problems=[f"{name}: {why}" for name, why in problems],
        points=fitted, num_bootstrap=num_bootstrap, seed=seed, huber_delta=delta,
        covariance=cov if full else None, loo_rms_log_error=loo_rms, extrapolations=extrapolations,
        e_profile=None if profile is None else profile.summary(), source=source,
    )


def _extrapolate(target: Target, theta, samples, loo_rms: float, profile: Profile | None = None) -> Extrapolation:
    if theta is None:
        return Extrapolation(name=target.name, num_params=target.num_params, num_tokens=target.num_tokens,
                             predicted_loss=None, basis="not predicted: the law is not identified")
    ln, ld = np.log([target.num_params]), np.log([target.num_tokens])
    point = float(np.exp(predict_log_loss(theta, ln, ld)[0]))
    low, high, basis = point * math.exp(-Z80 * loo_rms), point * math.exp(Z80 * loo_rms), []
    if loo_rms:
        basis.append(f"at least ±{Z80:.2f}·{loo_rms:.2%} (leave-one-out error)")
    mid = point
    if samples is not None and len(samples) >= 2:
        boot = _interval(np.exp(predict_log_loss(samples, ln, ld)[:, 0]))
        low, mid, high = min(low, boot.p10), boot.p50, max(high, boot.p90)
        basis.insert(0, f"bootstrap p10-p90 {boot.p10:.4g}-{boot.p90:.4g}")
    if profile is not None:
        along = np.exp(predict_log_loss(profile.thetas, ln, ld)[:, 0])
        low, high = min(low, float(along.min())), max(high, float(along.max()))
        e = np.exp(profile.thetas[:, 2])
        basis.append(f"E not identified: spans {along.min():.4g}-{along.max():.4g}, the predictions of every "
                     f"E in [{e.min():.3g}, {e.max():.3g}] the losses cannot reject")
    interval = Interval(p10=low, p50=mid, p90=high) if basis else None
    return Extrapolation(name=target.name, num_params=target.num_params, num_tokens=target.num_tokens,
                         predicted_loss=point, interval=interval, basis="; ".join(basis))
