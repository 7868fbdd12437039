"""Experiments (no Qt): many runs and their results. Hyperparameter sweeps (sweep), dataset-size
sweeps (datasize), running either on a Ray cluster (cluster), and the data files other tools
read (datafiles: a run's arrays, a sweep's table). The top of model/: it may import every other
subpackage, and none imports it (pyproject.toml's import contracts)."""
