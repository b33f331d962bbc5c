"""Label-free tuning: search-space checks, the molecule split, and a resumable study."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import simulate_counts
from scimta_kedro.core.tuning import (
    StudyConfig,
    TuningData,
    nested,
    parse_search_space,
    run_study,
    split_molecules,
    with_overrides,
)
from scimta_kedro.core.validate import InputError

from ..simulated import FAST, SMALL_SIMULATION
from .conftest import TINY_OBJECTIVE, TUNING_PREPROCESSING

PARAMETERS = {
    "graph_construction": {"n_neighbors": 10, "max_entries_per_row": 30},
    "training": {
        **FAST,
        "pretrain_epochs": 20,
        "finetune_epochs": 6,
        "pretrain_learning_rate": 1e-3,
    },
}
SPACE = {
    "graph_construction.n_neighbors": {"type": "int", "low": 5, "high": 15},
    "training.latent_dim": {"type": "categorical", "choices": [4, 8]},
    "training.pretrain_learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
}
# How the analysis preprocessed the cells: trials preprocess their training part the same way.
PREPROCESSING = TUNING_PREPROCESSING


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "search_space is empty"),
        ({"training.latent_size": {"type": "int", "low": 2, "high": 8}}, "is not a parameter"),
        ({"training.latent_dim": {"type": "integer", "low": 2, "high": 8}}, "'type' must be"),
        ({"training.latent_dim": {"type": "int", "low": 8, "high": 2}}, "'low' < 'high'"),
        ({"training.latent_dim": {"type": "int", "low": 2}}, "'low' < 'high'"),
        (
            {"training.dropout_rate": {"type": "float", "low": 0.0, "high": 0.5, "log": True}},
            "log: true needs low > 0",
        ),
        ({"training.likelihood": {"type": "categorical", "choices": []}}, "non-empty 'choices'"),
    ],
)
def test_bad_search_space_entries_are_named(space, message):
    with pytest.raises(InputError, match=message):
        parameters = {"training": {"latent_dim": 8, "dropout_rate": 0.2, "likelihood": "nb"}}
        parse_search_space(space, parameters)


def test_overrides_set_dotted_parameters_without_touching_the_original():
    updated = with_overrides(PARAMETERS, {"training.latent_dim": 4})
    assert updated["training"]["latent_dim"] == 4
    assert PARAMETERS["training"]["latent_dim"] == 8
    assert nested({"training.latent_dim": np.int64(4), "graph_construction.surf_steps": 3}) == {
        "graph_construction": {"surf_steps": 3},
        "training": {"latent_dim": 4},
    }


def test_molecule_split_adds_up_and_holds_out_the_asked_fraction():
    counts = sp.random(200, 50, density=0.3, format="csr", random_state=0)
    counts.data = np.ceil(counts.data * 20)
    training, heldout = split_molecules(counts, 0.1, random_state=0)
    np.testing.assert_array_equal((training + heldout).toarray(), counts.toarray())
    assert heldout.sum() / counts.sum() == pytest.approx(0.1, abs=0.01)
    again, _ = split_molecules(counts, 0.1, random_state=0)
    assert (again != training).nnz == 0


def test_study_starts_from_the_current_parameters_and_resumes(tuning_data, tmp_path):
    storage = f"sqlite:///{tmp_path / 'not_yet_made' / 'study.db'}"
    dimensions = parse_search_space(SPACE, PARAMETERS)
    finished = []

    def study(n_trials):
        return run_study(
            tuning_data,
            dimensions,
            PARAMETERS,
            objective_config=TINY_OBJECTIVE,
            study_config=StudyConfig(n_trials=n_trials, storage=storage, study_name="test"),
            on_trial_finished=lambda trial, result: finished.append((trial.number, result)),
        )

    first = study(2)
    assert [number for number, _ in finished] == [0, 1]
    assert first.trials[0].params == {
        "graph_construction.n_neighbors": 10,
        "training.latent_dim": 8,
        "training.pretrain_learning_rate": pytest.approx(1e-3),
    }
    result = finished[0][1]
    assert result.objective == pytest.approx(
        result.likelihood_gain + TINY_OBJECTIVE.silhouette_weight * result.silhouette
    )
    assert result.clusters.shape == (tuning_data.features.shape[0],)
    resumed = study(3)  # an interrupted study continues: only the third trial runs
    assert [number for number, _ in finished] == [0, 1, 2]
    assert len(resumed.trials) == 3


def test_trials_on_batched_data_train_batch_aware_and_score_held_out_counts():
    from dataclasses import replace

    from scimta_kedro.core.simulate import BATCH_KEY
    from scimta_kedro.core.tuning import evaluate_parameters

    simulated = replace(SMALL_SIMULATION, n_batches=2, batch_log_fold_sd=0.5)
    cells = preprocess_counts(
        simulate_counts(simulated),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    batches = cells.obs[BATCH_KEY].astype(str).to_numpy()
    data = TuningData.from_counts(
        cells.layers[COUNTS_LAYER], TINY_OBJECTIVE, PREPROCESSING, batches
    )
    result = evaluate_parameters(
        data,
        PARAMETERS["graph_construction"],
        {**PARAMETERS["training"], "batch_penalty_weight": 1.0},
        TINY_OBJECTIVE,
    )
    # The trial's decoder is conditioned on the batches (it raises when decoding without
    # them), so scoring the held-out counts had to pass each cell's batch.
    assert np.isfinite([result.objective, result.likelihood_gain, result.silhouette]).all()
    assert result.clusters.shape == (cells.n_obs,)
