import anndata as ad
import numpy as np

from scimta_kedro.core.cluster import umap_of_embedding
from scimta_kedro.core.plots import umap_figure


def _cells(n_cells: int) -> ad.AnnData:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 3, n_cells)
    cells = ad.AnnData(obs={"group": groups.astype(str)})
    cells.obs_names = [f"cell_{i}" for i in range(n_cells)]
    cells.obsm["X_latent"] = (rng.normal(size=(n_cells, 4)) + 5 * groups[:, None]).astype(
        np.float32
    )
    return cells


def test_umap_of_many_cells_lays_out_a_seeded_sample_and_the_figure_shows_it():
    cells = _cells(300)
    umap_of_embedding(cells, "X_latent", n_neighbors=10, max_cells=120, random_state=1)
    laid_out = np.isfinite(cells.obsm["X_umap"]).all(axis=1)
    assert laid_out.sum() == 120
    assert np.isnan(cells.obsm["X_umap"][~laid_out]).all()
    again = _cells(300)
    umap_of_embedding(again, "X_latent", n_neighbors=10, max_cells=120, random_state=1)
    np.testing.assert_array_equal(np.isfinite(again.obsm["X_umap"]).all(axis=1), laid_out)
    figure = umap_figure(cells, ["group"], title_prefix="latent")
    assert "120 sampled cells" in figure.axes[0].get_title()


def test_umap_of_few_cells_lays_out_all_of_them():
    cells = _cells(80)
    umap_of_embedding(cells, "X_latent", n_neighbors=10, max_cells=100)
    assert np.isfinite(cells.obsm["X_umap"]).all()
    assert "connectivities" in cells.obsp


def test_leiden_on_a_graph_gives_scanpys_labels():
    import scanpy as sc
    import scipy.sparse as sp

    from scimta_kedro.core.cluster import leiden_on_graph
    from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph

    cells = _cells(300)
    graph = build_ppmi_graph(cells.obsm["X_latent"], GraphConfig(n_neighbors=10))
    for resolution in (0.5, 2.0):
        holder = ad.AnnData(obs={"index": np.arange(300).astype(str)})
        sc.tl.leiden(
            holder,
            adjacency=sp.csr_matrix(graph.ppmi),
            resolution=resolution,
            random_state=3,
            flavor="igraph",
            n_iterations=2,
            directed=False,
        )
        np.testing.assert_array_equal(
            leiden_on_graph(graph.ppmi, resolution=resolution, random_state=3),
            holder.obs["leiden"].astype(int).to_numpy(),
        )
