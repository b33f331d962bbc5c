from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.cluster import label_centroids, leiden_on_graph
from scimta_kedro.core.cluster_count import partition_with_cluster_count
from scimta_kedro.core.nn.likelihoods import partition_target
from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.train.trainer import Trainer

from ..simulated import FAST

START_RESOLUTION = TrainingConfig().start_resolution


def test_pretraining_loss_decreases(trained):
    for name in ("pretrain_total_loss", "pretrain_graph_loss", "pretrain_expression_loss"):
        losses = trained.history[name]
        assert len(losses) == FAST["pretrain_epochs"]
        assert np.mean(losses[-10:]) < 0.9 * np.mean(losses[:10]), name


def test_planted_groups_are_recovered_without_labels(planted, trained):
    cells, _ = planted
    clusters = trained.soft_assignment.argmax(axis=1)
    # Three groups of ~100 cells whose programmes differ by e^2-fold: scanpy's Leiden on PCA
    # recovers them exactly, so a working model must come close.
    assert adjusted_rand_score(cells.obs["cell_type"], clusters) > 0.85


def test_outputs_have_the_documented_shapes(planted, trained):
    n_cells = planted[0].n_obs
    assert trained.latent.shape == (n_cells, FAST["latent_dim"])
    n_clusters = trained.soft_assignment.shape[1]
    np.testing.assert_allclose(trained.soft_assignment.sum(axis=1), 1.0, rtol=1e-5)
    assert n_clusters == np.unique(trained.initial_labels).size  # "auto" follows Leiden


def test_same_seed_gives_identical_labels_and_other_seed_runs(planted, trained):
    again = train_graph_autoencoder(planted[1], TrainingConfig(**FAST))
    np.testing.assert_array_equal(
        again.soft_assignment.argmax(axis=1), trained.soft_assignment.argmax(axis=1)
    )
    np.testing.assert_array_equal(again.latent, trained.latent)


def test_a_fixed_number_of_clusters_is_used(planted):
    result = train_graph_autoencoder(
        planted[1],
        TrainingConfig(**{**FAST, "pretrain_epochs": 5, "finetune_epochs": 2}, n_clusters=5),
    )
    assert result.soft_assignment.shape[1] == 5


@pytest.mark.parametrize("n_clusters", ["auto", 2, 5])
def test_dec_starts_from_the_leiden_clusters_brought_to_the_number_asked(planted, n_clusters):
    data = planted[1]
    # No fine-tuning step: the latent space is the pretrained one the centres were taken on.
    result = train_graph_autoencoder(
        data, TrainingConfig(**{**FAST, "finetune_epochs": 0}, n_clusters=n_clusters)
    )
    leiden = leiden_on_graph(data.edges, resolution=START_RESOLUTION, random_state=0)
    expected = (
        leiden
        if n_clusters == "auto"
        else partition_with_cluster_count(
            leiden, n_clusters, features=data.features, adjacency=data.edges
        )
    )
    assert adjusted_rand_score(result.initial_labels, expected) == 1.0
    np.testing.assert_allclose(
        result.model.clustering.centres.numpy(),
        label_centroids(result.latent, result.initial_labels),
        rtol=1e-4,
        atol=1e-5,
    )
    # The planted data have three groups, which Leiden finds: 2 merges and 5 splits.
    assert np.unique(leiden).size == 3
    assert np.unique(result.initial_labels).size == (3 if n_clusters == "auto" else n_clusters)


def _four_cliques(n_cells: int) -> sp.csr_matrix:
    group = np.arange(n_cells) % 4
    return sp.csr_matrix((group[:, None] == group[None, :]).astype(np.float32))


@pytest.mark.parametrize(("count_graph", "n_found"), [("knn", 4), ("ppmi", 3)])
def test_auto_counts_the_clusters_on_the_graph_named(planted, count_graph, n_found):
    data = planted[1]
    # A kNN graph of four cliques: Leiden counts 4 there, 3 on the planted PPMI graph.
    data = replace(data, knn_connectivities=_four_cliques(data.features.shape[0]))
    result = train_graph_autoencoder(
        data, TrainingConfig(**{**FAST, "finetune_epochs": 0}, cluster_count_graph=count_graph)
    )
    leiden = leiden_on_graph(data.edges, resolution=START_RESOLUTION, random_state=0)
    expected = partition_with_cluster_count(
        leiden, n_found, features=data.features, adjacency=data.edges
    )
    assert adjusted_rand_score(result.initial_labels, expected) == 1.0
    assert np.unique(result.initial_labels).size == n_found


def test_auto_without_the_knn_graph_is_refused_before_training(planted):
    data = replace(planted[1], knn_connectivities=None)
    history = []
    with pytest.raises(ValueError, match="cluster_count_graph: ppmi"):
        train_graph_autoencoder(
            data, TrainingConfig(**FAST), on_epoch_end=lambda *step: history.append(step)
        )
    assert history == []


def test_dec_can_start_from_a_partition_given(planted):
    cells, data = planted
    given = cells.obs["cell_type"].to_numpy()
    result = train_graph_autoencoder(
        data, TrainingConfig(**{**FAST, "finetune_epochs": 0}), initial_labels=given
    )
    assert adjusted_rand_score(result.initial_labels, given) == 1.0
    np.testing.assert_allclose(
        result.model.clustering.centres.numpy(),
        label_centroids(result.latent, result.initial_labels),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize(("start_target_epochs", "finetune_steps"), [(0, 5), (15, 15)])
def test_dec_does_not_stop_early_while_the_start_is_its_target(
    planted, start_target_epochs, finetune_steps
):
    # A tolerance of 1.0 stops DEC at its first target update (epoch 5) unless the start
    # partition is still the target then.
    config = TrainingConfig(
        **FAST, label_change_tolerance=1.0, start_target_epochs=start_target_epochs
    )
    result = train_graph_autoencoder(planted[1], config)
    assert len(result.history["finetune_total_loss"]) == finetune_steps


def test_the_start_partition_target_is_its_smoothed_one_hot():
    labels = np.array([0, 2, 1, 2])
    target = partition_target(labels, 3)
    np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(target.argmax(axis=1), labels)
    assert target.min() > 0.0  # soft: no cluster gets a zero target


def test_negative_start_target_epochs_are_rejected():
    with pytest.raises(ValueError, match="start_target_epochs must be at least 0"):
        TrainingConfig(start_target_epochs=-1)


@pytest.mark.parametrize(
    ("labels", "n_clusters", "message"),
    [
        (lambda n: np.zeros(n - 1, dtype=int), "auto", "one label per cell"),
        (lambda n: np.zeros(n, dtype=int), "auto", "single cluster"),
        (lambda n: np.arange(n) % 3, 4, "set n_clusters to auto or 3"),
    ],
)
def test_a_bad_partition_given_is_refused_before_training(planted, labels, n_clusters, message):
    data = planted[1]
    history = []
    with pytest.raises(ValueError, match=message):
        train_graph_autoencoder(
            data,
            TrainingConfig(**FAST, n_clusters=n_clusters),
            on_epoch_end=lambda *step: history.append(step),
            initial_labels=labels(data.features.shape[0]),
        )
    assert history == []


def test_more_clusters_than_cells_is_refused_before_training(planted):
    n_cells = planted[1].features.shape[0]
    history = []
    with pytest.raises(ValueError, match=f"n_clusters={n_cells + 1} exceeds the {n_cells} cells"):
        train_graph_autoencoder(
            planted[1],
            TrainingConfig(**FAST, n_clusters=n_cells + 1),
            on_epoch_end=lambda *step: history.append(step),
        )
    assert history == []  # no epoch ran


def test_unknown_cluster_count_graphs_are_rejected():
    with pytest.raises(ValueError, match="cluster_count_graph must be one of"):
        TrainingConfig(cluster_count_graph="umap")


@pytest.mark.parametrize("bad", [1, "many", 2.5])
def test_invalid_cluster_numbers_are_rejected(bad):
    with pytest.raises(ValueError, match="n_clusters"):
        TrainingConfig(n_clusters=bad)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "half"])
def test_invalid_target_frequency_exponents_are_rejected(bad):
    with pytest.raises(ValueError, match="target_frequency_exponent must be a finite number"):
        TrainingConfig(target_frequency_exponent=bad)


def test_inputs_of_different_cells_are_rejected(planted):
    data = planted[1]
    with pytest.raises(ValueError, match="same preprocessed cells"):
        GraphData(data.features[:10], data.counts, data.connectivities, data.edges)


def test_only_the_whole_symmetric_graph_uses_the_adjacency_as_its_own_transpose(planted):
    data = planted[1]
    assert Trainer(data, TrainingConfig(**FAST)).symmetric_adjacency
    lopsided = sp.triu(data.connectivities, format="csr")
    asymmetric = replace(data, connectivities=lopsided)
    assert not Trainer(asymmetric, TrainingConfig(**FAST)).symmetric_adjacency
    # Cluster-GCN subgraphs rescale their rows: not symmetric.
    in_parts = TrainingConfig(**{**FAST, "max_cells_per_step": data.features.shape[0] // 3})
    assert not Trainer(data, in_parts).symmetric_adjacency


def test_the_zero_inflated_likelihood_trains_both_phases(planted):
    # The step is traced without autograph: a loss branching on a tensor would fail here.
    config = TrainingConfig(
        **{**FAST, "pretrain_epochs": 3, "finetune_epochs": 2}, likelihood="zinb"
    )
    result = train_graph_autoencoder(planted[1], config)
    assert np.isfinite(result.history["pretrain_expression_loss"]).all()
    assert np.isfinite(result.history["finetune_cluster_loss"]).all()
