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
                inputs={
                    "raw_cells": "raw_cells",
                    "input_path": "params:input_path",
                    "label_key": "params:label_key",
                    "options": "params:data_processing",
                    "graph_options": "params:graph_construction",
                    "batch_key": "params:batch_key",
                    "training_options": "params:training",
                },
                outputs="validated_cells",
                name="validate_cells_node",
            ),
            Node(
                func=preprocess_cells,
                inputs=["validated_cells", "params:data_processing", "params:random_state"],
                outputs="preprocessed_cells@anndata",
                name="preprocess_cells_node",
            ),
        ]
    )
