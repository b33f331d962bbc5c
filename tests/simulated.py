"""Simulation settings shared by tests (imported by fixtures of several scopes)."""

from scimta_kedro.core.simulate import SimulationConfig

# Well separated groups: the tests check that the method recovers planted structure, so the
# structure must be there to recover at this size (300 cells, 3 groups of ~100).
SMALL_SIMULATION = SimulationConfig(
    n_cells=300,
    n_genes=400,
    n_groups=3,
    genes_per_programme=40,
    de_log_fold=2.0,
    library_log_mean=7.5,
    random_state=7,
)

# A small, quick model for tests that train.
FAST = dict(
    hidden_units=(32,),
    decoder_units=(32,),
    latent_dim=8,
    pretrain_epochs=60,
    finetune_epochs=20,
    target_update_interval=5,
    expression_batch_size=128,
    log_every=1000,
)
