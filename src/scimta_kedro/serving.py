"""The trained model as an MLflow model: ``mlflow.pyfunc.load_model("runs:/<id>/scimta_model")``.

The encoder is a graph convolution network: a cell's code depends on its neighbours, so the
model cannot take cells one by one. Its ``predict`` takes what the training run gave the
encoder, as named arrays:

* ``features``: the encoder input of the cells ``(n_cells, n_features)``, float32: the run's
  ``training.encoder_input`` (by default ``obsm["X_pca"]`` of ``preprocessed_cells``; new
  cells must be projected onto the run's PCA loadings, ``varm["PCs"]``, after the run's
  normalisation, scaling and HVGs);
* ``graph_row``, ``graph_col``, ``graph_value``: the cells' propagation graph in COO form
  (``obsp["scimta_connectivities"]`` of ``cell_graph``, as ``st.tl.cell_graph`` builds it).

and returns ``latent`` ``(n_cells, latent_dim)`` and ``cluster`` ``(n_cells,)``, the DEC
cluster of highest soft assignment (DEC's own order; ``clustered_cells`` relabels clusters by
size).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import numpy as np
import scipy.sparse as sp
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

KERAS_ARTIFACT = "keras_model"
REGISTERED_NAME = "scimta_model"
INPUT_NAMES = ("features", "graph_row", "graph_col", "graph_value")
# What loading the model imports, pinned to this environment's versions. Listed, because
# MLflow's inference of them loads the model in a child process (about 8 s a run) and still
# misses TensorFlow and Keras, which the model imports only when it is loaded.
MODEL_DISTRIBUTIONS = ("scimta-kedro", "mlflow", "keras", "numpy", "scipy")
TENSORFLOW_DISTRIBUTIONS = ("tensorflow-cpu", "tensorflow")


def model_requirements() -> list[str]:
    """The pip requirements logged with the model: its imports at this environment's versions."""
    pins = [f"{name}=={version(name)}" for name in MODEL_DISTRIBUTIONS]
    for name in TENSORFLOW_DISTRIBUTIONS:
        try:
            return [*pins, f"{name}=={version(name)}"]
        except PackageNotFoundError:
            continue
    raise PackageNotFoundError("tensorflow-cpu or tensorflow (the model's backend)")


def graph_inputs(features, connectivities) -> dict[str, np.ndarray]:
    """The ``predict`` input of cells with their encoder features and propagation graph."""
    graph = sp.coo_matrix(connectivities)
    return {
        "features": np.asarray(features, dtype=np.float32),
        "graph_row": graph.row.astype(np.int64),
        "graph_col": graph.col.astype(np.int64),
        "graph_value": graph.data.astype(np.float32),
    }


class ScimtaModel(mlflow.pyfunc.PythonModel):
    """Latent codes and clusters of cells given with their graph (module docstring)."""

    # MLflow's type-hint validation takes list[...] inputs only, and this model takes named
    # arrays with a graph: the logged signature and input example check the input instead.
    # Without this opt-out (MLflow's own, as its ChatModel uses it), defining the class warns
    # "Add type hints to the `predict` method" wherever it is first imported: loading a
    # logged model with mlflow.pyfunc.load_model, for one.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        import keras

        import scimta_kedro.core.nn.model  # noqa: F401  (registers its layers with Keras)

        self.model = keras.models.load_model(context.artifacts[KERAS_ARTIFACT])

    def predict(self, context, model_input, params=None) -> dict[str, np.ndarray]:
        missing = [name for name in INPUT_NAMES if name not in model_input]
        if missing:
            raise ValueError(
                f"the scimta model needs {list(INPUT_NAMES)}; missing {missing}. Build them "
                "with scimta_kedro.serving.graph_inputs(features, connectivities)."
            )
        features = np.asarray(model_input["features"], dtype=np.float32)
        n_cells = features.shape[0]
        graph = sp.csr_matrix(
            (
                np.asarray(model_input["graph_value"], dtype=np.float32),
                (np.asarray(model_input["graph_row"]), np.asarray(model_input["graph_col"])),
            ),
            shape=(n_cells, n_cells),
        )
        latent = self.model.encode_in_row_blocks(features, graph)
        result = {"latent": latent.astype(np.float32)}
        if self.model.clustering is not None:
            soft = np.asarray(self.model.soft_assign(latent))
            result["cluster"] = soft.argmax(axis=1).astype(np.int64)
        return result


def input_example(features, connectivities, n_cells: int = 20) -> dict[str, np.ndarray]:
    """The first ``n_cells`` cells and the graph among them: the logged example's format."""
    n_cells = min(n_cells, np.shape(features)[0])
    graph = sp.csr_matrix(connectivities)[:n_cells, :n_cells]
    return graph_inputs(np.asarray(features)[:n_cells], graph)


@contextmanager
def artifact_progress_bars_off() -> Iterator[None]:
    """MLflow's artifact progress bars off inside the block (the variable restored after).

    Logging the model copies its one local artifact through MLflow's downloader, whose bar
    ("Downloading artifacts ... 1/1") would otherwise sit in every run's log.
    """
    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    saved = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def log_model(keras_path: Path, features, connectivities) -> None:
    """Log the saved Keras model as ``scimta_model`` (pyfunc) of the active MLflow run, with
    the signature and input example of this run's cells, and register it as a new version of
    the registered model ``scimta_model``."""
    from mlflow.models import infer_signature

    example = input_example(features, connectivities)

    class _Context:  # predict on the example to infer the output schema
        artifacts = {KERAS_ARTIFACT: str(keras_path)}

    # A loaded instance infers the signature; the model is logged as code
    # (serving_model.py), its weights as the artifact.
    loaded = ScimtaModel()
    loaded.load_context(_Context())
    signature = infer_signature(example, loaded.predict(None, example))
    with artifact_progress_bars_off():
        mlflow.pyfunc.log_model(
            name="scimta_model",
            python_model=str(Path(__file__).with_name("serving_model.py")),
            # One registry version per run: promote, compare or load "models:/scimta_model/<v>".
            registered_model_name=REGISTERED_NAME,
            artifacts={KERAS_ARTIFACT: str(keras_path)},
            pip_requirements=model_requirements(),
            signature=signature,
            input_example=example,
        )
