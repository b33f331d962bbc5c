"""gene_communities as a Kedro slice: communities, their link to clusters, figures."""

from __future__ import annotations

from pathlib import Path

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


def test_integer_like_gene_names_survive_the_csv_round_trip(tiny_run, tmp_path):
    """Entrez-like gene IDs ("1", "2", ...) came back from the CSV as int64 and no longer
    matched the cells' var_names."""
    import yaml
    from kedro_datasets.pandas import CSVDataset

    from scimta_kedro.tl import write_gene_communities

    parameters, upstream = tiny_run
    outputs = run_slice(pipelines["gene_communities"], parameters, upstream)
    cells = outputs["interpreted_cells"].copy()
    renamed = {name: str(position + 1) for position, name in enumerate(cells.var_names)}
    cells.var_names = [renamed[name] for name in cells.var_names]
    table = outputs["gene_communities"].assign(
        gene=lambda frame: frame["gene"].map(renamed), gene_name=lambda frame: frame["gene"]
    )
    catalog = Path(__file__).parents[3] / "conf" / "base" / "catalog.yml"
    entry = yaml.safe_load(catalog.read_text())["gene_communities"]["dataset"]
    dataset = CSVDataset(
        filepath=str(tmp_path / "gene_communities.csv"),
        load_args=entry["load_args"],
        save_args=entry["save_args"],
    )
    dataset.save(table)
    loaded = dataset.load()
    assert loaded["gene"].tolist() == table["gene"].tolist()
    write_gene_communities(cells, loaded)
    expected = table.set_index("gene").loc[cells.var_names, "community"].astype(str)
    assert (cells.var[keys.GENE_COMMUNITY].astype(str) == expected.to_numpy()).all()
