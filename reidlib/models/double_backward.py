"""Conv2d and BatchNorm2d with hand-written double backward, for MSGR's double backprop (amfl Eq. 7;
issue 14); ``build_model`` puts them in every model (:func:`use_fast_double_backward`).

BatchNorm2d:
MSGR differentiates the gradient of the loss w.r.t. the input and stage outputs, so every training
BatchNorm's backward is differentiated once more. PyTorch's own double backward
(``NativeBatchNormBackwardBackward0``) is a composite of about 28 elementwise kernels per layer, many
of them broadcasting, and took 44 % of an MSGR step of the ResNet-50 baseline on CPU (taps x, C2, C3;
256×128, batch 32; torch.profiler) — 20× the two ordinary BatchNorm backwards of the same step.

Here the forward and the first backward are PyTorch's fused kernels (``native_batch_norm`` and
``native_batch_norm_backward``, the ones ``nn.BatchNorm2d`` runs, so values and plain gradients are
bit-identical to it), and the first backward's own backward is written out (per channel c, sums
over the N = B·H·W positions, x̂ = (x − μ)·r, r = 1/√(var + eps) with the biased batch variance, and
P(v) = r·(v − mean v − x̂·mean(v·x̂)) the projection ``native_batch_norm_backward`` computes without
a weight). The first backward is gx = w·P(gy), gw = Σ gy·x̂, gb = Σ gy; given the gradients a, ggw,
ggb of gx, gw, gb:

    ∂/∂gy = w·P(a) + ggw·x̂ + ggb
    ∂/∂w  = r·T,                    T = Σ a·gy − mean(gy)·Σ a − mean(gy·x̂)·Σ a·x̂
    ∂/∂x  = (ggw − w·r·mean(a·x̂))·P(gy) − w·r·mean(gy·x̂)·P(a) − (w·T·r³/N)·(x − μ)

(the first two terms of ∂/∂x are the projection of ∂J/∂x̂, the last is the path through r; P is
linear per channel, so P(∂J/∂x̂) is assembled from P(a) and P(gy)). The kernel computes w·P(v)
when given w, so the first backward is the very kernel ``nn.BatchNorm2d`` runs (gx bit-identical),
and the w-scaled terms take w·P(gy) = gx and w·P(a) = ∂/∂gy as they are (P(gy) alone is computed
only when ggw is given, which MSGR never does). The double backward is then two fused kernels (w·P(a)
with Σ a and Σ a·x̂; Σ a·gy) and three elementwise passes, instead of ~28; checked against PyTorch's
double backward and by ``gradgradcheck`` in ``tests/test_double_backward.py``. A third derivative is not
supported (``once_differentiable``); eval mode, or training without ``torch.is_grad_enabled()``,
is ``nn.BatchNorm2d`` itself.

Conv2d: PyTorch's convolution double backward computes the weight gradient as a transposed, dilated
convolution of (ggI, gO) — for a 1×1 layer a kernel the size of the feature map, slow on oneDNN;
:class:`_ConvBackward` asks oneDNN's ``convolution_backward`` for it instead.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["BatchNorm2d", "Conv2d", "tap_gradients_only", "use_fast_double_backward"]

_bn_backward = torch.ops.aten.native_batch_norm_backward


def _c(v: torch.Tensor) -> torch.Tensor:
    """A per-channel vector shaped to broadcast over (N, C, H, W)."""
    return v.view(1, -1, 1, 1)


class _BatchNormTrain(torch.autograd.Function):
    """Training-mode BatchNorm (updates the running statistics); its backward is differentiable
    through :class:`_BatchNormBackward` when the graph is kept (``create_graph=True``)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum: float, eps: float):
        y, mean, invstd = torch.native_batch_norm(x, weight, bias, running_mean, running_var, True, momentum, eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, mean, invstd = ctx.saved_tensors
        if torch.is_grad_enabled():
            gx, gw, gb = _BatchNormBackward.apply(gy, x, weight, mean, invstd, ctx.eps)
        else:
            gx, gw, gb = _bn_backward(gy, x, weight, None, None, mean, invstd, True, ctx.eps, [True, True, True])
        return gx, gw, gb, None, None, None, None


class _BatchNormBackward(torch.autograd.Function):
    """(gy, x, w) → (gx, gw, gb) of training BatchNorm, with the hand-written backward above."""

    @staticmethod
    def forward(ctx, gy, x, weight, mean, invstd, eps: float):
        gx, gw, gb = _bn_backward(gy, x, weight, None, None, mean, invstd, True, eps, [True, True, True])
        ctx.save_for_backward(gy, x, weight, mean, invstd, gx, gw, gb)
        ctx.set_materialize_grads(False)  # gw / gb usually get no gradient: no zero tensors
        ctx.eps = eps
        return gx, gw, gb

    @staticmethod
    @once_differentiable
    def backward(ctx, a, ggw, ggb):
        gy, x, w, mean, r, gx, gw, gb = ctx.saved_tensors  # gx = w·P(gy)
        n = x.numel() // x.shape[1]
        g_gy = g_x = g_w = None
        p_gy = None if ggw is None else _bn_backward(gy, x, None, None, None, mean, r, True, ctx.eps,
                                                     [True, False, False])[0]
        if a is not None:
            w_p_a, s_ax, s_a = _bn_backward(a, x, w, None, None, mean, r, True, ctx.eps, [True, True, True])
            # Σ a·gy: the same kernel's weight gradient with gy as the input, mean 0 and invstd 1
            s_agy = _bn_backward(a, gy, None, None, None, torch.zeros_like(mean), torch.ones_like(r), True, 0.0,
                                 [False, True, False])[1]
            t = s_agy - gb / n * s_a - gw / n * s_ax
            g_w = r * t
            coef_xc = w * t * r**3 / n
            # w·P(gy) and w·P(a) are at hand, so the w-scaled terms take them (no pass to unscale)
            g_x = torch.addcmul(_c(coef_xc * mean), gx, _c(-r * s_ax / n))
            g_x.addcmul_(w_p_a, _c(-r * gw / n)).addcmul_(x, _c(-coef_xc))
            if p_gy is not None:
                g_x.addcmul_(p_gy, _c(ggw))
            g_gy = w_p_a
        elif ggw is not None:
            g_x = p_gy * _c(ggw)
        if ggw is not None:  # ggw·x̂ = ggw·r·x − ggw·r·μ
            k = ggw * r
            g_gy = x * _c(k) if g_gy is None else g_gy.addcmul_(x, _c(k))
            g_gy.sub_(_c(k * mean))
        if ggb is not None:
            g_gy = _c(ggb).expand_as(gy).clone() if g_gy is None else g_gy.add_(_c(ggb))
        return (None if g_gy is None else g_gy.to(gy.dtype), None if g_x is None else g_x.to(x.dtype), g_w,
                None, None, None)


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` (same parameters, buffers and state dict) whose training-mode backward has
    the fast double backward of this module's docstring; the models' backbones are built with it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.track_running_stats and self.affine and torch.is_grad_enabled()):
            return super().forward(x)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # cumulative moving average, as nn.BatchNorm2d
            factor = 1.0 / float(self.num_batches_tracked)
        return _BatchNormTrain.apply(x, self.weight, self.bias, self.running_mean, self.running_var, factor, self.eps)


# ---- Conv2d ------------------------------------------------------------------------------------
_TAP_GRADIENTS_ONLY = [0]  # > 0 while msgr_penalty takes its gradient w.r.t. the taps alone


@contextlib.contextmanager
def tap_gradients_only():
    """While active, a :class:`Conv2d`'s differentiable backward returns no weight gradient.

    :func:`reidlib.losses.msgr_penalty` wraps its ``autograd.grad(create_graph=True)`` w.r.t. the
    taps in it: that pass never uses a weight gradient (PyTorch's own convolution skips it there
    too, but a Python autograd.Function cannot tell which gradients the engine wants), and computing
    it with ``create_graph`` would also record its graph. A global counter, not a thread-local, as the
    engine runs a CUDA backward on its own threads."""
    _TAP_GRADIENTS_ONLY[0] += 1
    try:
        yield
    finally:
        _TAP_GRADIENTS_ONLY[0] -= 1


def _conv(x, w, args):
    stride, padding, dilation, groups = args
    return torch.ops.aten.convolution(x, w, None, stride, padding, dilation, False, [0, 0], groups)


def _conv_backward(go, x, w, args, mask):
    stride, padding, dilation, groups = args
    return torch.ops.aten.convolution_backward(go, x, w, None, stride, padding, dilation, False, [0, 0], groups,
                                               [mask[0], mask[1], False])[:2]


class _ConvTrain(torch.autograd.Function):
    """Convolution without bias; its backward is differentiable through :class:`_ConvBackward`."""

    @staticmethod
    def forward(ctx, x, weight, args):
        ctx.save_for_backward(x, weight)
        ctx.args = args
        return _conv(x, weight, args)

    @staticmethod
    def backward(ctx, go):
        x, w = ctx.saved_tensors
        want = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():
            want = (want[0], want[1] and not _TAP_GRADIENTS_ONLY[0])
            gx, gw = _ConvBackward.apply(go, x, w, ctx.args, want)
        else:
            gx, gw = _conv_backward(go, x, w, ctx.args, want)
        return gx, gw, None


class _ConvBackward(torch.autograd.Function):
    """(go, x, w) → (gx, gw). Backward, given a, b the gradients of gx, gw:
    ∂/∂go = conv(a, w) + conv(x, b); ∂/∂w = the weight gradient of conv(a, ·) at go;
    ∂/∂x = the input gradient of conv(·, b) at go — the weight gradient through oneDNN's
    ``convolution_backward``, not PyTorch's transposed, dilated convolution of (a, go)."""

    @staticmethod
    def forward(ctx, go, x, w, args, want):
        ctx.save_for_backward(go, x, w)
        ctx.set_materialize_grads(False)
        ctx.args = args
        return _conv_backward(go, x, w, args, want)

    @staticmethod
    @once_differentiable
    def backward(ctx, a, b):
        go, x, w = ctx.saved_tensors
        g_go = g_x = g_w = None
        if a is not None:
            g_go = _conv(a, w, ctx.args)
            if ctx.needs_input_grad[2]:
                g_w = _conv_backward(go, a, w, ctx.args, (False, True))[1]
        if b is not None:
            more = _conv(x, b, ctx.args)
            g_go = more if g_go is None else g_go.add_(more)
            if ctx.needs_input_grad[1]:
                g_x = _conv_backward(go, x, b, ctx.args, (True, False))[0]
        return g_go, g_x, g_w, None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters and state dict) whose backward has the fast double backward of
    :class:`_ConvBackward` — for a convolution without bias and zero padding, in float32/float64
    outside autocast (MSGR steps on CPU run there); anything else is ``nn.Conv2d`` itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.bias is not None or self.padding_mode != "zeros" or not torch.is_grad_enabled()
                or torch.is_autocast_enabled(x.device.type)):
            return super().forward(x)
        return _ConvTrain.apply(x, self.weight, (self.stride, self.padding, self.dilation, self.groups))


def use_fast_double_backward(module: nn.Module) -> nn.Module:
    """Turn every ``nn.Conv2d`` and ``nn.BatchNorm2d`` of ``module`` (exact types) into this module's
    subclasses, in place (their parameters, buffers and state dict unchanged); returns ``module``.
    torchvision's ResNet takes a ``norm_layer`` but builds its convolutions itself, hence the swap."""
    for m in module.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = Conv2d
        elif type(m) is nn.BatchNorm2d:
            m.__class__ = BatchNorm2d
    return module
