"""scimta-kedro: interpretable multi-task analysis of single-cell RNA-seq as a Kedro project.

The method on an AnnData, without Kedro::

    import scimta_kedro as st

    cells = st.pp.setup_anndata(adata, batch_key=None)
    cells = st.pp.preprocess(cells)
    st.tl.cell_graph(cells)
    model = st.tl.fit(cells)
    st.tl.cluster(cells)  # obs["scimta_cluster"]
"""

from .startup import quiet_upstream_warnings

quiet_upstream_warnings()

from . import pp, tl  # noqa: E402

__version__ = "0.1.0"

__all__ = ["pp", "tl"]
