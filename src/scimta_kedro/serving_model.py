"""The code MLflow logs with the scimta model ("models from code": MLflow runs this file to
rebuild the model instead of unpickling an object). Loading needs scimta_kedro installed."""

import mlflow

from scimta_kedro.serving import ScimtaModel

mlflow.models.set_model(ScimtaModel())
