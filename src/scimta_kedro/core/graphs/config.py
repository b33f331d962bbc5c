"""Parameters of the sparse PPMI graphs (cell graph and gene graph)."""

from __future__ import annotations

from dataclasses import dataclass

from ..value_checks import check_ranges

# kNN searches: sklearn's exact one, pynndescent's approximate one, or by size.
KNN_METHODS = ("auto", "exact", "approximate")

# Above this many rows exact kNN (O(N^2)) is replaced by approximate pynndescent.
EXACT_KNN_MAX_ROWS = 8192


@dataclass(frozen=True)
class GraphConfig:
    """Parameters of :func:`build_ppmi_graph`.

    Attributes
    ----------
    n_neighbors
        k of the kNN graph (each row's neighbours, itself excluded).
    surf_steps
        Number of random-surfing steps (hops).
    restart_probability
        Probability that the surfer jumps back to its start at each step (1 - alpha in DNGR).
    max_entries_per_row
        Pruning bound of the surfing result: each row keeps its largest entries only.
    metric
        Distance of the kNN search (any metric sklearn and pynndescent both accept).
    knn_method
        ``"exact"`` (sklearn), ``"approximate"`` (pynndescent) or ``"auto"`` (exact up to
        ``EXACT_KNN_MAX_ROWS`` rows).
    batch_balanced
        When :func:`build_ppmi_graph` is given batches, build the kNN graph batch-balanced
        (see :func:`knn_adjacency`); ``False`` ignores the batches.
    block_size
        Rows surfed at once; bounds the working memory of a step.
    random_state
        Seed of the approximate kNN search.
    """

    n_neighbors: int = 15
    surf_steps: int = 2
    restart_probability: float = 0.02
    max_entries_per_row: int = 100
    metric: str = "euclidean"
    knn_method: str = "auto"
    batch_balanced: bool = True
    block_size: int = 4096
    random_state: int = 0

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least={"n_neighbors": 1, "surf_steps": 1, "block_size": 1},
            within={"restart_probability": (0, 1)},
            choices={"knn_method": KNN_METHODS},
        )
        if self.max_entries_per_row < self.n_neighbors + 1:
            raise ValueError(
                f"max_entries_per_row ({self.max_entries_per_row}) must exceed n_neighbors "
                f"({self.n_neighbors}) so that pruning keeps at least the direct neighbours."
            )


# The gene graph's defaults: cosine kNN groups genes that vary in the same direction whatever
# their magnitude (benchmarks/gene_communities.py), and gene neighbourhoods need a smaller
# pruning bound than cells' (2000 HVGs, not millions of cells).
GENE_GRAPH = GraphConfig(max_entries_per_row=50, metric="cosine")
