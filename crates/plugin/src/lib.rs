//! The CLAP and VST3 plugins, glued to the engine with nice-plug.
//!
//! - [`Sift`]: stereo (or mono) in; the remix on the main output and five stereo stem buses
//!   (Vocals, Drums, Bass, Other, Extra).
//! - [`SiftSingle`]: one stereo output and a `Stem` parameter choosing the remix or one stem,
//!   for hosts that connect only the main bus.
//!
//! Both are one [`SiftPlugin`], parameterised by their output [`Routing`].

mod audio_thread;
pub mod buses;
pub mod editor;
pub mod loader;
mod main_thread;
mod mixer;
pub mod monitor;
pub mod params;
pub mod roles;
pub mod routing;
pub mod shared;

use std::sync::Arc;

use nice_plug::prelude::*;
use nice_plug_egui::EguiEditor;

use self::audio_thread::AudioThread;
use self::editor::SiftEditor;
use self::main_thread::MainThread;
use self::routing::{OneOutput, Routing, StemBuses};
use self::shared::Shared;

/// Sift with its five stem buses.
pub type Sift = SiftPlugin<StemBuses>;

/// Sift with one output: the remix, or the stem the `Stem` parameter picks.
pub type SiftSingle = SiftPlugin<OneOutput>;

/// One Sift plugin instance, split by thread the way nice-plug calls it.
///
/// nice-plug calls `params`, `editor`, `activate` and `deactivate` on the main thread, and
/// `process` and `reset` on the audio thread (never two at once). Each half is its own type:
/// [`MainThread`] loads models and owns the engine; [`AudioThread`], built by each
/// activation, owns only preallocated state; what both and the editor see is one
/// [`Shared`]. `R` is all that differs between the plugins: outputs, names, ids and
/// parameters ([`Routing`]).
pub struct SiftPlugin<R: Routing> {
    /// Declared first so that it drops before the engine it reads from.
    audio: Option<AudioThread>,
    main: MainThread,
    routing: R,
}

impl<R: Routing> Default for SiftPlugin<R> {
    fn default() -> Self {
        let routing = R::default();
        let shared = Arc::new(Shared::new(routing.common()));
        Self { audio: None, main: MainThread::new(shared), routing }
    }
}

impl<R: Routing> Plugin for SiftPlugin<R> {
    const NAME: &'static str = R::NAME;
    const VENDOR: &'static str = "Sift";
    const URL: &'static str = "https://github.com/sift-audio/sift";
    const EMAIL: &'static str = "sift@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = R::AUDIO_IO_LAYOUTS;
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;
    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<SiftEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.routing.params()
    }

    fn filter_state(state: &mut PluginState) {
        params::keep_old_defaults(state);
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.main.shared().clone(), self.routing.single(), Self::NAME)
    }

    fn activate(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.audio = None;
        self.audio = self.main.activate(layout, config, context);
        self.audio.is_some()
    }

    fn reset(&mut self) {
        if let Some(audio) = self.audio.as_mut() {
            audio.reset();
        }
    }

    fn deactivate(&mut self) {
        self.audio = None;
        self.main.stop();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let main = buffer.as_slice();
        match self.audio.as_mut() {
            Some(audio) => {
                audio.process(main, context);
                self.routing.route(audio.buses(), main, aux);
            }
            // Not active (a host that processes after a failed activation): silence, never stale audio.
            None => {
                main.iter_mut().for_each(|channel| channel.fill(0.0));
                for bus in aux.outputs.iter_mut() {
                    bus.as_slice().iter_mut().for_each(|channel| channel.fill(0.0));
                }
            }
        }
        ProcessStatus::Normal
    }
}

impl<R: Routing> ClapPlugin for SiftPlugin<R> {
    const CLAP_ID: &'static str = R::CLAP_ID;
    const CLAP_DESCRIPTION: Option<&'static str> = Some(R::CLAP_DESCRIPTION);
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Stereo, ClapFeature::Mono, ClapFeature::Utility];
}

impl<R: Routing> Vst3Plugin for SiftPlugin<R> {
    const VST3_CLASS_ID: [u8; 16] = R::VST3_CLASS_ID;
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Tools];
}

nice_export_clap!(Sift, SiftSingle);
nice_export_vst3!(Sift, SiftSingle);
