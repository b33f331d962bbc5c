"""Label-free rules for the number of clusters, against the annotated k, chosen leave-one-out.

``training.n_clusters: auto`` counts the Leiden clusters of the kNN graph at one resolution.
Annotations cut the same kind of data at very different grains (4 stages of the P.
falciparum cycle, 19 clusters of the myeloid continuum), so this sweep asks whether a rule
that looks at the data itself lands within a factor 1.5 of the annotated k more often. For
every labelled ``.h5ad`` in ``../shared/data`` it builds the default graphs (seed 0) and
counts the clusters each rule finds (labels only score):

* **Leiden count at a fixed resolution** on the kNN graph (0.3 is the default, 1.0 scanpy's);
* **most stable resolution**: Leiden on the whole kNN graph and on ``SUBSAMPLES`` random 80%
  subsets of the cells (their induced subgraphs), at each resolution of ``RESOLUTIONS``; the
  count at the resolution whose subset partitions agree best (mean ARI with the whole
  partition on the same cells; ties go to the finer resolution), as chooseR does with
  bootstraps;
* **eigengap**: the largest gap among the top eigenvalues of the normalised PPMI graph;
* **resolution plateau**: the count that Leiden keeps over the longest run of a log-spaced
  resolution grid;
* **marker merge**: Leiden's kNN clusters at resolution 1, the two clusters with the fewest
  distinct genes merged until every pair has at least ``m`` genes whose mean log-normalised
  expression differs by ``MARKER_LOG_DIFFERENCE`` (a cluster must have markers);
* **held-out counts** (molecular cross-validation, Batson et al. 2019): every count split
  into two binomial halves (``core/molecular_cv.py``); the default preprocessing, graphs and
  kNN Leiden at each resolution of ``HELD_OUT_RESOLUTIONS`` run on the training half, and
  each partition's clusters predict the held-out half's HVG counts from their gene profiles
  (:func:`held_out_loss`); the count of the whole data's kNN graph at the resolution that
  predicts best.

The leave-one-dataset-out view chooses, for each held-out dataset, the rule with the most
other datasets within 1.5x (then the smallest mean |log2(count / k)|), and reports whether
it is within 1.5x on the one held out. The two bladder files are one dataset, as are the two
Baron pancreas files.

Usage::

    .venv/bin/python -m benchmarks.sweeps.cluster_count_rules [--data-dir ../shared/data]
        [--output benchmarks/results/cluster_count_rules.md]
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import preprocessed_and_graph, training_data, validated_cells
from benchmarks.lib.scratch_project import (
    benchmark_parser,
    biologies_where_all,
    biology,
    datasets_to_leave_out,
    rows_for_each_dataset,
    within_factor,
    write_results,
)
from scimta_kedro.core.cluster import leiden_on_graph
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.molecular_cv import split_molecules

LABEL_KEY = "cell_type"
RESOLUTIONS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
SUBSAMPLES = 5
SUBSAMPLE_SHARE = 0.8
EIGENVALUES = 40
# Graphs up to this many nodes get all their eigenvalues from a dense solver.
DENSE_EIGEN_MAX_NODES = 2000
PLATEAU_GRID = np.geomspace(0.05, 3.0, 30)
MARKER_LOG_DIFFERENCE = 0.7
MARKER_COUNTS = (10, 30, 80)
HELD_OUT_RESOLUTIONS = (*RESOLUTIONS, 3.0)


def most_stable_resolution_count(graph: sp.spmatrix, seed: int = 0) -> int:
    """The count at the resolution whose partitions of 80% subsets agree best with the whole."""
    generator = np.random.default_rng(seed)
    n_cells = graph.shape[0]
    subsets = [
        np.sort(generator.choice(n_cells, int(SUBSAMPLE_SHARE * n_cells), replace=False))
        for _ in range(SUBSAMPLES)
    ]
    best = (-1.0, 0)
    for resolution in RESOLUTIONS:
        whole = leiden_on_graph(graph, resolution=resolution, random_state=seed)
        agreement = np.mean(
            [
                adjusted_rand_score(
                    whole[subset],
                    leiden_on_graph(
                        graph[subset][:, subset], resolution=resolution, random_state=seed + i
                    ),
                )
                for i, subset in enumerate(subsets)
            ]
        )
        if agreement >= best[0]:
            best = (agreement, int(np.unique(whole).size))
    return best[1]


def eigengap_count(graph: sp.spmatrix) -> int:
    """The k after the largest gap among the top eigenvalues of D^-1/2 A D^-1/2 (k >= 2)."""
    adjacency = sp.csr_matrix(graph, dtype=np.float64, copy=True)  # setdiag edits in place
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    normalised = scale @ adjacency @ scale
    if normalised.shape[0] <= DENSE_EIGEN_MAX_NODES:
        # Exact, and safe on graphs whose eigenvalues repeat many times (cliques), where
        # ARPACK may stop without converging.
        values = np.linalg.eigvalsh(normalised.toarray())[-(EIGENVALUES + 1) :]
    else:
        # A seeded start vector: ARPACK's own is random, so its result would vary by run.
        start = np.random.default_rng(0).random(normalised.shape[0])
        values = eigsh(normalised, k=EIGENVALUES + 1, which="LA", v0=start)[0]
    gaps = -np.diff(np.sort(values)[::-1])
    return int(np.argmax(gaps[1:]) + 2)


def plateau_count(graph: sp.spmatrix, seed: int = 0) -> int:
    """The count (>= 3) Leiden keeps over the most consecutive resolutions of the grid."""
    counts = [
        int(np.unique(leiden_on_graph(graph, resolution=r, random_state=seed)).size)
        for r in PLATEAU_GRID
    ]
    best, run, chosen = 0, 0, counts[-1]
    for position, count in enumerate(counts):
        run = run + 1 if position and count == counts[position - 1] else 1
        if count >= 3 and run > best:
            best, chosen = run, count
    return chosen


def cluster_indicator(labels: np.ndarray) -> sp.csr_matrix:
    """The ``(K, N)`` 0/1 matrix of which cell is in which cluster: ``indicator @ matrix``
    sums ``matrix``'s rows per cluster."""
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    return sp.csr_matrix(
        (np.ones(codes.size), (codes, np.arange(codes.size))),
        shape=(int(codes.max()) + 1, codes.size),
    )


def cluster_sums(indicator: sp.csr_matrix, matrix: sp.spmatrix) -> np.ndarray:
    return np.asarray((indicator @ matrix).todense(), dtype=np.float64)


def marker_merge_count(log_expression: sp.spmatrix, labels: np.ndarray, min_markers: int) -> int:
    """Clusters left once every pair differs in at least ``min_markers`` genes (merging the
    pair with the fewest first, from cluster sums)."""
    indicator = cluster_indicator(labels)
    sums = cluster_sums(indicator, log_expression)
    sizes = np.asarray(indicator.sum(axis=1), dtype=np.float64).ravel()
    active = list(range(indicator.shape[0]))
    while len(active) > 1:
        means = sums[active] / sizes[active, None]
        markers = (np.abs(means[:, None, :] - means[None, :, :]) >= MARKER_LOG_DIFFERENCE).sum(-1)
        markers = markers.astype(float)
        np.fill_diagonal(markers, np.inf)
        first, second = np.unravel_index(np.argmin(markers), markers.shape)
        if markers[first, second] >= min_markers:
            break
        kept, absorbed = active[first], active[second]
        sums[kept] += sums[absorbed]
        sizes[kept] += sizes[absorbed]
        active.remove(absorbed)
    return len(active)


def held_out_loss(training: sp.spmatrix, held_out: sp.spmatrix, labels: np.ndarray) -> float:
    """Negative log-likelihood per held-out molecule of ``held_out`` given each cell's cluster.

    A cluster's gene profile is its share of the ``training`` counts, shrunk toward the
    profile of all cells by one mean cell's counts (a small cluster would otherwise be sure
    that genes it never saw are never expressed). Each cell's held-out molecules are drawn from
    its cluster's profile (multinomial); their expected number is the same for every
    partition, so only the profiles' log-likelihood compares partitions.
    """
    indicator = cluster_indicator(labels)
    trained = cluster_sums(indicator, training)
    observed = cluster_sums(indicator, held_out)
    overall = trained.sum(axis=0) / trained.sum()
    one_cell = trained.sum() / indicator.shape[1]
    profiles = (trained + one_cell * overall) / (trained.sum(axis=1, keepdims=True) + one_cell)
    return float(-(observed * np.log(np.maximum(profiles, 1e-300))).sum() / observed.sum())


def held_out_resolution(counts: ad.AnnData, seed: int = 0) -> float:
    """The resolution of ``HELD_OUT_RESOLUTIONS`` whose kNN Leiden clusters of one half of the
    raw ``counts`` (validated cells) best predict the other half (:func:`held_out_loss`)."""
    training, held_out = split_molecules(counts.X, held_out_fraction=0.5, seed=seed)
    half = ad.AnnData(X=training, obs=counts.obs.copy(), var=counts.var.copy())
    cells, graph = preprocessed_and_graph(half, seed)
    knn = training_data(cells, graph).knn_connectivities
    kept = counts.obs_names.get_indexer(cells.obs_names)
    genes = counts.var_names.get_indexer(cells.var_names)
    training, held_out = training[kept][:, genes], held_out[kept][:, genes]
    losses = {
        resolution: held_out_loss(
            training, held_out, leiden_on_graph(knn, resolution=resolution, random_state=seed)
        )
        for resolution in HELD_OUT_RESOLUTIONS
    }
    return min(losses, key=losses.get)


def log_normalised(counts: sp.spmatrix) -> sp.csr_matrix:
    """log1p of counts scaled to 10^4 per cell (scanpy's normalize_total + log1p)."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    scaled = sp.csr_matrix(sp.diags(1e4 / np.maximum(totals, 1.0)) @ counts)
    scaled.data = np.log1p(scaled.data)
    return scaled


def sweep(dataset) -> list[dict]:
    counts = validated_cells(dataset)
    resolution = held_out_resolution(counts)
    cells, graph = preprocessed_and_graph(counts, seed=0)
    true_k = int(cells.obs[LABEL_KEY].nunique())
    data = training_data(cells, graph)
    knn = data.knn_connectivities
    log_expression = log_normalised(cells.layers[COUNTS_LAYER])
    fine = leiden_on_graph(knn, resolution=1.0, random_state=0)
    counts = {
        "kNN Leiden r=0.3 (default)": int(
            np.unique(leiden_on_graph(knn, resolution=0.3, random_state=0)).size
        ),
        "kNN Leiden r=1 (scanpy)": int(np.unique(fine).size),
        "most stable resolution": most_stable_resolution_count(knn),
        "PPMI eigengap": eigengap_count(data.edges),
        "resolution plateau": plateau_count(knn),
        **{
            f"marker merge, m={m}": marker_merge_count(log_expression, fine, m)
            for m in MARKER_COUNTS
        },
        "held-out counts": int(
            np.unique(leiden_on_graph(knn, resolution=resolution, random_state=0)).size
        ),
    }
    return [
        {
            "dataset": dataset.stem,
            "true_k": true_k,
            "rule": rule,
            "clusters": count,
            "within_1_5x": within_factor(count, true_k),
        }
        for rule, count in counts.items()
    ]


def _merit(rows: list[dict], rule: str, datasets: list[str]) -> tuple[int, float]:
    at = {r["dataset"]: r for r in rows if r["rule"] == rule}
    by_biology = biologies_where_all((d, at[d]["within_1_5x"]) for d in datasets)
    error = np.mean([abs(np.log2(at[d]["clusters"] / at[d]["true_k"])) for d in datasets])
    return sum(by_biology.values()), -float(error)


def table(rows: list[dict], command: str) -> str:
    rules = list(dict.fromkeys(row["rule"] for row in rows))
    datasets = sorted({row["dataset"] for row in rows})
    at = {(r["dataset"], r["rule"]): r for r in rows}
    n_biologies = len({biology(d) for d in datasets})
    lines = [
        f"Command: `{command}`  ",
        "Default graphs (seed 0). Clusters each rule finds; * = within 1.5x of the annotated k "
        "(labels only score).",
        "",
        "| dataset | true k | " + " | ".join(rules) + " |",
        "|---|---|" + "---|" * len(rules),
    ]
    for dataset in datasets:
        cells = [
            f"{at[dataset, rule]['clusters']}{'*' if at[dataset, rule]['within_1_5x'] else ''}"
            for rule in rules
        ]
        true_k = at[dataset, rules[0]]["true_k"]
        lines.append(f"| {dataset} | {true_k} | " + " | ".join(cells) + " |")
    lines.append(
        "| **datasets within 1.5x** | | "
        + " | ".join(f"{_merit(rows, rule, datasets)[0]}/{n_biologies}" for rule in rules)
        + " |"
    )
    lines += [
        "",
        "Leave one dataset out: the rule chosen on the other datasets, and whether its count is "
        "within 1.5x on the one held out.",
        "",
        "| held out | chosen on the others | held-out clusters (true k) | within 1.5x |",
        "|---|---|---|---|",
    ]
    held_within = 0
    for held in sorted({biology(d) for d in datasets}):
        kept = [d for d in datasets if biology(d) != held]
        chosen = max(rules, key=lambda rule, kept=kept: _merit(rows, rule, kept))
        held_rows = [at[d, chosen] for d in datasets if biology(d) == held]
        within = all(r["within_1_5x"] for r in held_rows)
        held_within += within
        found = ", ".join(f"{r['clusters']} ({r['true_k']})" for r in held_rows)
        lines.append(f"| {held} | {chosen} | {found} | {'yes' if within else 'no'} |")
    lines.append(f"| **held out within 1.5x** | | | {held_within}/{n_biologies} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "cluster_count_rules")
    args = parser.parse_args()
    rows = rows_for_each_dataset(datasets_to_leave_out(args.data_dir), sweep)
    write_results(
        args.output, table(rows, ".venv/bin/python -m benchmarks.sweeps.cluster_count_rules"), rows
    )


if __name__ == "__main__":
    main()
