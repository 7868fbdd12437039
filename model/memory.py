"""Memory bounds that training and analysis share (no Qt, no numpy).

``CHUNK_ELEMS``: the target size, in elements, of the float64 temporaries of chunked loops.
Analysis chunks every n x n or n x pixels temporary to it (model.analysis.geometry, model.analysis.separability),
and the training side's memory estimate counts two such chunks for the analysis of a held
snapshot (model.training.engine.analysis_bytes): one number, here, so that the estimate follows the
chunking. It lives below both so that training never imports analysis.
"""
from __future__ import annotations

#: Target size (elements) of the float64 temporaries in chunked loops (32 MB).
CHUNK_ELEMS = 1 << 22

__all__ = ["CHUNK_ELEMS"]
