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
