"""scimta-kedro: interpretable multi-task analysis of single-cell RNA-seq as a Kedro project.

The method on an AnnData, without Kedro::

    import scimta_kedro as st

    cells = st.pp.setup_anndata(adata, batch_key=None)
    cells = st.pp.preprocess(cells)
    st.tl.cell_graph(cells)
    model = st.tl.fit(cells)
    st.tl.cluster(cells)  # obs["scimta_cluster"]
"""

import os

# Before TensorFlow is first imported (by pp and tl): its C++ INFO and WARNING notices would
# otherwise fill every run and notebook; a user's own setting wins. (The two lines TensorFlow
# writes before its logging starts, oneDNN's notice among them, ignore this setting.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import pp, tl  # noqa: E402

__version__ = "0.1.0"

__all__ = ["pp", "tl"]
