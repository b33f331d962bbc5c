"""Label-free hyperparameter tuning: an Optuna study whose objective never sees labels.

Objective of a trial (maximised), in the spirit of molecular cross-validation (Batson et al.
2019): every count is split at random into a training part (``1 - heldout_fraction`` of its
molecules) and a held-out part. The trial preprocesses and trains on the training part only,
then scores

* ``likelihood_gain``: ``1 - NLL_model / NLL_null`` of the held-out counts, where ``NLL_model``
  is the negative binomial NLL under the trained decoder (mean per matrix entry, on up to
  ``evaluation_cells`` cells) and ``NLL_null`` the Poisson NLL of a model that knows only each
  gene's share of the counts. Thinning a negative binomial keeps it negative binomial with the
  same shape, so the decoder's dispersion applies to the held-out part as it is.
* ``silhouette`` of the trial's clusters on its latent space (a cluster-quality term).

``objective = likelihood_gain + silhouette_weight * silhouette``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import optuna
import scipy.sparse as sp
from scipy.special import gammaln
from sklearn.metrics import silhouette_score

from .batches import batch_one_hot
from .graphs import GraphConfig, build_ppmi_graph
from .preprocess import PreprocessConfig, log_normalize, scale_and_pca
from .train import GraphData, TrainingConfig
from .validate import InputError

logger = logging.getLogger(__name__)

_KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class SearchDimension:
    """One tuned parameter: a dotted name in the project's parameters and its range."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


def _lookup(parameters: dict, dotted: str) -> Any:
    value = parameters
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(dotted)
        value = value[key]
    return value


def parse_search_space(
    search_space: dict[str, dict], parameters: dict[str, Any]
) -> list[SearchDimension]:
    """Validate the YAML search space against the project's parameters.

    Each entry is ``<pipeline>.<key>: {type: int|float|categorical, low, high, log} `` or
    ``{type: categorical, choices: [...]}``; the name must be an existing parameter.

    Raises
    ------
    InputError
        Naming the entry and what is wrong with it.
    """
    if not search_space:
        raise InputError("tuning.search_space is empty: list at least one parameter to tune.")
    dimensions = []
    for name, spec in search_space.items():
        where = f"tuning.search_space['{name}']"
        try:
            _lookup(parameters, name)
        except KeyError:
            raise InputError(
                f"{where}: '{name}' is not a parameter of the project. Use a dotted name such "
                "as 'training.latent_dim' or 'graph_construction.n_neighbors'."
            ) from None
        if not isinstance(spec, dict) or spec.get("type") not in _KINDS:
            raise InputError(f"{where}: 'type' must be one of {list(_KINDS)}, got {spec!r}.")
        if spec["type"] == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise InputError(f"{where}: a categorical entry needs a non-empty 'choices' list.")
            dimensions.append(SearchDimension(name, "categorical", choices=tuple(choices)))
            continue
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(bound, int | float) for bound in (low, high)) or low >= high:
            raise InputError(
                f"{where}: needs numbers 'low' < 'high', got low={low!r}, high={high!r}."
            )
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise InputError(f"{where}: log: true needs low > 0, got {low}.")
        dimensions.append(SearchDimension(name, spec["type"], float(low), float(high), log))
    return dimensions


def with_overrides(parameters: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``parameters`` with dotted ``overrides`` set."""
    updated = copy.deepcopy(parameters)
    for dotted, value in overrides.items():
        *path, key = dotted.split(".")
        target = updated
        for part in path:
            target = target[part]
        target[key] = value
    return updated


def nested(overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides as nested dicts, the shape of a Kedro parameters file."""
    tree: dict[str, Any] = {}
    for dotted, value in sorted(overrides.items()):
        *path, key = dotted.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value.item() if isinstance(value, np.generic) else value
    return tree


def split_molecules(
    counts: sp.spmatrix, heldout_fraction: float, random_state: int
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Binomial split of every count into a training and a held-out part (same sparsity)."""
    counts = sp.csr_matrix(counts, dtype=np.float32)
    rng = np.random.default_rng(random_state)
    heldout_values = rng.binomial(counts.data.astype(np.int64), heldout_fraction)
    heldout = counts.copy()
    heldout.data = heldout_values.astype(np.float32)
    training = counts.copy()
    training.data = counts.data - heldout.data
    training.eliminate_zeros()
    heldout.eliminate_zeros()
    return training, heldout


@dataclass(frozen=True)
class ObjectiveConfig:
    """Parameters of the label-free objective (see the module docstring)."""

    heldout_fraction: float = 0.1
    silhouette_weight: float = 1.0
    evaluation_cells: int = 5000
    random_state: int = 0


@dataclass
class TuningData:
    """What every trial shares: the counts split, and features of the training part."""

    training_counts: sp.csr_matrix
    heldout_counts: sp.csr_matrix
    features: np.ndarray
    evaluation_cells: np.ndarray
    null_nll: float
    batches: np.ndarray | None = None

    @classmethod
    def from_counts(
        cls,
        counts: sp.spmatrix,
        config: ObjectiveConfig,
        preprocessing: PreprocessConfig,
        batches: np.ndarray | None = None,
    ) -> TuningData:
        """Split the counts (of the HVGs) and preprocess the training part as the analysis
        preprocesses cells (``preprocessing``: normalisation, log1p, scaling, PCA; the genes
        are already chosen); ``batches`` (each cell's batch, or ``None``) makes every trial
        batch-aware as the analysis is."""
        training, heldout = split_molecules(counts, config.heldout_fraction, config.random_state)
        holder = ad.AnnData(X=training.copy())
        log_normalize(holder, preprocessing)
        scale_and_pca(holder, preprocessing)
        rng = np.random.default_rng(config.random_state)
        n_evaluated = min(config.evaluation_cells, counts.shape[0])
        cells = np.sort(rng.choice(counts.shape[0], n_evaluated, replace=False))
        gene_share = np.asarray(training.sum(axis=0)).ravel() + 1.0
        gene_share /= gene_share.sum()
        observed = heldout[cells].toarray()
        mean = np.asarray(heldout[cells].sum(axis=1)) * gene_share
        null = mean - observed * np.log(np.maximum(mean, 1e-12)) + gammaln(observed + 1.0)
        return cls(
            training, heldout, holder.obsm["X_pca"], cells, float(null.mean()), batches=batches
        )


@dataclass
class TrialResult:
    """A finished trial: the objective, its parts, and the clusters (for reporting)."""

    objective: float
    likelihood_gain: float
    silhouette: float
    n_clusters: int
    clusters: np.ndarray = field(repr=False)


def evaluate_parameters(
    data: TuningData,
    graph_options: dict[str, Any],
    training_options: dict[str, Any],
    config: ObjectiveConfig,
    on_epoch_end: Callable | None = None,
) -> TrialResult:
    """Train with the given options on the training part and score the objective."""
    # TensorFlow is imported by the first trial, not by reading the tuning config.
    from .nn.likelihoods import negative_binomial_nll
    from .train import train_graph_autoencoder

    graph = build_ppmi_graph(
        data.features,
        GraphConfig(**graph_options, random_state=config.random_state),
        data.batches,
    )
    training = TrainingConfig(**training_options, random_state=config.random_state)
    result = train_graph_autoencoder(
        GraphData.from_graph(data.features, data.training_counts, graph, data.batches),
        training,
        on_epoch_end=on_epoch_end,
    )
    cells = data.evaluation_cells
    heldout = data.heldout_counts[cells].toarray()
    batch = batch_one_hot(data.batches)[cells] if result.model.n_batches else None
    expression = result.model.decode_expression(
        result.latent[cells], heldout.sum(axis=1, keepdims=True).astype(np.float32), batch
    )
    nll = float(
        np.mean(negative_binomial_nll(heldout, expression["mean"], expression["dispersion"]))
    )
    clusters = result.soft_assignment.argmax(axis=1)
    n_clusters = int(np.unique(clusters).size)
    silhouette = (
        float(silhouette_score(result.latent[cells], clusters[cells]))
        if 1 < np.unique(clusters[cells]).size < cells.size
        else -1.0
    )
    gain = 1.0 - nll / data.null_nll
    return TrialResult(
        objective=gain + config.silhouette_weight * silhouette,
        likelihood_gain=gain,
        silhouette=silhouette,
        n_clusters=n_clusters,
        clusters=clusters,
    )


@dataclass(frozen=True)
class StudyConfig:
    """Budget, storage and pruning of the Optuna study.

    Attributes
    ----------
    n_trials
        Finished trials the study should have; a resumed study only runs the missing ones.
    timeout_minutes
        Stop starting new trials after this long (``None``: no limit).
    study_name, storage
        Optuna study name and RDB storage URL (``sqlite:///...``); ``None`` keeps the study
        in memory (not resumable).
    pruning_warmup_epochs, report_every
        Trials report their training count loss every ``report_every`` pretraining epochs;
        after the warm-up, a trial worse than the median of earlier trials at the same epoch
        is pruned (``optuna.pruners.MedianPruner``).
    random_state
        Seed of the TPE sampler.
    """

    n_trials: int = 20
    timeout_minutes: float | None = None
    study_name: str = "scimta"
    storage: str | None = None
    pruning_warmup_epochs: int = 50
    report_every: int = 10
    random_state: int = 0


_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
_SQLITE_PREFIX = "sqlite:///"


def local_storage_url(storage: str | None) -> str | None:
    """The storage URL with a SQLite path made absolute and its folder created (SQLite
    creates the file, not its folder, e.g. ``data/06_models`` when only data_processing has
    run; a local Dask scheduler opens the same file from its own process)."""
    if storage and storage.startswith(_SQLITE_PREFIX):
        path = Path(storage[len(_SQLITE_PREFIX) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return _SQLITE_PREFIX + str(path.resolve())
    return storage


def create_study(study_config: StudyConfig, storage=None) -> optuna.Study:
    """Create or load the study: maximised, TPE sampler, median pruner. ``storage`` (an
    Optuna storage object) replaces ``study_config.storage`` when given."""
    if storage is None:
        storage = local_storage_url(study_config.storage)
    return optuna.create_study(
        study_name=study_config.study_name,
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=study_config.random_state),
        pruner=pruner(study_config),
        load_if_exists=True,
    )


def pruner(study_config: StudyConfig) -> optuna.pruners.BasePruner:
    """The median pruner: after the warm-up, a trial below the median of earlier trials at
    the same epoch stops."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=3, n_warmup_steps=study_config.pruning_warmup_epochs
    )


def trials_to_run(
    study: optuna.Study,
    dimensions: list[SearchDimension],
    parameters: dict[str, Any],
    study_config: StudyConfig,
) -> int:
    """How many trials the study still needs; a new study's first trial is queued with the
    current parameters."""
    if not study.trials:
        study.enqueue_trial({dim.name: _lookup(parameters, dim.name) for dim in dimensions})
    finished = sum(trial.state in _FINISHED for trial in study.trials)
    if finished:
        logger.info("Resuming study '%s': %d trials already finished.", study.study_name, finished)
    return study_config.n_trials - finished


def suggested_options(
    trial: optuna.Trial, dimensions: list[SearchDimension], parameters: dict[str, Any]
) -> dict[str, Any]:
    """The trial's options: ``parameters`` with the values the sampler suggests."""
    return with_overrides(parameters, {dim.name: dim.suggest(trial) for dim in dimensions})


def train_and_score(
    trial: optuna.Trial,
    options: dict[str, Any],
    data: TuningData,
    objective_config: ObjectiveConfig,
    study_config: StudyConfig,
) -> TrialResult:
    """Train one trial's model, reporting the count loss to the pruner as it trains.

    Raises
    ------
    optuna.TrialPruned
        When the pruner stops the trial.
    """

    def report(phase: str, epoch: int, losses: dict[str, float]) -> None:
        if phase == "pretrain" and (epoch + 1) % study_config.report_every == 0:
            # Maximised study: report the negated count loss of the training batch.
            trial.report(-losses["expression_loss"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

    return evaluate_parameters(
        data, options["graph_construction"], options["training"], objective_config, report
    )


def record_parts(trial: optuna.Trial, result: TrialResult) -> None:
    """The objective's parts as the trial's user attributes."""
    for name in ("likelihood_gain", "silhouette", "n_clusters"):
        trial.set_user_attr(name, getattr(result, name))


# A trial raising one of these fails alone; the study goes on (Optuna's ``catch``).
TRIAL_ERRORS = (ValueError,)


def run_study(
    data: TuningData,
    dimensions: list[SearchDimension],
    parameters: dict[str, Any],
    *,
    objective_config: ObjectiveConfig,
    study_config: StudyConfig,
    on_trial_finished: Callable[[optuna.trial.FrozenTrial, TrialResult | None], None] | None = None,
) -> optuna.Study:
    """Run (or resume) the study in this process; the first trial of a new study is the
    current parameters. :func:`scimta_kedro.core.tuning_dask.run_study_on_dask` runs the
    same trials on a Dask cluster.

    ``parameters`` holds ``{"graph_construction": {...}, "training": {...}}``, the options a
    trial starts from. ``on_trial_finished(trial, result)`` is called after each trial
    (``result`` is ``None`` for a pruned or failed trial). Labels are never an input.
    """
    study = create_study(study_config)
    remaining = trials_to_run(study, dimensions, parameters, study_config)
    if remaining <= 0:
        return study
    results: dict[int, TrialResult] = {}

    def objective(trial: optuna.Trial) -> float:
        options = suggested_options(trial, dimensions, parameters)
        result = train_and_score(trial, options, data, objective_config, study_config)
        record_parts(trial, result)
        results[trial.number] = result
        return result.objective

    def finished_callback(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial_finished is not None:
            on_trial_finished(trial, results.pop(trial.number, None))

    timeout = None if study_config.timeout_minutes is None else 60 * study_config.timeout_minutes
    study.optimize(
        objective,
        n_trials=remaining,
        timeout=timeout,
        callbacks=[finished_callback],
        gc_after_trial=True,
        catch=TRIAL_ERRORS,
    )
    return study
