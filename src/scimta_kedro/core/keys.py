"""Where scimta-kedro writes its results in an AnnData (scverse naming conventions)."""

LATENT = "X_scimta"
SOFT_ASSIGNMENT = "scimta_soft_assignment"
CLUSTER = "scimta_cluster"
# The partition DEC started from: Leiden, split or merged to n_clusters when one is given.
INITIAL_CLUSTER = "scimta_initial_cluster"
CONNECTIVITIES = "scimta_connectivities"
PPMI = "scimta_ppmi"
KNN = "scimta_knn"
# The kNN graph weighted as scanpy weights its connectivities (UMAP); sets the auto count.
KNN_CONNECTIVITIES = "scimta_knn_connectivities"
RUN_INFO = "scimta"
GENE_COMMUNITY = "scimta_gene_community"
GENE_MEMBERSHIP = "scimta_gene_membership"
GENE_NAME = "scimta_gene_name"
COMMUNITY_SCORES = "scimta_community_scores"
IMPUTED = "scimta_imputed"
