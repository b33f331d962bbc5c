"""Batch-aware pieces: simulated batches, the batch-balanced graph, the MMD penalty, the
mixing scores, and batch-aware training on a strong batch effect."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.batches import batch_mixing_scores, check_batches
from scimta_kedro.core.graphs import (
    GraphConfig,
    build_ppmi_graph,
    knn_adjacency,
    neighbours_per_batch,
)
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.nn.likelihoods import batch_mmd_penalty
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import BATCH_KEY, simulate_counts
from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.validate import InputError

from ..simulated import FAST, SMALL_SIMULATION

# Three batches whose per-gene factors (sd 0.5 in log space, plus depth shifts) separate the
# cells by batch in PCA, with the three cell types of SMALL_SIMULATION shared by all batches.
STRONG_BATCHES = replace(
    SMALL_SIMULATION,
    n_cells=450,
    n_genes=500,
    n_batches=3,
    batch_log_fold_sd=0.5,
    batch_library_log_sd=0.3,
)


def _two_batches_apart(n_per_batch=60, shift=20.0):
    """Two batches of the same two cell types, the second batch shifted far away along a
    direction of its own (as a batch effect orthogonal to biology)."""
    rng = np.random.default_rng(0)
    types = np.repeat([0, 1], n_per_batch // 2)
    base = rng.normal(size=(n_per_batch, 6))
    base[:, :5] += 8.0 * types[:, None]
    offset = np.zeros(6)
    offset[5] = shift
    embedding = np.vstack([base, base + offset]).astype(np.float32)
    batches = np.repeat(["a", "b"], n_per_batch)
    return embedding, batches, np.concatenate([types, types])


def test_one_batch_simulates_exactly_as_before_batches_existed():
    without = simulate_counts(SMALL_SIMULATION)
    with_one = simulate_counts(replace(SMALL_SIMULATION, n_batches=1, batch_log_fold_sd=0.5))
    assert (without.X != with_one.X).nnz == 0
    assert BATCH_KEY not in with_one.obs


def test_simulated_batches_share_cell_types_and_shift_expression():
    cells = simulate_counts(STRONG_BATCHES)
    table = pd.crosstab(cells.obs["cell_type"], cells.obs[BATCH_KEY])
    assert table.shape == (3, 3) and (table.to_numpy() > 20).all()
    shares = {
        batch: np.asarray(cells.X[(cells.obs[BATCH_KEY] == batch).to_numpy()].sum(axis=0)).ravel()
        for batch in table.columns
    }
    first, second = (shares[b] / shares[b].sum() for b in table.columns[:2])
    expressed = (first > 1e-4) & (second > 1e-4)
    # Per-gene batch factors: gene shares differ between batches well beyond sampling noise.
    assert np.median(np.abs(np.log(first[expressed] / second[expressed]))) > 0.2


def test_knn_connectivities_weigh_each_batch_on_its_own_scale():
    embedding, batches, _ = _two_batches_apart()
    config = GraphConfig(n_neighbors=6, max_entries_per_row=20)
    weights = build_ppmi_graph(embedding, config, batches).knn_connectivities
    assert abs(weights - weights.T).max() < 1e-6
    # Each cell's nearest neighbour in each batch gets UMAP's full weight 1, however far the
    # batch effect puts the other batch; on one common scale it would get almost nothing.
    for batch in ("a", "b"):
        strongest = weights[:, batches == batch].max(axis=1).toarray().ravel()
        assert strongest.min() > 0.999


@pytest.mark.parametrize("knn_method", ["exact", "approximate"])
def test_balanced_graph_gives_every_cell_neighbours_in_every_batch(knn_method):
    embedding, batches, types = _two_batches_apart()
    config = GraphConfig(n_neighbors=6, max_entries_per_row=20, knn_method=knn_method)
    plain = knn_adjacency(embedding, config)
    balanced = knn_adjacency(embedding, config, batches)
    in_b = batches == "b"
    # Far apart, the plain graph never links the batches; the balanced one always does.
    assert plain[~in_b][:, in_b].nnz == 0
    per_batch = neighbours_per_batch(6, 2)
    for mask in (in_b, ~in_b):
        links = np.asarray((balanced[:, mask] > 0).sum(axis=1)).ravel()
        assert (links >= per_batch).all()
    assert (balanced != balanced.T).nnz == 0 and balanced.diagonal().sum() == 0
    # The batch effect is orthogonal to the types: links across batches join the same type.
    rows, columns = balanced.nonzero()
    across = batches[rows] != batches[columns]
    assert (types[rows][across] == types[columns][across]).all()


def test_balanced_graph_is_reproducible_and_independent_of_batch_names():
    embedding, batches, _ = _two_batches_apart()
    config = GraphConfig(n_neighbors=6, max_entries_per_row=20)
    first = build_ppmi_graph(embedding, config, batches)
    renamed = build_ppmi_graph(embedding, config, np.where(batches == "a", "z", "y"))
    assert abs(first.connectivities - renamed.connectivities).max() == 0


def test_a_batch_too_small_for_its_neighbours_is_named():
    obs = pd.DataFrame({"plate": ["p1"] * 50 + ["p2"] * 4})
    with pytest.raises(InputError, match=r"'p2' \(4 cells\).*each batch needs more than 8 cells"):
        check_batches(obs, "plate", n_neighbors=15)
    check_batches(obs, "plate", n_neighbors=6)  # 3 per batch: 4 cells are enough


def test_missing_batch_values_are_refused():
    obs = pd.DataFrame({"plate": ["p1"] * 20 + [None] * 2})
    with pytest.raises(InputError, match="2 missing values"):
        check_batches(obs, "plate", n_neighbors=5)


def test_mmd_penalty_is_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(400, 4)).astype(np.float32)
    one_hot = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 400)]
    mixed = float(batch_mmd_penalty(latent, one_hot))
    shifted = float(batch_mmd_penalty(latent + 2.0 * one_hot[:, :1], one_hot))
    assert mixed < 0.02 and shifted > 0.2
    # Scale-free: shrinking every code does not shrink the penalty.
    assert float(batch_mmd_penalty(0.01 * (latent + 2.0 * one_hot[:, :1]), one_hot)) == (
        pytest.approx(shifted, rel=1e-3)
    )


def test_mixing_scores_separate_apart_from_mixed_batches():
    embedding, batches, types = _two_batches_apart()
    apart = batch_mixing_scores(embedding, batches, types, n_neighbors=10)
    rng = np.random.default_rng(1)
    mixed = batch_mixing_scores(embedding, rng.permutation(batches), types, n_neighbors=10)
    assert apart["ilisi"] < 0.05 and apart["batch_entropy"] < 0.05
    assert mixed["ilisi"] > 0.7 and mixed["batch_entropy"] > 0.8
    assert apart["silhouette_batch"] < 0.2 and mixed["silhouette_batch"] > 0.8


def test_graph_connectivity_sees_a_type_split_in_two():
    embedding, batches, types = _two_batches_apart()

    def graph_connectivity(points):
        return batch_mixing_scores(points, batches, types, n_neighbors=10)["graph_connectivity"]

    assert graph_connectivity(embedding) == pytest.approx(0.5)
    together = embedding.copy()
    together[60:, 5] -= 20.0
    assert graph_connectivity(together) == 1.0


def test_one_batch_cannot_be_scored_for_mixing():
    embedding, _, types = _two_batches_apart()
    with pytest.raises(InputError, match="at least two batches"):
        batch_mixing_scores(embedding, np.full(types.size, "a"), types)


@pytest.fixture(scope="module")
def strong_batch_cells():
    cells = preprocess_counts(
        simulate_counts(STRONG_BATCHES),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
        batch_key=BATCH_KEY,
    )
    return cells, cells.obs[BATCH_KEY].astype(str).to_numpy()


def _train(cells, batches):
    graph = build_ppmi_graph(
        cells.obsm["X_pca"], GraphConfig(n_neighbors=10, max_entries_per_row=30), batches
    )
    data = GraphData.from_graph(cells.obsm["X_pca"], cells.layers[COUNTS_LAYER], graph, batches)
    return train_graph_autoencoder(data, TrainingConfig(**FAST, batch_penalty_weight=1.0))


def test_batch_aware_training_mixes_batches_and_keeps_cell_types(strong_batch_cells):
    cells, batches = strong_batch_cells
    types = cells.obs["cell_type"].astype(str).to_numpy()
    unaware, aware = _train(cells, None), _train(cells, batches)
    before = batch_mixing_scores(unaware.latent, batches, types)
    after = batch_mixing_scores(aware.latent, batches, types)
    assert after["ilisi"] > before["ilisi"] + 0.4
    assert after["batch_entropy"] > 0.7
    ari_unaware = adjusted_rand_score(types, unaware.soft_assignment.argmax(axis=1))
    ari_aware = adjusted_rand_score(types, aware.soft_assignment.argmax(axis=1))
    # The three types are recovered at ARI > 0.85 without batches (test_train); correcting a
    # batch effect this strong may cost a few cells, not the types: ARI stays above 0.8, and
    # well above the batch-unaware model, which splits cells by batch.
    assert ari_aware > max(0.8, ari_unaware + 0.2)
    assert aware.model.n_batches == 3
    again = _train(cells, batches)  # same seed, same batch-aware result
    np.testing.assert_array_equal(
        again.soft_assignment.argmax(axis=1), aware.soft_assignment.argmax(axis=1)
    )
