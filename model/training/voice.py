"""A sung voice from text-to-speech: speech re-timed and re-pitched onto a melody with WORLD.

For each phrase of the melody, a TTS engine speaks random words (CMU Flite's voices, from
recordings of real speakers, or eSpeak NG's formant voices in several languages). The WORLD
vocoder (pyworld) splits the speech into pitch, spectral envelope and aperiodicity on 5 ms
frames. Each note of the phrase takes one voiced stretch of the speech (a syllable's vowel):
its frames are stretched to the note's length, the consonants before it are placed just before
the note's onset, and the pitch is replaced by the note's, with portamento, vibrato and drift.
The envelope can be shifted in frequency (another singer's formants), and is extended above the
TTS engine's band with a falling slope and noise, so the voice has air up to 22 kHz.
"""
import os
import subprocess
import tempfile

import numpy as np
import pyworld
import soundfile

FRAME_MS = 5.0
FLITE_VOICES = ["slt", "awb", "rms", "kal16"]
ESPEAK_VOICES = ["en-us", "en-gb", "es", "it", "de", "fr", "pt", "nl", "sv", "pl", "id", "fi"]
ESPEAK_VARIANTS = ["f1", "f2", "f3", "f4", "m1", "m2", "m3", "m4", "m7", "Annie", "Andy"]
WORDS = ("love night heart fire rain day light home time way dream run stay fall hold sky "
         "road soul free go know feel cry wait burn shine slow fly back down gone true cold "
         "blue sun town wild lost find hand eyes world mind more touch turn break side line "
         "dance sing call need want see me you we my your our all on in out to the of and "
         "baby tonight forever maybe alone again away inside believe remember ocean river "
         "morning summer golden silver hello yeah oh no").split()
CONSONANTS = list("bdfgklmnprstvz") + ["", "", "ch", "sh"]
VOWELS = list("aeiou") + ["ai", "ei", "ou"]


class Singer:
    """One voice for one song: a TTS voice, a formant shift and a vibrato style."""

    def __init__(self, rng, sample_rate=44100, flite_share=0.6):
        self.rng = rng
        self.sr = sample_rate
        if rng.random() < flite_share:
            self.engine, self.voice = "flite", str(rng.choice(FLITE_VOICES))
            self.src_sr = 16000
        else:
            lang = str(rng.choice(ESPEAK_VOICES))
            self.engine, self.voice = "espeak-ng", f"{lang}+{rng.choice(ESPEAK_VARIANTS)}"
            self.src_sr = 22050
        self.formant_shift = float(rng.uniform(0.88, 1.15))
        self.vibrato_rate = float(rng.uniform(4.5, 6.5))
        self.vibrato_cents = float(rng.uniform(0.0, 60.0))
        self.air_slope_db_oct = float(rng.uniform(6.0, 15.0))
        self.src_fft = pyworld.get_cheaptrick_fft_size(self.src_sr)
        self.out_fft = 1024  # WORLD would take 2048 at 44.1 kHz; 1024 halves the cost

    def describe(self):
        return f"{self.engine}:{self.voice} formants x{self.formant_shift:.2f}"

    # -- speech ------------------------------------------------------------------------------
    def _text(self, syllables):
        rng = self.rng
        if self.engine == "flite" or self.voice.startswith("en"):
            return " ".join(str(rng.choice(WORDS)) for _ in range(syllables))
        words, left = [], syllables
        while left > 0:
            n = min(left, int(rng.integers(1, 4)))
            words.append("".join(str(rng.choice(CONSONANTS)) + str(rng.choice(VOWELS))
                                 for _ in range(n)))
            left -= n
        return " ".join(words)

    def _speak(self, text):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "speech.wav")
            if self.engine == "flite":
                cmd = ["flite", "-voice", self.voice, "-t", text, "-o", path]
            else:
                cmd = ["espeak-ng", "-v", self.voice, "-s", str(int(self.rng.integers(120, 170))),
                       "-w", path, text]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
            x, sr = soundfile.read(path, dtype="float64")
        if x.ndim > 1:
            x = x.mean(axis=1)
        assert sr == self.src_sr, (sr, self.src_sr)
        return x

    def _analyse(self, x):
        f0, t = pyworld.dio(x, self.src_sr, frame_period=FRAME_MS)
        f0 = pyworld.stonemask(x, f0, t, self.src_sr)
        sp = pyworld.cheaptrick(x, f0, t, self.src_sr, fft_size=self.src_fft)
        ap = pyworld.d4c(x, f0, t, self.src_sr, fft_size=self.src_fft)
        return f0, sp, ap

    @staticmethod
    def _voiced_runs(f0, min_frames=4):
        voiced = np.concatenate([[False], f0 > 0, [False]])
        edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
        runs = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_frames]
        return runs

    # -- singing -----------------------------------------------------------------------------
    def sing(self, phrases, n_samples):
        """Mono float32 of `n_samples` with the phrases sung; silence elsewhere."""
        n_frames = int(n_samples / self.sr * 1000.0 / FRAME_MS) + 2
        bins = self.src_fft // 2 + 1
        f0 = np.zeros(n_frames)
        sp = np.full((n_frames, bins), 1e-12)
        ap = np.ones((n_frames, bins))
        filled = np.zeros(n_frames, dtype=bool)
        for notes in phrases:
            self._sing_phrase(notes, f0, sp, ap, filled)
        # WORLD synthesis costs per frame: synthesise only the stretches that are sung
        y = np.zeros(n_samples + self.sr, dtype=np.float32)
        hop = self.sr * FRAME_MS / 1000.0
        for a, b in self._voiced_runs(np.convolve(filled, np.ones(81), "same") > 0, 1):
            seg_sp, seg_ap = self._to_output_grid(sp[a:b], ap[a:b])
            seg = pyworld.synthesize(np.ascontiguousarray(f0[a:b]), seg_sp, seg_ap, self.sr,
                                     frame_period=FRAME_MS)
            start = int(round(a * hop))
            seg = seg[:len(y) - start]
            y[start:start + len(seg)] += seg.astype(np.float32)
        return y[:n_samples]

    def _sing_phrase(self, notes, f0, sp, ap, filled):
        rng = self.rng
        speech = self._speak(self._text(len(notes)))
        s_f0, s_sp, s_ap = self._analyse(speech)
        runs = self._voiced_runs(s_f0)
        if not runs:
            return
        frame = FRAME_MS / 1000.0
        prev_run, prev_pitch = None, None
        for i, note in enumerate(notes):
            r = i * len(runs) // len(notes)
            a, b = runs[r]
            on = int(note.start / frame)
            n = max(2, int(note.dur * 0.94 / frame))
            if on + n >= len(f0):
                break
            # consonants that precede the vowel, ending at the onset (a new syllable only)
            if r != prev_run:
                c0 = runs[r - 1][1] if r > 0 else max(0, a - 20)
                cons = np.arange(max(c0, a - 20), a)
                dst = on - len(cons) + np.arange(len(cons))
                ok = (dst >= 0) & ~filled[np.clip(dst, 0, None)]
                sp[dst[ok]] = s_sp[cons[ok]]
                ap[dst[ok]] = s_ap[cons[ok]]
                f0[dst[ok]] = 0.0
            # the vowel, stretched over the note
            src = np.linspace(a, b - 1, n).round().astype(int)
            env = np.ones(n)
            ramp = min(n // 3, 4)
            if ramp:
                env[:ramp] = np.linspace(0.2, 1.0, ramp)
                env[-ramp:] = np.linspace(1.0, 0.1, ramp)
            gain = 10 ** (rng.normal(0, 1.5) / 20)
            sp[on:on + n] = s_sp[src] * (env[:, None] * gain) ** 2
            ap[on:on + n] = s_ap[src]
            f0[on:on + n] = self._pitch_curve(note.pitch, prev_pitch, n)
            filled[on:on + n] = True
            prev_run, prev_pitch = r, note.pitch

    def _pitch_curve(self, pitch, prev_pitch, n):
        t = np.arange(n) * FRAME_MS / 1000.0
        cents = np.zeros(n)
        if prev_pitch is not None and self.rng.random() < 0.7:
            glide = min(n, int(0.05 * 1000 / FRAME_MS))
            cents[:glide] = (prev_pitch - pitch) * 100 * np.linspace(1, 0, glide) ** 2
        depth = self.vibrato_cents * np.clip((t - 0.15) / 0.3, 0, 1)
        cents += depth * np.sin(2 * np.pi * self.vibrato_rate * t + self.rng.uniform(0, 6.3))
        cents += np.cumsum(self.rng.normal(0, 1.0, n))  # slow drift
        cents += self.rng.normal(0, 8)                  # not quite in tune
        return 440.0 * 2 ** ((pitch - 69 + cents / 100.0) / 12.0)

    def _to_output_grid(self, sp, ap):
        """Spectral envelope and aperiodicity from the TTS rate's bins to the output rate's,
        with the formant shift. TTS voices are band-limited (and roll off well before their
        Nyquist frequency), so above 70 % of it the envelope continues from the level of the
        band just below (55-70 %), falling by `air_slope_db_oct`, and is mostly noise."""
        f_out = np.arange(self.out_fft // 2 + 1) * self.sr / self.out_fft
        f_src = np.arange(sp.shape[1]) * self.src_sr / self.src_fft
        nyquist = self.src_sr / 2
        edge = 0.70 * nyquist
        f_look = np.minimum(f_out / self.formant_shift, edge)
        idx = np.interp(f_look, f_src, np.arange(len(f_src)))
        lo = np.floor(idx).astype(int)
        hi = np.minimum(lo + 1, len(f_src) - 1)
        w = idx - lo
        out_sp = sp[:, lo] * (1 - w) + sp[:, hi] * w
        out_ap = ap[:, lo] * (1 - w) + ap[:, hi] * w
        ref_band = (f_src >= 0.55 * nyquist) & (f_src < edge)
        ref = sp[:, ref_band].mean(axis=1, keepdims=True)
        above = f_out / self.formant_shift > edge
        octaves = np.log2(f_out[above] / self.formant_shift / edge)
        out_sp[:, above] = ref * 10 ** (-self.air_slope_db_oct * octaves / 10)
        out_ap[:, above] = np.maximum(out_ap[:, above], 0.6)
        return np.ascontiguousarray(out_sp), np.ascontiguousarray(out_ap)
