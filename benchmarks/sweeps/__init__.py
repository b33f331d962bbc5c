"""Label-free sweeps that chose the defaults, each with a leave-one-dataset-out view:
``python -m benchmarks.sweeps.<name>``."""
