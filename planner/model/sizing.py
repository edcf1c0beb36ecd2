"""Sizing laws: how many parameters and tokens, and the loss they should reach.

- The 20 tokens/parameter rule: Hoffmann et al. 2022 (Chinchilla), approaches 1 and 2, Table 3.
- The parametric loss L(N, D) = E + A/N^α + B/D^β: Hoffmann et al. 2022 eq. 2 / approach 3, with
  two sets of constants:
    * HOFFMANN_2022: E=1.69, A=406.4, B=410.7, α=0.34, β=0.28 (Hoffmann §3.3). Its compute-optimal
      ratio D/N drifts with compute (~70 at 1e21 FLOPs) and does not give 20 tokens/param: the fit
      is known to be inconsistent with the paper's own approaches 1 and 2.
    * BESIROGLU_2024: E=1.8172, A=482.01, B=2085.43, α=0.3478, β=0.3658 (Besiroglu et al. 2024,
      "Chinchilla Scaling: A replication attempt", Table 1). Its optimum lands near 20 tokens/param
      across budgets.
  The planner uses BESIROGLU_2024 for compute-optimal and inference-optimal sizing and for the
  predicted loss; HOFFMANN_2022 is reported beside it as an assumption for comparison.
- Compute-optimal N and D for C = 6ND: Hoffmann et al. 2022 eq. 4 (Appendix D.2):
  N_opt = G·(C/6)^a, D_opt = G^-1·(C/6)^b, a = β/(α+β), b = α/(α+β), G = (αA/(βB))^(1/(α+β)).
- Inference-aware sizing: Sardana & Frankle 2024 ("Beyond Chinchilla-Optimal", ICML 2024; arXiv 2401.00448), eq. 2: minimise
  6·N·D_train + 2·N·D_inference subject to L(N, D_train) = ℓ.
- Data-constrained scaling: Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models"),
  eq. 5: D' = U_D + U_D·R*_D·(1 − exp(−R_D/R*_D)), R_D = epochs − 1, R*_D = 15.387; the analogous
  N' with R*_N = 5.309. Up to about 4 epochs cost almost nothing (Muennighoff §5).
  Data-limited sizing (`data_limited_optimum`): the marginal worth of the R-th repeated epoch is
  e^(−R/R*_D) of a fresh one (d D'/d R_D), and of the R-th excess parameter multiple e^(−R/R*_N);
  repeats stop at R_D ≤ R*_D (16 epochs, each repeat still worth ≥ 1/e) and excess parameters at
  R_N ≤ R*_N (N ≤ 6.3·U_N). Within that box, N and D minimise L(N', D') on the budget line 6ND = C
  (Muennighoff et al. 2023, §6 "data-constrained compute-optimal allocation"); compute past
  6·N_max·D_max buys under 1/e of its worth and is reported unspent instead of buying parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TOKENS_PER_PARAM_RULE = 20.0
"""Hoffmann et al. 2022, approaches 1 and 2 (Table 3): about 20 tokens per parameter."""

MUENNIGHOFF_R_STAR_D = 15.387
MUENNIGHOFF_R_STAR_N = 5.309
EPOCH_WARNING_THRESHOLD = 4.0
"""Muennighoff et al. 2023 §5: up to ~4 epochs of repeated data are almost as good as unique data."""


@dataclass(frozen=True)
class LossFit:
    """L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 2)."""

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, num_params: float, num_tokens: float) -> float:
        return self.E + self.A / num_params**self.alpha + self.B / num_tokens**self.beta

    def tokens_for_loss(self, num_params: float, target_loss: float) -> float:
        """D such that L(N, D) = target_loss, or inf when N alone cannot reach it."""
        rest = target_loss - self.E - self.A / num_params**self.alpha
        return math.inf if rest <= 0 else (self.B / rest) ** (1.0 / self.beta)


HOFFMANN_2022 = LossFit(
    "hoffmann-2022", E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28,
    source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, eq. 2 and §3.3",
)
BESIROGLU_2024 = LossFit(
    "besiroglu-2024", E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658,
    source="Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt, Table 1",
)
DEFAULT_FIT = BESIROGLU_2024


def rule_of_thumb_tokens(num_params: float) -> float:
    """D = 20·N (Hoffmann et al. 2022, Table 3)."""
    return TOKENS_PER_PARAM_RULE * num_params


def rule_of_thumb_params_for_compute(compute_flops: float) -> float:
    """N such that 6·N·(20·N) = C."""
    return math.sqrt(compute_flops / (6.0 * TOKENS_PER_PARAM_RULE))


def compute_optimal(compute_flops: float, fit: LossFit = DEFAULT_FIT) -> tuple[float, float]:
    """(N_opt, D_opt) minimising L(N, D) subject to 6·N·D = C (Hoffmann et al. 2022, eq. 4)."""
    a = fit.beta / (fit.alpha + fit.beta)
    b = fit.alpha / (fit.alpha + fit.beta)
    G = (fit.alpha * fit.A / (fit.beta * fit.B)) ** (1.0 / (fit.alpha + fit.beta))
    return G * (compute_flops / 6.0) ** a, (compute_flops / 6.0) ** b / G


def compute_optimal_tokens_for_params(num_params: float, fit: LossFit = DEFAULT_FIT) -> float:
    """D for which N is the compute-optimal size (inverts N_opt(C) of eq. 4)."""
    a = fit.beta / (fit.alpha + fit.beta)
    G = (fit.alpha * fit.A / (fit.beta * fit.B)) ** (1.0 / (fit.alpha + fit.beta))
    compute = 6.0 * (num_params / G) ** (1.0 / a)
    return compute / (6.0 * num_params)


def _golden_min(f, lo: float, hi: float, iters: int = 60) -> float:
    """Minimiser of a unimodal f on [lo, hi] by golden-section search."""
    phi = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = f(d)
    return (a + b) / 2


def inference_optimal_for_loss(
    target_loss: float, inference_tokens: float, fit: LossFit = DEFAULT_FIT
) -> tuple[float, float]:
    """(N, D_train) minimising 6·N·D_train + 2·N·D_inf with L(N, D_train) = ℓ (Sardana & Frankle 2024, eq. 2)."""

    def total_flops(log_n: float) -> float:
        n = math.exp(log_n)
        d = fit.tokens_for_loss(n, target_loss)
        return math.inf if math.isinf(d) else 6 * n * d + 2 * n * inference_tokens

    n_opt, _ = compute_optimal(1.0, fit)  # any point on the frontier bounds the search below
    floor = target_loss - fit.E
    if floor <= 0:
        raise ValueError(f"target loss {target_loss} is below the irreducible loss E={fit.E}")
    n_min = (fit.A / floor) ** (1 / fit.alpha) * 1.0001  # below this N cannot reach the loss
    log_n = _golden_min(total_flops, math.log(n_min), math.log(max(n_min * 1e6, n_opt * 1e12)))
    n = math.exp(log_n)
    return n, fit.tokens_for_loss(n, target_loss)


def _sardana_gradient(num_params: float, train_tokens: float, inference_tokens: float, fit: LossFit) -> float:
    """d/dN of 6·N·D(N) + 2·N·D_inf along the iso-loss curve, over 1/N (zero at the optimum).

    From L(N, D) = ℓ: dD/dN = −(α·A·N^−α·D^β)/(β·B) · D/N, so the condition reads
    6·D·(α·A·N^−α·D^β/(β·B) − 1) = 2·D_inf.
    """
    n, d = num_params, train_tokens
    ratio = fit.alpha * fit.A * n**-fit.alpha * d**fit.beta / (fit.beta * fit.B)
    return 6 * d * (ratio - 1.0) - 2 * inference_tokens


def inference_optimal_for_compute(
    train_flops: float, inference_tokens: float, fit: LossFit = DEFAULT_FIT
) -> tuple[float, float]:
    """The Sardana-Frankle optimum whose training FLOPs 6·N·D equal the budget.

    On the budget line D = C/(6N) the stationarity condition of eq. 2 is monotone in N, so it is
    solved by bisection on log N; with no inference tokens it returns compute_optimal(C).
    """
    n_c, d_c = compute_optimal(train_flops, fit)
    if inference_tokens <= 0:
        return n_c, d_c
    lo, hi = math.log(n_c) - 30, math.log(n_c)
    for _ in range(100):
        mid = (lo + hi) / 2
        n = math.exp(mid)
        if _sardana_gradient(n, train_flops / (6 * n), inference_tokens, fit) > 0:
            lo = mid
        else:
            hi = mid
    n = math.exp((lo + hi) / 2)
    return n, train_flops / (6 * n)


def inference_optimal_tokens_for_params(
    num_params: float, inference_tokens: float, fit: LossFit = DEFAULT_FIT
) -> float:
    """Training tokens that make a fixed N Sardana-Frankle optimal (bisection on log D)."""
    lo, hi = math.log(compute_optimal_tokens_for_params(num_params, fit)), math.log(1e30)
    for _ in range(100):
        mid = (lo + hi) / 2
        if _sardana_gradient(num_params, math.exp(mid), inference_tokens, fit) > 0:
            hi = mid
        else:
            lo = mid
    return math.exp((lo + hi) / 2)


def _repeat_effective(unique: float, repeats: float, r_star: float) -> float:
    return unique + unique * r_star * (1.0 - math.exp(-repeats / r_star))


def effective_tokens(num_tokens: float, unique_tokens: float) -> float:
    """D' = U_D + U_D·R*_D·(1 − e^(−R_D/R*_D)), R_D = D/U_D − 1 (Muennighoff et al. 2023, eq. 5)."""
    if num_tokens <= unique_tokens:
        return num_tokens
    return _repeat_effective(unique_tokens, num_tokens / unique_tokens - 1.0, MUENNIGHOFF_R_STAR_D)


def effective_params(num_params: float, unique_tokens: float, fit: LossFit = DEFAULT_FIT) -> float:
    """N' = U_N + U_N·R*_N·(1 − e^(−R_N/R*_N)) (Muennighoff et al. 2023, eq. 5), where U_N is the
    compute-optimal size for the unique data and R_N = N/U_N − 1 the excess parameters."""
    u_n = min(num_params, compute_optimal_params_for_tokens(unique_tokens, fit))
    return _repeat_effective(u_n, num_params / u_n - 1.0, MUENNIGHOFF_R_STAR_N)


def compute_optimal_params_for_tokens(num_tokens: float, fit: LossFit = DEFAULT_FIT) -> float:
    """N for which D is the compute-optimal token count (inverts D_opt(C) of eq. 4)."""
    a = fit.beta / (fit.alpha + fit.beta)
    b = fit.alpha / (fit.alpha + fit.beta)
    G = (fit.alpha * fit.A / (fit.beta * fit.B)) ** (1.0 / (fit.alpha + fit.beta))
    compute_over_6 = (num_tokens * G) ** (1.0 / b)
    return G * compute_over_6**a


def epochs_warning(num_tokens: float, unique_tokens: float) -> str | None:
    epochs = num_tokens / unique_tokens
    if epochs <= EPOCH_WARNING_THRESHOLD:
        return None
    return (
        f"the run repeats its {unique_tokens:.3g} unique tokens {epochs:.1f} times; past about "
        f"{EPOCH_WARNING_THRESHOLD:.0f} epochs repeated data is worth much less than new data "
        f"(Muennighoff et al. 2023): effective tokens {effective_tokens(num_tokens, unique_tokens):.3g}"
    )


def uniform_guess_loss(vocab_size: int) -> float:
    """ln(vocab_size): the cross-entropy (nats per token) of a uniform guess over the vocabulary, the loss
    of an untrained model. A law that predicts more is outside its range, not a prediction."""
    return math.log(vocab_size)


def beats_uniform_guess(loss: float, vocab_size: int) -> bool:
    return loss <= uniform_guess_loss(vocab_size)


def predicted_loss(
    num_params: float, num_tokens: float, unique_tokens: float | None = None, fit: LossFit = DEFAULT_FIT
) -> float:
    """L(N', D') with Muennighoff's effective N' and D' when data repeats (else L(N, D))."""
    if unique_tokens is None or num_tokens <= unique_tokens:
        return fit.loss(num_params, num_tokens)
    return fit.loss(effective_params(num_params, unique_tokens, fit), effective_tokens(num_tokens, unique_tokens))


MAX_USEFUL_EPOCHS = 1 + math.floor(MUENNIGHOFF_R_STAR_D)
"""16: repeats up to R_D = R*_D (each still worth at least 1/e of fresh data, Muennighoff et al. 2023 eq. 5)."""


@dataclass(frozen=True)
class DataLimited:
    """The data-limited allocation of a compute budget (see the module docstring)."""

    num_params: float
    num_tokens: float
    useful_compute_flops: float
    """6·N_max·D_max: compute the unique data supports usefully (≥ the budget when data does not bind)."""
    max_params: float
    max_tokens: float


def data_limits(unique_tokens: float, fit: LossFit = DEFAULT_FIT) -> tuple[float, float]:
    """(N_max, D_max) = (U_N·(1 + R*_N), U_D·MAX_USEFUL_EPOCHS): past these, more parameters or more
    repeats are worth under 1/e of fresh ones (Muennighoff et al. 2023, eq. 5)."""
    u_n = compute_optimal_params_for_tokens(unique_tokens, fit)
    return u_n * (1.0 + MUENNIGHOFF_R_STAR_N), unique_tokens * MAX_USEFUL_EPOCHS


def data_limited_optimum(compute_flops: float, unique_tokens: float, fit: LossFit = DEFAULT_FIT) -> DataLimited:
    """N and D minimising L(N', D') with 6·N·D = min(C, 6·N_max·D_max), N ≤ N_max, D ≤ D_max and at
    least one token per parameter (golden-section search on log N; Muennighoff et al. 2023 §6)."""
    n_max, d_max = data_limits(unique_tokens, fit)
    useful = 6.0 * n_max * d_max
    if not compute_flops < useful:  # also catches inf
        return DataLimited(n_max, d_max, useful, n_max, d_max)
    c = compute_flops
    lo = math.log(c / (6.0 * d_max))
    hi = min(math.log(n_max), 0.5 * math.log(c / 6.0))
    if hi <= lo:
        n = math.exp(hi)
    else:
        n = math.exp(_golden_min(lambda log_n: predicted_loss(
            math.exp(log_n), c / (6.0 * math.exp(log_n)), unique_tokens, fit), lo, hi, iters=50))
    return DataLimited(n, c / (6.0 * n), useful, n_max, d_max)
