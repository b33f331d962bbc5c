"""Per-cluster quality control, and clusters that differ from the others mainly in depth.

A cluster of doublets, or of cells sequenced much deeper than the rest, can look like a cell
type: after library-size normalisation and log1p, a deeper cell has fewer zeros, so nearly
every gene, and every gene community, is a little higher in it. Real cell types differ in
depth too (on the labelled datasets a quarter of the annotated types are 2x deeper or
shallower than the rest), but they differ in some communities and not in all of them. So a
cluster is flagged only when both hold: its depth differs by ``depth_flag_ratio`` and the
median effect over all gene communities moves with it by at least ``depth_flag_shift`` z.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import keys
from .errors import InputError

# obs column written by sc.pp.filter_cells (and by the streamed path): genes detected.
GENES_PER_CELL = "n_genes"
QC_COLUMNS = [
    "cluster",
    "n_cells",
    "median_total_counts",
    "median_genes",
    "median_pct_mt",
    "depth_ratio",
]


def cluster_quality(obs: pd.DataFrame, clusters) -> pd.DataFrame:
    """One row per cluster: cells, median library size and genes per cell, and the ratio of
    the cluster's median library size to that of all other cells (``depth_ratio``).

    Needs ``obs["total_counts"]`` (written by preprocessing); genes per cell
    (``obs["n_genes"]``) and the mitochondrial share (``obs["pct_counts_mt"]``, in %) are
    reported when present, NaN otherwise.
    """
    if keys.TOTAL_COUNTS not in obs:
        raise InputError(
            f"obs['{keys.TOTAL_COUNTS}'] is missing: these cells were not preprocessed by "
            "scimta-kedro (st.pp.preprocess or the data_processing pipeline)."
        )
    clusters = np.asarray(clusters).astype(str)
    depth = obs[keys.TOTAL_COUNTS].to_numpy(dtype=float)
    genes = obs[GENES_PER_CELL].to_numpy(dtype=float) if GENES_PER_CELL in obs else None
    mt = (
        obs[keys.PCT_MITOCHONDRIAL].to_numpy(dtype=float) if keys.PCT_MITOCHONDRIAL in obs else None
    )
    rows = []
    for cluster in pd.unique(clusters):
        inside = clusters == cluster
        others = float(np.median(depth[~inside])) if (~inside).any() else np.nan
        median = float(np.median(depth[inside]))
        rows.append(
            (
                cluster,
                int(inside.sum()),
                median,
                float(np.median(genes[inside])) if genes is not None else np.nan,
                float(np.median(mt[inside])) if mt is not None else np.nan,
                median / others if others > 0 else np.nan,
            )
        )
    return pd.DataFrame(rows, columns=QC_COLUMNS)


def depth_artefacts(
    quality: pd.DataFrame, effects: pd.DataFrame, ratio: float, shift: float
) -> pd.DataFrame:
    """The rows of ``quality`` (:func:`cluster_quality`) whose cluster differs mainly in
    depth, with their ``broad_shift``: the median over communities of ``effects``' effect
    (the cluster x community table of :func:`~.communities.link_communities_to_clusters`).

    Flagged: ``depth_ratio`` at least ``ratio`` (or at most ``1 / ratio``) and a broad shift
    of at least ``shift`` in the same direction.
    """
    if not ratio > 1 or not shift >= 0:
        raise ValueError(
            f"depth_flag_ratio must be above 1 and depth_flag_shift at least 0; got {ratio} "
            f"and {shift}."
        )
    broad = effects.groupby(effects["cluster"].astype(str), observed=True)["effect"].median()
    table = quality.assign(broad_shift=quality["cluster"].astype(str).map(broad).to_numpy())
    deeper = (table["depth_ratio"] >= ratio) & (table["broad_shift"] >= shift)
    shallower = (table["depth_ratio"] <= 1 / ratio) & (table["broad_shift"] <= -shift)
    return table[deeper | shallower]


def depth_warning(row) -> str:
    """What a flagged cluster's row (of :func:`depth_artefacts`) means, for logs and
    summaries."""
    deeper = row.depth_ratio > 1
    factor = row.depth_ratio if deeper else 1 / row.depth_ratio
    return (
        f"cluster {row.cluster} ({row.n_cells} cells) is sequenced {factor:.1f}x "
        f"{'deeper' if deeper else 'shallower'} than the other cells and almost every gene "
        f"community is {'higher' if deeper else 'lower'} in it (median {row.broad_shift:+.2f} "
        "z): it may be technical (doublets, empty or damaged cells) rather than a cell type; "
        "check its markers."
    )
