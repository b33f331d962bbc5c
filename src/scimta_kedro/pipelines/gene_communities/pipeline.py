"""gene_communities: ``gene_graph`` + ``clustered_cells`` -> communities, their link to clusters."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    find_gene_communities,
    link_communities_to_clusters,
    plot_community_heatmap,
    plot_top_genes,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=find_gene_communities,
                inputs=[
                    "preprocessed_cells@anndata",
                    "gene_graph",
                    "params:gene_communities",
                    "params:random_state",
                ],
                outputs="gene_communities",
                name="find_gene_communities_node",
            ),
            Node(
                func=link_communities_to_clusters,
                inputs=["clustered_cells", "gene_communities", "params:gene_communities"],
                outputs=[
                    "interpreted_cells",
                    "community_cluster_scores",
                    "gene_communities_summary",
                    "gene_communities_metrics",
                ],
                name="link_communities_to_clusters_node",
            ),
            Node(
                func=plot_community_heatmap,
                inputs=[
                    "community_cluster_scores",
                    "gene_communities",
                    "gene_communities_summary",
                    "params:gene_communities",
                ],
                outputs="community_heatmap_plot",
                name="plot_community_heatmap_node",
            ),
            Node(
                func=plot_top_genes,
                inputs=[
                    "interpreted_cells",
                    "gene_communities_summary",
                    "params:gene_communities",
                ],
                outputs="top_genes_plot",
                name="plot_top_genes_node",
            ),
        ]
    )
