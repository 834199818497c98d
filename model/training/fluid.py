"""FluidSynth (libfluidsynth.so.3, Debian `libfluidsynth3`) driven through ctypes.

One `FluidRenderer` per SoundFont keeps the font loaded, so rendering a stem costs only the
synthesis itself (the `fluidsynth` command line re-reads a 140-480 MB font for every file). The
MIDI player runs on the synth's sample clock (`player.timing-source = sample`), so rendering is
as fast as the CPU allows and sample-exact.
"""
import ctypes
import ctypes.util

import numpy as np

_PLAYER_PLAYING = 1
_BLOCK = 4096


def _lib():
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    lib = ctypes.CDLL(name)
    vp, cp, ci, cd = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
    sigs = {
        "new_fluid_settings": ([], vp),
        "fluid_settings_setnum": ([vp, cp, cd], ci),
        "fluid_settings_setint": ([vp, cp, ci], ci),
        "fluid_settings_setstr": ([vp, cp, cp], ci),
        "new_fluid_synth": ([vp], vp),
        "fluid_synth_sfload": ([vp, cp, ci], ci),
        "fluid_synth_system_reset": ([vp], ci),
        "fluid_synth_set_channel_type": ([vp, ci, ci], ci),
        "fluid_synth_program_select": ([vp, ci, ci, ci, ci], ci),
        "fluid_synth_write_float": ([vp, ci, vp, ci, ci, vp, ci, ci], ci),
        "new_fluid_player": ([vp], vp),
        "fluid_player_add_mem": ([vp, vp, ctypes.c_size_t], ci),
        "fluid_player_play": ([vp], ci),
        "fluid_player_get_status": ([vp], ci),
        "delete_fluid_player": ([vp], None),
        "delete_fluid_synth": ([vp], None),
        "delete_fluid_settings": ([vp], None),
    }
    for fn, (args, res) in sigs.items():
        f = getattr(lib, fn)
        f.argtypes, f.restype = args, res
    return lib


class FluidRenderer:
    """Renders standard MIDI files (as bytes) to float32 stereo with one SoundFont."""

    def __init__(self, sf2_path, sample_rate=44100, gain=0.5, kit_on_bank0=False):
        """`kit_on_bank0`: the font is a drum kit stored as preset 0 of bank 0 (the AVL kits);
        channel 10 then plays it as a melodic channel instead of looking in bank 128."""
        self.lib = _lib()
        self.sample_rate = sample_rate
        self.settings = self.lib.new_fluid_settings()
        s = self.settings
        self.lib.fluid_settings_setnum(s, b"synth.sample-rate", float(sample_rate))
        self.lib.fluid_settings_setnum(s, b"synth.gain", float(gain))
        self.lib.fluid_settings_setint(s, b"synth.reverb.active", 0)   # reverb/chorus are
        self.lib.fluid_settings_setint(s, b"synth.chorus.active", 0)   # augmentations
        self.lib.fluid_settings_setint(s, b"synth.polyphony", 512)
        self.lib.fluid_settings_setint(s, b"synth.cpu-cores", 1)
        self.lib.fluid_settings_setstr(s, b"player.timing-source", b"sample")
        self.lib.fluid_settings_setint(s, b"player.reset-synth", 0)  # render() resets
        self.synth = self.lib.new_fluid_synth(s)
        self.kit_on_bank0 = kit_on_bank0
        self.sfont_id = self.lib.fluid_synth_sfload(self.synth, str(sf2_path).encode(), 1)
        if self.sfont_id < 0:
            raise RuntimeError(f"FluidSynth cannot load {sf2_path}")

    def render(self, midi_bytes, n_samples):
        """Exactly `n_samples` of stereo audio, shape (2, n_samples); the MIDI starts at 0."""
        lib = self.lib
        lib.fluid_synth_system_reset(self.synth)
        if self.kit_on_bank0:
            lib.fluid_synth_set_channel_type(self.synth, 9, 0)  # CHANNEL_TYPE_MELODIC
            lib.fluid_synth_program_select(self.synth, 9, self.sfont_id, 0, 0)
        player = lib.new_fluid_player(self.synth)
        buf = ctypes.create_string_buffer(bytes(midi_bytes), len(midi_bytes))
        lib.fluid_player_add_mem(player, buf, len(midi_bytes))
        lib.fluid_player_play(player)
        out = np.zeros((2, n_samples + _BLOCK), dtype=np.float32)
        left = np.zeros(_BLOCK, dtype=np.float32)
        right = np.zeros(_BLOCK, dtype=np.float32)
        for start in range(0, n_samples, _BLOCK):
            lib.fluid_synth_write_float(self.synth, _BLOCK, left.ctypes.data, 0, 1,
                                        right.ctypes.data, 0, 1)
            out[0, start:start + _BLOCK] = left
            out[1, start:start + _BLOCK] = right
        lib.delete_fluid_player(player)
        return out[:, :n_samples]

    def close(self):
        if self.synth:
            self.lib.delete_fluid_synth(self.synth)
            self.lib.delete_fluid_settings(self.settings)
            self.synth = None

    def __del__(self):
        self.close()
