"""Augmentations that make rendered stems sound more like stems of a produced record.

Each function takes a stereo float32 array `(2, n)` and a numpy Generator and returns a new
array of the same shape (except `speed`, which changes the length and takes a ratio). `StemChain` applies a
random subset, with the probabilities of an `[augment]` config table, to one stem; the mixture
is always the sum of the augmented stems, so the targets stay exact. `bus_compress` is the one
effect on the whole mix: its gain curve is computed from the mixture and applied to every stem.
"""
import numpy as np
from scipy import signal

SR = 44100


def gain(x, rng, low_db=-9.0, high_db=6.0):
    return x * np.float32(10 ** (rng.uniform(low_db, high_db) / 20))


def channel_swap(x, rng):
    return x[::-1].copy() if rng.random() < 0.5 else x


def stereo_width(x, rng, low=0.0, high=1.6):
    """Mid/side: width 0 is mono, 1 unchanged, >1 wider."""
    mid, side = (x[0] + x[1]) / 2, (x[0] - x[1]) / 2
    side = side * np.float32(rng.uniform(low, high))
    return np.stack([mid + side, mid - side])


def pan(x, rng, amount=0.6):
    p = rng.uniform(-amount, amount)
    return np.stack([x[0] * np.float32(1 - max(p, 0)), x[1] * np.float32(1 + min(p, 0))])


def _biquad(kind, f0, q, gain_db, sr=SR):
    """RBJ cookbook biquad: 'peak', 'lowshelf', 'highshelf', 'highpass', 'lowpass'."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    cw, sw = np.cos(w), np.sin(w)
    alpha = sw / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    elif kind in ("lowshelf", "highshelf"):
        s = 1 if kind == "lowshelf" else -1
        sa = 2 * np.sqrt(a) * alpha
        b = [a * ((a + 1) - s * (a - 1) * cw + sa), s * 2 * a * ((a - 1) - s * (a + 1) * cw),
             a * ((a + 1) - s * (a - 1) * cw - sa)]
        den = [(a + 1) + s * (a - 1) * cw + sa, -s * 2 * ((a - 1) + s * (a + 1) * cw),
               (a + 1) + s * (a - 1) * cw - sa]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(kind)
    return np.array(b) / den[0], np.array(den) / den[0]


def _filtered(x, biquads):
    """`x` through the `_biquad` sections in order (one cascade along the last axis)."""
    return signal.sosfilt(np.array([np.concatenate(ba) for ba in biquads]), x, axis=-1)


def eq(x, rng):
    """A random mixing-desk EQ: low and high shelves and one or two bells."""
    sos = [_biquad("lowshelf", rng.uniform(80, 300), 0.7, rng.uniform(-6, 6)),
           _biquad("highshelf", rng.uniform(3000, 10000), 0.7, rng.uniform(-8, 6))]
    for _ in range(rng.integers(1, 3)):
        sos.append(_biquad("peak", np.exp(rng.uniform(np.log(150), np.log(8000))),
                           rng.uniform(0.5, 3.0), rng.uniform(-8, 8)))
    if rng.random() < 0.3:
        sos.append(_biquad("lowpass", rng.uniform(5000, 16000), 0.7, 0))
    if rng.random() < 0.3:
        sos.append(_biquad("highpass", rng.uniform(20, 120), 0.7, 0))
    return _filtered(x, sos).astype(np.float32)


def reverb(x, rng):
    """A synthetic room: stereo exponentially decaying noise with a pre-delay, mixed wet/dry."""
    rt60 = rng.uniform(0.2, 2.5)
    n = int(min(rt60, 1.0) * SR)
    t = np.arange(n) / SR
    decay = np.exp(-6.9 * t / rt60)
    ir = rng.standard_normal((2, n)) * decay
    # darker tails: the high end decays faster
    b, a = _biquad("lowpass", rng.uniform(2000, 9000), 0.7, 0)
    ir = signal.lfilter(b, a, ir, axis=-1)
    ir[:, : int(rng.uniform(0.0, 0.04) * SR)] = 0.0
    ir /= np.sqrt(np.sum(ir ** 2, axis=-1, keepdims=True)) + 1e-9
    wet = signal.fftconvolve(x, ir, axes=-1)[:, : x.shape[1]]
    mix = rng.uniform(0.05, 0.5)
    return ((1 - mix) * x + mix * wet).astype(np.float32)


def compress(x, rng):
    """Feed-forward RMS compressor with attack/release smoothing and make-up gain."""
    return (x * compressor_gain(x, rng)).astype(np.float32)


def compressor_gain(x, rng):
    """The gain curve `(n,)` of a random compressor driven by `x`."""
    return _gain_curve(x, thresh_db=rng.uniform(-30, -10), ratio=rng.uniform(1.5, 8),
                       attack=rng.uniform(0.001, 0.03), release=rng.uniform(0.05, 0.3))


def _gain_curve(x, thresh_db, ratio, attack, release):
    """The gain curve `(n,)` of a feed-forward compressor driven by `x`, with make-up gain of
    half the median gain reduction."""
    level = np.sqrt(np.mean(x ** 2, axis=0) + 1e-10)
    # one-pole smoothing of the level (attack and release differ: use the slower one, release,
    # on a level that was first peak-held by the attack filter)
    b_a = 1 - np.exp(-1 / (attack * SR))
    b_r = 1 - np.exp(-1 / (release * SR))
    env = signal.lfilter([b_a], [1, b_a - 1], level)
    env = np.maximum(env, signal.lfilter([b_r], [1, b_r - 1], level))
    env_db = 20 * np.log10(env + 1e-10)
    gr_db = np.minimum(0, (thresh_db - env_db) * (1 - 1 / ratio))
    makeup = -np.median(gr_db) * 0.5
    return (10 ** ((gr_db + makeup) / 20)).astype(np.float32)


def bus_compress(stems, rng):
    """Mix-bus compression of `(stems, 2, n)`: one gain curve from the sum, on every stem."""
    return stems * compressor_gain(stems.sum(axis=0), rng)


def tone(x, rng, max_db=12.0):
    """A random tonal balance: one smooth gain curve over log frequency through gains drawn at
    the ten octave centres 31 Hz - 16 kHz (normal, sigma `max_db` / 2, clipped to `max_db`),
    the stem's RMS kept.

    `eq` moves a few bands by a few dB, as a mixing desk does; renders and records differ by
    more: on the 80s Rock clip the drums carry 83 % of their energy below 86 Hz (the renders'
    median 15 %), the voice 46 % at 0.7-2.8 kHz (11 %), the guitars 57 % at 1.4-2.8 kHz (8 %).
    A network that has only heard General MIDI's tonal balance takes those for other stems
    (model/training/RUNS.md, run 6), so it must hear each stem across a wide range of them."""
    centres = 31.25 * 2.0 ** np.arange(10)
    gains_db = np.clip(rng.normal(0.0, max_db / 2, len(centres)), -max_db, max_db)
    return _log_frequency_curve(x, centres, gains_db)


def presence(x, rng):
    """A voice sung with more effort, and mixed forward: the spectrum tilted up by 2-6 dB per
    octave from 350-700 Hz to 3-5 kHz, plus the singers' formant (a 0-8 dB bell near 3 kHz);
    the stem's RMS kept. Loud singing puts far more energy into its upper harmonics than the
    speech voices the renders re-sing (both real clips' vocals: 3x the renders' share at
    0.7-2.8 kHz, `tonal_balance.py`), and a network that never heard that leaves a real
    voice's upper harmonics in `other` (model/training/RUNS.md, run 7)."""
    low, high = rng.uniform(350, 700), rng.uniform(3000, 5000)
    slope = rng.uniform(2.0, 6.0)
    formant, boost = rng.uniform(2500, 3500), rng.uniform(0.0, 8.0)
    knots = np.geomspace(low / 2, 16000, 24)
    octaves_up = np.log2(np.clip(knots, low, high) / low)
    bell = boost * np.exp(-0.5 * (np.log2(knots / formant) / 0.35) ** 2)
    return _log_frequency_curve(x, knots, slope * octaves_up + bell)


def _log_frequency_curve(x, knots_hz, gains_db):
    """`x` through the gain curve that runs straight (in dB over log frequency) between the
    `knots_hz`, flat beyond them: in one FFT of the segment (zero phase), the RMS kept."""
    n = x.shape[1]
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / SR), knots_hz[0] / 2)
    curve = 10 ** (np.interp(np.log2(freqs), np.log2(knots_hz), gains_db) / 20)
    return _rms_matched(np.fft.irfft(np.fft.rfft(x, axis=-1) * curve, n, axis=-1), x)


def amp(x, rng):
    """A driven guitar amplifier and its cabinet: high-pass and a mid boost before the stage,
    20-40 dB of asymmetric soft clipping (even and odd harmonics), then a speaker's roll-off
    above 3-6 kHz (24 dB per octave) and its low bump; the stem's RMS kept. The distorted
    guitar wall of a rock record is bright, dense and mid-forward, nothing like a General MIDI
    guitar patch; `saturate` alone (a level-matched tanh) stays far milder."""
    pre = [_biquad("highpass", rng.uniform(80, 200), 0.7, 0),
           _biquad("peak", rng.uniform(500, 1500), 0.8, rng.uniform(3, 12))]
    y = _filtered(x, pre)
    drive = 10 ** (rng.uniform(20, 40) / 20) / (np.sqrt(np.mean(y ** 2)) * 4 + 1e-9)
    bias = rng.uniform(0.0, 0.4)
    y = np.tanh(y * drive + bias) - np.tanh(bias)
    cutoff = rng.uniform(3000, 6000)
    cab = [_biquad("lowpass", cutoff, 0.7, 0), _biquad("lowpass", cutoff, 0.7, 0),
           _biquad("peak", rng.uniform(90, 160), 1.0, rng.uniform(0, 6)),
           _biquad("highpass", 20, 0.7, 0)]
    y = _filtered(y, cab)
    return _rms_matched(y, x)


def kick(x, rng):
    """A rock record's kick drum: the kit's low end raised 6-15 dB by a bell at 45-90 Hz; the
    stem's RMS kept, so the rest of the kit falls back. 80s Rock's drums carry 85 % of their
    energy below 86 Hz, the renders' median 22 %: where a kick that big meets a bass note
    (both at 43-86 Hz on a record), a network that never heard one calls it bass."""
    bell = _biquad("peak", rng.uniform(45, 90), rng.uniform(0.7, 1.5), rng.uniform(6, 15))
    return _rms_matched(_filtered(x, [bell]), x)


def bass_di(x, rng):
    """A recorded electric bass: high-passed at 30-45 Hz, levelled by a fast compressor whose
    threshold sits 2-10 dB under the stem's own RMS (ratio 4-10), lightly driven (a DI box or
    a bass amp's preamp, 0-12 dB into a tanh), a low bump at 60-110 Hz and a cabinet's roll-off
    at 1.5-5 kHz; the stem's RMS kept. A record's bass holds its level (80s Rock: 4 dB between
    the 10th and 90th percentile of its 100 ms levels, the renders' 7-15 dB) with its energy
    in the fundamentals (87 % at 43-172 Hz); a General MIDI bass swells and fades and rings
    higher. Steadiness is what tells a bass note from a kick's decay."""
    y = _filtered(x, [_biquad("highpass", rng.uniform(30, 45), 0.7, 0)])
    rms_db = 10 * np.log10(np.mean(y ** 2) + 1e-12)
    y = y * _gain_curve(y, thresh_db=rms_db - rng.uniform(2, 10), ratio=rng.uniform(4, 10),
                        attack=rng.uniform(0.002, 0.01), release=rng.uniform(0.05, 0.15))
    drive = 10 ** (rng.uniform(0, 12) / 20)
    peak = np.abs(y).max() + 1e-9
    y = np.tanh(y / peak * drive) * peak
    cab = [_biquad("peak", rng.uniform(60, 110), 1.0, rng.uniform(0, 6)),
           _biquad("lowpass", rng.uniform(1500, 5000), 0.7, 0)]
    y = _filtered(y, cab)
    return _rms_matched(y, x)


def low_cut(x, rng):
    """A mixing engineer's low cut: a 24 dB/octave high-pass at 70-200 Hz, as records put on
    nearly every track but the kick and the bass so that the low end stays theirs (80s Rock's
    `other` and vocals hold under 0.1 % of the mix's energy below 172 Hz). The level is not
    kept: what the cut takes away is gone, as on a desk. Meant for `other` (a voice's
    fundamentals reach below 200 Hz); it teaches the low bins that a record's lows are bass or
    kick."""
    f0 = rng.uniform(70, 200)
    butterworth = [_biquad("highpass", f0, q, 0) for q in (0.54, 1.31)]   # 4th order's two Qs
    return _filtered(x, butterworth).astype(np.float32)


def _rms_matched(y, x):
    """`y` scaled to `x`'s RMS, as float32 (the effects above change the level a lot, and
    the stem's loudness in the mix is set by `gain`, not by them)."""
    scale = np.sqrt(np.mean(x ** 2) / (np.mean(y ** 2) + 1e-12))
    return (y * scale).astype(np.float32)


def saturate(x, rng):
    """Soft clipping (tanh) with a random drive, level-matched."""
    drive = 10 ** (rng.uniform(0, 18) / 20)
    peak = np.abs(x).max() + 1e-9
    y = np.tanh(x / peak * drive) / np.tanh(drive) * peak
    return y.astype(np.float32)


def speed(x, ratio):
    """Varispeed (pitch and tempo together, as tape): `ratio` 1.06 is a semitone up and 6 %
    faster. Not part of `StemChain`: stems of one song must share the ratio."""
    down = int(round(64 * ratio))  # ratio on a 1/64 grid (~27 cent steps): short filters
    n_out = int(x.shape[1] * 64 // down)
    return signal.resample_poly(x, 64, down, axis=-1)[:, :n_out].astype(np.float32)


class StemChain:
    """Random effect chain for one stem; probabilities from the `[augment]` config table."""

    ORDER = ("amp", "bass_di", "kick", "presence", "tone", "low_cut", "eq", "compress",
             "saturate", "reverb", "stereo_width", "pan", "channel_swap")
    FUNCS = {"amp": amp, "bass_di": bass_di, "kick": kick, "presence": presence, "tone": tone,
             "low_cut": low_cut, "eq": eq, "compress": compress, "saturate": saturate,
             "reverb": reverb, "stereo_width": stereo_width, "pan": pan,
             "channel_swap": channel_swap}

    def __init__(self, probabilities):
        unknown = set(probabilities) - set(self.ORDER)
        if unknown:
            raise ValueError(f"unknown augmentations {sorted(unknown)}")
        self.p = probabilities

    @classmethod
    def for_stem(cls, table, stem):
        """The chain of one stem from an `[augment]` table: its numbers apply to every stem,
        and a sub-table named after a stem (`[data.augment.other]`) adds or overrides that
        stem's own (the guitar amplifier belongs on `other`, not on the voice)."""
        probabilities = {k: v for k, v in table.items() if not isinstance(v, dict)}
        return cls({**probabilities, **table.get(stem, {})})

    def __call__(self, x, rng):
        for name in self.ORDER:
            if rng.random() < self.p.get(name, 0.0):
                x = self.FUNCS[name](x, rng)
        return x
