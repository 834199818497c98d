//! The CLAP and VST3 plugins, glued to the engine with nice-plug.
//!
//! - [`Sift`]: stereo (or mono) in; the remix on the main output and five stereo stem buses
//!   (Vocals, Drums, Bass, Other, Extra).
//! - [`SiftSingle`]: one stereo output and a `Stem` parameter choosing the remix or one stem,
//!   for hosts that connect only the main bus.
//!
//! Both are thin: [`instance::Instance`] holds the engine, model and remix they share.

pub mod editor;
mod instance;
pub mod loader;
mod mixer;
pub mod monitor;
pub mod params;
pub mod roles;

use std::num::NonZeroU32;
use std::sync::Arc;

use nice_plug::prelude::*;
use nice_plug_egui::EguiEditor;

use self::editor::SiftEditor;
use self::instance::Instance;
use self::params::SingleParams;
use self::roles::Role;

const STEREO: Option<NonZeroU32> = NonZeroU32::new(2);
const MONO: Option<NonZeroU32> = NonZeroU32::new(1);
const STEREO_STEM_BUSES: &[NonZeroU32] = &[NonZeroU32::new(2).unwrap(); Role::COUNT];
const MONO_STEM_BUSES: &[NonZeroU32] = &[NonZeroU32::new(1).unwrap(); Role::COUNT];
const STEM_BUS_NAMES: &[&str] = &Role::NAMES;

/// Sift with its five stem buses.
#[derive(Default)]
pub struct Sift {
    instance: Instance,
}

impl Plugin for Sift {
    const NAME: &'static str = "Sift";
    const VENDOR: &'static str = "Sift";
    const URL: &'static str = "https://github.com/sift-audio/sift";
    const EMAIL: &'static str = "sift@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: STEREO,
            main_output_channels: STEREO,
            aux_input_ports: &[],
            aux_output_ports: STEREO_STEM_BUSES,
            names: PortNames {
                layout: Some("Stereo"),
                main_input: Some("Input"),
                main_output: Some("Remix"),
                aux_inputs: &[],
                aux_outputs: STEM_BUS_NAMES,
            },
        },
        AudioIOLayout {
            main_input_channels: MONO,
            main_output_channels: MONO,
            aux_input_ports: &[],
            aux_output_ports: MONO_STEM_BUSES,
            names: PortNames {
                layout: Some("Mono"),
                main_input: Some("Input"),
                main_output: Some("Remix"),
                aux_inputs: &[],
                aux_outputs: STEM_BUS_NAMES,
            },
        },
    ];
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;
    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<SiftEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.instance.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        params::keep_old_defaults(state);
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        self.instance.editor(None, Self::NAME)
    }

    fn activate(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.instance.activate(layout, config, context)
    }

    fn reset(&mut self) {
        self.instance.reset();
    }

    fn deactivate(&mut self) {
        self.instance.stop();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let main = buffer.as_slice();
        self.instance.process(main, context);
        let channels = main.len();
        for (role, bus) in Role::ALL.iter().zip(aux.outputs.iter_mut()) {
            for (ch, out) in bus.as_slice().iter_mut().enumerate() {
                let len = out.len();
                out.copy_from_slice(&self.instance.buses[*role as usize * channels + ch.min(channels - 1)][..len]);
            }
        }
        ProcessStatus::Normal
    }
}

/// Sift with one output: the remix, or the stem the `Stem` parameter picks.
pub struct SiftSingle {
    params: Arc<SingleParams>,
    instance: Instance,
}

impl Default for SiftSingle {
    fn default() -> Self {
        let params = Arc::new(SingleParams::default());
        Self { instance: Instance::new(params.common.clone()), params }
    }
}

impl Plugin for SiftSingle {
    const NAME: &'static str = "Sift Single";
    const VENDOR: &'static str = Sift::VENDOR;
    const URL: &'static str = Sift::URL;
    const EMAIL: &'static str = Sift::EMAIL;
    const VERSION: &'static str = Sift::VERSION;
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: STEREO,
            main_output_channels: STEREO,
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Stereo"),
                main_input: Some("Input"),
                main_output: Some("Output"),
                aux_inputs: &[],
                aux_outputs: &[],
            },
        },
        AudioIOLayout {
            main_input_channels: MONO,
            main_output_channels: MONO,
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Mono"),
                main_input: Some("Input"),
                main_output: Some("Output"),
                aux_inputs: &[],
                aux_outputs: &[],
            },
        },
    ];
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;
    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<SiftEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        params::keep_old_defaults(state);
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        self.instance.editor(Some(self.params.clone()), Self::NAME)
    }

    fn activate(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.instance.activate(layout, config, context)
    }

    fn reset(&mut self) {
        self.instance.reset();
    }

    fn deactivate(&mut self) {
        self.instance.stop();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let main = buffer.as_slice();
        self.instance.process(main, context);
        if let Some(role) = self.params.stem.value().role() {
            let channels = main.len();
            for (ch, out) in main.iter_mut().enumerate() {
                let len = out.len();
                out.copy_from_slice(&self.instance.buses[role as usize * channels + ch][..len]);
            }
        }
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Sift {
    const CLAP_ID: &'static str = "audio.sift.stems";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Real-time AI stem separation: five stem buses and a remix");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Stereo, ClapFeature::Mono, ClapFeature::Utility];
}

impl ClapPlugin for SiftSingle {
    const CLAP_ID: &'static str = "audio.sift.single";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Real-time AI stem separation: one stem or the remix");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Stereo, ClapFeature::Mono, ClapFeature::Utility];
}

impl Vst3Plugin for Sift {
    const VST3_CLASS_ID: [u8; 16] = *b"SiftStemSplitter";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Tools];
}

impl Vst3Plugin for SiftSingle {
    const VST3_CLASS_ID: [u8; 16] = *b"SiftSingleStem01";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Tools];
}

nice_export_clap!(Sift, SiftSingle);
nice_export_vst3!(Sift, SiftSingle);
