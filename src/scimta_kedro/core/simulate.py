"""A seedable simulator of raw scRNA-seq counts with known cell groups and gene programmes.

The model follows Splatter's (Zappia et al. 2017) gamma-Poisson recipe in a reduced form:

* gene base means ~ Gamma(shape, rate);
* each cell group up-regulates its own programme of DE genes (disjoint between groups, so a
  programme is a planted gene community) by a log-normal fold change;
* cell library sizes ~ log-normal;
* counts ~ Poisson(Gamma(1/phi, mu * phi)), i.e. negative binomial with dispersion ``phi``;
* dropout: each count is zeroed with probability ``1 / (1 + exp(shape * (log(mu) - mid)))``;
* optional batches (``n_batches > 1``): cells are assigned to batches independently of their
  group (every batch holds every cell type); each batch multiplies every gene's mean by its
  own log-normal factor (``batch_log_fold_sd``) and shifts the library sizes
  (``batch_library_log_sd``), as protocols differ in capture efficiency per gene and depth.

Cells are generated in chunks, so memory is O(chunk_size x n_genes) dense plus the sparse
result; :func:`write_simulated_h5ad` writes each chunk to disk as it is made, so a million
cells never sit in memory.

Two samplers draw the same model: ``"exact"`` draws gamma-Poisson at every entry;
``"sparse"`` does so only where a cell's mean is at least ``SPARSE_POISSON_BELOW`` and draws
the many tiny-mean entries as Poisson by splitting each cell's total over them (a Poisson
total split multinomially gives independent Poissons), which costs per count, not per
entry. There the negative binomial and the Poisson differ by under 1% in P(count > 0)
(dispersion 0.2). Dropout thins the non-zero entries with the same curve in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.io import sparse_dataset, write_elem
from tqdm.auto import tqdm

from .keys import PRE_DROPOUT_LAYER

LABEL_KEY = "cell_type"
PROGRAMME_KEY = "programme"
NO_PROGRAMME = "none"
BATCH_KEY = "batch"
SAMPLERS = ("exact", "sparse")
# Entries whose mean is below this are drawn Poisson by the "sparse" sampler.
SPARSE_POISSON_BELOW = 0.1


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of :func:`simulate_counts` (the defaults are the default run's data: 3000 cells, 5000 genes, 6 groups, ~2k UMIs per cell).

    Attributes
    ----------
    n_cells, n_genes, n_groups
        Matrix size and number of planted cell groups.
    genes_per_programme
        DE genes up-regulated in each group; must satisfy n_groups * this <= n_genes.
    de_log_fold
        Mean natural-log fold change of programme genes in their group.
    group_weights
        Relative group sizes; ``None`` means equal.
    mean_shape, mean_rate
        Gamma prior of gene base means.
    library_log_mean, library_log_sd
        Log-normal prior of cell library sizes (UMIs per cell before dropout).
    dispersion
        Negative binomial dispersion ``phi`` (variance = mu + phi mu^2).
    dropout_midpoint, dropout_shape
        Logistic dropout curve on log mean; ``dropout_shape=0`` disables dropout.
    n_batches, batch_log_fold_sd, batch_library_log_sd
        Number of batches (1: none) and the strength of their effect: standard deviation of
        each batch's per-gene log factor and of its library-size log shift.
    keep_pre_dropout_counts
        Also store the counts before dropout in ``layers["pre_dropout_counts"]`` (the truth an
        imputation should recover); doubles the memory of the result.
    random_state
        Seed of the generator.
    chunk_size
        Cells generated per dense block.
    sampler
        ``"exact"`` or ``"sparse"`` (module docstring): the same model, the latter much
        faster on many genes with small means (the 10x-like setting of a million cells).
    """

    n_cells: int = 3000
    n_genes: int = 5000
    n_groups: int = 6
    genes_per_programme: int = 40
    de_log_fold: float = 1.0
    group_weights: tuple[float, ...] | None = None
    mean_shape: float = 0.6
    mean_rate: float = 0.3
    library_log_mean: float = 7.6
    library_log_sd: float = 0.4
    dispersion: float = 0.2
    dropout_midpoint: float = -1.0
    dropout_shape: float = 1.0
    n_batches: int = 1
    batch_log_fold_sd: float = 0.5
    batch_library_log_sd: float = 0.3
    keep_pre_dropout_counts: bool = True
    random_state: int = 0
    chunk_size: int = 2000
    sampler: str = "exact"

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got '{self.sampler}'.")
        if min(self.n_cells, self.n_genes, self.n_groups, self.n_batches) < 1:
            raise ValueError("n_cells, n_genes, n_groups and n_batches must all be at least 1.")
        if self.n_groups * self.genes_per_programme > self.n_genes:
            raise ValueError(
                f"n_groups * genes_per_programme = {self.n_groups * self.genes_per_programme}"
                f" exceeds n_genes = {self.n_genes}; lower genes_per_programme or raise n_genes."
            )
        if self.group_weights is not None and len(self.group_weights) != self.n_groups:
            raise ValueError(
                f"group_weights has {len(self.group_weights)} entries for "
                f"{self.n_groups} groups; give one weight per group."
            )


@dataclass(frozen=True)
class _Plan:
    """What is drawn once for all cells: gene profiles, groups, libraries, batches."""

    group_profile: np.ndarray
    programme_of_gene: np.ndarray
    base_mean: np.ndarray
    group_of_cell: np.ndarray
    library_size: np.ndarray
    batch_of_cell: np.ndarray | None
    batch_fold: np.ndarray | None


def _plan(config: SimulationConfig, rng: np.random.Generator) -> _Plan:
    n_groups, n_genes = config.n_groups, config.n_genes
    base_mean = rng.gamma(config.mean_shape, 1.0 / config.mean_rate, size=n_genes)
    programme_genes = rng.permutation(n_genes)[: n_groups * config.genes_per_programme]
    programme_of_gene = np.full(n_genes, -1)
    fold = np.ones((n_groups, n_genes))
    for group, genes in enumerate(np.split(programme_genes, n_groups)):
        programme_of_gene[genes] = group
        fold[group, genes] = rng.lognormal(config.de_log_fold, 0.3, size=genes.size)
    # Expression proportions per group: each row sums to one.
    group_profile = base_mean * fold
    group_profile /= group_profile.sum(axis=1, keepdims=True)

    weights = (
        np.ones(n_groups)
        if config.group_weights is None
        else np.asarray(config.group_weights, dtype=float)
    )
    group_of_cell = rng.choice(n_groups, size=config.n_cells, p=weights / weights.sum())
    library_size = rng.lognormal(config.library_log_mean, config.library_log_sd, config.n_cells)
    batch_of_cell = batch_fold = None
    # Drawn after everything else, so one batch gives the same cells as before batches existed.
    if config.n_batches > 1:
        batch_of_cell = rng.choice(config.n_batches, size=config.n_cells)
        batch_fold = rng.lognormal(0.0, config.batch_log_fold_sd, (config.n_batches, n_genes))
        library_shift = rng.normal(0.0, config.batch_library_log_sd, config.n_batches)
        library_size = library_size * np.exp(library_shift[batch_of_cell])
    return _Plan(
        group_profile,
        programme_of_gene,
        base_mean,
        group_of_cell,
        library_size,
        batch_of_cell,
        batch_fold,
    )


def _blocks(config: SimulationConfig, plan: _Plan, rng: np.random.Generator):
    """Yield ``(counts, pre_dropout)`` CSR float32 blocks of ``chunk_size`` cells in order
    (``pre_dropout`` is ``None`` unless ``keep_pre_dropout_counts``)."""
    sample = _sample_counts if config.sampler == "exact" else _sample_sparse_counts
    for start in range(0, config.n_cells, config.chunk_size):
        stop = min(start + config.chunk_size, config.n_cells)
        profile = plan.group_profile[plan.group_of_cell[start:stop]]
        if plan.batch_of_cell is not None:
            profile = profile * plan.batch_fold[plan.batch_of_cell[start:stop]]
            profile /= profile.sum(axis=1, keepdims=True)
        mean = plan.library_size[start:stop, None] * profile
        counts, pre_dropout = sample(mean, config, rng)
        yield (
            sp.csr_matrix(counts, dtype=np.float32),
            sp.csr_matrix(pre_dropout, dtype=np.float32)
            if config.keep_pre_dropout_counts
            else None,
        )


def _annotated(config: SimulationConfig, plan: _Plan, counts) -> ad.AnnData:
    """The AnnData around ``counts`` (which may be ``None``: written later, chunk by chunk)."""
    group_names = np.array([f"group_{g}" for g in range(config.n_groups)])
    obs = pd.DataFrame(
        {LABEL_KEY: pd.Categorical(group_names[plan.group_of_cell], categories=group_names)},
        index=[f"cell_{i}" for i in range(config.n_cells)],
    )
    if plan.batch_of_cell is not None:
        batch_names = np.array([f"batch_{b}" for b in range(config.n_batches)])
        obs[BATCH_KEY] = pd.Categorical(batch_names[plan.batch_of_cell], categories=batch_names)
    programme = np.where(
        plan.programme_of_gene >= 0, group_names[plan.programme_of_gene], NO_PROGRAMME
    )
    var = pd.DataFrame(
        {PROGRAMME_KEY: pd.Categorical(programme), "base_mean": plan.base_mean},
        index=[f"gene_{j}" for j in range(config.n_genes)],
    )
    adata = ad.AnnData(X=counts, obs=obs, var=var)
    adata.uns["simulation"] = {
        key: (list(value) if isinstance(value, tuple) else value)
        for key, value in config.__dict__.items()
        if value is not None
    }
    return adata


def simulate_counts(config: SimulationConfig) -> ad.AnnData:
    """Simulate raw counts with planted cell groups and gene programmes.

    Returns
    -------
    AnnData with CSR float32 integer counts in ``X``, ``obs["cell_type"]`` (the true group),
    ``var["programme"]`` (the group whose programme the gene belongs to, or ``"none"``),
    ``obs["batch"]`` when ``n_batches > 1``, and ``uns["simulation"]`` (the configuration).
    """
    rng = np.random.default_rng(config.random_state)
    plan = _plan(config, rng)
    blocks = list(_blocks(config, plan, rng))
    adata = _annotated(config, plan, sp.vstack([block for block, _ in blocks], format="csr"))
    if config.keep_pre_dropout_counts:
        adata.layers[PRE_DROPOUT_LAYER] = sp.vstack([pre for _, pre in blocks], format="csr")
    return adata


def write_simulated_h5ad(config: SimulationConfig, path: str | Path, progress: bool = True) -> None:
    """Write :func:`simulate_counts`'s result to ``path`` chunk by chunk.

    Holds one chunk in memory at a time (plus obs and var), so its memory does not grow with
    ``n_cells``; the file equals ``simulate_counts(config).write_h5ad(path)``'s content. The
    file is written under a temporary name and renamed when complete.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    rng = np.random.default_rng(config.random_state)
    plan = _plan(config, rng)
    _annotated(config, plan, None).write_h5ad(partial)
    chunks = tqdm(
        _blocks(config, plan, rng),
        total=-(-config.n_cells // config.chunk_size),
        desc="simulating cells",
        unit="chunk",
        disable=not progress,
    )
    with h5py.File(partial, "a") as file:
        for index, (counts, pre_dropout) in enumerate(chunks):
            parts = [(file, "X", counts)]
            if pre_dropout is not None:
                parts.append((file["layers"], PRE_DROPOUT_LAYER, pre_dropout))
            for group, name, block in parts:
                if index == 0:
                    # A 32-bit indptr cannot grow past 2^31 stored counts (~1M 10x cells).
                    block.indptr = block.indptr.astype(np.int64)
                    write_elem(group, name, block)
                else:
                    sparse_dataset(group[name]).append(block)
    partial.replace(path)


def _sample_counts(mean: np.ndarray, config: SimulationConfig, rng: np.random.Generator):
    """Negative binomial counts with logistic dropout for one dense block of cells.

    Returns the counts after dropout and before it.
    """
    shape = 1.0 / config.dispersion
    rate_free_mean = rng.gamma(shape, mean / shape)
    pre_dropout = rng.poisson(rate_free_mean)
    counts = pre_dropout.copy() if config.keep_pre_dropout_counts else pre_dropout
    if config.dropout_shape > 0:
        keep_probability = 1.0 / (
            1.0 + np.exp(-config.dropout_shape * (np.log(mean) - config.dropout_midpoint))
        )
        counts[rng.random(counts.shape) >= keep_probability] = 0
    return counts, pre_dropout


def _sample_sparse_counts(mean: np.ndarray, config: SimulationConfig, rng: np.random.Generator):
    """The ``"sparse"`` sampler (module docstring) for one dense block of cells.

    Returns the counts after dropout and before it (int64 arrays of ``mean``'s shape).
    """
    shape = 1.0 / config.dispersion
    pre_dropout = np.zeros(mean.shape, dtype=np.int64)
    large = mean >= SPARSE_POISSON_BELOW
    pre_dropout[large] = rng.poisson(rng.gamma(shape, mean[large] / shape))
    small_mean = np.where(large, 0.0, mean)
    cell_totals = small_mean.sum(axis=1)
    cumulative = np.cumsum(small_mean.ravel())
    cell_starts = np.concatenate([[0.0], cumulative[mean.shape[1] - 1 :: mean.shape[1]][:-1]])
    draws = rng.poisson(cell_totals)
    positions = rng.random(draws.sum()) * np.repeat(cell_totals, draws)
    entries = np.searchsorted(cumulative, positions + np.repeat(cell_starts, draws), "right")
    entries = np.minimum(entries, cumulative.size - 1)
    pre_dropout.ravel()[:] += np.bincount(entries, minlength=cumulative.size)
    counts = pre_dropout.copy()
    if config.dropout_shape > 0:
        non_zero = np.flatnonzero(counts)
        keep_probability = 1.0 / (
            1.0
            + np.exp(
                -config.dropout_shape * (np.log(mean.ravel()[non_zero]) - config.dropout_midpoint)
            )
        )
        counts.ravel()[non_zero[rng.random(non_zero.size) >= keep_probability]] = 0
    return counts, pre_dropout
