"""Count splitting: do the clusters DEC starts from by default differ on counts they were not
found on?

With ``training.n_clusters: auto`` DEC starts from the Leiden clusters of the PPMI cell graph
brought to Leiden's count on the UMAP-weighted kNN graph. Whether a file holds more groups than its annotation names cannot be
read off the data the clusters were found on (clusters always differ there). Count splitting
(Neufeld et al. 2024, Biostatistics 25:270) thins every count ``x`` into
``x_train ~ Binomial(x, 1/2)`` and ``x_test = x - x_train``, independent Poisson halves when
``x`` is Poisson. The default preprocessing, cell graphs and that start run on ``x_train``. Every
pair of clusters the graph links (at least 2% of the smaller cluster's edge weight goes to the
other) is tested with scanpy's Wilcoxon test on the log-normalised ``x_test`` (at most 300
random cells per cluster, all genes), counting the genes with Benjamini-Hochberg adjusted
p < 0.05 and |log2 fold change| > 0.5 (none for a one-cell cluster, which cannot be tested). For each threshold T the linked pair with the fewest
such genes is merged while that number is below T, and the merged cluster tested again.
Labels only score (ARI) and give the annotated number of cell types; nothing is chosen here.

Usage::

    .venv/bin/python -m benchmarks.sweeps.count_split [--data-dir ../shared/data] [--seed 0]
        [--thresholds 1 3 10] [--output benchmarks/results/count_split.md]
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import (
    default_start,
    preprocessed_and_graph,
    training_data,
    validated_cells,
)
from benchmarks.lib.scratch_project import (
    benchmark_parser,
    labelled_datasets,
    rows_for_each_dataset,
    write_results,
)
from scimta_kedro.core.cluster_count import weights_between_clusters

LABEL_KEY = "cell_type"
LINKED_FRACTION = 0.02
CELLS_PER_CLUSTER = 300
ADJUSTED_P = 0.05
MIN_LOG2_FOLD = 0.5


def thinned_halves(counts: sp.csr_matrix, rng: np.random.Generator):
    """``counts`` split entry by entry into two binomial halves that sum to it."""
    counts = sp.csr_matrix(counts)
    train = counts.copy()
    train.data = rng.binomial(counts.data.astype(np.int64), 0.5).astype(np.float32)
    test = counts.copy()
    test.data = (counts.data - train.data).astype(np.float32)
    return train, test


def log_normalized(counts: sp.csr_matrix) -> sp.csr_matrix:
    holder = ad.AnnData(sp.csr_matrix(counts, dtype=np.float32))
    sc.pp.normalize_total(holder, target_sum=1e4)
    sc.pp.log1p(holder)
    return holder.X


def differential_genes(test: sp.csr_matrix, first: np.ndarray, second: np.ndarray, seed: int):
    """Genes that differ between two groups of rows of ``test`` (see the module docstring).

    A one-cell group cannot be shown to differ (the test needs two cells a side): 0 genes.
    """
    if min(first.size, second.size) < 2:
        return 0
    rng = np.random.default_rng(seed)
    groups = [
        rng.choice(rows, CELLS_PER_CLUSTER, replace=False)
        if rows.size > CELLS_PER_CLUSTER
        else rows
        for rows in (first, second)
    ]
    pair = ad.AnnData(test[np.concatenate(groups)])
    pair.obs["group"] = np.repeat(["first", "second"], [groups[0].size, groups[1].size])
    sc.tl.rank_genes_groups(pair, "group", groups=["first"], reference="second", method="wilcoxon")
    result = pair.uns["rank_genes_groups"]
    adjusted = np.asarray(result["pvals_adj"]["first"], dtype=float)
    fold = np.asarray(result["logfoldchanges"]["first"], dtype=float)
    return int(np.count_nonzero((adjusted < ADJUSTED_P) & (np.abs(fold) > MIN_LOG2_FOLD)))


def linked_pairs(adjacency: sp.spmatrix, labels: np.ndarray) -> list[tuple[int, int]]:
    n_found = int(labels.max()) + 1
    between = weights_between_clusters(adjacency, labels, n_found)
    volume = between.sum(axis=1)
    return [
        (a, b)
        for a in range(n_found)
        for b in range(a + 1, n_found)
        if between[a, b] >= LINKED_FRACTION * min(volume[a], volume[b])
    ]


def linked_pair_genes(labels, adjacency, test, *, seed: int, tested: dict):
    """``{(a, b): differential genes}`` for the linked pairs of ``labels``; ``tested`` caches
    the counts by the pairs' member rows, so a pair is tested once across merges."""
    members = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    genes = {}
    for a, b in linked_pairs(adjacency, labels):
        key = (members[a].tobytes(), members[b].tobytes())
        if key not in tested:
            tested[key] = differential_genes(test, members[a], members[b], seed)
        genes[a, b] = tested[key]
    return genes


def merged_below(labels, threshold, adjacency, test, *, seed: int, tested: dict):
    """``labels`` after merging linked pairs with fewer than ``threshold`` differential genes,
    fewest first (see :func:`linked_pair_genes` for ``tested``)."""
    labels = labels.copy()
    while True:
        genes = linked_pair_genes(labels, adjacency, test, seed=seed, tested=tested)
        fewest = min(((count, *pair) for pair, count in genes.items()), default=None)
        if fewest is None or fewest[0] >= threshold:
            return labels
        labels[labels == fewest[2]] = fewest[1]
        labels = np.unique(labels, return_inverse=True)[1].ravel()


def split_and_test(dataset: Path, seed: int, thresholds) -> dict:
    counts = validated_cells(dataset)
    train_counts, test_counts = thinned_halves(counts.X, np.random.default_rng(seed))
    train = ad.AnnData(train_counts, obs=counts.obs.copy(), var=counts.var.copy())
    cells, graph = preprocessed_and_graph(train, seed)
    kept = counts.obs_names.get_indexer(cells.obs_names)
    test = log_normalized(test_counts[kept])
    annotation = cells.obs[LABEL_KEY].to_numpy()
    labels = default_start(training_data(cells, graph), seed)
    tested: dict = {}
    pair_counts = list(
        linked_pair_genes(labels, graph.ppmi, test, seed=seed, tested=tested).values()
    )
    merged = {
        threshold: merged_below(labels, threshold, graph.ppmi, test, seed=seed, tested=tested)
        for threshold in thresholds
    }
    return {
        "dataset": dataset.stem,
        "true_k": int(np.unique(annotation).size),
        "clusters": int(labels.max()) + 1,
        "ari": float(adjusted_rand_score(annotation, labels)),
        "linked_pairs": len(pair_counts),
        "fewest_genes": min(pair_counts, default=None),
        "median_genes": float(np.median(pair_counts)) if pair_counts else None,
        "merged": {
            str(threshold): {
                "clusters": int(partition.max()) + 1,
                "ari": float(adjusted_rand_score(annotation, partition)),
            }
            for threshold, partition in merged.items()
        },
    }


def table(rows: list[dict], thresholds, command: str) -> str:
    header = " | ".join(f"T={t}: clusters / ARI" for t in thresholds)
    lines = [
        f"Command: `{command}`  ",
        "DEC's default start (the PPMI graph's Leiden clusters brought to Leiden's count on "
        "the kNN graph) on one binomial half of the counts; "
        "differential genes (adjusted p < 0.05, |log2 FC| > 0.5) between graph-linked "
        "clusters counted on the other half; T = merge linked pairs with fewer than T such "
        "genes. ARI against the annotation (scoring only).",
        "",
        "| dataset | true k | clusters (train half) | ARI | linked pairs | fewest genes in a "
        f"pair | median | {header} |",
        "|---" * (7 + len(thresholds)) + "|",
    ]
    for row in rows:
        merged = " | ".join(
            f"{row['merged'][str(t)]['clusters']} / {row['merged'][str(t)]['ari']:.3f}"
            for t in thresholds
        )
        lines.append(
            f"| {row['dataset']} | {row['true_k']} | {row['clusters']} | {row['ari']:.3f} | "
            f"{row['linked_pairs']} | {row['fewest_genes']} | {row['median_genes']} | {merged} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "count_split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--thresholds", type=int, nargs="+", default=[1, 3, 10])
    args = parser.parse_args()
    rows = rows_for_each_dataset(
        labelled_datasets(args.data_dir),
        lambda dataset: [split_and_test(dataset, args.seed, args.thresholds)],
    )
    command = ".venv/bin/python -m benchmarks.sweeps.count_split"
    write_results(args.output, table(rows, args.thresholds, command), rows)


if __name__ == "__main__":
    main()
