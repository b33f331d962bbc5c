import anndata as ad
import numpy as np
import pytest

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


def test_the_umap_pdf_holds_the_cells_as_one_image_and_the_text_as_vectors():
    import io

    cells = _cells(200)
    umap_of_embedding(cells, "X_latent", n_neighbors=10, max_cells=500, random_state=0)
    figure = umap_figure(cells, ["group"], title_prefix="latent")
    points = figure.axes[0].collections
    assert points and all(collection.get_rasterized() for collection in points)
    pdf = io.BytesIO()
    figure.savefig(pdf, format="pdf", dpi=300)
    assert b"/Subtype /Image" in pdf.getvalue()
    assert b"/Subtype /Type3" in pdf.getvalue() or b"/FontFile" in pdf.getvalue()


def test_umap_of_few_cells_lays_out_all_of_them():
    cells = _cells(80)
    umap_of_embedding(cells, "X_latent", n_neighbors=10, max_cells=100)
    assert np.isfinite(cells.obsm["X_umap"]).all()
    assert "connectivities" in cells.obsp


def test_the_neighbour_graph_is_scanpys():
    import scanpy as sc

    from scimta_kedro.core.cluster import store_neighbour_graph

    ours, theirs = _cells(300), _cells(300)
    store_neighbour_graph(ours, "X_latent", n_neighbors=12, random_state=2)
    sc.pp.neighbors(theirs, n_neighbors=12, use_rep="X_latent", random_state=2)
    for key in ("connectivities", "distances"):
        assert ours.obsp[key].nnz == theirs.obsp[key].nnz
        np.testing.assert_allclose(
            ours.obsp[key].toarray(), theirs.obsp[key].toarray(), atol=2e-5, err_msg=key
        )
    assert ours.uns["neighbors"]["params"] == {
        key: theirs.uns["neighbors"]["params"][key] for key in ours.uns["neighbors"]["params"]
    }


def test_umap_epochs_are_checked():
    from scimta_kedro.core.cluster import ClusteringConfig

    with pytest.raises(ValueError, match="umap_epochs"):
        ClusteringConfig(umap_epochs=0)
    assert ClusteringConfig(umap_epochs=None).umap_epochs is None


def test_leiden_on_a_graph_optimises_scanpys_modularity():
    import igraph as ig
    import scanpy as sc
    import scipy.sparse as sp
    from sklearn.metrics import adjusted_rand_score

    from scimta_kedro.core.cluster import leiden_on_graph
    from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph

    cells = _cells(300)
    graph = build_ppmi_graph(cells.obsm["X_latent"], GraphConfig(n_neighbors=10))
    # scanpy's igraph graph: every stored entry an edge (both directions, self loops once).
    coo = sp.coo_matrix(graph.connectivities)
    doubled = ig.Graph(n=300, edges=list(zip(coo.row, coo.col, strict=True)), directed=False)
    once = sp.triu(graph.connectivities, format="coo")
    single = ig.Graph(n=300, edges=list(zip(once.row, once.col, strict=True)), directed=False)
    single_weights = np.where(once.row == once.col, once.data / 2, once.data)
    for resolution in (0.5, 2.0):
        holder = ad.AnnData(obs={"index": np.arange(300).astype(str)})
        sc.tl.leiden(
            holder,
            adjacency=sp.csr_matrix(graph.connectivities),
            resolution=resolution,
            random_state=3,
            flavor="igraph",
            n_iterations=2,
            directed=False,
        )
        theirs = holder.obs["leiden"].astype(int).to_numpy()
        ours = leiden_on_graph(graph.connectivities, resolution=resolution, random_state=3)
        # Same objective: any partition has the same modularity on both graphs.
        for labels in (theirs, ours):
            assert single.modularity(
                labels, weights=single_weights, resolution=resolution
            ) == pytest.approx(
                doubled.modularity(labels, weights=coo.data, resolution=resolution), rel=1e-9
            )
        quality = single.modularity(ours, weights=single_weights, resolution=resolution)
        assert (
            quality
            >= single.modularity(theirs, weights=single_weights, resolution=resolution) - 0.01
        )
        assert adjusted_rand_score(theirs, ours) > 0.8
        np.testing.assert_array_equal(
            ours, leiden_on_graph(graph.connectivities, resolution=resolution, random_state=3)
        )


def test_label_centroids_are_the_mean_of_each_cluster():
    from scimta_kedro.core.cluster import label_centroids

    embedding = np.array([[0.0, 0.0], [2.0, 2.0], [10.0, 0.0], [4.0, 4.0]])
    np.testing.assert_allclose(
        label_centroids(embedding, np.array([5, 5, 1, 5])), [[10.0, 0.0], [2.0, 2.0]]
    )
