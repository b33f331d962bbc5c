"""clustering: ``embedded_cells`` -> ``clustered_cells``, metrics, summary and UMAP plot."""

from kedro.pipeline import Node, Pipeline

from .nodes import assign_clusters, evaluate_clusters, plot_umap


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=assign_clusters,
                inputs=[
                    "preprocessed_cells@anndata",
                    "embedded_cells",
                    "params:clustering",
                    "params:random_state",
                ],
                outputs="clustered_cells",
                name="assign_clusters_node",
            ),
            Node(
                func=evaluate_clusters,
                inputs=["clustered_cells", "params:clustering", "params:random_state"],
                outputs=["clustering_metrics", "cluster_summary"],
                name="evaluate_clusters_node",
            ),
            Node(
                func=plot_umap,
                inputs="clustered_cells",
                outputs="umap_plot",
                name="plot_umap_node",
            ),
        ]
    )
