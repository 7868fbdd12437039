"""Training (no Qt): the engine that trains K models at once, its compiled paths (numba kernels,
BLAS, torch) and the cost model that picks one, the data, the initial parameters, and the
recorders a run's blocks go to. Imports the foundations (model.config, model.snapshot,
model.history, model.memory) and model.storage (a run file as a recorder and as a start);
never model.analysis or model.experiments (pyproject.toml's import contracts)."""
