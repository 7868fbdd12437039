"""Storage (no Qt): files published in one step (outfile), the HDF5 layer of every file we write
(h5io) and the run file (runfile). Imports only the foundations (model.config, model.snapshot,
model.history): never training, analysis or experiments (pyproject.toml's import contracts)."""
