"""The method on an AnnData, scanpy-style: ``import scimta_kedro as st``, then

``st.tl.cell_graph(adata)`` -> ``st.tl.fit(adata)`` -> ``st.tl.cluster(adata)``, with
``st.tl.gene_graph``, ``st.tl.gene_communities``, ``st.tl.link_communities`` and
``st.tl.impute`` beside them. Each writes its results to the slots named in
:mod:`scimta_kedro.core.keys` and its parameters to ``uns[key]["params"]``; the Kedro nodes
are a few lines over these functions.
"""

from ._cluster import cluster, cluster_qc, umap
from ._communities import gene_communities, link_communities, write_gene_communities
from ._fit import fit
from ._graph import cell_graph, gene_graph
from ._impute import impute

__all__ = [
    "cell_graph",
    "cluster",
    "cluster_qc",
    "fit",
    "gene_communities",
    "gene_graph",
    "impute",
    "link_communities",
    "umap",
    "write_gene_communities",
]
