"""An exponential moving average of the network's weights (IKE+, `[Network Module] weight_average`).

A network trained from scratch on one video's noisy pseudo labels wanders from step to step; the
average of its recent weights (Polyak averaging, as the "mean teacher" of Tarvainen and Valpola,
NeurIPS 2017) predicts more steadily than the last step's. The decay warms up as TensorFlow's
ExponentialMovingAverage does with num_updates: min(decay, (1 + t) / (10 + t)) at step t, so that
the random initial weights are soon forgotten. The model has no buffers that training changes
(its InstanceNorms keep no running statistics), so averaging the parameters is the whole of it.
"""
import copy

import torch
from torch import nn


class WeightAverage:
    """The running average of `model`'s parameters; `.model` is a copy of the model that holds it."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.steps = 0
        self.model = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module):
        """Move the average towards `model`'s current parameters (call after every optimizer step)."""
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        averaged = list(self.model.parameters())
        current = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(averaged, current, 1 - decay)
