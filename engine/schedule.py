"""Few-step flow-matching schedule of Self-Forcing: shifted sigmas, warped step list, x0 prediction."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import EchoError

TRAIN_STEPS = 1000


def shifted_timesteps(shift: float) -> torch.Tensor:
    """The 1000 training timesteps after the shift, plus a trailing 0 (float64)."""
    sigma = torch.linspace(1.0, 0.0, TRAIN_STEPS + 1, dtype=torch.float64)[:-1]
    sigma = shift * sigma / (1 + (shift - 1) * sigma)
    return torch.cat([sigma * TRAIN_STEPS, torch.zeros(1, dtype=torch.float64)])


@dataclass(frozen=True)
class FlowSchedule:
    """steps: the user's list (e.g. 1000, 750, 500, 250); warp maps each through the shifted grid."""

    steps: tuple[float, ...] = (1000, 750, 500, 250)
    shift: float = 5.0
    warp: bool = True

    def __post_init__(self):
        if not self.steps:
            raise EchoError("the step list is empty; give at least one timestep such as 1000")
        bad = [s for s in self.steps if not 0 < s <= TRAIN_STEPS]
        if bad:
            raise EchoError(f"timesteps must lie in (0, 1000]; got {bad}")
        if self.shift <= 0:
            raise EchoError(f"shift must be positive, got {self.shift}")

    def timesteps(self) -> list[float]:
        if not self.warp:
            return [float(s) for s in self.steps]
        grid = shifted_timesteps(self.shift)
        return [float(grid[TRAIN_STEPS - int(round(s))]) for s in self.steps]

    @staticmethod
    def sigma(t: float) -> float:
        return t / TRAIN_STEPS


def predict_x0(x_t: torch.Tensor, velocity: torch.Tensor, sigma: float) -> torch.Tensor:
    """x0 = x_t - sigma * v (flow matching, v = noise - x0), in float64 as Self-Forcing does."""
    return (x_t.double() - sigma * velocity.double()).to(x_t.dtype)


def renoise(x0: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
    """x_sigma = (1 - sigma) x0 + sigma * noise."""
    return ((1 - sigma) * x0.double() + sigma * noise.double()).to(x0.dtype)
