"""graph_construction: ``preprocessed_cells`` -> ``cell_graph`` and ``gene_graph``."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_cell_graph, build_gene_graph


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=build_cell_graph,
                inputs=[
                    "preprocessed_cells@annotations",
                    "params:graph_construction",
                    "params:random_state",
                ],
                outputs="cell_graph",
                name="build_cell_graph_node",
            ),
            Node(
                func=build_gene_graph,
                inputs=[
                    "preprocessed_cells@annotations",
                    "params:graph_construction",
                    "params:random_state",
                ],
                outputs="gene_graph",
                name="build_gene_graph_node",
            ),
        ]
    )
