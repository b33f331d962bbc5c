"""Gene-community benchmark: planted programme recovery, and marker genes on real data.

1. **Gene graph variants** on the default simulation (no training needed): kNN metric and
   Leiden resolution, scored by the gene-level ARI of the communities against the planted
   programmes (programme genes among the HVGs; the simulator's other genes are noise).
2. **The default analysis** (``kedro run`` in a scratch copy) on the default simulation: is
   each cluster's top community the planted programme of the cluster's group?
3. **The default analysis on real data with gene symbols** (the Baron mouse pancreas file in
   ``../shared/data``): for each cluster, its majority cell type (labels used for reporting
   only) and the top genes of its strongest community, to compare with known markers.

Usage::

    .venv/bin/python -m benchmarks.gene_communities [--data-dir ../shared/data]
        [--output benchmarks/results/gene_communities.md]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.scratch_project import (
    PROJECT_ROOT,
    default_config,
    default_parameters,
    kedro_run_in_scratch_project,
)
from scimta_kedro.core import communities
from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.preprocess import preprocess_counts
from scimta_kedro.core.simulate import (
    NO_PROGRAMME,
    PROGRAMME_KEY,
    simulate_counts,
)

REAL_DATASET = "baron_mouse1_pancreas_822_3libs.h5ad"
INTERPRETED = "data/07_model_output/interpreted_cells.h5ad"
SUMMARY = "data/08_reporting/gene_communities_summary.json"


def programme_recovery(planted: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Gene-level ARI on programme genes, and how many programmes keep >= 90% of their genes
    in one community."""
    in_programme = planted != NO_PROGRAMME
    ari = adjusted_rand_score(planted[in_programme], labels[in_programme])
    recovered = sum(
        np.bincount(labels[planted == programme]).max() >= 0.9 * (planted == programme).sum()
        for programme in np.unique(planted[in_programme])
    )
    return ari, recovered


def graph_variants() -> list[str]:
    processing = default_config("data_processing")
    defaults = default_parameters("graph_construction")["gene_graph"]
    cells = simulate_counts(processing.simulation)
    cells = preprocess_counts(cells, processing.preprocessing)
    planted = cells.var[PROGRAMME_KEY].astype(str).to_numpy()
    embedding = communities.gene_embedding(cells)
    n_programmes = np.unique(planted[planted != NO_PROGRAMME]).size
    lines = [
        "| kNN metric | resolution | communities | ARI (programme genes) | ARI (all HVGs) "
        f"| programmes recovered (of {n_programmes}) |",
        "|---|---|---|---|---|---|",
    ]
    for metric in ("euclidean", "cosine"):
        graph = build_ppmi_graph(embedding, GraphConfig(**{**defaults, "metric": metric}))
        for resolution in (0.5, 1.0):
            labels = communities.detect_gene_communities(
                graph.connectivities, resolution=resolution
            )
            ari, recovered = programme_recovery(planted, labels)
            lines.append(
                f"| {metric} | {resolution} | {labels.max() + 1} | {ari:.3f} | "
                f"{adjusted_rand_score(planted, labels):.3f} | {recovered} |"
            )
            print(lines[-1], flush=True)
    return lines


def _cluster_majority(interpreted: ad.AnnData, label_key: str) -> pd.Series:
    crosstab = pd.crosstab(interpreted.obs["scimta_cluster"], interpreted.obs[label_key])
    return crosstab.idxmax(axis=1)


def simulated_link(scratch: Path) -> list[str]:
    project, wall, rss = kedro_run_in_scratch_project(scratch / "simulated")
    interpreted = ad.read_h5ad(project / INTERPRETED)
    summary = json.loads((project / SUMMARY).read_text())
    planted = interpreted.var[PROGRAMME_KEY].astype(str).to_numpy()
    labels = interpreted.var["scimta_gene_community"].astype(int).to_numpy()
    ari, recovered = programme_recovery(planted, labels)
    majority_group = _cluster_majority(interpreted, "cell_type")
    lines = [
        f"Default `kedro run` on the simulation ({wall:.0f} s, peak RSS {rss:.2f} GiB): "
        f"gene-level ARI {ari:.3f} on programme genes, {recovered} of "
        f"{np.unique(planted[planted != NO_PROGRAMME]).size} programmes recovered.",
        "",
        "| cluster | majority group | top community | its planted programme | linked correctly |",
        "|---|---|---|---|---|",
    ]
    correct = 0
    for cluster, enriched in summary["clusters"].items():
        group = majority_group[cluster]
        if enriched:
            community = enriched[0]["community"]
            programme = pd.Series(planted[labels == community]).value_counts().index[0]
        else:
            community, programme = "none", "-"
        correct += programme == group
        lines.append(
            f"| {cluster} | {group} | {community} | {programme} | "
            f"{'yes' if programme == group else 'no'} |"
        )
    lines.append(
        f"\n{correct} of {len(summary['clusters'])} clusters link to their planted programme."
    )
    print("\n".join(lines), flush=True)
    return lines


def real_markers(dataset: Path, scratch: Path) -> list[str]:
    project, wall, rss = kedro_run_in_scratch_project(
        scratch / "real", f"input_path={dataset},label_key=cell_type", dataset.name
    )
    interpreted = ad.read_h5ad(project / INTERPRETED)
    summary = json.loads((project / SUMMARY).read_text())
    crosstab = pd.crosstab(interpreted.obs["scimta_cluster"], interpreted.obs["cell_type"])
    lines = [
        f"Default `kedro run` on `{dataset.name}` ({wall:.0f} s, peak RSS {rss:.2f} GiB), "
        f"{summary['n_gene_communities']} gene communities:",
        "",
        "| cluster | cells | majority cell type (share) | top community | effect (z) "
        "| its top genes |",
        "|---|---|---|---|---|---|",
    ]
    for cluster, enriched in summary["clusters"].items():
        counts = crosstab.loc[cluster]
        share = counts.max() / counts.sum()
        best = enriched[0] if enriched else None
        lines.append(
            f"| {cluster} | {counts.sum()} | {counts.idxmax()} ({share:.0%}) | "
            + (
                f"GC{best['community']} | {best['effect']:+.2f} | "
                f"{', '.join(best['top_genes'][:8])} |"
                if best
                else "none | | |"
            )
        )
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/gene_communities.md"
    )
    arguments = parser.parse_args()
    sections = ["## Gene graph variants on the default simulation", "", *graph_variants(), ""]
    with tempfile.TemporaryDirectory(prefix="scimta-communities-") as scratch:
        sections += ["## Cluster -> community link on the default simulation", ""]
        sections += [*simulated_link(Path(scratch)), ""]
        dataset = arguments.data_dir / REAL_DATASET
        if dataset.exists():
            sections += ["## Marker genes on real data", ""]
            sections += [*real_markers(dataset, Path(scratch)), ""]
        else:
            print(f"{dataset} not found: real-data section skipped.")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.gene_communities`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n"
        + "\n".join(sections)
    )


if __name__ == "__main__":
    main()
