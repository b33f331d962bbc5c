"""Per-cluster QC: a planted high-depth cluster is flagged, cell types are not."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scimta_kedro import tl
from scimta_kedro.core import communities, keys
from scimta_kedro.core.cluster_qc import cluster_quality, depth_artefacts, depth_warning
from scimta_kedro.core.errors import InputError
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import LABEL_KEY, PROGRAMME_KEY


@pytest.fixture
def with_doublets(small_counts):
    """The planted groups, plus 30 doublet-like cells: each the sum of three random cells of
    any group, so the cluster they form mixes every type at about three times the depth."""
    rng = np.random.default_rng(0)
    counts = sp.csr_matrix(small_counts.X)
    triples = rng.choice(small_counts.n_obs, size=(30, 3))
    deep = sp.csr_matrix(sum(counts[triples[:, i]] for i in range(3)))
    doublets = ad.AnnData(
        X=deep,
        obs=pd.DataFrame({LABEL_KEY: ["deep"] * 30}, index=[f"deep{i}" for i in range(30)]),
        var=small_counts.var,
    )
    combined = ad.concat([small_counts, doublets], merge="same")
    return preprocess_counts(combined, PreprocessConfig(n_top_genes=300, n_pcs=20))


def _effects_of_planted_programmes(cells: ad.AnnData) -> pd.DataFrame:
    """The cluster x community table with the planted programmes as the communities."""
    programmes = cells.var[PROGRAMME_KEY].astype(str).to_numpy()
    labels = np.unique(programmes, return_inverse=True)[1]
    scores = communities.community_scores(cells.X, labels)
    return communities.link_communities_to_clusters(
        scores, cells.obs[LABEL_KEY].astype(str).to_numpy(), np.bincount(labels)
    )


def test_a_planted_high_depth_cluster_is_flagged_and_the_cell_types_are_not(with_doublets):
    quality = cluster_quality(with_doublets.obs, with_doublets.obs[LABEL_KEY])
    by_cluster = quality.set_index("cluster")
    assert by_cluster.loc["deep", "depth_ratio"] > 2.5
    assert by_cluster.drop(index="deep")["depth_ratio"].between(0.5, 2).all()
    assert (by_cluster["median_genes"] > 0).all()
    assert by_cluster["n_cells"].sum() == with_doublets.n_obs

    flagged = depth_artefacts(quality, _effects_of_planted_programmes(with_doublets), 2.0, 0.15)
    assert flagged["cluster"].tolist() == ["deep"]
    message = depth_warning(next(flagged.itertuples()))
    assert "cluster deep (30 cells)" in message and "deeper" in message


def _effects(cluster_effects: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"cluster": cluster, "community": community, "effect": effect}
            for cluster, effects in cluster_effects.items()
            for community, effect in enumerate(effects)
        ]
    )


def test_a_deep_cell_type_with_its_own_programme_is_not_flagged():
    # Real types are often 2x deeper than the rest, but they differ in some communities.
    obs = pd.DataFrame({keys.TOTAL_COUNTS: [1000.0] * 60 + [900.0] * 30 + [3000.0] * 10})
    quality = cluster_quality(obs, ["a"] * 60 + ["c"] * 30 + ["b"] * 10)
    specific = _effects({"a": [0.8, -0.1, 0.0], "c": [-0.1, 0.9, 0.0], "b": [-0.2, -0.1, 1.5]})
    assert depth_artefacts(quality, specific, 2.0, 0.15).empty
    broad = _effects({"a": [0.8, -0.1, 0.0], "c": [-0.1, 0.9, 0.0], "b": [0.3, 0.25, 0.4]})
    assert depth_artefacts(quality, broad, 2.0, 0.15)["cluster"].tolist() == ["b"]


def test_a_shallow_cluster_with_every_community_lower_is_flagged():
    obs = pd.DataFrame({keys.TOTAL_COUNTS: [1000.0] * 60 + [900.0] * 30 + [300.0] * 10})
    quality = cluster_quality(obs, ["a"] * 60 + ["c"] * 30 + ["b"] * 10)
    assert quality["median_genes"].isna().all()  # no n_genes column: not reported
    assert quality["median_pct_mt"].isna().all()  # no mitochondrial genes named
    with_mt = obs.assign(pct_counts_mt=[2.0] * 90 + [30.0] * 10)
    shares = cluster_quality(with_mt, ["a"] * 60 + ["c"] * 30 + ["b"] * 10)
    assert shares.set_index("cluster")["median_pct_mt"].to_dict() == {"a": 2, "c": 2, "b": 30}
    effects = _effects({"a": [0.8, 0.0, 0.1], "c": [0.0, 0.9, 0.1], "b": [-0.3, -0.2, -0.4]})
    flagged = depth_artefacts(quality, effects, 2.0, 0.15)
    assert flagged["cluster"].tolist() == ["b"]
    assert "3.3x shallower" in depth_warning(next(flagged.itertuples()))
    with pytest.raises(ValueError, match="depth_flag_ratio"):
        depth_artefacts(quality, effects, 1.0, 0.15)


def test_tl_cluster_qc_writes_the_table_and_checks_its_inputs(with_doublets):
    cells = with_doublets.copy()
    cells.obs[keys.CLUSTER] = cells.obs[LABEL_KEY].astype(str)
    table = tl.cluster_qc(cells)
    assert cells.uns[keys.CLUSTER_QC] is table
    assert set(table["cluster"]) == set(cells.obs[LABEL_KEY])
    with pytest.raises(InputError, match="scimta_cluster"):
        tl.cluster_qc(cells, cluster_key="scimta_cluster_missing")
    del cells.obs[keys.TOTAL_COUNTS]
    with pytest.raises(InputError, match="total_counts"):
        tl.cluster_qc(cells)
