//! The parameters hosts see, automate and save, and the state saved beside them.

use std::sync::{Arc, Mutex};

use nice_plug::editor::dpi::LogicalSize;
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;

use sift_engine::Mode;

use super::roles::Role;

/// The editor's size at 100 %, logical pixels, until the user resizes it.
pub const EDITOR_SIZE: (f32, f32) = (720.0, 420.0);

/// Gain, mute and solo of one stem role.
#[derive(Params)]
pub struct RoleParams {
    /// Stem gain, −∞ … +12 dB.
    #[id = "gain"]
    pub gain: FloatParam,
    /// Silences the stem (on its bus and in the remix).
    #[id = "mute"]
    pub mute: BoolParam,
    /// When any stem is soloed, only soloed stems play.
    #[id = "solo"]
    pub solo: BoolParam,
}

impl RoleParams {
    fn new(role: Role) -> Self {
        Self {
            gain: gain_param(format!("{} Gain", role.name())),
            mute: BoolParam::new(format!("{} Mute", role.name()), false),
            solo: BoolParam::new(format!("{} Solo", role.name()), false),
        }
    }
}

/// A gain parameter from −∞ (shown as `-inf`) to +12 dB, 0 dB by default. Smoothing is done by
/// the mixer, together with mute and solo, so one ramp covers every change.
fn gain_param(name: String) -> FloatParam {
    FloatParam::new(
        name,
        util::db_to_gain(0.0),
        FloatRange::Skewed {
            min: util::db_to_gain(util::MINUS_INFINITY_DB),
            max: util::db_to_gain(12.0),
            factor: FloatRange::gain_skew_factor(util::MINUS_INFINITY_DB, 12.0),
        },
    )
    .with_unit(" dB")
    .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
    .with_string_to_value(formatters::s2v_f32_gain_to_db())
}

/// Latency mode, as a host parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ModeChoice {
    /// [`Mode::Live`].
    Live,
    /// [`Mode::Balanced`].
    Balanced,
    /// [`Mode::Studio`].
    Studio,
}

impl From<ModeChoice> for Mode {
    fn from(choice: ModeChoice) -> Mode {
        match choice {
            ModeChoice::Live => Mode::Live,
            ModeChoice::Balanced => Mode::Balanced,
            ModeChoice::Studio => Mode::Studio,
        }
    }
}

/// Where the model runs. The first three are the choices of earlier versions, in their order,
/// so saved projects keep their choice; each accelerator kind follows. One that is not
/// installed or cannot run here falls back to the CPU, and the editor says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum DeviceChoice {
    /// The first installed accelerator that works, else the CPU.
    Auto,
    /// Always the CPU.
    #[name = "CPU"]
    Cpu,
    /// Any installed GPU provider that works; falls back to the CPU, and says so.
    #[name = "GPU"]
    Gpu,
    /// NVIDIA CUDA.
    #[name = "CUDA"]
    Cuda,
    /// NVIDIA TensorRT.
    #[name = "TensorRT"]
    TensorRt,
    /// WebGPU (Vulkan, D3D12 or Metal).
    #[name = "WebGPU"]
    WebGpu,
    /// Intel OpenVINO (CPU, GPU, NPU).
    #[name = "OpenVINO"]
    OpenVino,
    /// DirectML (Windows).
    #[name = "DirectML"]
    DirectMl,
    /// Core ML (macOS).
    #[name = "CoreML"]
    CoreMl,
    /// Qualcomm QNN (NPU).
    #[name = "QNN"]
    Qnn,
}

impl From<DeviceChoice> for sift_inference::Device {
    fn from(choice: DeviceChoice) -> Self {
        use sift_inference::Device;
        match choice {
            DeviceChoice::Auto => Device::Auto,
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Gpu => Device::Gpu,
            DeviceChoice::Cuda => Device::Cuda,
            DeviceChoice::TensorRt => Device::TensorRt,
            DeviceChoice::WebGpu => Device::WebGpu,
            DeviceChoice::OpenVino => Device::OpenVino,
            DeviceChoice::DirectMl => Device::DirectMl,
            DeviceChoice::CoreMl => Device::CoreMl,
            DeviceChoice::Qnn => Device::Qnn,
        }
    }
}

/// What `Sift Single`'s one output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum StemChoice {
    /// The remix of all stems (the main output of `Sift`).
    Remix,
    /// The vocals stem.
    Vocals,
    /// The drums stem.
    Drums,
    /// The bass stem.
    Bass,
    /// The other stem.
    Other,
    /// The extra stem.
    Extra,
}

impl StemChoice {
    /// The role this choice plays, `None` for the remix.
    pub fn role(self) -> Option<Role> {
        match self {
            StemChoice::Remix => None,
            StemChoice::Vocals => Some(Role::Vocals),
            StemChoice::Drums => Some(Role::Drums),
            StemChoice::Bass => Some(Role::Bass),
            StemChoice::Other => Some(Role::Other),
            StemChoice::Extra => Some(Role::Extra),
        }
    }
}

/// Every parameter of Sift, plus the model file, which is saved with the host's project.
#[derive(Params)]
pub struct SiftParams {
    /// Per-role gain, mute and solo (ids `gain_1` … `solo_5`, in [`Role::ALL`] order).
    #[nested(array, group = "Stem")]
    pub roles: [RoleParams; Role::COUNT],
    /// Latency mode; a change reports the new latency to the host.
    #[id = "mode"]
    pub mode: EnumParam<ModeChoice>,
    /// Execution provider choice.
    #[id = "device"]
    pub device: EnumParam<DeviceChoice>,
    /// Gain of the remix on the main output.
    #[id = "output"]
    pub output_gain: FloatParam,
    /// Sift's own bypass: the dry input, delayed by the same latency.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// The model file; empty for the mode's default model. Read on the main thread only.
    #[persist = "model-path"]
    pub model_path: Arc<Mutex<String>>,
    /// The defaults the project was saved under ([`DEFAULTS`]); read only by
    /// [`keep_old_defaults`], from the saved state.
    #[persist = "defaults"]
    pub defaults: Arc<Mutex<u32>>,
    /// The editor's size and zoom, saved with the project so it reopens as the user left it.
    #[persist = "editor-state"]
    pub editor_state: Arc<EguiEditorState>,
}

impl Default for SiftParams {
    fn default() -> Self {
        Self {
            roles: Role::ALL.map(RoleParams::new),
            mode: EnumParam::new("Mode", ModeChoice::Balanced),
            device: EnumParam::new("Device", DeviceChoice::Auto),
            output_gain: gain_param("Output Gain".to_owned()),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            model_path: Arc::new(Mutex::new(String::new())),
            defaults: Arc::new(Mutex::new(DEFAULTS)),
            editor_state: EguiEditorState::from_size(LogicalSize::new(EDITOR_SIZE.0, EDITOR_SIZE.1), 1.0),
        }
    }
}

/// The generation of default models, saved with every project (`catalogue::default_for`): 2
/// since `live` runs Sift's own four-stem model when no model is picked, 3 since `balanced` and
/// `studio` run the composed four-stem model (Spleeter's vocals, Sift's own drums, bass and
/// other). Projects saved before 2 have no `defaults` field: they ran Spleeter 2-stem in every
/// mode.
pub const DEFAULTS: u32 = 3;

/// Keeps what an old project played (both plugins' `Plugin::filter_state`, before a state
/// loads). A project with no model picked that ran Spleeter in its mode then (`live` before
/// [`DEFAULTS`] 2, `balanced` or `studio` before 3) gets Spleeter picked, so it opens with the
/// stems, latency and sound it was saved with (a project that muted Other for an a cappella
/// would otherwise play drums and bass).
pub fn keep_old_defaults(state: &mut PluginState) {
    let saved = state.fields.get("defaults").map_or(Some(1), |json| serde_json::from_str::<u32>(json).ok());
    let Some(saved) = saved.filter(|&saved| saved < DEFAULTS) else { return };
    let live = matches!(state.params.get("mode"), Some(ParamValue::I32(index)) if *index == ModeChoice::Live as i32);
    let ran_spleeter = if live { saved < 2 } else { saved < 3 };
    let picked = state.fields.get("model-path").and_then(|json| serde_json::from_str::<String>(json).ok());
    if ran_spleeter && picked.unwrap_or_default().is_empty() {
        let spleeter = serde_json::to_string(sift_inference::catalogue::DEFAULT_MODEL).expect("a string serialises");
        state.fields.insert("model-path".to_owned(), spleeter);
    }
}

impl SiftParams {
    /// The gain each role should have now, mute and solo applied (linear; audio thread).
    pub fn role_targets(&self) -> [f32; Role::COUNT] {
        let any_solo = self.roles.iter().any(|r| r.solo.value());
        std::array::from_fn(|i| {
            let r = &self.roles[i];
            let audible = !r.mute.value() && (!any_solo || r.solo.value());
            if audible {
                r.gain.value()
            } else {
                0.0
            }
        })
    }
}

/// `Sift Single`'s parameters: all of Sift's, plus the choice of what its one output carries.
#[derive(Params)]
pub struct SingleParams {
    /// The parameters `Sift` has too (same ids, so presets carry over).
    #[nested]
    pub common: Arc<SiftParams>,
    /// The remix or one stem.
    #[id = "stem"]
    pub stem: EnumParam<StemChoice>,
}

impl Default for SingleParams {
    fn default() -> Self {
        Self { common: Arc::new(SiftParams::default()), stem: EnumParam::new("Stem", StemChoice::Remix) }
    }
}
