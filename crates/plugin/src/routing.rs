//! How an instance's role buses reach the host: the one thing in which `Sift` and `Sift
//! Single` differ.

use std::num::NonZeroU32;
use std::sync::Arc;

use nice_plug::prelude::*;

use super::buses::RoleBuses;
use super::params::{SiftParams, SingleParams};
use super::roles::Role;

/// A plugin's outputs, identity and parameters: everything [`SiftPlugin`](super::SiftPlugin)
/// leaves to its type parameter.
///
/// Implementations are plain data plus [`Routing::route`], which runs on the audio thread and
/// must copy only: no allocation, no lock.
pub trait Routing: Default + Send + 'static {
    /// The plugin's name in the host.
    const NAME: &'static str;
    /// The CLAP id and description.
    const CLAP_ID: &'static str;
    const CLAP_DESCRIPTION: &'static str;
    /// The VST3 class id (16 bytes, never to change: hosts store it in projects).
    const VST3_CLASS_ID: [u8; 16];
    /// Stereo first (the layout hosts pick by default), then mono.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout];

    /// The parameters the host sees.
    fn params(&self) -> Arc<dyn Params>;

    /// The parameters every Sift has (all of [`Routing::params`] for `Sift`).
    fn common(&self) -> Arc<SiftParams>;

    /// `Sift Single`'s own parameters, for its editor; `None` for `Sift`.
    fn single(&self) -> Option<Arc<SingleParams>>;

    /// Writes one block's output (audio thread): `main` holds the remix on entry, `buses` the
    /// role buses of the same block, `aux` the host's auxiliary outputs.
    fn route(&self, buses: &RoleBuses, main: &mut [&mut [f32]], aux: &mut AuxiliaryBuffers);
}

const STEREO: Option<NonZeroU32> = NonZeroU32::new(2);
const MONO: Option<NonZeroU32> = NonZeroU32::new(1);

/// One layout: `channels` in and out on the main bus (its output called `main_output`), and
/// `stem_buses` (one per role, as wide as the main bus, or none).
const fn layout(
    name: &'static str,
    channels: Option<NonZeroU32>,
    main_output: &'static str,
    stem_buses: &'static [NonZeroU32],
) -> AudioIOLayout {
    AudioIOLayout {
        main_input_channels: channels,
        main_output_channels: channels,
        aux_input_ports: &[],
        aux_output_ports: stem_buses,
        names: PortNames {
            layout: Some(name),
            main_input: Some("Input"),
            main_output: Some(main_output),
            aux_inputs: &[],
            aux_outputs: if stem_buses.is_empty() { &[] } else { &Role::NAMES },
        },
    }
}

/// `Sift`: the remix on the main output, each role on a stem bus of its own.
#[derive(Default)]
pub struct StemBuses {
    params: Arc<SiftParams>,
}

impl Routing for StemBuses {
    const NAME: &'static str = "Sift";
    const CLAP_ID: &'static str = "audio.sift.stems";
    const CLAP_DESCRIPTION: &'static str = "Real-time AI stem separation: five stem buses and a remix";
    const VST3_CLASS_ID: [u8; 16] = *b"SiftStemSplitter";
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        layout("Stereo", STEREO, "Remix", &[NonZeroU32::new(2).unwrap(); Role::COUNT]),
        layout("Mono", MONO, "Remix", &[NonZeroU32::new(1).unwrap(); Role::COUNT]),
    ];

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn common(&self) -> Arc<SiftParams> {
        self.params.clone()
    }

    fn single(&self) -> Option<Arc<SingleParams>> {
        None
    }

    fn route(&self, buses: &RoleBuses, _main: &mut [&mut [f32]], aux: &mut AuxiliaryBuffers) {
        for (role, bus) in Role::ALL.into_iter().zip(aux.outputs.iter_mut()) {
            for (ch, out) in bus.as_slice().iter_mut().enumerate() {
                out.copy_from_slice(buses.channel(role, ch));
            }
        }
    }
}

/// `Sift Single`: one output, the remix or the stem its `Stem` parameter picks.
#[derive(Default)]
pub struct OneOutput {
    params: Arc<SingleParams>,
}

impl Routing for OneOutput {
    const NAME: &'static str = "Sift Single";
    const CLAP_ID: &'static str = "audio.sift.single";
    const CLAP_DESCRIPTION: &'static str = "Real-time AI stem separation: one stem or the remix";
    const VST3_CLASS_ID: [u8; 16] = *b"SiftSingleStem01";
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] =
        &[layout("Stereo", STEREO, "Output", &[]), layout("Mono", MONO, "Output", &[])];

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn common(&self) -> Arc<SiftParams> {
        self.params.common.clone()
    }

    fn single(&self) -> Option<Arc<SingleParams>> {
        Some(self.params.clone())
    }

    fn route(&self, buses: &RoleBuses, main: &mut [&mut [f32]], _aux: &mut AuxiliaryBuffers) {
        if let Some(role) = self.params.stem.value().role() {
            for (ch, out) in main.iter_mut().enumerate() {
                out.copy_from_slice(buses.channel(role, ch));
            }
        }
    }
}
