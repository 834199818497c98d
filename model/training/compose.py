"""Random songs: an accompaniment arranged by MMA from a chord chart, and a sung melody over it.

A `Song` is everything the renderer needs: the accompaniment as MIDI bytes (drums, bass and
chords/arpeggios/guitars from one of MMA's ~1,100 grooves) and the vocal line as `Note`s in
seconds, grouped in phrases, that follow the same chords.
"""
import dataclasses
import io
import pathlib
import re
import subprocess
import tempfile

import mido

MMA_STDLIB = pathlib.Path("/usr/share/mma/lib/stdlib")
NOTE_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
# Progressions as scale degrees (0-based) of the key's diatonic triads.
PROGRESSIONS = [
    [0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 3, 0, 4], [0, 0, 3, 4],
    [1, 4, 0, 0], [0, 5, 1, 4], [3, 4, 0, 5], [0, 2, 3, 4], [0, 4, 3, 3], [5, 4, 3, 4],
]
SKIP_GROOVE = re.compile(r"(intro|end|fill|metronome|break)", re.I)


@dataclasses.dataclass
class Note:
    start: float     # seconds
    dur: float       # seconds
    pitch: int       # MIDI note number


@dataclasses.dataclass
class Song:
    groove: str
    tempo: float
    key: str
    chords: list          # chord symbol per bar
    seconds: float        # length of the arranged music (without the release tail)
    accompaniment: bytes  # standard MIDI file written by MMA
    phrases: list         # list of lists of Note: the vocal line


def list_grooves(stdlib=MMA_STDLIB):
    """Every groove MMA's standard library defines, except intros, endings and fills."""
    grooves = []
    for path in sorted(stdlib.glob("*.mma")):
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"\s*DefGroove\s+(\S+)", line, re.I)
            if m and not SKIP_GROOVE.search(m.group(1)):
                grooves.append(m.group(1))
    return sorted(set(grooves))


def _triad(key_root, minor, degree):
    """(root pitch class, symbol suffix, chord pitch classes) of a diatonic triad."""
    scale = MINOR if minor else MAJOR
    root = (key_root + scale[degree]) % 12
    third = (key_root + scale[(degree + 2) % 7]) % 12
    fifth = (key_root + scale[(degree + 4) % 7]) % 12
    quality = (third - root) % 12
    dim = (fifth - root) % 12 == 6
    suffix = "dim" if dim else ("m" if quality == 3 else "")
    return root, suffix, [root, third, fifth]


def chord_chart(rng, bars):
    """A key, and per bar (symbol, chord pitch classes)."""
    key_root = int(rng.integers(12))
    minor = rng.random() < 0.35
    prog = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    if minor:
        prog = [(d + 2) % 7 for d in prog]  # the same chords, named from the relative minor
    chart = []
    for bar in range(bars):
        root, suffix, tones = _triad(key_root, minor, prog[bar % len(prog)])
        if suffix == "" and rng.random() < 0.15:
            suffix, tones = "7", tones + [(root + 10) % 12]
        chart.append((NOTE_NAMES[root] + suffix, tones))
    scale = [(key_root + s) % 12 for s in (MINOR if minor else MAJOR)]
    return NOTE_NAMES[key_root] + ("m" if minor else ""), chart, scale


def run_mma(groove, tempo, chart):
    """MIDI bytes of the arrangement; raises if MMA rejects the groove."""
    lines = [f"Tempo {tempo:.0f}", f"Groove {groove}"]
    lines += [f"{i + 1} {sym}" for i, (sym, _) in enumerate(chart)]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = pathlib.Path(tmp, "song.mma"), pathlib.Path(tmp, "song.mid")
        src.write_text("\n".join(lines) + "\n")
        subprocess.run(["mma", "-f", str(out), str(src)], check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        return out.read_bytes()


def _beats_per_bar(midi):
    for msg in mido.merge_tracks(midi.tracks):
        if msg.type == "time_signature":
            return msg.numerator * 4 / msg.denominator
    return 4.0


def melody(rng, chart, scale, beats_per_bar, sec_per_beat, low, high):
    """Phrases of 2 or 4 bars separated by rests; chord tones on strong beats, steps between."""
    phrases, bar = [], int(rng.integers(0, 2))
    pitch = None
    while bar < len(chart):
        length = int(rng.choice([2, 4]))
        notes = []
        for b in range(bar, min(bar + length, len(chart))):
            beat = 0.0
            chord = chart[b][1]
            while beat < beats_per_bar - 1e-6:
                dur = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0]))
                dur = min(dur, beats_per_bar - beat)
                strong = beat == 0.0 or (beats_per_bar == 4 and beat == 2.0)
                if pitch is None:
                    pitch = int(rng.integers(low + 3, high - 3))
                cands = [p for p in range(low, high + 1)
                         if p % 12 in (chord if strong else scale)]
                step = int(rng.choice([-4, -2, -1, -1, 0, 1, 1, 2, 4]))
                target = pitch + step
                pitch = min(cands, key=lambda p: abs(p - target) + 0.1 * rng.random())
                last_of_phrase = b == bar + length - 1 and beat + dur >= beats_per_bar - 1e-6
                if rng.random() < 0.12 and not last_of_phrase:
                    beat += dur  # a rest inside the phrase
                    continue
                notes.append(Note((b * beats_per_bar + beat) * sec_per_beat,
                                  dur * sec_per_beat, pitch))
                beat += dur
        if notes:
            # the last note of a phrase is held a little longer, as singers do
            notes[-1].dur += sec_per_beat * float(rng.choice([0.0, 0.5, 1.0]))
            phrases.append(notes)
        bar += length + int(rng.choice([0, 1, 1, 2]))  # breath between phrases
    return phrases


def random_song(rng, grooves, min_seconds, voice_range):
    """A song of at least `min_seconds`, with a melody in `voice_range` = (low, high)."""
    tempo = float(rng.uniform(70, 165))
    for _ in range(20):  # a few grooves in the library are broken; try another
        groove = grooves[rng.integers(len(grooves))]
        probe = mido.MidiFile(file=io.BytesIO(run_mma(groove, tempo, [("C", [0, 4, 7])])))
        bpb = _beats_per_bar(probe)
        if probe.length > 0:
            break
    sec_per_beat = 60.0 / tempo
    bars = int(min_seconds / (bpb * sec_per_beat)) + 1
    key, chart, scale = chord_chart(rng, bars)
    midi = run_mma(groove, tempo, chart)
    phrases = melody(rng, chart, scale, bpb, sec_per_beat, *voice_range)
    return Song(groove=groove, tempo=tempo, key=key, chords=[c for c, _ in chart],
                seconds=bars * bpb * sec_per_beat, accompaniment=midi, phrases=phrases)


def melody_midi(phrases, program, channel=0, velocity=96):
    """The vocal line as a MIDI file for a GM voice program (the fallback 'singer')."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))  # 1 beat = 0.5 s
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    events = []
    for note in (n for p in phrases for n in p):
        events.append((note.start, 1, note.pitch))
        events.append((note.start + note.dur * 0.97, 0, note.pitch))
    now = 0
    for t, on, pitch in sorted(events, key=lambda e: (e[0], e[1])):
        tick = int(round(t * 960))
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, channel=channel, note=pitch,
                                  velocity=velocity if on else 0, time=tick - now))
        now = tick
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
