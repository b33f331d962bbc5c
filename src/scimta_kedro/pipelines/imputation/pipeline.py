"""imputation: the trained model and its latent codes -> ``imputed_cells``."""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_imputation, impute_cells


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=impute_cells,
                inputs={
                    "preprocessed_cells": "preprocessed_cells@anndata",
                    "embedded_cells": "embedded_cells",
                    "cell_graph": "cell_graph",
                    "scimta_model": "scimta_model",
                    "options": "params:imputation",
                },
                outputs="imputed_cells",
                name="impute_cells_node",
            ),
            Node(
                func=evaluate_imputation,
                inputs="imputed_cells",
                outputs="imputation_metrics",
                name="evaluate_imputation_node",
            ),
        ]
    )
