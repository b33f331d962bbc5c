"""The AnnData API without Kedro: ``import scimta_kedro as st`` on simulated cells."""

from __future__ import annotations

import os
import subprocess
import sys

import anndata as ad
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import scimta_kedro as st
from scimta_kedro.core import keys
from scimta_kedro.core.errors import InputError
from scimta_kedro.core.simulate import simulate_counts

from .simulated import FAST, SMALL_SIMULATION


@pytest.fixture(scope="module")
def analysed() -> tuple[ad.AnnData, object]:
    cells = st.pp.setup_anndata(simulate_counts(SMALL_SIMULATION), label_key="cell_type")
    cells = st.pp.preprocess(cells, min_genes_per_cell=10, n_top_genes=200, n_pcs=15)
    st.tl.cell_graph(cells, n_neighbors=10, max_entries_per_row=30)
    model = st.tl.fit(cells, cluster_count_graph="ppmi", **FAST)
    st.tl.cluster(cells)
    st.tl.gene_graph(cells, n_neighbors=10)
    st.tl.gene_communities(cells)
    st.tl.impute(cells, model)
    return cells, model


def test_each_step_writes_its_slots_and_records_its_parameters(analysed):
    cells, _ = analysed
    assert cells.uns[keys.RUN_INFO]["label_key"] == "cell_type"
    assert cells.uns[keys.PREPROCESS]["params"]["n_top_genes"] == 200
    assert cells.uns[keys.GRAPH_INFO]["params"]["n_neighbors"] == 10
    assert cells.uns[keys.FIT]["params"]["latent_dim"] == FAST["latent_dim"]
    assert cells.uns[keys.CLUSTER]["params"]["soft_assignment_key"] == keys.SOFT_ASSIGNMENT
    assert cells.uns[keys.GENE_COMMUNITY]["params"]["fdr"] == 0.05
    assert cells.uns[keys.IMPUTED]["params"]["value"] == "posterior"
    assert cells.obsm[keys.LATENT].shape == (cells.n_obs, FAST["latent_dim"])
    assert cells.obsp[keys.CONNECTIVITIES].shape == (cells.n_obs, cells.n_obs)
    assert cells.varp[f"{keys.GENE_GRAPH_PREFIX}_connectivities"].shape == (200, 200)
    assert cells.layers[keys.IMPUTED].shape == cells.shape
    losses = cells.uns[keys.FIT]["history"]["pretrain_total_loss"]
    assert len(losses) == FAST["pretrain_epochs"] and losses[-1] < losses[0]


def test_the_clusters_recover_the_planted_groups(analysed):
    cells, _ = analysed
    truth = cells.obs["cell_type"].to_numpy()
    assert adjusted_rand_score(truth, cells.obs[keys.CLUSTER].to_numpy()) > 0.9
    table, per_cluster = st.tl.link_communities(cells)
    assert (
        len(table) == cells.obs[keys.CLUSTER].nunique() * cells.var[keys.GENE_COMMUNITY].nunique()
    )
    assert all(per_cluster.values()), "every planted group has a community of its own"


def test_the_graph_can_be_saved_and_read_back_with_the_cells(analysed, tmp_path):
    cells, _ = analysed
    cells.write_h5ad(tmp_path / "cells.h5ad")
    again = ad.read_h5ad(tmp_path / "cells.h5ad")
    assert (again.obsp[keys.PPMI] != cells.obsp[keys.PPMI]).nnz == 0
    np.testing.assert_array_equal(again.obs[keys.CLUSTER], cells.obs[keys.CLUSTER])


def test_steps_out_of_order_name_the_step_to_run_first(small_counts):
    cells = st.pp.setup_anndata(small_counts)
    with pytest.raises(InputError, match="st.pp.preprocess"):
        st.tl.fit(cells)
    cells = st.pp.preprocess(cells, min_genes_per_cell=10, n_top_genes=200, n_pcs=15)
    with pytest.raises(InputError, match="st.tl.cell_graph"):
        st.tl.fit(cells)
    with pytest.raises(InputError, match="st.tl.fit"):
        st.tl.cluster(cells)


def test_a_keyword_that_is_no_setting_is_refused(small_counts):
    cells = st.pp.setup_anndata(small_counts)
    with pytest.raises(TypeError, match="n_top_gene"):
        st.pp.preprocess(cells, n_top_gene=100)


@pytest.mark.slow
def test_the_api_notebook_runs_top_to_bottom(tmp_path):
    from .notebooks import executed_notebook_text
    from .pipelines.conftest import PROJECT_ROOT

    printed = executed_notebook_text(PROJECT_ROOT / "notebooks" / "api.ipynb", tmp_path)
    assert float(printed.split("ARI against the planted groups: ")[1].split()[0]) > 0.8
    assert "cluster 0: GC" in printed


def test_preprocessing_and_graphs_do_not_import_tensorflow_and_training_does_quietly():
    # TensorFlow's import takes about 4 s: scanpy-like use (st.pp, the graphs, reading a
    # config) does not pay it; the first training imports it without its C++ notices.
    code = (
        "import sys\n"
        "import scimta_kedro as st\n"
        "from scimta_kedro.core.params import section_config\n"
        "from scimta_kedro.core.cluster import leiden_on_graph\n"
        "assert 'tensorflow' not in sys.modules, 'imported by st, params or cluster'\n"
        "from scimta_kedro.core.train import train_graph_autoencoder\n"
        "assert 'tensorflow' in sys.modules\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    for noise in ("oneDNN", "absl::InitializeLog", "cpu_feature_guard"):
        assert noise not in result.stderr
