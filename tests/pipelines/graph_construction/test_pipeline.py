"""graph_construction as a Kedro slice: the cell graph and the gene graph."""

from __future__ import annotations

from scimta_kedro.core import keys


def test_cell_graph_is_sparse_symmetric_and_on_the_cells(tiny_run):
    _, outputs = tiny_run
    cells, graph = outputs["preprocessed_cells"], outputs["cell_graph"]
    assert list(graph.obs_names) == list(cells.obs_names) and graph.n_vars == 0
    for key in keys.graph_keys(keys.GRAPH_PREFIX).values():
        matrix = graph.obsp[key]
        assert abs(matrix - matrix.T).max() < 1e-6 and matrix.min() >= 0
    # Rows keep at most 30 entries (the tiny bound); symmetrising at most doubles the total.
    assert graph.obsp[keys.PPMI].nnz <= 2 * 30 * graph.n_obs
    assert graph.uns[keys.GRAPH_INFO]["params"]["n_neighbors"] == 10


def test_gene_graph_links_the_highly_variable_genes(tiny_run):
    _, outputs = tiny_run
    cells, genes = outputs["preprocessed_cells"], outputs["gene_graph"]
    assert list(genes.obs_names) == list(cells.var_names)
    connectivities = genes.obsp[f"{keys.GENE_GRAPH_PREFIX}_connectivities"]
    assert connectivities.shape == (cells.n_vars, cells.n_vars) and connectivities.nnz > 0
    assert genes.uns[f"{keys.GENE_GRAPH_PREFIX}_graph"]["params"]["metric"] == "cosine"
