"""gene_communities as a Kedro slice: communities, their link to clusters, figures."""

from __future__ import annotations

import scipy.sparse as sp
from kedro.framework.project import pipelines

from scimta_kedro.core import keys

from ..conftest import run_slice


def test_communities_cover_the_genes_and_characterise_every_planted_group(tiny_run):
    parameters, upstream = tiny_run
    outputs = run_slice(pipelines["gene_communities"], parameters, upstream)
    table, interpreted = outputs["gene_communities"], outputs["interpreted_cells"]
    assert sorted(table["gene"]) == sorted(interpreted.var_names)
    n_communities = interpreted.var[keys.GENE_COMMUNITY].nunique()
    assert n_communities >= 3  # the three planted programmes at least
    assert interpreted.obsm[keys.COMMUNITY_SCORES].shape == (interpreted.n_obs, n_communities)
    assert sp.issparse(interpreted.X)  # the log-normalised matrix, not the scaled one
    n_clusters = interpreted.obs[keys.CLUSTER].nunique()
    assert len(outputs["community_cluster_scores"]) == n_clusters * n_communities
    summary = outputs["gene_communities_summary"]
    for enriched in summary["clusters"].values():
        assert enriched, "every planted group has a community of its own"
        assert set(enriched[0]["top_genes"]) <= set(interpreted.var_names)
    assert outputs["gene_communities_metrics"]["programme_gene_ari"]["value"] > 0.8
    assert outputs["community_heatmap_plot"].axes and outputs["top_genes_plot"].axes
