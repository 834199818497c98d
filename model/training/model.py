"""A small causal band-split recurrent network that predicts soft masks for four stems, frame by frame.

Grid: 44.1 kHz, n_fft 1024, hop 256 (periodic Hann), all 513 bins, stereo; a causal model on
this grid has n_fft - 1 + hop = 1279 samples (29 ms) of latency in Sift's streaming engine.

    magnitude (B, 2, T, 513)
      -> divided by the input's running level (optional, `level_seconds`), log
      -> split into bands (narrow at the bottom, wide at the top); each band's stereo bins
         -> Linear -> LayerNorm: one `band_dim` vector per band and frame
      -> all bands -> Linear -> `hidden` -> `layers` residual blocks of minGRU + MLP (causal)
      -> LayerNorm -> Linear back to one vector per band, next to the band's input vector
         (and, with `band_rnn`, next to the band's own history: one small minGRU, shared by
         every band, run over each band's input vectors)
      -> per band: MLP (GELU) -> logits for (stems x 2 channels x band bins)
      -> softmax over stems (of the logits times `mask_power`): masks (B, 4, 2, T, 513) that
         sum to one in every bin

Nothing looks at a later frame, so `forward` on a whole sequence equals frame-by-frame
`forward` calls that carry `state` (the GRU's hidden state), which is what the streaming
contract (issue 10) runs: K new frames plus state in, masks plus next state out. The state is
one vector of `hidden` per block (and with `band_rnn` one of `band_dim` per band).

Why `band_rnn` (run 7): the one `hidden` vector that all 65 bands share must carry every band's
recent past, and the network hedged where that past is the only cue: a kick's low end and a
bass note share the bins below 172 Hz, and what tells them apart is that one decays within
~100 ms and the other holds. On held-out renders run 6 still sent a quarter of the drums'
energy below 86 Hz to bass and a quarter of the bass's to drums. The band recurrence gives each
band's decoder its own band's history for ~65 k multiply-adds per frame. Its decoder weights
start at zero, so a network grown from an older checkpoint starts as that network.

Why `mask_power` (set after training by calibrate.py): the L1 loss on magnitudes is best
answered by the median, so where the network cannot tell two stems apart it commits to one; SDR,
an energy figure, rewards the mean. Softmax masks raised to a power below one and renormalised
(`softmax(p * logits)`) move toward the mean at no cost: run 6 at p = 0.5 gained 0.26 dB on the
held-out renders and 0.67 / 0.38 dB on the two real clips; run 8, trained on SDR itself
(train.spectral_sdr), still gains 0.06 dB at p = 0.8 (model/training/RUNS.md, "Calibrated masks").

Why the LayerNorm before `out_of_rnn` and the GELU in the decoder: in run bsgru-v1 (tanh, no
norm) the minGRU's always-positive state grew a constant offset in the residual stream, which
saturated the decoder's tanh (99 % of units beyond |x| > 3), cut every earlier layer's gradient
by ~1000x and left one fixed mask per bin. `init_mask_bias` starts the decoder at the data's
mean mask per bin, so the first steps learn what varies, not the average split.
"""
import math

import torch
from torch import nn

from .stems import STEMS


def band_groups(n_bins, widths):
    """Bands as runs of equal width: [(first_bin, width, count)] covering bins 0..n_bins-1.

    `widths` = [(up_to_bin, width), ...]; whatever is left at the top is one last band."""
    groups, start = [], 0
    for up_to, width in widths:
        count = (min(up_to, n_bins) - start) // width
        if count > 0:
            groups.append((start, width, count))
            start += count * width
    if start < n_bins:
        groups.append((start, n_bins - start, 1))
    return groups


def _uniform(*shape, fan_in):
    return nn.Parameter(torch.empty(*shape).uniform_(-fan_in ** -0.5, fan_in ** -0.5))


def _g(x):
    """minGRU's positive activation: x + 0.5 for x >= 0, sigmoid(x) below."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


class MinGRU(nn.Module):
    """minGRU (Feng et al. 2024, "Were RNNs all we needed?"): h_t = a_t h_(t-1) + b_t with
    a_t = 1 - z_t, b_t = z_t g(u_t), where z_t = sigmoid(k_t) and u_t come from x_t alone. So
    training needs no loop over frames with matrix products in it: `scan` below is a chunked
    linear scan of elementwise operations (fast on a CPU), and streaming runs the same formula
    one frame at a time. log a_t >= -10 (a forgetting limit nobody misses) keeps the chunked
    scan inside float32's range. The state h is positive."""

    CHUNK = 8  # frames per chunk: exp(CHUNK * 10) must stay below float32's maximum

    def __init__(self, size):
        super().__init__()
        self.gates = nn.Linear(size, 2 * size)

    def forward(self, x, h0):
        """x (B, T, H), h0 (B, H) -> h (B, T, H); h[:, -1] is the next state."""
        k, u = self.gates(x).chunk(2, dim=-1)
        log_a = torch.clamp(-nn.functional.softplus(k), min=-10.0)
        b = torch.sigmoid(k) * _g(u)
        if x.shape[1] == 1:  # one frame (streaming): the recurrence itself
            return torch.exp(log_a) * h0.unsqueeze(1) + b
        return self.scan(log_a, b, h0)

    @classmethod
    def scan(cls, log_a, b, h):
        """h_t = exp(log_a_t) h_(t-1) + b_t over dim 1, from h (B, H)."""
        out = []
        # split (not slicing in a loop): its backward is one concatenation, not T/CHUNK copies
        for la, bc in zip(log_a.split(cls.CHUNK, dim=1), b.split(cls.CHUNK, dim=1)):
            la = torch.cumsum(la, dim=1)                                  # (B, C, H)
            hs = torch.exp(la) * (h.unsqueeze(1) + torch.cumsum(bc * torch.exp(-la), dim=1))
            out.append(hs)
            h = hs[:, -1]
        return torch.cat(out, dim=1)


class LevelTracker(nn.Module):
    """The input's running level, causal: an exponential moving average over `seconds` of the
    frames' mean power (over channels and bins), divided by the same average of ones. That
    divisor is the EMA's bias correction: the state is zeros at the start of a stream (the
    contract's reset), and the first frame's level is then its own power, not a fraction of it.

    State (B, 2): the two averages. `FLOOR` (a magnitude; a full-scale sine peaks near 256 on
    this grid) keeps digital silence from being blown up to the level of music."""

    FLOOR = 1e-3

    def __init__(self, seconds, frames_per_second):
        super().__init__()
        self.log_decay = -1.0 / (seconds * frames_per_second)
        self.decay = math.exp(self.log_decay)

    def forward(self, mag, state):
        """mag (B, C, T, F), state (B, 2) -> level (B, 1, T, 1) (a magnitude), next state."""
        power = mag.pow(2).mean(dim=(1, 3))                                 # (B, T)
        b = torch.stack([power, torch.ones_like(power)], dim=-1) * (1.0 - self.decay)  # (B, T, 2)
        if mag.shape[2] == 1:  # one frame (streaming)
            s = self.decay * state.unsqueeze(1) + b
        else:
            s = MinGRU.scan(torch.full_like(b, self.log_decay), b, state)
        level = torch.sqrt(s[..., 0] / s[..., 1]) + self.FLOOR
        return level[:, None, :, None], s[:, -1]


class RecurrentBlock(nn.Module):
    """Pre-norm residual block: minGRU, then a two-layer MLP."""

    def __init__(self, size):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(size), nn.LayerNorm(size)
        self.rnn = MinGRU(size)
        self.mlp = nn.Sequential(nn.Linear(size, 2 * size), nn.GELU(), nn.Linear(2 * size, size))

    def forward(self, x, h0):
        h = self.rnn(self.norm1(x), h0)
        x = x + h
        return x + self.mlp(self.norm2(x)), h[:, -1]


class BandSplitRNN(nn.Module):
    def __init__(self, n_bins=513, band_widths=((32, 2), (96, 4), (224, 8), (480, 16)),
                 band_dim=16, hidden=256, layers=2, decoder_dim=32, stems=len(STEMS),
                 channels=2, level_seconds=0.0, frames_per_second=44100 / 256, band_rnn=False,
                 mask_power=1.0):
        super().__init__()
        # the masks are softmax(mask_power * logits), i.e. each softmax mask raised to this power
        # and renormalised over the stems: calibrate.py sets it after training (below 1: softer)
        self.mask_power = mask_power
        # the state tensors, in the order `forward` takes and returns them
        self.state_names = ("state",) + (("level",) if level_seconds > 0 else ()) + (
            ("band",) if band_rnn else ())
        self.level = LevelTracker(level_seconds, frames_per_second) if level_seconds > 0 else None
        self.n_bins, self.stems, self.channels = n_bins, stems, channels
        self.groups = band_groups(n_bins, band_widths)
        nb = sum(count for _, _, count in self.groups)
        self.group_bins = [w * k for _, w, k in self.groups]
        self.n_bands, self.band_dim, self.hidden, self.layers = nb, band_dim, hidden, layers
        # per band: Linear(stereo bins -> band_dim); weights batched per group of equal width
        self.enc_w = nn.ParameterList([_uniform(k, channels * w, band_dim, fan_in=channels * w)
                                       for _, w, k in self.groups])
        self.enc_b = nn.Parameter(torch.zeros(nb, band_dim))
        self.norm = nn.LayerNorm(band_dim)
        self.into_rnn = nn.Linear(nb * band_dim, hidden)
        self.rnn_norm = nn.LayerNorm(hidden)
        self.rnn = nn.ModuleList([RecurrentBlock(hidden) for _ in range(layers)])
        self.out_norm = nn.LayerNorm(hidden)
        self.out_of_rnn = nn.Linear(hidden, nb * band_dim)
        # per band: MLP(rnn output, band input -> decoder_dim -> stems x channels x bins)
        self.dec1_w = _uniform(nb, 2 * band_dim, decoder_dim, fan_in=2 * band_dim)
        self.dec1_b = nn.Parameter(torch.zeros(nb, decoder_dim))
        if band_rnn:
            self.band_rnn = MinGRU(band_dim)
            self.band_norm = nn.LayerNorm(band_dim)
            self.dec1_band_w = nn.Parameter(torch.zeros(nb, band_dim, decoder_dim))
        else:
            self.band_rnn = None
        self.dec2_w = nn.ParameterList([_uniform(k, decoder_dim, stems * channels * w,
                                                 fan_in=decoder_dim) for _, w, k in self.groups])
        self.dec2_b = nn.ParameterList([nn.Parameter(torch.zeros(k, stems * channels * w))
                                        for _, w, k in self.groups])

    @torch.no_grad()
    def init_mask_bias(self, mean_masks):
        """Set the last decoder bias so that an input-blind network gives `mean_masks`.

        `mean_masks` (stems, bins): the share of each stem in each bin, summing to one over
        stems; its log is the softmax's logit for that share."""
        logits = torch.log(mean_masks.clamp_min(1e-4))
        for (start, w, k), bias in zip(self.groups, self.dec2_b):
            band = logits[:, start:start + w * k].reshape(self.stems, k, w)      # (S, k, w)
            band = band.permute(1, 0, 2).unsqueeze(2).expand(k, self.stems, self.channels, w)
            bias.copy_(band.reshape(k, -1))

    def initial_state(self, batch=1):
        """The state of a fresh stream (all zeros, as the contract's reset): one tensor per
        name in `state_names`: the minGRU blocks' (layers, B, hidden), the level's (B, 2), the
        band recurrence's (B, bands, band_dim)."""
        shapes = {"state": (self.layers, batch, self.hidden), "level": (batch, 2),
                  "band": (batch, self.n_bands, self.band_dim)}
        return tuple(torch.zeros(shapes[name]) for name in self.state_names)

    def forward(self, mag, state=None):
        """mag (B, C, T, F) -> masks (B, S, C, T, F), next state (as `initial_state`)."""
        B, C, T, F = mag.shape
        if state is None:
            state = tuple(s.to(mag) for s in self.initial_state(B))
        state = dict(zip(self.state_names, state))
        next_state = {}
        if self.level is not None:
            level, next_state["level"] = self.level(mag, state["level"])
            mag = mag / level
        x = torch.log(mag + 1e-3).permute(0, 2, 1, 3)                  # (B, T, C, F)
        # split, not slices: the backward of one split is one concatenation, while every slice's
        # backward fills a zero tensor of the whole input (a third of a training step)
        enc = []
        for (_, w, k), v, weight in zip(self.groups, x.split(self.group_bins, dim=-1), self.enc_w):
            v = v.reshape(B, T, C, k, w).transpose(2, 3)
            enc.append(torch.einsum("btki,kio->btko", v.reshape(B, T, k, C * w), weight))
        e = self.norm(torch.cat(enc, dim=2) + self.enc_b)               # (B, T, nb, D)
        r = self.rnn_norm(self.into_rnn(e.reshape(B, T, -1)))
        block_states = []
        for block, h0 in zip(self.rnn, state["state"]):
            r, h_last = block(r, h0)
            block_states.append(h_last)
        next_state["state"] = torch.stack(block_states)
        r = self.out_of_rnn(self.out_norm(r)).reshape(B, T, self.n_bands, self.band_dim)
        d = torch.einsum("btki,kio->btko", torch.cat([r, e], dim=-1), self.dec1_w)
        if self.band_rnn is not None:
            # every band its own sequence: (B, T, nb, D) -> (B * nb, T, D) and back
            per_band = e.transpose(1, 2).reshape(B * self.n_bands, T, self.band_dim)
            h = self.band_rnn(per_band, state["band"].reshape(B * self.n_bands, self.band_dim))
            next_state["band"] = h[:, -1].reshape(B, self.n_bands, self.band_dim)
            h = self.band_norm(h.reshape(B, self.n_bands, T, self.band_dim).transpose(1, 2))
            d = d + torch.einsum("btki,kio->btko", h, self.dec1_band_w)
        d = nn.functional.gelu(d + self.dec1_b)                          # (B, T, nb, dd)
        logits = []
        group_bands = [k for _, _, k in self.groups]
        for (_, w, k), dk, weight, bias in zip(self.groups, d.split(group_bands, dim=2), self.dec2_w,
                                               self.dec2_b):
            y = torch.einsum("btki,kio->btko", dk, weight) + bias
            y = y.reshape(B, T, k, self.stems, C, w).permute(0, 1, 3, 4, 2, 5)
            logits.append(y.reshape(B, T, self.stems, C, k * w))
        masks = torch.softmax(self.mask_power * torch.cat(logits, dim=-1), dim=2)  # (B,T,S,C,F)
        return masks.permute(0, 2, 3, 1, 4), tuple(next_state[name] for name in self.state_names)


class Spectrogram(nn.Module):
    """The STFT of the contract: periodic Hann, no 1/N scaling, centred, n_fft 1024, hop 256."""

    def __init__(self, n_fft=1024, hop=256):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def stft(self, audio):
        """(B, C, N) -> complex (B, C, T, F)."""
        B, C, N = audio.shape
        spec = torch.stft(audio.reshape(B * C, N), self.n_fft, self.hop, window=self.window,
                          center=True, pad_mode="constant", return_complex=True)
        return spec.reshape(B, C, spec.shape[-2], spec.shape[-1]).transpose(-1, -2)

    def istft(self, spec, length):
        """complex (..., C, T, F) -> (..., C, length)."""
        lead = spec.shape[:-2]
        s = spec.reshape(-1, *spec.shape[-2:]).transpose(-1, -2)
        audio = torch.istft(s, self.n_fft, self.hop, window=self.window, center=True,
                            length=length)
        return audio.reshape(*lead, length)


class Separator(nn.Module):
    """Waveform in, four stem waveforms out: Spectrogram + mask model, as the engine runs it."""

    def __init__(self, model_cfg, sample_rate):
        """`model_cfg`: a run config's `[model]` table; `sample_rate`: its `[data]` rate, which
        with the hop sets the level tracker's frames per second."""
        super().__init__()
        self.spec = Spectrogram(model_cfg["n_fft"], model_cfg["hop"])
        self.net = BandSplitRNN(n_bins=model_cfg["n_fft"] // 2 + 1,
                                band_widths=[tuple(w) for w in model_cfg["band_widths"]],
                                band_dim=model_cfg["band_dim"], hidden=model_cfg["hidden"],
                                layers=model_cfg["layers"],
                                decoder_dim=model_cfg["decoder_dim"],
                                level_seconds=model_cfg["level_seconds"],
                                frames_per_second=sample_rate / model_cfg["hop"],
                                band_rnn=model_cfg["band_rnn"],
                                mask_power=model_cfg["mask_power"])

    def forward(self, mix):
        """mix (B, 2, N) -> (complex mixture STFT (B, 2, T, F), masks (B, 4, 2, T, F))."""
        spec = self.spec.stft(mix)
        masks, _ = self.net(spec.abs())
        return spec, masks

    def separate(self, mix):
        """mix (B, 2, N) -> stems (B, 4, 2, N)."""
        spec, masks = self(mix)
        return self.spec.istft(masks * spec.unsqueeze(1), mix.shape[-1])
