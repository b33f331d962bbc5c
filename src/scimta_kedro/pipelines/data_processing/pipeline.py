"""data_processing: raw counts (or simulated cells) -> ``preprocessed_cells``."""

from kedro.pipeline import Node, Pipeline

from .nodes import load_cells, preprocess_cells, validate_cells


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=load_cells,
                inputs=["params:input_path", "params:data_processing", "params:random_state"],
                outputs="raw_cells",
                name="load_cells_node",
            ),
            Node(
                func=validate_cells,
                inputs=[
                    "raw_cells",
                    "params:input_path",
                    "params:label_key",
                    "params:data_processing",
                    "params:graph_construction",
                ],
                outputs="validated_cells",
                name="validate_cells_node",
            ),
            Node(
                func=preprocess_cells,
                inputs=["validated_cells", "params:data_processing", "params:random_state"],
                outputs="preprocessed_cells",
                name="preprocess_cells_node",
            ),
        ]
    )
