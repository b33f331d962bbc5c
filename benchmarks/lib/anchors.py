"""The accuracy benchmark's anchors, one child process each (``benchmarks/accuracy.py``).

Every anchor starts from the project's own preprocessing with ``conf/base``'s settings (QC,
normalisation, log1p, 2000 HVGs, scaling, 50 PCs), so the comparison isolates what comes
after it:

* ``leiden``: scanpy's neighbours (15, on the PCs) and Leiden at resolution 1.0 (igraph).
* ``bisect``: the same graph, Leiden's resolution bisected to the annotated k.
* ``kmeans``: KMeans(k) on the 50 PCs (10 starts).
* ``published``: the published method at its published settings, dense
  (:func:`benchmarks.lib.dense_reference.published_clusters`: 500 HVGs z-scored, 1000
  pretraining and 300 clustering epochs, KMeans(k) start), on files of at most
  ``PUBLISHED_MAX_CELLS`` cells (N x N matrices).
* ``scvi``: scvi-tools' default SCVI model on the raw counts of the same HVGs (``batch_key``
  ``batch`` where the file has that column), on the CPU; its latent gives Leiden at 1.0,
  Leiden bisected to k and KMeans(k).

The scanpy anchors (``leiden``, ``bisect``, ``kmeans``) run as in a scanpy user's environment,
without TensorFlow: umap-learn, which ``sc.pp.neighbors`` imports, would otherwise import it
(about 4 s) because the project installs it.

Labels are read only to score and to count k. Prints ``RESULT{json}``: partition name ->
ARI, NMI, clusters, cells kept / input.

Usage::

    .venv/bin/python -m benchmarks.lib.anchors <leiden|bisect|kmeans|published|scvi> <file.h5ad>
        <label_key> <k> <seed>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.lib.leiden_to_k import bisected_to_k
from benchmarks.lib.scratch_project import default_config

NEIGHBOURS = 15
SCANPY_ANCHORS = ("leiden", "bisect", "kmeans")
BATCH_KEY = "batch"
PUBLISHED_MAX_CELLS = 10_000


def preprocessed(path: Path, label_key: str, seed: int):
    """The file through ``st.pp`` as ``kedro run`` would preprocess it (no batch key, as
    ours runs in the accuracy benchmark)."""
    from scimta_kedro import pp
    from scimta_kedro.core.io import read_cells

    config = default_config("data_processing", seed)
    cells = pp.setup_anndata(read_cells(path, config.in_memory_max_nonzeros), label_key=label_key)
    return pp.preprocess(cells, config.preprocessing), cells.n_obs


def _neighbour_graph(cells, use_rep: str, seed: int):
    import scanpy as sc

    sc.pp.neighbors(cells, n_neighbors=NEIGHBOURS, use_rep=use_rep, random_state=seed)
    return cells.obsp["connectivities"]


def _leiden(graph, resolution: float, seed: int) -> np.ndarray:
    from scimta_kedro.core.cluster import leiden_on_graph

    return leiden_on_graph(graph, resolution=resolution, random_state=seed)


def _kmeans(embedding: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embedding)


def _scvi_latent(cells, seed: int) -> np.ndarray:
    import anndata as ad
    import scvi

    from scimta_kedro.core.keys import COUNTS_LAYER

    scvi.settings.seed = seed
    counts = ad.AnnData(X=cells.layers[COUNTS_LAYER].copy(), obs=cells.obs.copy())
    batch_key = BATCH_KEY if BATCH_KEY in counts.obs else None
    scvi.model.SCVI.setup_anndata(counts, batch_key=batch_key)
    model = scvi.model.SCVI(counts)
    model.train(accelerator="cpu", enable_progress_bar=False)
    return model.get_latent_representation()


def partitions(method: str, cells, k: int, seed: int) -> dict[str, np.ndarray]:
    if method in ("leiden", "bisect"):
        graph = _neighbour_graph(cells, "X_pca", seed)
        if method == "leiden":
            return {"leiden": _leiden(graph, 1.0, seed)}
        return {"bisect": bisected_to_k(lambda r: _leiden(graph, r, seed), k)}
    if method == "kmeans":
        return {"kmeans": _kmeans(cells.obsm["X_pca"], k, seed)}
    if method == "published":
        from benchmarks.lib.dense_reference import published_clusters

        if cells.n_obs > PUBLISHED_MAX_CELLS:
            return {}
        return {"published": published_clusters(cells, k, seed)}
    if method == "scvi":
        cells.obsm["X_scvi"] = _scvi_latent(cells, seed)
        graph = _neighbour_graph(cells, "X_scvi", seed)
        return {
            "scvi_leiden": _leiden(graph, 1.0, seed),
            "scvi_bisect": bisected_to_k(lambda r: _leiden(graph, r, seed), k),
            "scvi_kmeans": _kmeans(cells.obsm["X_scvi"], k, seed),
        }
    raise SystemExit(f"unknown anchor {method!r}: leiden, bisect, kmeans, published or scvi")


def main() -> None:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    method, path, label_key, k, seed = sys.argv[1:6]
    if method in SCANPY_ANCHORS:
        # umap-learn imports TensorFlow for ParametricUMAP when it can, and skips it on an
        # ImportError: scanpy's time is measured without that import, as scanpy users run it.
        sys.modules["tensorflow"] = None
    if method == "scvi":
        import scvi  # noqa: F401  (torch before TensorFlow: both in one process)
    cells, n_input = preprocessed(Path(path), label_key, int(seed))
    labels = cells.obs[label_key].to_numpy()
    result = {
        name: {
            "ari": float(adjusted_rand_score(labels, found)),
            "nmi": float(normalized_mutual_info_score(labels, found)),
            "clusters": int(np.unique(found).size),
            "cells": f"{cells.n_obs} / {n_input}",
        }
        for name, found in partitions(method, cells, int(k), int(seed)).items()
    }
    print("RESULT" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
