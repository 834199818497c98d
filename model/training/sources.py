"""Every outside source the training data is made from: where it is installed and its licence.

This table is the single place that names them; `render.py` and `prepare.py` write the part
they use into each data set's `sources.json`, and the ONNX export copies the training set's into
the model's provenance metadata. The licences were read from each Debian package's
/usr/share/doc/<package>/copyright (and, for OpenMSX, its own license.txt), and for the real
recordings (prepare.py, run 15 on) from the licence file of the repository that holds them
(quoted in `licence_text`); `model/README.md` has the human-readable version, with how to get
the recordings again.
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

# Real recordings (prepare.py): not Debian packages, but public repositories, as the research of
# Dec 7 found them (model/README.md, "Real recordings"). The CC BY-SA corpus is credited here and
# in the model's metadata, as its licence asks.
SOURCES.update({
    "eir": {
        "package": "github:ichbinsoftware/everythingisremixed (commit 6a6fbe3a6348, Feb 2 2026)",
        "path": "/tmp/data-sources/gh/everythingisremixed",
        "licence": "CC0-1.0 (Software-Entwicklungskit, \"Everything is Free\")",
        "licence_text": "LICENSE: \"CC0 1.0 Universal\" (Creative Commons Legal Code); README: "
                        "\"All stems, artwork, and code are public domain (CC0 1.0).\"",
        "role": "real multitrack stems of 7 songs (vocals, drums, synth bass, other); songs 1 "
                "and 3 held out for validation",
    },
    "pjs": {
        "package": "github:justln1113/TEST, folder PJS/ (commit 82321a6a5157, Jul 24 2020): "
                   "PJS corpus v1.1",
        "path": "/tmp/data-sources/gh/pjs/PJS/PJS_corpus_ver1.1",
        "licence": "CC-BY-SA-4.0 (PJS: Phoneme-balanced Japanese Singing-voice corpus, Junya "
                   "Koguchi and Shinnosuke Takamichi)",
        "licence_text": "PJS/pjs/00-svs-world/downloads/PJS_corpus_ver1.1/README.md: \"All the "
                        "data in the corpus is licensed with CC BY-SA 4.0.\" and \"Free for "
                        "non-commercial and commercial use\"",
        "role": "real a cappella singing (98 short songs, one singer, 25.8 min) as vocals-only "
                "examples",
    },
    "pyav": {
        "package": "pypi:av 18.1.0",
        "path": "av",
        "licence": "BSD-3-Clause (its wheel's FFmpeg: LGPL-2.1+)",
        "role": "AAC decoder and resampler for the real stems (tool)",
    },
})

HYDROGEN = "debian:hydrogen-drumkits 2017.09.19~dfsg-1"
HYDROGEN_KITS_DIR = pathlib.Path("/usr/share/hydrogen/data/drumkits")
# Hydrogen's drum kits that are drum sets (not hand percussion), each licence as the package's
# copyright file gives it; `drum_kits.KitRenderer` plays them.
for _key, _folder, _licence, _what in [
    ("h2-audiophob", "Audiophob", "CC0", "electronic/acoustic kit"),
    ("h2-bja-pacific", "BJA_Pacific", "CC-BY-SA-3.0-US (Luc Tunguay)", "recorded acoustic kit"),
    ("h2-colombo", "ColomboAcousticDrumkit",
     "GPL-2+ with composition exception (Marcos Guglielmetti)", "recorded acoustic kit"),
    ("h2-electric-empire", "ElectricEmpireKit", "GPL-2+ (Artemiy Pavlov)", "electronic kit"),
    ("h2-forzee", "ForzeeStereo", "GPL-2 (Vladimir Sadovnikov, Alexander Belokurov)",
     "recorded acoustic kit, stereo, multi-layered"),
    ("h2-hard-electro", "HardElectro1", "GPL-2+ (Artemiy Pavlov)", "electronic kit"),
    ("h2-millo", "Millo-Drums_v.1", "GPL-2 (Emiliano Grilli)", "recorded acoustic kit"),
    ("h2-millo-ml2", "Millo_MultiLayered2", "GPL-2 (Emiliano Grilli)",
     "recorded acoustic kit, multi-layered"),
    ("h2-millo-ml3", "Millo_MultiLayered3", "GPL-2 (Emiliano Grilli)",
     "recorded acoustic kit, multi-layered"),
    ("h2-black-pearl", "The Black Pearl 1.0", "GPL-2 (Glen MacArthur)",
     "recorded acoustic kit, multi-layered"),
    ("h2-varibreaks", "VariBreaks", "GPL-2+ (Artemiy Pavlov)", "break-beat kit"),
    ("h2-rumpf", "rumpf_kit_z01_h2", "CC-BY-3.0 (Emanuel Rumpf)", "recorded acoustic kit"),
]:
    SOURCES[_key] = {"package": HYDROGEN, "path": str(HYDROGEN_KITS_DIR / _folder),
                     "licence": _licence, "role": f"drum kit ({_what})"}

MELODIC_SOUNDFONTS = ["fluidr3-gm", "musescore-general"]
DRUM_SOUNDFONTS = ["fluidr3-gm", "musescore-general", "avl-black-pearl", "avl-red-zeppelin"]
BANK0_KITS = ["avl-black-pearl", "avl-red-zeppelin"]  # one kit, stored as bank 0 preset 0
HYDROGEN_KITS = [key for key in SOURCES if key.startswith("h2-")]


def drum_kits(render_cfg):
    """The drum kits a render config plays drums on: the SoundFont kits, and Hydrogen's kits
    where `hydrogen_kits = true` (data v3 on)."""
    return DRUM_SOUNDFONTS + (HYDROGEN_KITS if render_cfg["hydrogen_kits"] else [])


REAL = ["eir", "pjs", "pyav"]   # prepare.py's sources, not the renders'


def used(render_cfg):
    """The part of `SOURCES` a render config draws on (a data set's `sources.json`)."""
    unused = (set(HYDROGEN_KITS) - set(drum_kits(render_cfg))) | set(REAL)
    return {key: s for key, s in SOURCES.items() if key not in unused}


def path(name):
    return SOURCES[name]["path"]


def openmsx_songs():
    return sorted(OPENMSX.glob("*.mid"))
