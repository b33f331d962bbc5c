"""training as a Kedro slice: the model, the embedded cells and the loss history."""

from __future__ import annotations

import numpy as np

from scimta_kedro.core import keys


def test_training_embeds_every_cell_and_logs_falling_losses(tiny_run):
    parameters, outputs = tiny_run
    embedded, history = outputs["embedded_cells"], outputs["training_history"]
    n_cells = outputs["preprocessed_cells"].n_obs
    assert embedded.obsm[keys.LATENT].shape == (n_cells, parameters["training"]["latent_dim"])
    soft = embedded.obsm[keys.SOFT_ASSIGNMENT]
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    assert soft.shape[1] == embedded.obs[keys.INITIAL_CLUSTER].nunique()
    losses = history["pretrain_total_loss"]
    assert len(losses) == parameters["training"]["pretrain_epochs"]
    assert losses[-1] < losses[0]
    assert embedded.uns[keys.FIT]["params"]["latent_dim"] == 8
    assert outputs["scimta_model"].latent_dim == 8
