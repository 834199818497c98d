//! The factory's classes and their audio buses, as a VST3 host scans them.

use sift_vst3_host::*;
use vst3::Steinberg::Vst::SpeakerArr::kStereo;

#[test]
fn the_factory_lists_both_audio_effects() {
    let module = Module::shared();
    let classes = module.classes();
    eprintln!("{}: {classes:?}", module.path().display());
    let mut names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, [SIFT, SIFT_SINGLE], "the factory's classes");
    for class in &classes {
        assert_eq!(class.category, AUDIO_EFFECT_CLASS, "{}'s category", class.name);
    }
}

/// One stereo bus called `name`: main or not, active by default, `kStereo`.
fn assert_stereo(bus: &Bus, name: &str, is_main: bool) {
    assert_eq!(bus.name, name, "bus name: {bus:?}");
    assert_eq!((bus.channels, bus.arrangement), (2, kStereo), "{name} is not stereo: {bus:?}");
    assert_eq!(bus.is_main, is_main, "{name} should be a {} bus: {bus:?}", if is_main { "main" } else { "aux" });
    assert!(bus.default_active, "{name} is not active by default: {bus:?}");
}

#[test]
fn sift_has_one_stereo_input_and_six_stereo_outputs() {
    let plugin = Plugin::new(SIFT).unwrap();
    eprintln!("inputs: {:#?}\noutputs: {:#?}", plugin.inputs(), plugin.outputs());
    assert_eq!(plugin.inputs().len(), 1, "Sift's inputs: {:?}", plugin.inputs());
    assert_stereo(&plugin.inputs()[0], "Input", true);
    let names: Vec<&str> = plugin.outputs().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, BUSES, "Sift's output buses: the remix, then one per stem role");
    for (i, bus) in plugin.outputs().iter().enumerate() {
        assert_stereo(bus, BUSES[i], i == 0);
    }
    let channels: i32 = plugin.outputs().iter().map(|b| b.channels).sum();
    assert_eq!(channels, 12, "Sift's output channels");
}

#[test]
fn sift_single_has_one_stereo_output() {
    let plugin = Plugin::new(SIFT_SINGLE).unwrap();
    assert_eq!((plugin.inputs().len(), plugin.outputs().len()), (1, 1), "{:?} {:?}", plugin.inputs(), plugin.outputs());
    assert_stereo(&plugin.inputs()[0], "Input", true);
    assert_stereo(&plugin.outputs()[0], "Output", true);
}
