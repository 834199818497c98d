"""Split a General MIDI file into one MIDI file per stem.

A note goes to `drums` on MIDI channel 10, to `bass` when its channel's current GM program is a
bass (programs 33-40, i.e. 32-39 zero-based), to `vocals` when it is a voice program (choir,
voice oohs, synth voice; only when `voice_programs_are_vocals`) and to `other` otherwise.
Every non-note message (tempo, program changes, controllers, pitch bend) is kept in every stem,
so each stem plays exactly as it does in the full arrangement.
"""
import io

import mido

DRUM_CHANNEL = 9
BASS_PROGRAMS = range(32, 40)
VOICE_PROGRAMS = (52, 53, 54)


def stem_of(channel, program, voice_programs_are_vocals=False):
    if channel == DRUM_CHANNEL:
        return "drums"
    if program in BASS_PROGRAMS:
        return "bass"
    if voice_programs_are_vocals and program in VOICE_PROGRAMS:
        return "vocals"
    return "other"


def split(midi_bytes, stems=("drums", "bass", "other"), voice_programs_are_vocals=False,
          max_seconds=None):
    """{stem: MIDI bytes, or None when the stem has no notes}; `max_seconds` cuts the song."""
    src = mido.MidiFile(file=io.BytesIO(midi_bytes))
    merged = mido.merge_tracks(src.tracks)
    program = [0] * 16
    outs = {s: mido.MidiTrack() for s in stems}
    pending = {s: 0 for s in stems}  # delta ticks accumulated since the stem's last message
    has_notes = {s: False for s in stems}
    tempo, seconds = 500000, 0.0
    for msg in merged:
        seconds += mido.tick2second(msg.time, src.ticks_per_beat, tempo)
        if max_seconds is not None and seconds > max_seconds:
            break
        if msg.type == "set_tempo":
            tempo = msg.tempo
        if msg.type == "program_change":
            program[msg.channel] = msg.program
        for s in stems:
            pending[s] += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            targets = [stem_of(msg.channel, program[msg.channel], voice_programs_are_vocals)]
        else:
            targets = list(stems)  # note-offs and everything else go everywhere
        for s in targets:
            if s not in outs:
                continue
            outs[s].append(msg.copy(time=pending[s]))
            pending[s] = 0
            has_notes[s] |= msg.type == "note_on" and msg.velocity > 0
    result = {}
    for s in stems:
        if not has_notes[s]:
            result[s] = None
            continue
        mid = mido.MidiFile(type=0, ticks_per_beat=src.ticks_per_beat)
        mid.tracks.append(outs[s])
        buf = io.BytesIO()
        mid.save(file=buf)
        result[s] = buf.getvalue()
    return result


def length_seconds(midi_bytes):
    return mido.MidiFile(file=io.BytesIO(midi_bytes)).length
