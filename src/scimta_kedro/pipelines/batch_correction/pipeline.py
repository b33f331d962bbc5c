"""batch_correction: ``clustered_cells`` -> batch-mixing metrics, summary and UMAPs.

The correction itself happens where the model is built (a batch-balanced cell graph in
graph_construction; a batch-conditioned decoder and an MMD penalty in training) whenever
``batch_key`` is set; this stage measures it against the uncorrected PCA.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_batch_correction, plot_batch_umaps


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=evaluate_batch_correction,
                inputs=["clustered_cells", "params:batch_correction", "params:random_state"],
                outputs=["batch_correction_metrics", "batch_correction_summary"],
                name="evaluate_batch_correction_node",
            ),
            Node(
                func=plot_batch_umaps,
                inputs="clustered_cells",
                outputs="batch_umap_plot",
                name="plot_batch_umaps_node",
            ),
        ]
    )
