"""Drum stems played on recorded acoustic and electronic kits (Hydrogen's drum kits, Debian
`hydrogen-drumkits`), from the General MIDI drum part of a song.

The SoundFont kits of data v1/v2 are four (two of them General MIDI sets built for size), and
on a real record the network found too little of the drums (80s Rock: drums 9 dB too quiet,
README of `model/`). Hydrogen's kits are multi-sampled recordings of real drum sets (room, bleed
and cymbal wash included) and a few electronic kits, so more of what a record's drums sound like
reaches training.

`KitRenderer` has FluidSynth's interface (`render(midi_bytes, n_samples)`): each GM drum note
starts the kit piece that plays its role (chosen by the piece's name, see `ROLE_WORDS`), with
the velocity layer and gain Hydrogen would use; an open hi-hat is choked by the next closed or
pedal hi-hat. Each song draws one piece per role (where a kit has several) and a place in the
stereo image for each role, fixed for the song. The kits themselves are listed, with their
licences, in `sources.py`.
"""
import bisect
import io
import math
import pathlib
import re
import xml.etree.ElementTree as ET
import zlib

import mido
import numpy as np
import soundfile
from scipy.signal import resample_poly

# A kit piece's role from words in its name, first match wins (names as the kits spell them:
# "Sabian Hat Pedal", "Tom Low (Tama Superstar 16\")", "ride-crash20inch", "c#3 - stick").
ROLE_WORDS = [
    ("hh_pedal", r"(hat|hh|hi-hat).*(pedal|pd)|pedal.*(hat|hh)"),
    ("hh_open", r"(hat|hh|hi-hat).*(open|op|semi|swish)|open.*(hat|hh)|\bohh\b"),
    ("hh_closed", r"(hat|hh|hi-hat)"),
    ("ride_bell", r"ride.*(bell|cup)|\bbell\b"),
    ("ride", r"ride"),
    ("splash", r"splash"),
    ("china", r"china"),
    ("crash", r"crash|cymbal"),
    ("stick", r"stick|rim ?click"),
    ("clap", r"clap"),
    ("snare", r"snare|\bsd\b"),
    ("kick", r"kick|bass ?drum|\bbd\b"),
    ("tom_low", r"tom.*(low|floor|lo\b)|(low|floor).*tom"),
    ("tom_high", r"tom.*(hi|high)|(hi|high).*tom"),
    ("tom_mid", r"tom"),
    ("cowbell", r"cowbell"),
    ("tambourine", r"tambourine"),
]

# General MIDI drum notes and the role that plays them; notes of other roles (Latin percussion
# and effects) are not played.
GM_ROLES = {
    35: "kick", 36: "kick", 37: "stick", 38: "snare", 39: "clap", 40: "snare",
    41: "tom_low", 43: "tom_low", 45: "tom_mid", 47: "tom_mid", 48: "tom_high", 50: "tom_high",
    42: "hh_closed", 44: "hh_pedal", 46: "hh_open",
    49: "crash", 57: "crash", 52: "china", 55: "splash",
    51: "ride", 59: "ride", 53: "ride_bell",
    54: "tambourine", 56: "cowbell",
}

# A role a kit lacks is played by the first of these it has.
FALLBACK = {
    "tom_low": ("tom_mid", "tom_high"), "tom_high": ("tom_mid", "tom_low"),
    "tom_mid": ("tom_low", "tom_high"), "hh_pedal": ("hh_closed",), "hh_open": ("hh_closed",),
    "ride_bell": ("ride",), "ride": ("crash",), "splash": ("crash",), "china": ("crash",),
    "crash": ("ride",), "stick": ("snare",), "clap": ("snare",),
}

CHOKE_SECONDS = 0.01   # an open hi-hat's fade when the hat closes


def _tag(element):
    return element.tag.rsplit("}", 1)[-1]


def _child(element, name, default=None):
    for c in element:
        if _tag(c) == name:
            return c.text if c.text is not None else default
    return default


def role_of(name):
    name = name.lower()
    for role, pattern in ROLE_WORDS:
        if re.search(pattern, name):
            return role
    return None


class Piece:
    """One kit piece: its name and role, its gain, and velocity layers [(low, high, gain, file)]."""

    def __init__(self, name, role, gain, layers):
        self.name, self.role, self.gain, self.layers = name, role, gain, layers

    def layer(self, velocity):
        """The layer Hydrogen plays at `velocity` (0-1): the one whose range holds it, else the
        nearest."""
        for low, high, gain, path in self.layers:
            if low <= velocity <= high:
                return gain, path
        low, high, gain, path = min(self.layers, key=lambda layer: min(
            abs(velocity - layer[0]), abs(velocity - layer[1])))
        return gain, path


def read_kit(folder):
    """The pieces of the kit in `folder` that play a GM role: {role: [Piece]}."""
    root = ET.parse(folder / "drumkit.xml").getroot()
    pieces = {}
    for inst in root.iter():
        if _tag(inst) != "instrument":
            continue
        name = _child(inst, "name", "") or ""
        role = role_of(name)
        if role is None or _child(inst, "isMuted", "false") == "true":
            continue
        layers = []
        for layer in inst.iter():
            if _tag(layer) == "layer":
                layers.append((float(_child(layer, "min", 0)), float(_child(layer, "max", 1)),
                               float(_child(layer, "gain", 1)), folder / _child(layer, "filename")))
        if not layers and _child(inst, "filename"):   # the older format: one sample
            layers.append((0.0, 1.0, 1.0, folder / _child(inst, "filename")))
        layers = [layer for layer in layers if layer[3].exists()]
        if layers:
            gain = float(_child(inst, "volume", 1)) * float(_child(inst, "gain", 1))
            pieces.setdefault(role, []).append(Piece(name, role, gain, layers))
    return pieces


class KitRenderer:
    """Renders the drum part of a General MIDI file on one Hydrogen kit."""

    def __init__(self, folder, sample_rate=44100):
        self.folder = pathlib.Path(folder)
        self.sample_rate = sample_rate
        if not (self.folder / "drumkit.xml").is_file():
            raise RuntimeError(f"no Hydrogen drum kit at {self.folder}: install Debian's "
                               "hydrogen-drumkits (apt-get install hydrogen-drumkits)")
        self.pieces = read_kit(self.folder)
        if not self.pieces:
            raise RuntimeError(f"no kit piece of {self.folder} plays a General MIDI role")
        self._samples = {}

    def _sample(self, path):
        """A kit sample as float32 (2, n) at the render's rate; read once."""
        if path not in self._samples:
            x, sr = soundfile.read(path, dtype="float32", always_2d=True)
            x = x.T[:2] if x.shape[1] >= 2 else np.repeat(x.T, 2, axis=0)
            if sr != self.sample_rate:
                g = math.gcd(sr, self.sample_rate)
                x = resample_poly(x, self.sample_rate // g, sr // g, axis=1).astype(np.float32)
            self._samples[path] = np.ascontiguousarray(x)
        return self._samples[path]

    def _kit_for_song(self, rng):
        """{GM note: piece}: one piece per role for the song (a kit with two crashes or
        twelve kicks plays one of them throughout, as a drummer's set would)."""
        chosen = {role: options[rng.integers(len(options))]
                  for role, options in sorted(self.pieces.items())}
        kit = {}
        for note, role in GM_ROLES.items():
            role = next((r for r in (role,) + FALLBACK.get(role, ()) if r in chosen), None)
            if role is not None:
                kit[note] = chosen[role]
        return kit

    def render(self, midi_bytes, n_samples):
        """Exactly `n_samples` of stereo audio, shape (2, n_samples); the MIDI starts at 0.
        Which piece plays a role the kit has several of, and the kit's stereo image, are drawn
        per song from a seed the MIDI itself gives, so a render is repeatable."""
        rng = np.random.default_rng(zlib.crc32(midi_bytes))
        kit = self._kit_for_song(rng)
        # kick and snare near the centre, the rest anywhere, as drum kits are panned
        spread = {"kick": 0.1, "snare": 0.2, "stick": 0.2, "clap": 0.3}
        pan = {role: float(rng.uniform(-1, 1) * spread.get(role, 0.6)) for role in self.pieces}
        hits = []   # (start sample, piece, velocity 0-1), in time order
        t = 0.0
        for msg in mido.MidiFile(file=io.BytesIO(midi_bytes)):
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0 and msg.channel == 9:
                piece = kit.get(msg.note)
                if piece is not None:
                    hits.append((int(round(t * self.sample_rate)), piece, msg.velocity / 127))
        closes = [start for start, piece, _ in hits if piece.role in ("hh_closed", "hh_pedal")]
        fade = int(CHOKE_SECONDS * self.sample_rate)
        out = np.zeros((2, n_samples), dtype=np.float32)
        for start, piece, velocity in hits:
            if start >= n_samples:
                continue
            gain, path = piece.layer(velocity)
            x = self._sample(path)[:, :n_samples - start] * np.float32(gain * piece.gain * velocity)
            if piece.role == "hh_open":   # choked by the next closed or pedal hat
                k = bisect.bisect_right(closes, start)
                cut = closes[k] - start if k < len(closes) else x.shape[1]
                if cut < x.shape[1]:
                    end = min(x.shape[1], cut + fade)
                    x = x[:, :end]
                    x[:, cut:] *= np.linspace(1, 0, end - cut, dtype=np.float32)
            p = pan[piece.role]
            out[0, start:start + x.shape[1]] += x[0] * np.float32(min(1.0, 1 - p))
            out[1, start:start + x.shape[1]] += x[1] * np.float32(min(1.0, 1 + p))
        return out
