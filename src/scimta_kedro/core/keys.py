"""Every slot scimta-kedro reads or writes in an AnnData (scverse naming conventions).

One place for the names, so that the stages, the API (``scimta_kedro.pp``/``tl``), the
benchmarks and a user's notebook agree on where each result is.
"""

# Matrices of the preprocessed cells (data_processing).
COUNTS_LAYER = "counts"  # raw counts of the HVGs: the expression decoder models them
LOG_LAYER = "log_normalized"  # library-size normalised, log1p (sparse)
PRE_DROPOUT_LAYER = "pre_dropout_counts"  # simulated data only: the counts before dropout
PCA = "X_pca"
TOTAL_COUNTS = "total_counts"  # obs: counts per cell over all genes (before HVG selection)
# obs: share of a cell's counts in mitochondrial genes (names starting with MT-), when any.
PCT_MITOCHONDRIAL = "pct_counts_mt"

# What the run recorded (uns): the data contract and each step's parameters.
RUN_INFO = "scimta"  # label_key, batch_key, input_path, n_cells_input
PREPROCESS = "scimta_preprocess"

# The cell graph (graph_construction): obsp keys are f"{prefix}_{kind}".
GRAPH_PREFIX = "scimta"
CONNECTIVITIES = "scimta_connectivities"  # D^-1/2 (PPMI + I) D^-1/2, the GCN propagation
PPMI = "scimta_ppmi"  # the edges the model reconstructs
KNN = "scimta_knn"
# The kNN graph weighted as scanpy weights its connectivities (UMAP); sets the auto count.
KNN_CONNECTIVITIES = "scimta_knn_connectivities"
GRAPH_INFO = "scimta_graph"  # uns: the graph's parameters
GENE_GRAPH_PREFIX = "scimta_gene"  # varp keys of the gene graph: f"{prefix}_{kind}"

# The model's outputs (training) and the clusters (clustering).
LATENT = "X_scimta"
SOFT_ASSIGNMENT = "scimta_soft_assignment"
# The partition DEC started from: Leiden, split or merged to n_clusters when one is given.
INITIAL_CLUSTER = "scimta_initial_cluster"
FIT = "scimta_fit"  # uns: training parameters and loss history
CLUSTER = "scimta_cluster"
CLUSTER_QC = "scimta_cluster_qc"  # uns: per cluster, depth, genes and mitochondrial share
UMAP = "X_umap"
UMAP_INFO = "scimta_umap"  # uns: the UMAP's settings

# Gene communities (gene_communities) and imputation.
GENE_COMMUNITY = "scimta_gene_community"
GENE_MEMBERSHIP = "scimta_gene_membership"
GENE_NAME = "scimta_gene_name"
COMMUNITY_SCORES = "scimta_community_scores"
IMPUTED = "scimta_imputed"


def graph_keys(prefix: str) -> dict[str, str]:
    """The ``obsp`` (or ``varp``) key of each graph a PPMI graph build writes."""
    return {
        kind: f"{prefix}_{kind}" for kind in ("connectivities", "ppmi", "knn", "knn_connectivities")
    }
