"""Where Dask work runs: an existing cluster's scheduler, or a local cluster started here.

Two stages scale out on Dask (``distributed``): the tuning trials (:mod:`.tuning_dask`) and
the large-file preprocessing (:mod:`.dask_preprocess`). Both take a :class:`DaskConfig` and
open a client with :func:`dask_client`, which closes what it started, and only that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .value_checks import check_ranges

logger = logging.getLogger(__name__)

# A worker runs one task at a time on one thread; TensorFlow, BLAS and OpenMP inside it
# then use one core each instead of every core of the machine per worker.
ONE_THREAD_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


@dataclass(frozen=True)
class DaskConfig:
    """A Dask cluster to run on; both unset: no Dask (the work runs in this process).

    Attributes
    ----------
    scheduler_address
        Address of a running scheduler (``tcp://host:8786``, from ``dask scheduler``); its
        workers need this project installed (``pip install -e .`` of the same commit).
    n_workers
        Start a ``distributed.LocalCluster`` of this many worker processes, one thread each,
        for the length of the stage.
    memory_limit
        Memory of each local worker (``"4GiB"``; ``"auto"``: the machine's memory shared
        out). Ignored with ``scheduler_address``: the workers were started with their own.
    """

    scheduler_address: str | None = None
    n_workers: int | None = None
    memory_limit: str = "auto"

    def __post_init__(self) -> None:
        if self.n_workers is not None:
            check_ranges(self, at_least={"n_workers": 1})
        if self.scheduler_address and self.n_workers is not None:
            raise ValueError(
                "scheduler_address and n_workers are both set: give the address of a running "
                "cluster, or a number of local workers, not both."
            )

    @property
    def enabled(self) -> bool:
        return bool(self.scheduler_address) or self.n_workers is not None


@contextmanager
def dask_client(config: DaskConfig) -> Iterator:
    """A ``distributed.Client`` on the configured cluster, the default scheduler of Dask
    inside the block; a local cluster started here is shut down on leaving it."""
    from distributed import Client, LocalCluster

    if config.scheduler_address:
        logger.info("Connecting to the Dask scheduler at %s.", config.scheduler_address)
        client = Client(config.scheduler_address, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    logger.info("Starting a local Dask cluster of %d workers, one thread each.", config.n_workers)
    cluster = LocalCluster(
        n_workers=config.n_workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=config.memory_limit,
        dashboard_address=None,
        env=ONE_THREAD_ENVIRONMENT,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def worker_count(client) -> int:
    """Threads of the cluster's workers: how many tasks run at once."""
    return max(sum(client.nthreads().values()), 1)
