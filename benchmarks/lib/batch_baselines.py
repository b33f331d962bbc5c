"""One batch-correction baseline on a preprocessed ``.h5ad``, in its own process (so that the
caller can measure its wall time and peak RSS alone).

Usage::

    .venv/bin/python -m benchmarks.lib.batch_baselines {harmony,bbknn} CELLS.h5ad OUT.npy BATCH_KEY

Both start from ``obsm["X_pca"]`` of CELLS (the project's preprocessing):

* ``harmony``: ``harmonypy.run_harmony`` on the PCA, seed 0; writes the corrected PCA.
* ``bbknn``: ``bbknn.bbknn`` (BBKNN's batch-balanced kNN graph; neighbours within each batch
  = 3, its default). BBKNN outputs a graph, not an embedding: the graph is embedded with
  ``sklearn.manifold.spectral_embedding`` (30 dimensions) so that embedding-based scIB
  metrics can score it; the graph-based scores (graph connectivity, iLISI on kNN) see the
  graph's own structure through that embedding.
"""

from __future__ import annotations

import sys

import anndata as ad
import numpy as np

SPECTRAL_DIMENSIONS = 30


def harmony(cells: ad.AnnData, batch_key: str) -> np.ndarray:
    import harmonypy

    result = harmonypy.run_harmony(
        cells.obsm["X_pca"], cells.obs, [batch_key], random_state=0, verbose=False
    )
    corrected = np.asarray(result.Z_corr)
    # harmonypy returns components x cells in some versions and cells x components in others.
    return corrected.T if corrected.shape[0] != cells.n_obs else corrected


def bbknn_embedding(cells: ad.AnnData, batch_key: str) -> np.ndarray:
    import bbknn
    from sklearn.manifold import spectral_embedding

    bbknn.bbknn(cells, batch_key=batch_key, use_rep="X_pca")
    return spectral_embedding(
        cells.obsp["connectivities"], n_components=SPECTRAL_DIMENSIONS, random_state=0
    )


METHODS = {"harmony": harmony, "bbknn": bbknn_embedding}


def main() -> None:
    method, cells_path, output_path, batch_key = sys.argv[1:5]
    cells = ad.read_h5ad(cells_path)
    cells.obs[batch_key] = cells.obs[batch_key].astype(str).astype("category")
    np.save(output_path, METHODS[method](cells, batch_key).astype(np.float32))


if __name__ == "__main__":
    main()
