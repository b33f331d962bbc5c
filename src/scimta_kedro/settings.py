"""Kedro project settings.

kedro-mlflow registers its hooks through its entry point; ours quiet the logs, check the
parameters and lock the project folder before the first node, log the model, record each
stage's cost and import umap-learn while the model trains (hooks.py).
"""

from kedro.config import OmegaConfigLoader

from scimta_kedro.startup import import_tensorflow_quietly

# A Kedro session imports TensorFlow (the training and imputation nodes, the model's
# dataset): first, without its start-up notices. `import scimta_kedro` alone does not.
import_tensorflow_quietly()

# The catalog loads the saved model (kedro run --pipelines imputation): its classes must be
# registered with Keras first.
import scimta_kedro.core.nn.model  # noqa: E402, F401
from scimta_kedro.hooks import (  # noqa: E402
    FigureTracking,
    ImportAhead,
    ModelTracking,
    QuickExit,
    QuietLogs,
    RunChecks,
    StageCosts,
    unwrap_logs_in_files,
)

unwrap_logs_in_files()

HOOKS = (
    QuietLogs(),
    RunChecks(),
    ModelTracking(),
    FigureTracking(),
    StageCosts(),
    ImportAhead(),
    QuickExit(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "mlflow": ["mlflow*", "mlflow*/**"],
    },
    # conf/local (or another env) may override single keys such as training.latent_dim
    # without repeating the rest of the block.
    "merge_strategy": {"parameters": "soft"},
}
