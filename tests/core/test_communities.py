"""Gene communities: gene embedding, planted programme recovery, and the cluster link."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core import communities
from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import LABEL_KEY, NO_PROGRAMME, PROGRAMME_KEY
from scimta_kedro.core.validate import InputError


@pytest.fixture
def preprocessed(small_counts):
    return preprocess_counts(small_counts, PreprocessConfig(n_top_genes=300, n_pcs=20))


@pytest.fixture
def detected(preprocessed):
    embedding = communities.gene_embedding(preprocessed)
    graph = build_ppmi_graph(embedding, GraphConfig(n_neighbors=15, metric="cosine"))
    labels = communities.detect_gene_communities(graph.connectivities, resolution=1.0)
    return labels, communities.community_scores(preprocessed.X, labels)


def test_gene_embedding_is_the_pca_of_the_transposed_matrix(preprocessed):
    # X = U S V^T: genes sit at V S = X^T U, and U = X_pca / S.
    embedding = communities.gene_embedding(preprocessed)
    singular_values = np.linalg.norm(preprocessed.obsm["X_pca"], axis=0)
    expected = preprocessed.X.T @ (preprocessed.obsm["X_pca"] / singular_values)
    assert embedding.shape == (preprocessed.n_vars, preprocessed.obsm["X_pca"].shape[1])
    np.testing.assert_allclose(embedding, expected, atol=1e-3 * np.abs(expected).max())


def test_gene_embedding_without_pca_says_to_run_data_processing(small_counts):
    with pytest.raises(InputError, match="run the data_processing pipeline"):
        communities.gene_embedding(small_counts)


def test_planted_programmes_come_out_as_communities(preprocessed, detected):
    labels, _ = detected
    planted = preprocessed.var[PROGRAMME_KEY].astype(str).to_numpy()
    in_programme = planted != NO_PROGRAMME
    assert in_programme.sum() >= 100  # the HVGs hold the programme genes
    assert adjusted_rand_score(planted[in_programme], labels[in_programme]) > 0.9
    for programme in np.unique(planted[in_programme]):
        members = labels[planted == programme]
        assert np.bincount(members).max() >= 0.9 * members.size, programme


def test_each_group_links_first_to_its_own_programme(preprocessed, detected):
    labels, scores = detected
    groups = preprocessed.obs[LABEL_KEY].astype(str).to_numpy()
    table = communities.link_communities_to_clusters(scores, groups, np.bincount(labels))
    planted = preprocessed.var[PROGRAMME_KEY].astype(str).to_numpy()
    top_genes = {int(c): [] for c in np.unique(labels)}
    characterisation = communities.characterise_clusters(table, top_genes, fdr=0.05)
    for group in np.unique(groups):
        own_community = np.bincount(labels[planted == group]).argmax()
        best = table[table["cluster"] == group].sort_values("effect").iloc[-1]
        assert best["community"] == own_community
        assert best["pvalue_adjusted"] < 1e-10
        assert characterisation[group][0]["community"] == own_community


def test_table_is_tidy_and_adjusted_pvalues_are_benjamini_hochberg(preprocessed, detected):
    labels, scores = detected
    groups = preprocessed.obs[LABEL_KEY].astype(str).to_numpy()
    table = communities.link_communities_to_clusters(scores, groups, np.bincount(labels))
    assert list(table.columns) == communities.TABLE_COLUMNS
    assert len(table) == np.unique(groups).size * (labels.max() + 1)
    assert (table["pvalue_adjusted"] >= table["pvalue"] - 1e-15).all()
    order = table["pvalue"].argsort()
    assert np.all(np.diff(table["pvalue_adjusted"].to_numpy()[order]) >= -1e-15)
    np.testing.assert_allclose(
        table["effect"], table["mean_score_in_cluster"] - table["mean_score_elsewhere"], atol=1e-6
    )


def test_a_significant_but_small_effect_does_not_characterise_a_cluster():
    # 4000 cells: a shift of 0.15 z is significant, but below the 0.25 z floor.
    rng = np.random.default_rng(0)
    clusters = np.array(["a"] * 2000 + ["b"] * 2000)
    scores = rng.normal(size=(4000, 2)).astype(np.float32)
    scores[:2000, 0] += 0.15
    scores[:2000, 1] += 1.0
    table = communities.link_communities_to_clusters(scores, clusters, np.array([5, 5]))
    small = table[(table["cluster"] == "a") & (table["community"] == 0)].iloc[0]
    assert small["pvalue_adjusted"] < 0.01 and 0.1 < small["effect"] < 0.25
    top_genes = {0: ["g0"], 1: ["g1"]}
    with_floor = communities.characterise_clusters(table, top_genes, fdr=0.05, min_effect=0.25)
    assert [entry["community"] for entry in with_floor["a"]] == [1]
    without = communities.characterise_clusters(table, top_genes, fdr=0.05, min_effect=0.0)
    assert [entry["community"] for entry in without["a"]] == [1, 0]
    assert with_floor["b"] == without["b"] == []


def test_community_scores_are_mean_expression_and_sparse_input_agrees():
    expression = np.array([[1.0, 3.0, 0.0], [2.0, 0.0, 5.0]], dtype=np.float32)
    labels = np.array([0, 0, 1])
    expected = np.array([[2.0, 0.0], [1.0, 5.0]])
    np.testing.assert_allclose(communities.community_scores(expression, labels), expected)
    sparse_scores = communities.community_scores(sp.csr_matrix(expression), labels)
    np.testing.assert_allclose(sparse_scores, expected)


def test_one_cell_cluster_and_one_gene_community_do_not_break_the_statistics():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 3)).astype(np.float32)
    clusters = np.array(["a"] * 20 + ["b"] * 19 + ["lonely"])
    table = communities.link_communities_to_clusters(scores, clusters, np.array([10, 5, 1]))
    lonely = table[table["cluster"] == "lonely"]
    assert lonely["pvalue"].isna().all() and lonely["effect"].notna().all()
    assert table[table["cluster"] != "lonely"]["pvalue"].notna().all()
    assert (table[table["community"] == 2]["n_genes"] == 1).all()


def test_a_single_cluster_has_effects_but_no_tests():
    scores = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    table = communities.link_communities_to_clusters(scores, np.zeros(10), np.array([4, 4]))
    assert len(table) == 2 and table["pvalue_adjusted"].isna().all()


def test_top_genes_are_ranked_by_membership():
    table = pd.DataFrame(
        {
            "gene_name": ["A", "B", "C", "D"],
            "community": [0, 0, 1, 0],
            "membership": [0.2, 0.9, 0.5, 0.4],
        }
    )
    assert communities.top_genes_per_community(table, n_top=2) == {0: ["B", "D"], 1: ["C"]}


def test_membership_is_high_for_genes_that_follow_their_community(preprocessed, detected):
    labels, scores = detected
    membership = communities.gene_membership(preprocessed.X, labels, scores)
    planted = preprocessed.var[PROGRAMME_KEY].astype(str).to_numpy()
    assert (
        membership[planted != NO_PROGRAMME].mean() > 2 * membership[planted == NO_PROGRAMME].mean()
    )
    assert np.all(np.abs(membership) <= 1.0 + 1e-6)


def test_gene_names_fall_back_to_indices_and_say_so(preprocessed, caplog):
    preprocessed.var_names = [str(index) for index in range(preprocessed.n_vars)]
    with caplog.at_level(logging.INFO, logger="scimta_kedro.core.communities"):
        names = communities.gene_display_names(preprocessed)
    assert names[:2].tolist() == ["gene 0", "gene 1"]
    assert "no gene names" in caplog.text


def test_gene_symbols_column_is_used_and_a_missing_one_is_named(preprocessed):
    preprocessed.var["symbol"] = pd.Series(
        [f"SYM{index}" for index in range(preprocessed.n_vars)], index=preprocessed.var_names
    )
    assert communities.gene_display_names(preprocessed, "symbol")[0] == "SYM0"
    with pytest.raises(InputError, match="gene_symbols_key 'symbols' is not a var column"):
        communities.gene_display_names(preprocessed, "symbols")
