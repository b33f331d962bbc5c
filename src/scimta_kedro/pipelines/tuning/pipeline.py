"""tuning: ``preprocessed_cells`` -> best parameters (``conf/tuned``), trials, plots."""

from kedro.pipeline import Node, Pipeline

from .nodes import plot_optimisation_history, plot_parameter_importances, tune_hyperparameters


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=tune_hyperparameters,
                inputs={
                    "preprocessed_cells": "preprocessed_cells@counts",
                    "tuning_options": "params:tuning",
                    "graph_options": "params:graph_construction",
                    "training_options": "params:training",
                    "random_state": "params:random_state",
                },
                outputs=["tuned_parameters", "tuning_trials", "tuning_study", "tuning_metrics"],
                name="tune_hyperparameters_node",
            ),
            Node(
                func=plot_optimisation_history,
                inputs="tuning_study",
                outputs="optimisation_history_plot",
                name="plot_optimisation_history_node",
            ),
            Node(
                func=plot_parameter_importances,
                inputs="tuning_study",
                outputs="parameter_importances_plot",
                name="plot_parameter_importances_node",
            ),
        ]
    )
