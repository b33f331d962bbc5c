"""training: ``preprocessed_cells`` + ``cell_graph`` -> ``scimta_model``, ``embedded_cells``."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_model,
                inputs=[
                    "preprocessed_cells@counts",
                    "cell_graph",
                    "params:training",
                    "params:random_state",
                ],
                outputs=["scimta_model", "embedded_cells", "training_history"],
                name="train_model_node",
            )
        ]
    )
