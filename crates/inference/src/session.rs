//! ONNX Runtime sessions: how one is set up ([`SessionOptions`]), opening it on the device asked
//! for with the fall-back to the CPU and its reason, and a failed run as the engine's error.

use std::path::Path;

use ort::ep::ExecutionProvider;
use ort::memory::DeviceType;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;

use sift_engine::InferenceFailure;

use super::providers::Device;
use super::runtime::Runtime;

/// How a session is set up.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Threads one model run may use. One keeps a core free for the host; two halves the run
    /// time on an idle 2-core machine.
    pub intra_threads: usize,
    /// Let ONNX Runtime's threads spin between runs. Off by default: spinning burns a core
    /// the host needs, and runs are tens of milliseconds apart.
    pub spinning: bool,
    /// Where the model should run. A device that cannot load or run the model falls back to
    /// the CPU, and the model says why ([`OnnxModel::provider_fallback`](crate::OnnxModel::provider_fallback)).
    pub device: Device,
}

impl Default for SessionOptions {
    /// One thread, no spinning, on the CPU: the one provider every machine has, so what runs
    /// does not depend on what happens to be installed unless a caller asks for it.
    fn default() -> Self {
        Self { intra_threads: 1, spinning: false, device: Device::Cpu }
    }
}

impl SessionOptions {
    /// Sets the number of intra-op threads (at least one).
    pub fn intra_threads(mut self, threads: usize) -> Self {
        self.intra_threads = threads.max(1);
        self
    }

    /// Allows or forbids spinning.
    pub fn spinning(mut self, spinning: bool) -> Self {
        self.spinning = spinning;
        self
    }

    /// Sets where the model should run ([`Device::Auto`] tries the installed accelerators).
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }
}

/// A runtime error as a failed run.
pub(crate) fn failure(error: ort::Error) -> InferenceFailure {
    InferenceFailure(error.to_string())
}

/// Why a device was not used.
enum Skip {
    /// Not installed, not possible on this platform, or installed but finding no device on
    /// this machine (a WebGPU provider on a machine without a GPU, say: a laptop taken off
    /// its dock): under Auto, passed over in silence, since Auto means "an accelerator if
    /// there is one"; said when the device was asked for by name.
    Absent(String),
    /// Installed but broken (the library does not load, the session cannot be built): always
    /// said.
    Failed(String),
}

/// A session on `options.device`, the device that runs it, and why it is the CPU when another
/// device was asked for. Only a model the CPU cannot open either is an error.
pub(crate) fn open(
    runtime: &Runtime,
    path: &Path,
    options: &SessionOptions,
) -> ort::Result<(Session, Device, Option<String>)> {
    let (candidates, explicit): (&[Device], bool) = match options.device {
        Device::Cpu => (&[], false),
        Device::Auto => (Device::auto_order(), false),
        Device::Gpu => (Device::auto_order(), false),
        ref device => (std::slice::from_ref(device), true),
    };
    let mut reasons = Vec::new();
    for &device in candidates {
        if options.device == Device::Gpu && device == Device::OpenVino {
            continue;
        }
        match accelerated(runtime, path, options, device, explicit) {
            Ok(session) => return Ok((session, device, None)),
            Err(Skip::Absent(reason)) if !explicit => drop(reason),
            Err(Skip::Absent(reason) | Skip::Failed(reason)) => reasons.push(format!("{}: {reason}", device.label())),
        }
    }
    if options.device == Device::Gpu && reasons.is_empty() {
        reasons.push(
            "no GPU provider is installed for this machine; install one with `sift providers install webgpu` \
             (any GPU with Vulkan, D3D12 or Metal) or `sift providers install cuda` (NVIDIA)"
                .to_owned(),
        );
    }
    let session = builder(runtime, options)?.commit_from_file(path)?;
    let fallback = (!reasons.is_empty()).then(|| format!("{}; running on the CPU", reasons.join("; ")));
    Ok((session, Device::Cpu, fallback))
}

/// A session builder tuned for real time: all graph optimisations, a fixed thread count, no
/// spinning unless asked for. The thread settings matter on an accelerator too: the nodes it
/// does not take run on the CPU.
fn builder(runtime: &Runtime, options: &SessionOptions) -> ort::Result<SessionBuilder> {
    Ok(Session::builder(runtime.environment())?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(options.intra_threads)?
        .with_inter_threads(1)?
        .with_intra_op_spinning(options.spinning)?
        .with_inter_op_spinning(options.spinning)?)
}

/// A session on `device`, or why not. `explicit`: the user named this device (under Auto,
/// OpenVINO is only wanted on an Intel GPU or NPU).
fn accelerated(
    runtime: &Runtime,
    path: &Path,
    options: &SessionOptions,
    device: Device,
    explicit: bool,
) -> Result<Session, Skip> {
    if let Some(why) = device.unsupported_here() {
        return Err(Skip::Absent(why.to_owned()));
    }
    let failed = |e: ort::Error| Skip::Failed(format!("could not load the model ({e})"));
    if let Some(package) = device.package() {
        let library = runtime.register_provider(package).map_err(|reason| {
            if reason.contains("is not installed") {
                Skip::Absent(reason)
            } else {
                Skip::Failed(reason)
            }
        })?;
        let ep_name = device.ep_name().unwrap_or_default();
        let environment = runtime.environment();
        let mut found: Vec<_> = environment.devices().filter(|d| d.ep().is_ok_and(|name| name == ep_name)).collect();
        // A GPU before an NPU before the CPU; under Auto only a GPU or NPU is worth it.
        found.sort_by_key(|d| match d.hardware_device().ty() {
            DeviceType::GPU => 0,
            DeviceType::NPU => 1,
            _ => 2,
        });
        if !explicit && device == Device::OpenVino {
            found.retain(|d| d.hardware_device().ty() != DeviceType::CPU);
        }
        let Some(chosen) = found.into_iter().next() else {
            return Err(Skip::Absent(format!(
                "the provider library ({}) loaded but offers no device on this machine{}",
                library.display(),
                no_device_hint(device)
            )));
        };
        return builder(runtime, options)
            .and_then(|b| b.with_devices([chosen], None).map_err(ort::Error::from))
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(failed);
    }
    let dispatch = match device {
        Device::DirectMl => built_in(ort::ep::DirectML::default(), device)?,
        Device::CoreMl => built_in(ort::ep::CoreML::default(), device)?,
        Device::Qnn => built_in(ort::ep::QNN::default(), device)?,
        _ => return Err(Skip::Absent(format!("{} is not a provider Sift can load", device.label()))),
    };
    builder(runtime, options)
        .and_then(|b| b.with_execution_providers([dispatch]).map_err(ort::Error::from))
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(failed)
}

/// A provider built into some of ONNX Runtime's builds (`device`'s), if the loaded one has it.
fn built_in<E: ExecutionProvider + Into<ort::ep::ExecutionProviderDispatch>>(
    provider: E,
    device: Device,
) -> Result<ort::ep::ExecutionProviderDispatch, Skip> {
    if !E::is_available().unwrap_or(false) {
        return Err(Skip::Absent(format!(
            "the loaded ONNX Runtime ({}) has no {} ({})",
            crate::runtime::ORT_VERSION,
            E::NAME,
            built_in_elsewhere(device)
        )));
    }
    Ok(provider.into().error_on_failure())
}

/// Where a provider built into other builds of ONNX Runtime is to be had, or what to use instead.
fn built_in_elsewhere(device: Device) -> &'static str {
    match device {
        // PyPI's `onnxruntime-directml` is at 1.24.4, older than the runtime API Sift is built
        // for: WebGPU's D3D12 back end is the way to DirectX 12 GPUs from Sift.
        Device::DirectMl => {
            "DirectML's own build, onnxruntime-directml, stops at 1.24, older than the runtime Sift \
             needs; on Windows `--device webgpu` runs on any DirectX 12 GPU after `sift providers install webgpu`"
        }
        _ => "it is part of other builds: Core ML in the macOS wheel, QNN in onnxruntime-qnn",
    }
}

/// What usually lacks when a provider offers no device.
fn no_device_hint(device: Device) -> &'static str {
    match device {
        Device::WebGpu => {
            " (no GPU with a Vulkan, D3D12 or Metal driver was found; a software Vulkan driver such as \
             lavapipe is used only with ORT_WEBGPU_EP_ALLOW_SOFTWARE_ADAPTER=1)"
        }
        Device::OpenVino => " (OpenVINO runs on Intel CPUs, GPUs and NPUs only)",
        Device::Cuda | Device::TensorRt => " (no NVIDIA GPU with a working driver was found)",
        _ => "",
    }
}
