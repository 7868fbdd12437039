"""Analysis (no Qt): what a snapshot and a run mean. The geometry of W and its kernels, the
verdict and findings (analysis, criteria, separability), the outcome of a run (outcome, optimum,
story), perturbation probes (probe), per-feature histories, and what a view is given: the
analysis cache (analysis_provider), the typed Frame and the explorer's state. Imports the
foundations, model.storage and model.training (the outcome's decision grid; a probe trains
on); never model.experiments (pyproject.toml's import contracts)."""
