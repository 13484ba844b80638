"""`ta.nn`: modules, layers, losses and `nn.functional`, with PyTorch's names.

Everything here is plain Python over tracead ops, so a forward pass (and
the loss, and the optimizer step) traces and compiles like any other code.

  module.py      Module (parameters, buffers, train/eval, state_dict, save/load),
                 ModuleList, ModuleDict, Sequential, functional_call
  layers.py      Linear, Embedding, Dropout, Flatten, MLP
  activation.py  ReLU, GELU, Tanh, Sigmoid, SiLU, LeakyReLU, ELU, Softplus, ...
  conv.py        Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, ...
  norm.py        LayerNorm, BatchNorm1d, BatchNorm2d
  pad.py         ZeroPad2d, ConstantPad1d, ReflectionPad2d, ReplicationPad2d, ...
  attention.py   MultiheadAttention
  loss.py        the losses; functional.py the `F` namespace
"""
from . import functional
from .activation import *  # noqa: F401,F403  (ReLU, GELU, ..., ReLU6, Mish, PReLU, ...)
from .activation import ACTIVATIONS
from .attention import MultiheadAttention
from .conv import (AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d,
                   Upsample)
from .functional import scaled_dot_product_attention
from .layers import MLP, Dropout, Embedding, Flatten, Linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                   huber_loss, l1_loss, mse_loss, nll_loss, one_hot, smooth_l1_loss)
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                     NLLLoss, SmoothL1Loss)
from .module import Module, ModuleDict, ModuleList, Sequential, functional_call
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .pad import *  # noqa: F401,F403  (ZeroPad2d, ReflectionPad2d, ...)

__all__ = sorted(name for name in dir() if not name.startswith("_") and name != "functional")
