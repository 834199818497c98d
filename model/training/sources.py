"""Every outside source the training data is made from: where it is installed and its licence.

This table is the single place that names them; `render.py` writes it into each data set's
`sources.json`, and the ONNX export will copy it into the model's provenance metadata. The
licences were read from each Debian package's /usr/share/doc/<package>/copyright (and, for
OpenMSX, its own license.txt); `model/README.md` has the human-readable version.
"""
import pathlib

SF2 = pathlib.Path("/usr/share/sounds/sf2")
OPENMSX = pathlib.Path("/usr/share/games/openttd/baseset/openmsx")

SOURCES = {
    "fluidr3-gm": {
        "package": "debian:fluid-soundfont-gm 3.1-5.3",
        "path": str(SF2 / "FluidR3_GM.sf2"),
        "licence": "MIT",
        "role": "SoundFont for every stem",
    },
    "musescore-general": {
        "package": "debian:musescore-general-soundfont-lossless 0.2.1-1",
        "path": str(SF2 / "MuseScore_General_Full.sf2"),
        "licence": "MIT (parts CC0 / public domain)",
        "role": "SoundFont for every stem",
    },
    "avl-black-pearl": {
        "package": "debian:avldrums.lv2 0.5.2-2",
        "path": str(SF2 / "Black_Pearl_4_LV2.sf2"),
        "licence": "CC-BY-SA-3.0 (Glen MacArthur, AVL Drumkits)",
        "role": "drum kit",
    },
    "avl-red-zeppelin": {
        "package": "debian:avldrums.lv2 0.5.2-2",
        "path": str(SF2 / "Red_Zeppelin_4_LV2.sf2"),
        "licence": "CC-BY-SA-3.0 (Glen MacArthur, AVL Drumkits)",
        "role": "drum kit",
    },
    "mma": {
        "package": "debian:mma 21.09-1",
        "path": "/usr/share/mma/lib/stdlib",
        "licence": "GPL-2+",
        "role": "accompaniment grooves (drums, bass, chords) arranged from random chord charts",
    },
    "openmsx": {
        "package": "debian:openttd-openmsx 0.4.2-1",
        "path": str(OPENMSX),
        "licence": "GPL-2.0",
        "role": "31 complete MIDI songs (drums, bass, other)",
    },
    "flite": {
        "package": "debian:flite 2.2-5",
        "path": "/usr/bin/flite",
        "licence": "CMU Flite licence (BSD-like, permissive); voices kal16, awb, rms, slt",
        "role": "speech re-sung as the vocal stem",
    },
    "espeak-ng": {
        "package": "debian:espeak-ng 1.51+dfsg-10+deb12u2",
        "path": "/usr/bin/espeak-ng",
        "licence": "GPL-3+",
        "role": "speech in 12 languages re-sung as the vocal stem",
    },
    "fluidsynth": {
        "package": "debian:libfluidsynth3 2.3.1-2",
        "path": "libfluidsynth.so.3",
        "licence": "LGPL-2.1+",
        "role": "MIDI renderer (tool; nothing of it is in the data)",
    },
    "pyworld": {
        "package": "pypi:pyworld 0.3.5",
        "path": "pyworld",
        "licence": "MIT (WORLD vocoder: modified BSD)",
        "role": "vocoder that re-pitches the speech (tool)",
    },
}

MELODIC_SOUNDFONTS = ["fluidr3-gm", "musescore-general"]
DRUM_SOUNDFONTS = ["fluidr3-gm", "musescore-general", "avl-black-pearl", "avl-red-zeppelin"]
BANK0_KITS = ["avl-black-pearl", "avl-red-zeppelin"]  # one kit, stored as bank 0 preset 0


def path(name):
    return SOURCES[name]["path"]


def openmsx_songs():
    return sorted(OPENMSX.glob("*.mid"))
