"""Checks of the run's parameters before any node runs.

Each stage builds its configuration only when it starts, so without this a mistyped key or an
out-of-range value in ``training`` would surface after the data were read, preprocessed and
turned into a graph (minutes, or most of an hour at 1.3M cells).
"""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from scimta_kedro.core.validate import InputError
from scimta_kedro.pipelines.data_processing.nodes import preprocess_config
from scimta_kedro.pipelines.graph_construction.nodes import cell_graph_config, gene_graph_config
from scimta_kedro.pipelines.training.nodes import training_config


def _graphs(options, random_state):
    cell_graph_config(options, random_state)
    gene_graph_config(options["gene_graph"], random_state)


# Parameter section -> the builders its nodes configure themselves with.
SECTION_CHECKS = {
    "data_processing": preprocess_config,
    "graph_construction": _graphs,
    "training": training_config,
}


class ParameterChecks:
    """Fails the run, before its first node, when a section it uses cannot be configured."""

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        needed = pipeline.inputs()
        random_state = catalog.load("params:random_state")
        for section, check in SECTION_CHECKS.items():
            if f"params:{section}" not in needed:
                continue
            try:
                check(catalog.load(f"params:{section}"), random_state)
            except (TypeError, ValueError) as error:
                reason = str(error).rstrip(".")
                raise InputError(
                    f"Parameter section '{section}' is invalid: {reason}. Fix it in "
                    f"conf/base/parameters_{section}.yml, conf/local, or --params "
                    f"{section}.<key>=<value>; nothing was run."
                ) from error
