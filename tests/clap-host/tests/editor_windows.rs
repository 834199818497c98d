//! The editor on Windows, the half that runs under Wine: the Windows `sift.clap` opens its editor
//! embedded in a Win32 host window, as in a Windows DAW, and the host reads back what a click on
//! it changed. The Linux half (`tests/editor.rs`, `the_windows_editor_under_wine_...`) reads the
//! editor's picture from Wine's X windows on the same display, checks it like the Linux editor's
//! and clicks Vocals MUTE. `cargo xtask test` runs the two together
//! (`xtask/src/windows/editor_test.rs`); on its own this test is ignored.
//!
//! The halves meet through two files the environment names:
//! - `SIFT_EDITOR_OPEN`, written here once the editor is open and has drawn: where its window's
//!   top-left corner is on the screen and its size, `x y width height`;
//! - `SIFT_EDITOR_CHECKED`, written by xtask once the Linux half is done, passed or not: this half
//!   then reads the parameter back and closes the editor.
#![cfg(windows)] // a Win32 window (lib.rs)

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use sift_clap_host::*;

/// The editor's size at 100 % (as in `tests/editor.rs`).
const SIZE: (u32, u32) = (720, 420);
/// How long the Linux half may take, at most, before this one gives up.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{name} is not set: this test runs with its Linux half (cargo xtask test)"))
}

/// What the host's main thread does while the editor is open: dispatches the window messages
/// (the editor's input and redraws), answers the plugin's callbacks, and processes a block of
/// silence whenever the plugin asks for a parameter flush (the editor changed a parameter: the
/// change reaches the host as output events of `process`, and the plugin's value with it).
struct Host<'a> {
    plugin: &'a mut TestPlugin,
    window: &'a HostWindow,
    audio: AudioSide,
    /// The parameter values the plugin sent the host.
    told: Vec<(ClapId, f64)>,
}

impl Host<'_> {
    fn run_for(&mut self, duration: Duration) {
        let start = Instant::now();
        while start.elapsed() < duration {
            self.step();
        }
    }

    fn step(&mut self) {
        self.window.pump_messages();
        self.plugin.pump();
        if self.plugin.shared(|s| s.flush_requested.swap(false, std::sync::atomic::Ordering::SeqCst)) {
            let silence = vec![0.0f32; 512];
            let mut outputs: Vec<Vec<Vec<f32>>> =
                self.plugin.output_channels().iter().map(|&n| vec![Vec::new(); n as usize]).collect();
            self.audio.process_block(&[&silence, &silence], &mut outputs, &[]).expect("process");
            self.told.extend(self.audio.take_params_out());
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The editor opens at its default size in a Win32 host under Wine, and a click on its Vocals
/// MUTE (by the Linux half) turns the parameter on and tells the host.
#[test]
#[ignore = "runs with its Linux half: cargo xtask test (xtask/src/windows/editor_test.rs)"]
fn under_wine_the_editor_opens_and_a_click_on_vocals_mute_reaches_the_host() {
    let open_file = env_path("SIFT_EDITOR_OPEN");
    let checked_file = env_path("SIFT_EDITOR_CHECKED");
    let window = HostWindow::new(SIZE.0, SIZE.1);
    let mut plugin = TestPlugin::sift();
    let vocals_mute = plugin.param_id("Vocals Mute");
    plugin.activate(44_100.0, 1, 512).unwrap();
    let open = plugin.open_editor(&window, Some(1.0)).unwrap();
    assert_eq!((open.width, open.height), SIZE, "default editor size");
    assert_eq!(window.size(), SIZE, "host window");
    assert_eq!(window.child_size(), Some(SIZE), "the editor's window embedded in the host's");
    let before = plugin.get_param(vocals_mute);

    let audio = plugin.take_audio().expect("active");
    let mut host = Host { plugin: &mut plugin, window: &window, audio, told: Vec::new() };
    // Let it draw its first frames (OpenGL on Mesa's software renderer under Wine).
    host.run_for(Duration::from_secs(2));
    let (x, y) = window.origin();
    std::fs::write(&open_file, format!("{x} {y} {} {}\n", SIZE.0, SIZE.1))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", open_file.display()));
    eprintln!("editor open: {}x{} at ({x}, {y}); waiting for the Linux half", SIZE.0, SIZE.1);
    let start = Instant::now();
    while !checked_file.exists() {
        assert!(start.elapsed() < CHECK_TIMEOUT, "the Linux half did not finish in {CHECK_TIMEOUT:?}");
        host.step();
    }
    let waited = start.elapsed();
    // The last redraw and flush after the click.
    host.run_for(Duration::from_millis(300));
    let Host { audio, told, .. } = host;
    plugin.put_audio(audio);
    let after = plugin.get_param(vocals_mute);
    plugin.close_editor();
    assert_eq!(window.child_size(), None, "the editor's window is still there after closing");

    eprintln!(
        "Vocals Mute {before} -> {after} after the Linux half ({:.1} s); the host was told {told:?}",
        waited.as_secs_f64()
    );
    assert_eq!(before, 0.0, "Vocals Mute is on before any click");
    assert!(told.contains(&(vocals_mute, 1.0)), "the host was not told Vocals Mute = on: {told:?}");
    assert_eq!(after, 1.0, "the host reads Vocals Mute = {after} after the click on it");
}
