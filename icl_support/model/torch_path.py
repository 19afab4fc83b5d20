"""A differentiable torch path through TabICL for ``n_estimators=1``.

TabICL's sklearn wrapper preprocesses in numpy and runs the model under ``torch.no_grad``
(tabicl issue #109), so no gradient reaches the context rows. :class:`TorchTabICL` re-implements,
in torch, exactly what ``TabICLClassifier(n_estimators=1)`` (tabicl 2.2.0) does to a numeric
table, and runs the model module on the gradient-keeping path:

1. ``LabelEncoder``: labels -> 0..C-1 in sorted order of the distinct context labels.
2. ``UniqueFeatureFilter``: drop columns constant over the context rows (all kept when N <= 1;
   the first kept if every column is constant).
3. ``CustomStandardScaler``: z = (x - mean) / (std_ddof0 + 1e-6) with context statistics,
   clipped to [-100, 100].
4. normalisation ``"none"``: with ``n_estimators=1`` the wrapper takes the first of
   product(shuffles, ["none", "power"]), i.e. "none", and ``Shuffler`` returns the identity
   feature permutation and class shift (``n_estimators == 1`` short-circuit).
5. ``OutlierRemover`` (threshold 4): bounds mean +- 4 std (ddof 1) recomputed on the context
   values that lie inside the first-stage bounds, then soft log clipping
   ``x = max(-log1p|x| + lower, x); x = min(log1p|x| + upper, x)``.
6. ``TabICL`` module in train mode (``_train_forward``: no ``InferenceManager``, hence no
   ``no_grad``, no AMP); with the v2 config's ``dropout=0.0`` its logits equal the eval path's.
   Logits are sliced to the C classes; probabilities are ``softmax(logits / 0.9)``.

All statistics are fitted on the context rows only and are differentiable functions of them
(the outlier mask and the constant-column mask are piecewise constant). The wrapper's
``SimpleImputer`` (NaN -> context mean) is not reproduced: non-finite input is rejected.
Preprocessing runs in the input's dtype (as the wrapper's numpy code does), the model in float32.

Usage::

    net = TorchTabICL(weights)                        # parameters frozen
    logits = net(X_ctx, y_ctx, X_query)               # (M, C), differentiable w.r.t. X_ctx, X_query
    proba = net.predict_proba(X_ctx, y_ctx, X_query)  # (M, C), rows sum to 1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .weights import TabICLWeights

SOFTMAX_TEMPERATURE = 0.9  # TabICLClassifier default
OUTLIER_THRESHOLD = 4.0  # TabICLClassifier default
SCALER_EPS = 1e-6  # CustomStandardScaler.epsilon
SCALER_CLIP = 100.0  # CustomStandardScaler clip_min/clip_max (symmetric)
OUTLIER_MIN_STD = 1e-6  # OutlierRemover floor on the std


@dataclass(frozen=True)
class ContextStats:
    """Preprocessing statistics fitted on the context rows (all tensors, feature axis F' = kept columns).

    ``keep`` (F,) bool: columns kept by the constant-column filter. ``mean``/``scale`` (F',): the
    z-score's centre and scale (std + 1e-6), input units. ``lower``/``upper`` (F',): outlier bounds
    in z-score units.
    """

    keep: Tensor
    mean: Tensor
    scale: Tensor
    lower: Tensor
    upper: Tensor


def _safe_sqrt(var: Tensor) -> Tensor:
    """sqrt with a zero (not infinite) gradient at 0, so a zero-variance column cannot produce NaN."""
    pos = var > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, var, torch.ones_like(var))), torch.zeros_like(var))


def constant_filter(X_ctx: Tensor) -> Tensor:
    """``UniqueFeatureFilter`` (threshold 1): (F,) bool mask of columns with > 1 distinct context value."""
    n, f = X_ctx.shape
    if n <= 1:
        return torch.ones(f, dtype=torch.bool, device=X_ctx.device)
    keep = (X_ctx != X_ctx[:1]).any(0)
    if not bool(keep.any()):
        keep[0] = True
    return keep


def fit_context_stats(
    X_ctx: Tensor, outlier_threshold: float = OUTLIER_THRESHOLD, X_pool: Tensor | None = None
) -> ContextStats:
    """Fit the wrapper's ``none`` preprocessing pipeline on the context rows ``X_ctx`` (N, F).

    ``X_pool`` (P, F): fit the z-score and outlier bounds on these rows instead (``context_stats="pool"``,
    :mod:`icl_support.model.context_stats`); the constant-column filter stays the context's.
    """
    keep = constant_filter(X_ctx.detach())
    X = (X_ctx if X_pool is None else X_pool)[:, keep]
    n = X.shape[0]
    # CustomStandardScaler: np.mean, np.std (ddof 0) + eps
    mean = X.mean(0)
    dev = X - mean
    scale = _safe_sqrt((dev * dev).mean(0)) + SCALER_EPS
    Z = ((X - mean) / scale).clamp(-SCALER_CLIP, SCALER_CLIP)
    # OutlierRemover.fit: two-stage z-score bounds, nanstd with ddof 1 when N > 1
    ddof = 1 if n > 1 else 0
    m1 = Z.mean(0)
    d1 = Z - m1
    s1 = _safe_sqrt((d1 * d1).sum(0) / (n - ddof)).clamp_min(OUTLIER_MIN_STD)
    inside = ((Z >= m1 - outlier_threshold * s1) & (Z <= m1 + outlier_threshold * s1)).detach()
    w = inside.to(Z.dtype)
    count = w.sum(0)
    m2 = (Z * w).sum(0) / count
    d2 = (Z - m2) * w
    s2 = _safe_sqrt((d2 * d2).sum(0) / (count - ddof)).clamp_min(OUTLIER_MIN_STD)
    return ContextStats(keep, mean, scale, m2 - outlier_threshold * s2, m2 + outlier_threshold * s2)


def apply_context_stats(X: Tensor, stats: ContextStats) -> Tensor:
    """Transform rows ``X`` (R, F) with fitted ``stats``: filter, z-score + clip, soft outlier clip -> (R, F')."""
    Z = ((X[:, stats.keep] - stats.mean) / stats.scale).clamp(-SCALER_CLIP, SCALER_CLIP)
    Z = torch.maximum(-torch.log1p(Z.abs()) + stats.lower, Z)
    return torch.minimum(torch.log1p(Z.abs()) + stats.upper, Z)


def preprocess_tables(
    X: Tensor, n_train: int, threshold: float = OUTLIER_THRESHOLD, fit_rows: int | None = None
) -> Tensor:
    """The wrapper's ``none`` preprocessing of ``B`` tables at once: ``X`` (B, T, F), statistics fitted on each
    table's first ``n_train`` rows (``fit_rows``: its first ``fit_rows`` rows instead, e.g. all ``T``).

    The same steps as :func:`fit_context_stats` + :func:`apply_context_stats` per table, except that a column
    constant over the fitted rows becomes 0 instead of being dropped (tables keep one width). Returns (B, T, F).
    """
    n = n_train if fit_rows is None else fit_rows
    ctx = X[:, :n]
    mean = ctx.mean(1, keepdim=True)
    scale = ctx.std(1, unbiased=False, keepdim=True) + SCALER_EPS
    Z = ((X - mean) / scale).clamp(-SCALER_CLIP, SCALER_CLIP)
    zc = Z[:, :n]
    m1 = zc.mean(1, keepdim=True)
    s1 = zc.std(1, unbiased=n > 1, keepdim=True).clamp_min(OUTLIER_MIN_STD)
    w = ((zc >= m1 - threshold * s1) & (zc <= m1 + threshold * s1)).to(Z.dtype)
    count = w.sum(1, keepdim=True)
    m2 = (zc * w).sum(1, keepdim=True) / count
    s2 = (((zc - m2) * w) ** 2).sum(1, keepdim=True).div(count - (1 if n > 1 else 0)).sqrt()
    s2 = s2.clamp_min(OUTLIER_MIN_STD)
    lower, upper = m2 - threshold * s2, m2 + threshold * s2
    Z = torch.maximum(-torch.log1p(Z.abs()) + lower, Z)
    return torch.minimum(torch.log1p(Z.abs()) + upper, Z)


def encode_labels(y: Tensor) -> tuple[Tensor, Tensor]:
    """``LabelEncoder``: (classes (C,) sorted distinct labels, codes (N,) long in 0..C-1)."""
    classes, codes = torch.unique(y, sorted=True, return_inverse=True)
    return classes, codes


def load_tabicl_module(weights: TabICLWeights | str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The raw ``TabICL`` module from a checkpoint (``torch.load(weights_only=True)``), parameters frozen.

    Raises ValueError when the checkpoint's dropout is not 0 (train mode would then be stochastic).
    """
    from tabicl._model.tabicl import TabICL

    path = weights.path if isinstance(weights, TabICLWeights) else str(weights)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a TabICL checkpoint: need a dict with 'config' and 'state_dict'")
    dropout = float(ckpt["config"].get("dropout", 0.0))
    if dropout != 0.0:
        raise ValueError(f"checkpoint dropout is {dropout}; the gradient path needs dropout 0.0 (train mode = eval)")
    model = TabICL(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    model.requires_grad_(False)
    return model.to(device).train()


class TorchTabICL(nn.Module):
    """``TabICLClassifier(n_estimators=1)`` as a differentiable function of the table (see module docstring).

    Parameters are frozen; gradients flow to ``X_ctx`` and ``X_query``. ``weights``: a
    :class:`TabICLWeights` or a checkpoint path. Random weights give chance accuracy
    (``RANDOM_BANNER``): use them only for plumbing and timing.
    """

    def __init__(
        self,
        weights: TabICLWeights | str | Path,
        device: str | torch.device = "cpu",
        softmax_temperature: float = SOFTMAX_TEMPERATURE,
        outlier_threshold: float = OUTLIER_THRESHOLD,
    ):
        super().__init__()
        if not softmax_temperature > 0 or not outlier_threshold > 0:
            raise ValueError(
                f"softmax_temperature and outlier_threshold must be > 0, got {softmax_temperature}, {outlier_threshold}"
            )
        self.model = load_tabicl_module(weights, device)
        # label for figures and tables: RANDOM_BANNER for random weights
        self.weights_label = weights.label if isinstance(weights, TabICLWeights) else "TabICL weights: local"
        self.device = torch.device(device)
        self.softmax_temperature = float(softmax_temperature)
        self.outlier_threshold = float(outlier_threshold)

    @property
    def max_classes(self) -> int:
        return int(self.model.max_classes)

    def _check(self, X_ctx: Tensor, y_ctx: Tensor, X_query: Tensor) -> None:
        if X_ctx.ndim != 2 or X_query.ndim != 2 or y_ctx.ndim != 1:
            raise ValueError(
                f"need X_ctx (N, F), y_ctx (N,), X_query (M, F); got {tuple(X_ctx.shape)}, {tuple(y_ctx.shape)}, "
                f"{tuple(X_query.shape)}"
            )
        if X_ctx.shape[0] != y_ctx.shape[0] or X_ctx.shape[0] < 1:
            raise ValueError(f"X_ctx has {X_ctx.shape[0]} rows, y_ctx {y_ctx.shape[0]}: need the same number >= 1")
        if X_ctx.shape[1] != X_query.shape[1] or X_ctx.shape[1] < 1:
            raise ValueError(f"X_ctx has {X_ctx.shape[1]} features, X_query {X_query.shape[1]}: need the same >= 1")
        if not X_ctx.is_floating_point() or not X_query.is_floating_point():
            raise ValueError(f"X_ctx and X_query must be float tensors, got {X_ctx.dtype} and {X_query.dtype}")
        if y_ctx.is_floating_point() or y_ctx.is_complex():
            raise ValueError(f"y_ctx must be an integer tensor of labels, got {y_ctx.dtype}")
        for name, X in (("X_ctx", X_ctx), ("X_query", X_query)):
            if not bool(torch.isfinite(X).all()):
                raise ValueError(f"{name} contains NaN/inf (the wrapper's mean imputation is not reproduced)")

    def forward(self, X_ctx: Tensor, y_ctx: Tensor, X_query: Tensor, X_pool: Tensor | None = None) -> Tensor:
        """Raw logits (M, C) float32 of the query rows; column c = ``encode_labels(y_ctx)[0][c]``.

        ``X_ctx`` (N, F) float, ``y_ctx`` (N,) integer labels (C <= 10 distinct), ``X_query`` (M, F).
        ``X_pool`` (P, F): preprocessing statistics fitted on these rows (``context_stats="pool"``); ``None``:
        on the context rows, as the wrapper does.
        """
        self._check(X_ctx, y_ctx, X_query)
        if X_pool is not None:
            self._check(X_pool, torch.zeros(len(X_pool), dtype=torch.long), X_query)
        _, codes = encode_labels(y_ctx)
        n_classes = int(codes.max()) + 1
        if n_classes > self.max_classes:
            raise ValueError(
                f"{n_classes} classes in y_ctx; the differentiable path supports at most {self.max_classes} "
                "(the wrapper's hierarchical many-class scheme is inference-only)"
            )
        self.model.train()  # the gradient-keeping path; dropout is 0 so it equals eval
        pool = None if X_pool is None else X_pool.to(self.device)
        stats = fit_context_stats(X_ctx.to(self.device), self.outlier_threshold, pool)
        X = apply_context_stats(torch.cat([X_ctx, X_query]).to(self.device), stats)
        X = X.to(torch.float32).unsqueeze(0)  # (1, N+M, F')
        out = self.model(X, codes.to(self.device, torch.float32).unsqueeze(0))  # (1, M, max_classes)
        return out[0, :, :n_classes]

    def forward_tables(
        self, X_ctx: Tensor, codes: Tensor, X_query: Tensor, stats: ContextStats | None = None
    ) -> Tensor:
        """Logits (B, M, max_classes) of ``B`` tables at once, one forward pass: context rows ``X_ctx`` (B, N, F),
        their labels ``codes`` (B, N) in 0..C_b-1 per table, query rows ``X_query`` (B, M, F).

        ``stats``: one preprocessing fitted elsewhere (``context_stats="pool"``) for every table; ``None``: each
        table's own context statistics (:func:`preprocess_tables`; a column constant over a table's context is
        zeroed, where the one-table path drops it). Slice each table's logits to its classes yourself.
        """
        if X_ctx.ndim != 3 or X_query.ndim != 3 or codes.shape != X_ctx.shape[:2] or len(X_query) != len(X_ctx):
            raise ValueError(
                f"need X_ctx (B, N, F), codes (B, N), X_query (B, M, F); got {tuple(X_ctx.shape)}, "
                f"{tuple(codes.shape)}, {tuple(X_query.shape)}"
            )
        X = torch.cat([X_ctx, X_query], 1).to(self.device)
        if stats is None:
            X = preprocess_tables(X, X_ctx.shape[1], self.outlier_threshold)
        else:
            B, T, F = X.shape
            X = apply_context_stats(X.reshape(B * T, F), stats).reshape(B, T, -1)
        self.model.train()
        return self.model(X.to(torch.float32), codes.to(self.device, torch.float32))

    def predict_proba(self, X_ctx: Tensor, y_ctx: Tensor, X_query: Tensor, X_pool: Tensor | None = None) -> Tensor:
        """Probabilities (M, C) = softmax(logits / temperature), as ``TabICLClassifier.predict_proba``."""
        return torch.softmax(self(X_ctx, y_ctx, X_query, X_pool) / self.softmax_temperature, dim=-1)
