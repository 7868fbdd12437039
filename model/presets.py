"""Presets: named experiments a researcher reaches for, each a ``TrainConfig`` of the
schema (model.config), shared by the command line (``--preset``), the Python API and
the window's Presets menu. One declaration per preset, here; nothing else lists them.

Each preset says what it reproduces and, where the outcome depends on the optimiser or
the seed, what was measured: the seed's clean symmetric failure (one dead feature at
b = 1/n beside a regular hexagon, loss 6/49) comes from SGD with momentum 0.9 and no
weight decay at seed 10, not from AdamW (its usual n = 7 failure is a weak feature
beside two radii).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from model.config import ConfigError, TrainConfig, importance_decay, smdd_config

#: SMDD's T when a preset asks for one and none is given.
SMDD_DEFAULT_T = 100


@dataclass(frozen=True)
class Preset:
    """A named experiment: ``build(**params)`` gives its validated TrainConfig.

    name: the key (command line, API, settings); title: the menu's words; summary: one
    sentence of what it shows; reproduces: what the trained model is expected to show
    and how that was obtained; params: the preset's own parameters (name -> default)."""

    name: str
    title: str
    summary: str
    reproduces: str
    build_fn: Callable[..., TrainConfig]
    params: dict[str, Any] = field(default_factory=dict)

    def build(self, **params: Any) -> TrainConfig:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            allowed = ", ".join(self.params) or "none"
            raise ConfigError("preset", f"{self.name} takes no parameter {unknown[0]!r} (allowed: {allowed})")
        args = {**self.params, **params}
        return self.build_fn(**args).validate()


def _seed_failure() -> TrainConfig:
    return TrainConfig(n=7, m=2, optimizer="sgd", momentum=0.9, weight_decay=0.0, lr=1e-3, seed=10, steps=25_000)


def _henighan(n: int = 7) -> TrainConfig:
    return TrainConfig(n=int(n), m=2, init="analytic", steps=2_000)


def _tms_5_2() -> TrainConfig:
    return TrainConfig(n=5, m=2, data="sparse", sparsity=0.9, examples=None, batch=1024,
                       importance=importance_decay(5, 0.9), optimizer="adamw", lr=1e-3, steps=10_000)


def _tms_20_5() -> TrainConfig:
    return TrainConfig(n=20, m=5, data="sparse", sparsity=0.9, examples=None, batch=1024,
                       importance=importance_decay(20, 0.7), optimizer="adamw", lr=1e-3, steps=10_000)


def _smdd(T: int = SMDD_DEFAULT_T) -> TrainConfig:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ConfigError("T", f"must be a whole number of training examples >= 1, got {T!r}")
    return smdd_config(examples=int(T))


_ALL: tuple[Preset, ...] = (
    Preset("seed-failure", "The seed's symmetric failure (n = 7, SGD)",
           "n = 7, m = 2, one-hot, SGD momentum 0.9, no weight decay, seed 10, 25,000 steps",
           "feature 1 never learnt (W_1 -> 0, b_1 -> 1/7) beside a regular hexagon; loss -> 6/49. AdamW at "
           "n = 7 fails differently (a weak feature beside two radii), so this preset uses SGD",
           _seed_failure),
    Preset("henighan", "Henighan's n-gon (exact solution)",
           "m = 2, one-hot, started at Henighan's closed form W_i = r(cos 2pi i/n, sin 2pi i/n)",
           "ReLU(W^T W + b) = I: every feature reconstructed, loss 0, a regular n-gon from step 0",
           _henighan, {"n": 7}),
    Preset("tms-5-2", "TMS 5 -> 2 with importance",
           "n = 5, m = 2, sparse fresh batches S = 0.9, importance 0.9^i, AdamW, 10,000 steps",
           "Toy Models of Superposition's introductory setting: the important features take the latent plane",
           _tms_5_2),
    Preset("tms-20-5", "TMS 20 -> 5 with importance",
           "n = 20, m = 5, sparse fresh batches S = 0.9, importance 0.7^i, AdamW, 10,000 steps",
           "Toy Models of Superposition's main setting: features in superposition by importance",
           _tms_20_5),
    Preset("smdd", "SMDD at one dataset size T",
           "n = 10,000, m = 2, S = 0.999, T training examples, full-batch AdamW, warm-up then cosine, 50,000 steps",
           "Superposition, Memorization and Double Descent at one size: T-gons of the training examples at small T",
           _smdd, {"T": SMDD_DEFAULT_T}),
)

#: name -> Preset, in menu order.
PRESETS: dict[str, Preset] = {p.name: p for p in _ALL}


def get(name: str) -> Preset:
    """The preset called ``name``; ConfigError naming the allowed names otherwise."""
    p = PRESETS.get(str(name).strip().lower())
    if p is None:
        raise ConfigError("preset", f"must be one of {', '.join(PRESETS)}, got {name!r}")
    return p


def preset_config(name: str, params: dict[str, Any] | None = None, **changes: Any) -> TrainConfig:
    """The validated config of preset ``name`` (with its ``params``), then ``changes``
    (any TrainConfig fields, e.g. steps=1000) applied and validated again."""
    cfg = get(name).build(**(params or {}))
    return cfg.replace(**changes).validate() if changes else cfg


__all__ = ["PRESETS", "SMDD_DEFAULT_T", "Preset", "get", "preset_config"]
