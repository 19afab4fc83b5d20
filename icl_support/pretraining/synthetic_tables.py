"""Synthetic classification tables for pretraining TabICL-mini (never real data, never images).

Five priors, each returning one batch of tables that share a shape:

``gmm``        Gaussian-mixture tasks (:func:`gaussian_mixture_tables`): each class is 1-3 Gaussian
               clusters in a low-dimensional latent space, mapped linearly into the features, with
               irrelevant noise columns, per-feature scales and shifts, an occasional monotone
               warp of a column, and imbalanced class sizes. Cheap (milliseconds) and learnable
               from a cold start: the curriculum opens with it.
``gmm_dense``  Gaussian-mixture tasks whose class signal is spread thinly over *every* column with a
               decaying spectrum, like the PCA components of image embeddings
               (:func:`gaussian_mixture_tables` with ``dense=True``): no single column separates the
               classes; only evidence summed over many columns does.
``embed_pca``  Backbone-embedding-shaped tasks reduced by PCA, as the book's rows are
               (:func:`gaussian_mixture_tables` with ``prior="embed_pca"``): classes under super-classes in a
               latent space, within-class variation with a power-law spectrum, a random map into a wide raw
               embedding (sometimes through a GELU or a layer norm), then the table's top principal components:
               many columns, low rank, anisotropic clusters, a heavy-tailed spectrum.
``mlp_scm``    TabICL's own structural-causal-model prior (``tabicl.prior.PriorDataset``, MLP
               SCMs; ``tree_scm``/``mix_scm`` need ``xgboost`` and are accepted when it is
               installed). 50-300 ms a table on one CPU thread.

A batch is a pure function of ``(seed, step)`` (:func:`batch_seed`), so a resumed run draws
exactly the tables an uninterrupted run would have drawn.

Shapes: ``X`` (B, T, F) float32, ``y`` (B, T) int64 in 0..C-1, the first ``n_train`` rows of every
table are its context (every class present there); the rest are query rows.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

PRIORS = ("gmm", "gmm_dense", "embed_pca", "mlp_scm", "tree_scm", "mix_scm")
LOCAL_PRIORS = PRIORS[:3]  # drawn by this module; the rest by TabICL's prior
TABICL_PRIORS = PRIORS[3:]


@dataclass(frozen=True)
class TableBatch:
    """``X`` (B, T, F) float32, ``y`` (B, T) int64; rows ``[:n_train]`` are context rows."""

    X: Tensor
    y: Tensor
    n_train: int
    prior: str
    # preprocess with statistics of every row of the table (the unlabelled pool), not the context rows only
    pool_stats: bool = False
    # the column stage does not see the context labels in this batch (Stage.col_blind)
    col_blind: bool = False

    @property
    def n_classes(self) -> Tensor:
        """(B,) number of distinct classes per table."""
        return self.y.max(1).values + 1


def batch_seed(seed: int, step: int, salt: str = "") -> int:
    """A 63-bit seed determined by ``(seed, step, salt)`` only."""
    digest = hashlib.sha256(f"{seed}:{step}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _labels_with_every_class(gen: torch.Generator, props: Tensor, n_rows: int, n_train: int) -> Tensor:
    """(n_rows,) labels drawn from ``props`` (C,), each class forced into the first ``n_train`` rows."""
    n_classes = props.numel()
    y = torch.multinomial(props, n_rows, replacement=True, generator=gen)
    y[:n_classes] = torch.arange(n_classes)
    ctx = y[:n_train][torch.randperm(n_train, generator=gen)]
    qry = y[n_train:]
    return torch.cat([ctx, qry])


def _balanced_labels(gen: torch.Generator, props: Tensor, n_rows: int, n_train: int) -> Tensor:
    """(n_rows,) labels whose first ``n_train`` rows hold exactly ``n_train / C`` rows of each class (shuffled);
    query rows drawn from ``props`` (C,). i.i.d. samples of their class, never prototypes."""
    n_classes = props.numel()
    if n_train % n_classes:
        raise ValueError(f"a balanced context needs n_train ({n_train}) divisible by the classes ({n_classes})")
    ctx = torch.arange(n_classes).repeat(n_train // n_classes)[torch.randperm(n_train, generator=gen)]
    qry = torch.multinomial(props, n_rows - n_train, replacement=True, generator=gen)
    return torch.cat([ctx, qry])


def _labels(gen: torch.Generator, props: Tensor, n_rows: int, n_train: int, balanced: bool) -> Tensor:
    if balanced:
        return _balanced_labels(gen, props, n_rows, n_train)
    return _labels_with_every_class(gen, props, n_rows, n_train)


def _uniform(gen: torch.Generator):
    """``u(lo, hi)``: one uniform float drawn from ``gen``."""
    return lambda lo, hi: float(lo + (hi - lo) * torch.rand((), generator=gen))


def _class_proportions(gen: torch.Generator, n_classes: int) -> Tensor:
    """(C,) imbalanced class proportions: Dirichlet with a log-uniform concentration in [0.5, 20], every class kept
    above about 2%. Draws from ``gen`` in a fixed order (a seeded table's labels depend on it)."""
    gamma_rng = np.random.default_rng(int(torch.randint(0, 2**62, (), generator=gen)))
    alpha = np.exp(_uniform(gen)(np.log(0.5), np.log(20.0)))
    props = torch.from_numpy(gamma_rng.dirichlet(np.full(n_classes, alpha))).float()
    return (props + 0.02) / (props + 0.02).sum()


def _one_gaussian_mixture(
    gen: torch.Generator, n_rows: int, n_train: int, n_features: int, n_classes: int, balanced: bool = False
) -> tuple:
    """One table: X (n_rows, n_features) float32, y (n_rows,) int64 (see module docstring)."""
    u = _uniform(gen)
    latent = max(1, min(n_features, int(round(np.exp(u(0.0, np.log(min(n_features, 16) + 1)))))))
    separation = np.exp(u(np.log(0.6), np.log(4.0)))  # distance scale of class centres in latent sd units
    alpha = np.exp(u(np.log(0.5), np.log(20.0)))  # Dirichlet concentration: small = imbalanced
    gamma_rng = np.random.default_rng(int(torch.randint(0, 2**62, (), generator=gen)))
    props = torch.from_numpy(gamma_rng.dirichlet(np.full(n_classes, alpha))).float()
    props = (props + 0.02) / (props + 0.02).sum()  # every class keeps some mass
    y = _labels(gen, props, n_rows, n_train, balanced)

    centres = torch.randn(n_classes, latent, generator=gen) * separation
    n_sub = int(torch.randint(1, 4, (), generator=gen))  # clusters per class
    sub_offsets = torch.randn(n_classes, n_sub, latent, generator=gen) * separation * u(0.0, 0.6)
    sub = torch.randint(0, n_sub, (n_rows,), generator=gen)
    spread = torch.exp(torch.randn(latent, generator=gen) * 0.3)  # anisotropic within-class spread
    z = centres[y] + sub_offsets[y, sub] + torch.randn(n_rows, latent, generator=gen) * spread

    relevant = max(1, int(round(n_features * u(0.3, 1.0))))
    mixing = torch.randn(latent, relevant, generator=gen) / np.sqrt(latent)
    noise_sd = u(0.05, 1.0)
    X_rel = z @ mixing + torch.randn(n_rows, relevant, generator=gen) * noise_sd
    X_irr = torch.randn(n_rows, n_features - relevant, generator=gen)
    X = torch.cat([X_rel, X_irr], 1)[:, torch.randperm(n_features, generator=gen)]
    warp = torch.rand(n_features, generator=gen) < 0.2  # a monotone warp on ~20% of the columns
    if bool(warp.any()):
        X[:, warp] = torch.sinh(X[:, warp]) if bool(torch.rand((), generator=gen) < 0.5) else torch.tanh(X[:, warp])
    X = X * torch.exp(torch.randn(n_features, generator=gen)) + torch.randn(n_features, generator=gen) * 3
    return X.float(), y.long()


def _one_dense_mixture(
    gen: torch.Generator, n_rows: int, n_train: int, n_features: int, n_classes: int, balanced: bool = False
) -> tuple:
    """One ``gmm_dense`` table: X (n_rows, n_features) float32, y (n_rows,) int64.

    Column j's class-centre spread is ``(j + 1) ** -decay`` (a PCA-like spectrum, decay in [0, 1.5]),
    scaled so the centres of two classes lie about ``sqrt(2) * snr`` within-class sds apart over all
    columns together (snr in [1, 8]); within-class spread decays more slowly. 1-3 clusters per class,
    sometimes heavy-tailed noise, sometimes a random rotation; columns in spectrum order or shuffled.
    """
    u = _uniform(gen)
    y = _labels(gen, _class_proportions(gen, n_classes), n_rows, n_train, balanced)

    index = torch.arange(1, n_features + 1, dtype=torch.float32)
    decay = u(0.0, 1.5)
    centre_sd = index**-decay
    snr = np.exp(u(0.0, np.log(8.0)))
    centre_sd = centre_sd * snr / centre_sd.norm()
    within_sd = index ** -(decay * u(0.0, 0.8))
    centres = torch.randn(n_classes, n_features, generator=gen) * centre_sd
    n_sub = int(torch.randint(1, 4, (), generator=gen))
    sub_offsets = torch.randn(n_classes, n_sub, n_features, generator=gen) * centre_sd * u(0.0, 0.7)
    sub = torch.randint(0, n_sub, (n_rows,), generator=gen)
    noise = torch.randn(n_rows, n_features, generator=gen)
    if bool(torch.rand((), generator=gen) < 0.3):  # heavy tails: rows scaled as Student-t, 3-10 dof
        dof = int(torch.randint(3, 11, (), generator=gen))
        chi2 = (torch.randn(n_rows, dof, generator=gen) ** 2).sum(1, keepdim=True)
        noise = noise / torch.sqrt(chi2 / dof)
    X = centres[y] + sub_offsets[y, sub] + noise * within_sd
    if bool(torch.rand((), generator=gen) < 0.3):  # a random rotation: the signal is not axis-aligned
        q, _ = torch.linalg.qr(torch.randn(n_features, n_features, generator=gen))
        X = X @ q
    if bool(torch.rand((), generator=gen) < 0.5):
        X = X[:, torch.randperm(n_features, generator=gen)]
    X = X * torch.exp(torch.randn(n_features, generator=gen)) + torch.randn(n_features, generator=gen) * 3
    return X.float(), y.long()


def _one_embedding_table(
    gen: torch.Generator, n_rows: int, n_train: int, n_features: int, n_classes: int, balanced: bool = False
) -> tuple:
    """One ``embed_pca`` table: X (n_rows, n_features) float32, y (n_rows,) int64.

    Latent space of L in [4, 64] dims (log-uniform): class centres mix a super-class centre (1-3 super-classes)
    with their own; within-class variation has a power-law spectrum (sd of direction i ~ i ** -(a / 2), a in
    [0.5, 2.5]) in a random basis shared by every class, scaled per class; 1-3 modes per class; Student-t rows in a
    third of the tables. A random linear map sends it into a raw embedding of D = max(64, 4 x n_features) dims
    (at most 384) with isotropic noise, through a GELU in half of the tables and a layer norm in half. The columns
    are the top ``n_features`` principal components fitted on the table's rows plus ``max(64, 2 x n_features)``
    more rows of the same task (the unlabelled pool a book's PCA is fitted on), in PCA order in 70% of the tables.
    """
    u = _uniform(gen)
    props = _class_proportions(gen, n_classes)
    y = _labels(gen, props, n_rows, n_train, balanced)
    n_fit = max(64, 2 * n_features)  # extra rows for the PCA fit only
    y_all = torch.cat([y, torch.multinomial(props, n_fit, replacement=True, generator=gen)])

    latent = int(round(np.exp(u(np.log(4.0), np.log(64.0)))))
    n_super = int(torch.randint(1, 4, (), generator=gen))
    share = u(0.0, 0.8)  # how much of a class centre its super-class sets
    supers = torch.randn(n_super, latent, generator=gen)[torch.randint(0, n_super, (n_classes,), generator=gen)]
    separation = np.exp(u(np.log(0.5), np.log(3.0)))
    centres = np.sqrt(share) * supers + np.sqrt(1 - share) * torch.randn(n_classes, latent, generator=gen)
    centres = centres * separation
    spectrum = torch.arange(1, latent + 1, dtype=torch.float32) ** -(u(0.5, 2.5) / 2)
    basis, _ = torch.linalg.qr(torch.randn(latent, latent, generator=gen))
    class_scale = torch.exp(torch.randn(n_classes, generator=gen) * 0.25)
    n_modes = int(torch.randint(1, 4, (), generator=gen))
    modes = torch.randn(n_classes, n_modes, latent, generator=gen) * separation * u(0.0, 0.6)
    n_all = y_all.numel()
    within = torch.randn(n_all, latent, generator=gen) * spectrum
    if bool(torch.rand((), generator=gen) < 1 / 3):  # heavy tails: rows scaled as Student-t, 3-10 dof
        dof = int(torch.randint(3, 11, (), generator=gen))
        within = within / torch.sqrt((torch.randn(n_all, dof, generator=gen) ** 2).sum(1, keepdim=True) / dof)
    mode = torch.randint(0, n_modes, (n_all,), generator=gen)
    z = centres[y_all] + modes[y_all, mode] + (within @ basis.T) * class_scale[y_all, None]

    width = max(n_features, min(384, max(64, 4 * n_features)))  # at least one principal component per column
    raw = z @ (torch.randn(latent, width, generator=gen) / np.sqrt(latent))
    raw = raw + torch.randn(n_all, width, generator=gen) * u(0.05, 0.5)
    if bool(torch.rand((), generator=gen) < 0.5):  # post-activation features
        raw = torch.nn.functional.gelu(raw + torch.randn(width, generator=gen) * 0.5)
    if bool(torch.rand((), generator=gen) < 0.5):
        raw = torch.nn.functional.layer_norm(raw, (width,))
    centred = raw - raw.mean(0)
    _, _, vt = torch.linalg.svd(centred.double(), full_matrices=False)
    X = (centred.double() @ vt[:n_features].T)[:n_rows].float()
    if bool(torch.rand((), generator=gen) < 0.3):
        X = X[:, torch.randperm(n_features, generator=gen)]
    return X * np.exp(u(-2.0, 2.0)), y.long()  # float32 (a Python float scales a float32 tensor)


_ONE_TABLE = {"gmm": _one_gaussian_mixture, "gmm_dense": _one_dense_mixture, "embed_pca": _one_embedding_table}


def gaussian_mixture_tables(
    n_tables: int,
    n_rows: int,
    n_train: int,
    n_features: int,
    n_classes: int | tuple[int, int],
    seed: int,
    *,
    dense: bool = False,
    balanced: bool = False,
    prior: str | None = None,
) -> TableBatch:
    """``n_tables`` Gaussian-mixture tables of ``n_rows`` rows (first ``n_train`` = context) and ``n_features``.

    ``n_classes``: a count, or an inclusive range ``(lo, hi)`` drawn per table. ``dense``: the ``gmm_dense``
    prior (class signal spread over every column). ``balanced``: the context holds exactly ``n_train / C`` rows of
    every class (needs one class count dividing ``n_train``), as a k-per-class context in the book does.
    ``prior``: any of ``LOCAL_PRIORS`` (overrides ``dense``; ``embed_pca`` draws :func:`_one_embedding_table`).
    Deterministic in ``seed``.
    """
    prior = prior or ("gmm_dense" if dense else "gmm")
    if prior not in LOCAL_PRIORS:
        raise ValueError(f"unknown local prior {prior!r}; valid: {', '.join(LOCAL_PRIORS)}")
    if not 0 < n_train < n_rows:
        raise ValueError(f"need 0 < n_train < n_rows, got n_train={n_train}, n_rows={n_rows}")
    lo, hi = (n_classes, n_classes) if isinstance(n_classes, int) else n_classes
    if not 2 <= lo <= hi or hi > n_train:
        raise ValueError(f"n_classes {n_classes} must lie in 2..n_train ({n_train})")
    gen = torch.Generator().manual_seed(seed)
    Xs, ys = [], []
    for _ in range(n_tables):
        c = int(torch.randint(lo, hi + 1, (), generator=gen))
        X, y = _ONE_TABLE[prior](gen, n_rows, n_train, n_features, c, balanced)
        Xs.append(X)
        ys.append(y)
    return TableBatch(torch.stack(Xs), torch.stack(ys), n_train, prior)


def tabicl_prior_tables(
    prior: str, n_tables: int, n_rows: int, n_train: int, n_features: int, max_classes: int, *, seed: int
) -> TableBatch:
    """``n_tables`` tables from TabICL's own prior (``tabicl.prior.PriorDataset``), one thread, seeded.

    Labels are renumbered 0..C-1 over the classes present in the context; a table whose query rows
    hold a class its context lacks is discarded and more are drawn (at most 20 rounds). ``n_train``
    may move by one row (the prior splits by fraction). Padding columns beyond a table's active
    features stay zero, as in TabICL's own trainer.
    """
    from tabicl.prior import PriorDataset

    if prior not in TABICL_PRIORS:
        raise ValueError(f"unknown TabICL prior {prior!r}; valid: {', '.join(TABICL_PRIORS)}")
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        ds = PriorDataset(
            batch_size=n_tables,
            batch_size_per_gp=1,
            min_features=min(2, n_features),
            max_features=n_features,
            max_classes=max_classes,
            min_seq_len=None,
            max_seq_len=n_rows,
            min_train_size=n_train / n_rows,
            max_train_size=n_train / n_rows,
            prior_type=prior,
            n_jobs=1,
        )
        Xs, ys = [], []
        for _ in range(20):
            X, y, _, _, train_sizes = ds.get_batch()
            n_train = int(train_sizes[0])
            for Xi, yi in zip(X, y, strict=True):
                yi = yi.long()
                ctx = torch.unique(yi[:n_train])
                if bool(torch.isin(yi[n_train:], ctx).all()) and ctx.numel() >= 2:
                    remap = torch.full((int(yi.max()) + 1,), -1, dtype=torch.long)
                    remap[ctx] = torch.arange(ctx.numel())
                    Xs.append(Xi.float())
                    ys.append(remap[yi])
            if len(Xs) >= n_tables:
                break
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
    if len(Xs) < n_tables:
        raise RuntimeError(f"{prior}: only {len(Xs)} of {n_tables} usable tables after 20 draws")
    return TableBatch(torch.stack(Xs[:n_tables]), torch.stack(ys[:n_tables]), n_train, prior)
