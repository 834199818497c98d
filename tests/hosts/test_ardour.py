"""Sift (VST3) in Ardour 7, a full DAW, headless: a session made from a script, exported offline.

Ardour tells a VST3 plugin "real time" in `setupProcessing` when it creates it, and marks each
`process()` call of an export as offline in `ProcessData.processMode` while it renders faster
than real time. A plugin that only listens to the first falls back to the dry signal in every
export (vendor/README.md). These tests build a session with `ardour7-lua` (a stereo track with
strict I/O, the eval mixture as a region at 0, Sift first on the track), reload it in a second
`ardour7-lua` process and export the master bus with `Session:simple_export()`, as 32-bit float.

Ardour runs in a private home: Sift is linked into ~/.vst3 and indexed with Ardour's own
`ardour-vst3-scanner` (its headless tools only read the plugin cache), and a float WAV export
preset goes into its user configuration. Figures (2026-12-01, Spleeter 2-stem, balanced): remix
residual -127 dB at lag 0; Vocals-Mute export 13.98 dB against drums+bass+other, where the dry
mix, and the export before the VST3 process-mode fix, score 1.63 dB.

Needs Debian's `ardour` package (ardour7-lua and ardour-vst3-scanner; Ardour's "None (Dummy)"
audio back end, so no sound card, JACK or display) and the bundle from
`cargo xtask bundle sift --release`.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hostutil import RATE, bundle_path, db, load_clip, peak, report, sdr

HERE = Path(__file__).resolve().parent
LUA = HERE / "ardour"
ARDOUR_LUA = "ardour7-lua"
ARDOUR_LIBS = "/usr/lib/ardour7"
VST3_SCANNER = f"{ARDOUR_LIBS}/ardour-vst3-scanner"
# Debian packages the Ardour tests need, by the program that needs them.
ARDOUR_PACKAGES = {ARDOUR_LUA: "ardour", VST3_SCANNER: "ardour"}
PRESET_UUID = "5f8e0c52-7a1e-4d36-9b5e-51f7a0c0e801"
FORMAT_UUID = "5f8e0c52-7a1e-4d36-9b5e-51f7a0c0e802"
# Sift's parameters are named "<Role> Mute", "<Role> Gain", ... (plugin/src/plugin/params.rs).
VOCALS_MUTE = "Vocals Mute"

PRESET = f"""<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="{PRESET_UUID}" name="Sift test: WAV float">
  <ExportFormat id="{FORMAT_UUID}"/>
  <ExportFilename>
    <Folder relative="1" path="export"/>
    <Field name="label" enabled="0"/>
    <Field name="session" enabled="0"/>
    <Field name="snapshot" enabled="0"/>
    <Field name="timespan" enabled="1"/>
    <Field name="revision" enabled="0"/>
    <Field name="time" enabled="0" value="T_None"/>
    <Field name="date" enabled="0" value="D_None"/>
  </ExportFilename>
</ExportPreset>
"""

FORMAT = f"""<?xml version="1.0" encoding="UTF-8"?>
<ExportFormatSpecification name="Sift test WAV float" id="{FORMAT_UUID}" with-cue="false" with-toc="false" with-mp4chaps="false" command="" analyse="false" soundcloud-upload="false">
  <Encoding id="F_WAV" type="T_Sndfile" extension="wav" name="WAV" has-sample-format="true" channel-limit="256"/>
  <SampleRate rate="1"/>
  <SRCQuality quality="SRC_SincBest"/>
  <EncodingOptions>
    <Option name="sample-format" value="SF_Float"/>
    <Option name="dithering" value="D_None"/>
    <Option name="tag-metadata" value="false"/>
    <Option name="tag-support" value="false"/>
    <Option name="broadcast-info" value="false"/>
  </EncodingOptions>
  <Processing>
    <Normalize enabled="false" loudness="no" dbfs="0" lufs="-23" dbtp="-1"/>
    <Silence>
      <Start><Trim enabled="false"/><Add enabled="false"><Duration format="Timecode" hours="0" minutes="0" seconds="0" frames="0"/></Add></Start>
      <End><Trim enabled="false"/><Add enabled="false"><Duration format="Timecode" hours="0" minutes="0" seconds="0" frames="0"/></Add></End>
    </Silence>
  </Processing>
</ExportFormatSpecification>
"""


def require_ardour():
    """Fails (never skips) unless Ardour 7's headless Lua session tool is installed."""
    missing = sorted({pkg for tool, pkg in ARDOUR_PACKAGES.items() if shutil.which(tool) is None})
    if missing:
        pytest.fail(
            f"{ARDOUR_LUA} not found: the Ardour tests need Ardour 7 from Debian; "
            f"install with `apt-get install --no-install-recommends {' '.join(missing)}`",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def ardour_env(tmp_path_factory):
    """A private home for Ardour: Sift in ~/.vst3 (Ardour's VST3 search path), the float export
    preset in its user configuration, and nothing from the real user's Ardour set-up."""
    require_ardour()
    bundle = bundle_path()
    home = tmp_path_factory.mktemp("ardour-home")
    (home / ".vst3").mkdir()
    (home / ".vst3" / "sift.vst3").symlink_to(bundle.resolve())
    export = home / ".config" / "ardour7" / "export"
    export.mkdir(parents=True)
    (export / "sift-test.preset").write_text(PRESET)
    (export / "sift-test.format").write_text(FORMAT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ARDOUR_", "SIFT_", "VST3_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local" / "share"))
    # Ardour's headless tools only read its plugin cache; index Sift the way the GUI's plugin scan
    # does, with Ardour's out-of-process VST3 scanner.
    scan = subprocess.run([VST3_SCANNER, "-f", str(home / ".vst3" / "sift.vst3")], env=env | {"LD_LIBRARY_PATH": ARDOUR_LIBS},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert scan.returncode == 0 and list((home / ".cache" / "ardour7" / "vst").glob("*.v3i")), (
        f"Ardour's VST3 scanner could not index {bundle} ({scan.returncode}):\n{(scan.stdout + scan.stderr)[-3000:]}"
    )
    return env


def ardour(env, script: str, *args, fresh: Path | None = None, timeout=180) -> str:
    """Runs one of the Lua scripts in ardour7-lua; returns its output, failing with it on error.

    Ardour 7.3 itself now and then dies of heap corruption (SIGSEGV or SIGABRT from glibc),
    with or without Sift: at start-up, about one run in twenty here, and while it tears down,
    about one run in six. A script that printed "done" has everything on disk, so a crash after
    that is forgiven; a crash before it is retried (twice at most, `fresh` removed first), and
    a script that fails or crashes every time fails the test."""
    cmd = [ARDOUR_LUA, str(LUA / script), *map(str, args)]
    for attempt in range(3):
        if fresh is not None and fresh.exists():
            shutil.rmtree(fresh)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        out = done.stdout + done.stderr
        finished = "done" in done.stdout.splitlines() and "Error:" not in out
        if finished and (done.returncode == 0 or done.returncode < 0):
            return out
        if done.returncode >= 0:
            break  # a real failure: Lua error or assertion
        print(f"{script}: Ardour died of signal {-done.returncode} before finishing (attempt {attempt + 1})")
    raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{out[-4000:]}")


@pytest.fixture(scope="module")
def mixture():
    return load_clip("mixture")


def export(env, tmp_path: Path, mixture: np.ndarray, plugin: str, **params) -> tuple[np.ndarray, dict]:
    """Makes a session with `mixture` as a region and `plugin` (with `params`) on its track,
    exports samples 0..len from the reloaded session, and returns (export (2, len), facts: the
    plugin's latency, the track's outputs and the parameters after the reload)."""
    frames = mixture.shape[1]
    session = tmp_path / "session"
    settings = [f"{name.replace('_', ' ')}={value}" for name, value in params.items()]
    out = ardour(env, "create_session.lua", session, "sift-test", frames, plugin, *settings, fresh=session)
    facts = {}
    sources = []
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if key == "source":
            sources.append(Path(value.split(" ", 1)[1]))
        elif key in ("latency", "outputs"):
            facts[key] = int(value)
    assert len(sources) == 2, f"expected two mono sources from the bounce, got {sources}:\n{out}"
    # Fill the two sources Ardour wrote with the clip; its peak files are only for drawing.
    for channel, source in enumerate(sources):
        info = sf.info(source)
        assert (info.frames, info.channels, info.samplerate) == (frames, 1, RATE), f"{source}: {info}"
        sf.write(source, mixture[channel], RATE, subtype="FLOAT")
    for peakfile in (session / "peaks").glob("*"):
        peakfile.unlink()
    out = ardour(env, "export.lua", session, "sift-test", frames, PRESET_UUID, tmp_path / "export", "bounce",
                 fresh=tmp_path / "export")
    # The plugin's parameters as the reloaded session has them.
    for line in out.splitlines():
        if line.startswith("param "):
            name, _, value = line[len("param "):].rpartition(" = ")
            facts[name] = float(value)
    data, rate = sf.read(tmp_path / "export" / "bounce.wav", dtype="float32", always_2d=True)
    assert rate == RATE and data.shape == (frames, 2), f"export is {data.shape} at {rate} Hz"
    return np.ascontiguousarray(data.T), facts


def test_export_without_plugin_is_the_clip(ardour_env, tmp_path, mixture):
    """The harness itself: a track with no plugin exports the region unchanged."""
    out, _ = export(ardour_env, tmp_path, mixture, "")
    residual = db(peak(out - mixture) / peak(mixture))
    report(residual_db=residual)
    assert residual < -120, f"Ardour's export differs from the region by {residual:.1f} dB without any plugin"


def test_remix_export_nulls_at_lag_zero(ardour_env, tmp_path, mixture):
    """All stems at 0 dB: the exported remix is the input, sample for sample, at lag 0
    (Sift's reported latency and Ardour's delay compensation line it up)."""
    out, facts = export(ardour_env, tmp_path, mixture, "Sift")
    residual = db(peak(out - mixture) / peak(mixture))
    report(latency=facts.get("latency"), outputs=facts.get("outputs"), residual_db=residual)
    assert facts.get("outputs") == 2, f"the track has {facts.get('outputs')} outputs: strict I/O should keep it stereo"
    assert facts.get("latency", 0) > 0, "Ardour sees no latency from Sift"
    assert residual <= -80, f"the remix export does not null against the input at lag 0: {residual:.1f} dB"


def test_vocals_mute_export_is_the_accompaniment(ardour_env, tmp_path, mixture):
    """Vocals Mute on: the export is the accompaniment (the separation, not the dry mix)."""
    out, facts = export(ardour_env, tmp_path, mixture, "Sift", Vocals_Mute=1)
    assert facts.get(VOCALS_MUTE) == 1.0, f"Vocals Mute is not on in the reloaded session: {facts}"
    accompaniment = load_clip("drums") + load_clip("bass") + load_clip("other")
    got = sdr(accompaniment, out)
    dry = sdr(accompaniment, mixture)
    report(accompaniment_sdr_db=got, dry_mix_sdr_db=dry)
    assert got >= 10.0, (
        f"Vocals-Mute export scores {got:.2f} dB against the accompaniment (the dry mix scores {dry:.2f} dB): "
        "Sift did not separate during Ardour's offline export"
    )
