"""Dropout-aware imputation from the trained graph autoencoder's count decoder.

For every cell the decoder gives a negative binomial ``NB(mu, theta)`` of each gene's count,
from the cell's latent code averaged over its graph neighbours. Three rules turn that into an
imputed matrix on the scale of ``layers["log_normalized"]``:

* **Biological zeros stay zero.** Where the model gives the gene a detection probability
  ``P(count > 0) = 1 - (theta / (theta + mu)) ** theta`` below ``min_detection_probability``
  in this cell, the zero is taken as real: the gene is not expressed in such cells.
* **The value** (``value``), normalised and log-transformed like the data:

  - ``posterior``: every entry, measured ones too, gets the posterior mean of the cell's
    expression given its count ``x``. The negative binomial is a Poisson whose rate is
    Gamma(theta, theta / mu), so the rate given ``x`` is Gamma(theta + x, theta / mu + 1),
    with mean ``(theta + x) * mu / (theta + mu)``: the count shrunk towards the model's mean,
    the more so the lower the gene's dispersion says its noise is. A zero gets
    ``theta * mu / (theta + mu)``, below ``mu``. ``prior_strength`` scales ``theta`` in this
    formula, the weight of the model's mean in pseudo-counts: 1 is the decoder's own prior,
    smaller values trust the measured count more.
  - ``mean``: measured counts are kept, zeros get ``mu``.
  - ``detected``: measured counts are kept, zeros get the level the gene shows when
    detected, ``E[count | count > 0] = mu / P(count > 0)``.

  The imputation benchmark scores all three by molecular cross-validation
  (:mod:`.molecular_cv`); docs/method.md gives the measured reason for the default.

With a ZINB decoder only its negative binomial part is used. (We tried the ZINB's own
dropout posterior first: on the simulation the decoder learns almost no zero inflation, since
a flexible NB explains the zeros as well, so that posterior never called a zero a dropout.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .graphs import row_normalize
from .validate import InputError
from .value_checks import check_ranges

logger = logging.getLogger(__name__)

_VALUES = ("posterior", "mean", "detected")


@dataclass(frozen=True)
class ImputationConfig:
    """Parameters of :func:`impute_counts`.

    Attributes
    ----------
    min_detection_probability
        Zeros of genes whose modelled detection probability in the cell is below this stay
        zero (biological).
    value
        ``"posterior"``: every entry gets ``E[rate | count]``; ``"mean"``: zeros get
        ``E[count]``; ``"detected"``: zeros get ``E[count | count > 0]`` (module docstring).
    prior_strength
        Multiplier of the dispersion ``theta`` in the ``"posterior"`` rule: the weight of the
        model's mean against the measured count (1: the decoder's own prior).
    smoothing_steps
        Times the latent codes are averaged over the cell graph before decoding (0: none).
    batch_size
        Cells decoded at once; bounds the dense working memory to ``batch_size x genes``.
        Blocks under glibc's largest mmap threshold (32 MiB of float64: 1024 x 2000 genes
        is 16 MiB) reuse freed memory; larger ones are mapped afresh each time, which costs
        more than the arithmetic.
    """

    min_detection_probability: float = 0.01
    value: str = "posterior"
    prior_strength: float = 0.003
    smoothing_steps: int = 0
    batch_size: int = 1024

    def __post_init__(self) -> None:
        check_ranges(
            self,
            between={"min_detection_probability": (0, 1)},
            above={"prior_strength": 0},
            at_least={"smoothing_steps": 0, "batch_size": 1},
            choices={"value": _VALUES},
        )


def smooth_over_graph(latent: np.ndarray, connectivities: sp.spmatrix, steps: int) -> np.ndarray:
    """Average each cell's code with its neighbours' ``steps`` times (row-normalised graph)."""
    transition = row_normalize(sp.csr_matrix(connectivities, dtype=np.float32))
    for _ in range(steps):
        latent = transition @ latent
    return np.asarray(latent, dtype=np.float32)


def nb_zero_probability(mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """``P(count = 0)`` under ``NB(mean, theta=dispersion)``, elementwise."""
    return np.exp(dispersion * (np.log(dispersion) - np.log(dispersion + mean)))


def _imputed_level(
    config: ImputationConfig,
    observed: np.ndarray,
    mean: np.ndarray,
    dispersion: np.ndarray,
    detection: np.ndarray,
) -> np.ndarray:
    """Counts at the cell's library size that each entry gets under the ``value`` rule."""
    if config.value == "posterior":
        prior = config.prior_strength * dispersion
        return (prior + observed) * mean / (prior + mean)
    fill = mean / np.maximum(detection, 1e-12) if config.value == "detected" else mean
    return np.where(observed > 0, observed, fill)


def _check_inputs(model, latent, counts, total_counts, connectivities) -> None:
    n_cells, n_genes = counts.shape
    problems = []
    if model.n_genes != n_genes:
        problems.append(f"the model decodes {model.n_genes} genes but the counts have {n_genes}")
    if latent.shape[0] != n_cells:
        problems.append(f"{latent.shape[0]} latent codes for {n_cells} cells")
    if connectivities.shape != (n_cells, n_cells):
        problems.append(f"a cell graph of shape {connectivities.shape} for {n_cells} cells")
    if np.asarray(total_counts).shape != (n_cells,):
        problems.append(f"total_counts of shape {np.asarray(total_counts).shape}")
    if problems:
        raise InputError(
            "imputation inputs do not match: "
            + "; ".join(problems)
            + ". They must come from the same run: re-run training (or the whole analysis)."
        )


def impute_counts(
    model,
    latent: np.ndarray,
    counts: sp.spmatrix,
    total_counts: np.ndarray,
    connectivities: sp.spmatrix,
    *,
    config: ImputationConfig,
    target_sum: float,
    batch: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Imputed expression on the log-normalised scale, ``(n_cells, n_genes)`` CSR float32.

    Parameters
    ----------
    model
        Trained :class:`~scimta_kedro.core.nn.model.GraphAutoencoder`.
    latent
        Its latent codes of the cells ``(n_cells, latent_dim)``.
    counts
        Raw counts of the genes the model decodes ``(n_cells, n_genes)``; their row sums are
        the library sizes the model was trained with.
    total_counts
        Counts per cell over all genes ``(n_cells,)``: the normalisation of the log scale.
    connectivities
        Cell graph ``(n_cells, n_cells)`` used to smooth the latent codes.
    config
        Imputation parameters.
    target_sum
        Library size of the log-normalised scale (the preprocessing's ``target_sum``).
    batch
        One-hot batch of each cell ``(n_cells, n_batches)`` for a model whose decoder is
        conditioned on batches; each cell is decoded in its own batch.

    Returns
    -------
    ``log1p(target_sum * value / total_counts)``, biological zeros left out of the sparse
    structure; measured non-zeros are unchanged unless ``value`` is ``"posterior"``.

    Memory: ``batch_size x n_genes`` dense floats at a time; the result stores the non-zeros
    only (measured values plus filled dropouts), at most ``n_cells x n_genes`` of them.
    """
    counts = sp.csr_matrix(counts, dtype=np.float32)
    _check_inputs(model, latent, counts, total_counts, connectivities)
    library_size = np.asarray(counts.sum(axis=1), dtype=np.float32)
    scale = (target_sum / np.maximum(np.asarray(total_counts, np.float32), 1.0))[:, None]
    codes = smooth_over_graph(latent, connectivities, config.smoothing_steps)
    blocks = []
    filled = 0
    for start in tqdm(
        range(0, counts.shape[0], config.batch_size),
        desc="imputation",
        unit="batch",
        disable=counts.shape[0] <= config.batch_size,
    ):
        stop = min(start + config.batch_size, counts.shape[0])
        parameters = model.decode_expression(
            codes[start:stop],
            library_size[start:stop],
            None if batch is None else batch[start:stop],
        )
        mean = np.asarray(parameters["mean"], dtype=np.float64)
        dispersion = np.asarray(parameters["dispersion"], dtype=np.float64)
        detection = 1.0 - nb_zero_probability(mean, dispersion)
        observed = counts[start:stop].toarray()
        measured = observed > 0
        level = _imputed_level(config, observed, mean, dispersion, detection)
        imputed = np.log1p(level * scale[start:stop]).astype(np.float32)
        imputed[(detection < config.min_detection_probability) & ~measured] = 0.0
        filled += int(np.count_nonzero(imputed[~measured]))
        blocks.append(sp.csr_matrix(imputed))
    result = sp.vstack(blocks, format="csr")
    zeros = counts.shape[0] * counts.shape[1] - counts.nnz
    logger.info(
        "Imputation filled %d of %d zeros (%.1f%%); the rest stay zero as biological.",
        filled,
        zeros,
        100 * filled / max(zeros, 1),
    )
    return result
