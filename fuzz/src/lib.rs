//! What the fuzz targets share.

use std::sync::Once;

/// Puts Rust's default panic hook back in place of libFuzzer's, which aborts at the first panic
/// even where the code under test catches it on purpose: Sift contains the panics symphonia 0.6
/// has on some hostile files (`crates/cli/src/audio_file/decode.rs`, `contained`), and turns
/// them into clear errors. A panic that escapes the target is still a crash: libfuzzer-sys
/// aborts on any panic that unwinds out of it. Call it first in a target that reads audio files.
pub fn crash_only_on_escaping_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| drop(std::panic::take_hook()));
}
