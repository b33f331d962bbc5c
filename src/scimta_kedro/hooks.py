"""Checks of the run's parameters before any node runs.

Each stage builds its configuration only when it starts, so without this a mistyped key or an
out-of-range value in ``training`` would surface after the data were read, preprocessed and
turned into a graph (minutes, or most of an hour at 1.3M cells).
"""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from scimta_kedro.core.params import check_parameters
from scimta_kedro.core.validate import InputError


class ParameterChecks:
    """Fails the run, before its first node, when any parameter cannot be used: an unknown
    key at any level, or a value a section's config refuses (``core/params.py``)."""

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        try:
            check_parameters(catalog.load("parameters"))
        except InputError as error:
            raise InputError(
                f"Invalid parameters: {str(error).rstrip('.')}. Fix them in "
                "conf/base/parameters*.yml, conf/local, or --params <section>.<key>=<value>; "
                "nothing was run."
            ) from error
