//! A stall in Sift's own model, through the command line's stall injector
//! (`sift separate --realtime --stall MS/EVERY_MS`), is not heard: on real music, each stem of
//! the paced run stays within the targets of the same model's stall-free render. Its own test
//! binary, so it runs alone: a paced run measures the machine as much as the code.

mod common;

use common::{json_of, scratch, separate};
use sift_test_support as support;

use sift_cli::audio_file;
use sift_cli::evaluation::{global_sdr, worst_window_sdr};

const STEMS: [&str; 4] = ["vocals", "drums", "bass", "other"];

/// 20 ms stalls every second (a worker 14 ms late each time: its slack at 128-sample blocks is
/// one 5.8 ms hop): every stem >= 25 dB over the clip and >= 10 dB in its worst 50 ms window
/// against the stall-free render (the dry fall-back gave 4 dB there for the vocals), all late
/// samples concealed, none dry, and the stems still sum to the mixture.
#[test]
fn twenty_ms_stalls_in_the_own_model_are_not_heard() {
    let clip = support::rock_clip();
    let model = common::own_model();
    let args = ["--model", model.to_str().unwrap(), "--mode", "live", "--block", "128"];
    let reference_dir = scratch("stall-free");
    json_of(&separate(&clip.join("mixture.wav"), &reference_dir, &args));
    let stalled_dir = scratch("stalled");
    let stalled_args = [&args[..], &["--realtime", "--stall", "20/1000"]].concat();
    let report = json_of(&separate(&clip.join("mixture.wav"), &stalled_dir, &stalled_args));
    let missed = report["missed_samples"].as_u64().unwrap();
    assert!(missed > 0, "the stalls made no sample late: {report}");
    assert_eq!(report["concealed_samples"].as_u64(), Some(missed), "late samples fell back to dry: {report}");

    let input = audio_file::read(&clip.join("mixture.wav")).unwrap();
    let window = input.sample_rate as usize / 20;
    let mut stalled_stems = Vec::new();
    for stem in STEMS {
        let read = |dir: &std::path::Path| audio_file::read(&dir.join(format!("{stem}.wav"))).unwrap().channels;
        let (reference, stalled) = (read(&reference_dir), read(&stalled_dir));
        let global = global_sdr(&reference, &stalled);
        let worst = worst_window_sdr(&reference, &stalled, window).expect("the stem has sound");
        eprintln!("{stem}: {global:.1} dB over the clip, {worst:.1} dB in its worst 50 ms ({missed} late samples)");
        assert!(global >= 25.0 && worst >= 10.0, "{stem}: {global:.1} dB over the clip, {worst:.1} dB at worst");
        stalled_stems.push(stalled);
    }
    let null = support::peak_difference_db(&support::sum_stems(&stalled_stems), &input.channels);
    assert!(null <= -80.0, "the stems differ from the mixture by {null:.1} dBFS");
}
