import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf
from scipy import stats

from scimta_kedro.core.nn.layers import (
    BilinearEdgeDecoder,
    GraphConvSkip,
    StudentTClustering,
    adjacency_product,
    to_sparse_tensor,
)
from scimta_kedro.core.nn.likelihoods import (
    clustering_kl_loss,
    negative_binomial_nll,
    target_distribution,
    zero_inflated_negative_binomial_nll,
)
from scimta_kedro.core.nn.model import GraphAutoencoder

N_CELLS, N_GENES = 12, 9


@pytest.fixture
def graph_inputs():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(N_CELLS, N_GENES)).astype(np.float32)
    adjacency = sp.random(N_CELLS, N_CELLS, density=0.3, random_state=0, dtype=np.float32)
    adjacency = to_sparse_tensor(adjacency + adjacency.T + sp.eye(N_CELLS))
    return features, adjacency


@pytest.mark.parametrize(
    ("layer", "inputs", "expected_shape"),
    [
        (GraphConvSkip(5, activation="relu"), "graph", (N_CELLS, 5)),
        (BilinearEdgeDecoder(), "pairs", (4,)),
        (StudentTClustering(3), "latent", (N_CELLS, 3)),
    ],
)
def test_layer_output_shapes_and_config_round_trip(graph_inputs, layer, inputs, expected_shape):
    features, adjacency = graph_inputs
    latent = features[:, :4]
    arguments = {
        "graph": [features, adjacency],
        "pairs": [latent, np.array([[0, 1], [2, 3], [4, 5], [1, 1]], dtype=np.int32)],
        "latent": latent,
    }[inputs]
    output = layer(arguments)
    assert tuple(output.shape) == expected_shape
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_soft_assignments_are_distributions_nearest_centre_highest():
    layer = StudentTClustering(2)
    latent = np.array([[0.0, 0.0], [10.0, 10.0]], dtype=np.float32)
    layer.build(latent.shape)
    layer.set_centres(latent)
    q = np.asarray(layer(latent))
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
    assert q[0, 0] > 0.99 and q[1, 1] > 0.99


@pytest.mark.parametrize("likelihood", ["nb", "zinb"])
def test_model_shapes(graph_inputs, likelihood):
    features, adjacency = graph_inputs
    model = GraphAutoencoder(
        N_GENES, hidden_units=(8, 6), latent_dim=3, decoder_units=(7,), likelihood=likelihood
    )
    model.build()
    latent = model([features, adjacency])
    assert tuple(latent.shape) == (N_CELLS, 3)
    expression = model.decode_expression(latent, np.full((N_CELLS, 1), 100.0, dtype=np.float32))
    assert tuple(expression["mean"].shape) == (N_CELLS, N_GENES)
    np.testing.assert_allclose(np.asarray(expression["mean"]).sum(axis=1), 100.0, rtol=1e-4)
    assert tuple(expression["dispersion"].shape) == (N_GENES,)
    assert ("dropout_logits" in expression) == (likelihood == "zinb")
    logits = model.score_edges(latent, np.array([[0, 1], [2, 3]], dtype=np.int32))
    assert tuple(logits.shape) == (2,)


def test_encoder_can_read_fewer_features_than_genes(graph_inputs):
    features, adjacency = graph_inputs
    model = GraphAutoencoder(N_GENES + 20, latent_dim=3, decoder_units=(7,), n_features=N_GENES)
    model.build()
    assert tuple(model([features, adjacency]).shape) == (N_CELLS, 3)


def test_encoding_in_row_blocks_equals_whole_graph_encoding():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(50, N_GENES)).astype(np.float32)
    adjacency = sp.random(50, 50, density=0.1, random_state=1, dtype=np.float32)
    adjacency = sp.csr_matrix(adjacency + adjacency.T + sp.eye(50, dtype=np.float32))
    model = GraphAutoencoder(N_GENES, hidden_units=(8, 6), latent_dim=3, decoder_units=(7,))
    model.build()
    whole = model.encode(features, to_sparse_tensor(adjacency)).numpy()
    blocked = model.encode_in_row_blocks(features, adjacency, block_size=7)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_saved_model_reloads_with_the_same_outputs(graph_inputs, tmp_path):
    features, adjacency = graph_inputs
    model = GraphAutoencoder(N_GENES, hidden_units=(8,), latent_dim=3, decoder_units=(7,))
    model.build()
    clustered = model.with_clustering(np.eye(3, dtype=np.float32)[:2])
    path = tmp_path / "model.keras"
    clustered.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded([features, adjacency]), clustered([features, adjacency]), atol=1e-6
    )
    latent = clustered([features, adjacency])
    np.testing.assert_allclose(
        reloaded.soft_assign(latent), clustered.soft_assign(latent), atol=1e-6
    )


def test_with_clustering_keeps_the_trained_encoder(graph_inputs):
    features, adjacency = graph_inputs
    model = GraphAutoencoder(N_GENES, hidden_units=(8,), latent_dim=3, decoder_units=(7,))
    model.build()
    clustered = model.with_clustering(np.zeros((4, 3), dtype=np.float32))
    np.testing.assert_allclose(
        clustered([features, adjacency]), model([features, adjacency]), atol=1e-6
    )
    assert clustered.n_clusters == 4
    with pytest.raises(ValueError, match="no clustering head"):
        model.soft_assign(np.zeros((2, 3), dtype=np.float32))


def test_negative_binomial_nll_matches_scipy():
    counts = np.array([[0.0, 1.0, 7.0, 30.0]], dtype=np.float32)
    mean = np.array([[0.5, 2.0, 6.0, 20.0]], dtype=np.float32)
    theta = np.array([1.0, 3.0, 10.0, 0.5], dtype=np.float32)
    expected = -stats.nbinom.logpmf(counts, theta, theta / (theta + mean))
    np.testing.assert_allclose(negative_binomial_nll(counts, mean, theta), expected, rtol=1e-4)


def test_zinb_without_dropout_is_nb_and_dropout_makes_zeros_likelier():
    counts = np.array([[0.0, 4.0]], dtype=np.float32)
    mean = np.array([[3.0, 3.0]], dtype=np.float32)
    theta = np.array([2.0, 2.0], dtype=np.float32)
    nb = np.asarray(negative_binomial_nll(counts, mean, theta))
    no_dropout = zero_inflated_negative_binomial_nll(
        counts, mean, theta, np.full((1, 2), -30.0, np.float32)
    )
    np.testing.assert_allclose(no_dropout, nb, rtol=1e-4)
    dropout = np.asarray(
        zero_inflated_negative_binomial_nll(counts, mean, theta, np.zeros((1, 2), np.float32))
    )
    assert dropout[0, 0] < nb[0, 0] and dropout[0, 1] > nb[0, 1]


def test_target_distribution_sharpens_and_kl_is_zero_at_the_target():
    q = np.array([[0.6, 0.4], [0.3, 0.7]], dtype=np.float32)
    p = np.asarray(target_distribution(q))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert p[0, 0] > q[0, 0] and p[1, 1] > q[1, 1]
    assert float(clustering_kl_loss(p, p)) == pytest.approx(0.0, abs=1e-6)
    assert float(clustering_kl_loss(p, q)) > 0


def test_target_frequency_exponent_sets_the_pull_towards_small_clusters():
    # Cluster 1 is small (total soft mass 0.7 of 3): DEC's target divides by that mass.
    q = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], dtype=np.float32)
    frequency = q.sum(axis=0)
    for exponent in (0.0, 0.5, 1.0):
        weight = q**2 / frequency**exponent
        np.testing.assert_allclose(
            np.asarray(target_distribution(q, exponent)),
            weight / weight.sum(axis=1, keepdims=True),
            rtol=1e-5,
        )
    pull = [float(np.asarray(target_distribution(q, a))[2, 1]) for a in (0.0, 0.5, 1.0)]
    assert pull[0] < pull[1] < pull[2]
    np.testing.assert_allclose(np.asarray(target_distribution(q)), target_distribution(q, 1.0))


def test_normalized_edge_logits_do_not_depend_on_latent_scale():
    latent = np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 5], [3, 3]], dtype=np.int32)
    decoder = BilinearEdgeDecoder()
    np.testing.assert_allclose(decoder([latent, pairs]), decoder([100 * latent, pairs]), rtol=1e-5)
    plain = BilinearEdgeDecoder(normalize=False)
    assert not np.allclose(plain([latent, pairs]), plain([100 * latent, pairs]))


def test_batch_conditioned_decoder_reads_the_batch_and_survives_saving(graph_inputs, tmp_path):
    features, adjacency = graph_inputs
    model = GraphAutoencoder(
        N_GENES, hidden_units=(8,), latent_dim=3, decoder_units=(7,), n_batches=2
    )
    model.build()
    clustered = model.with_clustering(np.eye(3, dtype=np.float32)[:2])
    latent = clustered([features, adjacency])
    library = np.full((N_CELLS, 1), 50.0, dtype=np.float32)
    batches = np.eye(2, dtype=np.float32)
    first = clustered.decode_expression(latent, library, batches[np.zeros(N_CELLS, int)])
    second = clustered.decode_expression(latent, library, batches[np.ones(N_CELLS, int)])
    assert np.abs(np.asarray(first["mean"]) - np.asarray(second["mean"])).max() > 1e-4
    with pytest.raises(ValueError, match="conditioned on 2 batches"):
        clustered.decode_expression(latent, library)
    path = tmp_path / "model.keras"
    clustered.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.n_batches == 2
    again = reloaded.decode_expression(latent, library, batches[np.zeros(N_CELLS, int)])
    np.testing.assert_allclose(again["mean"], first["mean"], rtol=1e-5)


@pytest.mark.parametrize("symmetric", [True, False])
def test_the_graph_convolution_gradient_is_repeatable_and_is_the_transposed_product(symmetric):
    # Enough entries for TensorFlow to use several threads: its transposed CSR product summed
    # rows in a varying order, and one seed trained different weights from run to run.
    rng = np.random.default_rng(0)
    upper = sp.random(3000, 3000, density=0.01, random_state=0, format="csr", dtype=np.float32)
    adjacency = (upper + upper.T).tocsr() if symmetric else upper
    tensor = to_sparse_tensor(adjacency)
    dense = tf.constant(rng.normal(size=(3000, 32)).astype(np.float32))
    upstream = rng.normal(size=(3000, 32)).astype(np.float32)

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            tape.watch(dense)
            product = adjacency_product(tensor, dense, symmetric=symmetric)
        return tape.gradient(product, dense, output_gradients=tf.constant(upstream))

    first = gradient().numpy()
    for _ in range(5):
        np.testing.assert_array_equal(gradient().numpy(), first)
    np.testing.assert_allclose(first, adjacency.T @ upstream, rtol=1e-4, atol=1e-4)
