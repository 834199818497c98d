"""Sift Single in pedalboard: processing, and the Stem parameter selecting what comes out."""

import numpy as np
import pytest

from hostutil import RATE, aligned, bundle_path, db, find_delay, load_clip, peak, report, sdr

import pedalboard

SECONDS = 4


@pytest.fixture(scope="module")
def clip():
    return load_clip("mixture")[:, : SECONDS * RATE]


@pytest.fixture(scope="module")
def single():
    path = str(bundle_path())
    names = pedalboard.VST3Plugin.get_plugin_names_for_file(path)
    assert "Sift Single" in names, f"bundle holds {names}"
    return pedalboard.load_plugin(path, plugin_name="Sift Single")


def run(plugin, audio, stem):
    plugin.stem = stem
    assert plugin.stem == stem
    out = plugin(audio, RATE, reset=True)
    assert out.shape == audio.shape, f"output shape {out.shape} for input {audio.shape}"
    assert np.all(np.isfinite(out)), "non-finite samples"
    return out


def test_parameters(single):
    params = list(single.parameters.keys())
    report(parameters=params, stem_values=single.parameters["stem"].valid_values)
    assert "stem" in params
    assert list(single.parameters["stem"].valid_values) == ["Remix", "Vocals", "Drums", "Bass", "Other", "Extra"]


def test_remix_is_the_delayed_input(single, clip):
    out = run(single, clip, "Remix")
    assert peak(out) > 0.1, "output is silent"
    delay = find_delay(clip, out, max_lag=RATE)
    n = clip.shape[1] - delay
    null = db(peak(out[:, delay:] - clip[:, :n]) / peak(clip))
    report(delay_in_output=delay, remix_null_db=null)
    assert null <= -60, f"Remix doesn't null against the input delayed by {delay}: {null:.1f} dB"


def test_vocals_stem(single, clip):
    remix = run(single, clip, "Remix")
    delay = find_delay(clip, remix, max_lag=RATE)
    out = run(single, clip, "Vocals")
    vocals = load_clip("vocals")[:, : SECONDS * RATE]
    n = clip.shape[1] - delay
    value = sdr(vocals[:, :n], out[:, delay:])
    report(delay=delay, vocals_sdr_db=value)
    assert peak(out) > 0.01, "Vocals output is silent"
    assert value >= 8, f"Vocals SDR {value:.2f} dB < 8 dB"


def test_drums_stem_with_the_default_four_stem_model(single, clip):
    # The default model (Spleeter's vocals, Sift's own drums, bass and other) has drums.
    remix = run(single, clip, "Remix")
    delay = find_delay(clip, remix, max_lag=RATE)
    out = run(single, clip, "Drums")
    drums = load_clip("drums")[:, : SECONDS * RATE]
    n = clip.shape[1] - delay
    value = sdr(drums[:, :n], out[:, delay:])
    unseparated = sdr(drums[:, :n], clip[:, :n])
    report(drums_peak=peak(out), drums_sdr_db=value, mixture_as_drums_sdr_db=unseparated)
    assert peak(out) > 0.01, "Drums output is silent"
    assert value >= unseparated + 3, f"Drums SDR {value:.2f} dB, the mixture itself {unseparated:.2f} dB"


def test_state_round_trip():
    path = str(bundle_path())
    first = pedalboard.load_plugin(path, plugin_name="Sift Single")
    default_state = first.raw_state
    first.stem, first.vocals_mute, first.mode, first.output_gain_db = "Vocals", True, "Studio", -6.0
    # Host parameter changes reach the plugin's state with the next process call.
    first(np.zeros((2, 4096), np.float32), RATE)
    state = first.raw_state
    assert state != default_state, "raw_state did not change after the parameters changed"
    second = pedalboard.load_plugin(path, plugin_name="Sift Single")
    assert (second.stem, second.vocals_mute, second.mode) == ("Remix", False, "Balanced")
    second.raw_state = state
    loaded = (second.stem, second.vocals_mute, second.mode, round(second.output_gain_db, 1))
    report(loaded=loaded)
    assert loaded == ("Vocals", True, "Studio", -6.0), f"state did not round-trip: {loaded}"
