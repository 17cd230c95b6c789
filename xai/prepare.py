"""Make a model safe for Captum's hook-based methods — once, where models are loaded.

Two torchvision habits break guided backpropagation and DeconvNet:

* ``nn.ReLU(inplace=True)``: Captum's backward hooks see a view modified in
  place ("Output 0 of BackwardHookFunctionBackward is a view and is being
  modified inplace"). Every ReLU is switched to ``inplace=False``.
* each ``BasicBlock`` calls its one ReLU module twice (after ``bn1`` and after
  the residual sum), so a module hook fires twice per forward pass and the
  two uses cannot be told apart. Each block gets a second ReLU module for the
  second use.

Neither change alters what the model computes (a test checks outputs are
identical to the bit). :func:`captum_ready` is idempotent.
"""

from __future__ import annotations

import types

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

_READY_FLAG = "_captum_ready"


def _basic_block_forward(self: BasicBlock, x: torch.Tensor) -> torch.Tensor:
    """torchvision's BasicBlock.forward with a separate ReLU module for the second use."""
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(out + identity)


def captum_ready(model: nn.Module) -> nn.Module:
    """Switch every ReLU to out-of-place and give each BasicBlock a ReLU per use; return ``model``.

    Mutates ``model`` (its parameters are untouched) and marks it, so a second call does nothing.
    """
    if getattr(model, _READY_FLAG, False):
        return model
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
        if isinstance(module, BasicBlock) and not hasattr(module, "relu_out"):
            module.relu_out = nn.ReLU(inplace=False)
            module.forward = types.MethodType(_basic_block_forward, module)
    setattr(model, _READY_FLAG, True)
    return model


def is_captum_ready(model: nn.Module) -> bool:
    return bool(getattr(model, _READY_FLAG, False))
