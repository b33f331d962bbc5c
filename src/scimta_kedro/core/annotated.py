"""AnnData helpers that keep large matrices shared instead of copied."""

from __future__ import annotations

import copy

import anndata as ad


def shallow_copy(adata: ad.AnnData) -> ad.AnnData:
    """A new AnnData with its own annotations that shares the matrices of ``adata``.

    Adding or replacing columns of ``obs``/``var``, entries of ``uns``, ``obsm``, ``varm``,
    ``obsp`` or ``layers`` of the result leaves ``adata`` as it was; ``X`` and the arrays
    inside those mappings are the same objects, not copies (``adata.copy()`` would double
    the memory of a million cells' counts). Do not change those arrays in place.
    """
    return ad.AnnData(
        X=adata.X,
        obs=adata.obs.copy(),
        var=adata.var.copy(),
        uns=copy.deepcopy(dict(adata.uns)),
        obsm=dict(adata.obsm),
        varm=dict(adata.varm),
        obsp=dict(adata.obsp),
        varp=dict(adata.varp),
        layers=dict(adata.layers),
    )
