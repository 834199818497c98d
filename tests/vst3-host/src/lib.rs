//! A small VST3 test host, on the `vst3` crate's COM bindings, for driving the built Sift bundle
//! the way a DAW does, on Linux and (cross-built for `x86_64-pc-windows-gnu`) under Wine.
//!
//! - [`bundle_path`] / [`Module`]: the bundle (`$SIFT_VST3`, else `target/bundled/sift.vst3`),
//!   its library loaded with the platform's entry points (`ModuleEntry`/`ModuleExit` on Linux,
//!   `InitDll`/`ExitDll` on Windows) and its factory's classes.
//! - [`Plugin`]: one instance of a class: the component, its audio processor and edit
//!   controller; buses, parameters, state, activation and block processing with
//!   sample-accurate parameter changes in `ProcessData::inputParameterChanges`.
//! - [`host_objects`]: the COM objects the host implements for the plugin.
//!
//! Everything happens on the thread that created the instance, as in a host whose GUI thread
//! also renders offline; nothing here is shared across threads.
//!
//! ```text
//! cargo xtask bundle sift --release          # target/bundled/sift.vst3
//! cargo test -p sift-vst3-host
//! ```
//!
//! `SIFT_VST3`: the bundle folder; `SIFT_EVAL_DIR`: the eval clips (default `../shared/eval`).
//! `cargo xtask test` also runs these tests built for Windows under Wine on the Windows download's
//! `sift.vst3` (`xtask/src/windows/vst3_host_tests.rs`).

pub mod host_objects;

use std::ffi::{c_void, CStr};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, BusDirection, BusDirections_, BusInfo, BusInfo_::BusFlags_, BusTypes_,
    IAudioProcessor, IAudioProcessorTrait, IComponent, IComponentHandler, IComponentTrait, IEditController,
    IEditControllerTrait, IParameterChanges, MediaTypes_, ParamID, ParamValue, ParameterInfo, ProcessContext,
    ProcessContext_::StatesAndFlags_, ProcessData, ProcessModes_, ProcessSetup, SpeakerArr, SpeakerArrangement,
    SymbolicSampleSizes_,
};
use vst3::Steinberg::{
    kNotImplemented, kResultOk, tresult, FUnknown, IBStream, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait,
    PClassInfo, TUID,
};
use vst3::{ComPtr, ComWrapper, Interface};

use host_objects::{from_utf16, ComponentHandler, HostApplication, MemoryStream, ParameterChanges};

pub use sift_test_support::{eval_dir, repo_root, BUSES};

/// The category of an audio effect's class in the factory (the SDK's `kVstAudioEffectClass`).
pub const AUDIO_EFFECT_CLASS: &str = "Audio Module Class";
/// The class with the remix and the five stem buses.
pub const SIFT: &str = "Sift";
/// The one-output class.
pub const SIFT_SINGLE: &str = "Sift Single";

// The bindings' enums are `c_uint` on Linux and `c_int` on Windows; VST3's calls take `int32`.
#[allow(clippy::unnecessary_cast)]
const AUDIO: i32 = MediaTypes_::kAudio as i32;
#[allow(clippy::unnecessary_cast)]
const INPUT: BusDirection = BusDirections_::kInput as BusDirection;
#[allow(clippy::unnecessary_cast)]
const OUTPUT: BusDirection = BusDirections_::kOutput as BusDirection;
#[allow(clippy::unnecessary_cast)]
const SAMPLE_32: i32 = SymbolicSampleSizes_::kSample32 as i32;

/// The bundle: `$SIFT_VST3`, else `<repo>/target/bundled/sift.vst3`.
pub fn bundle_path() -> PathBuf {
    sift_test_support::path_from_env_or("SIFT_VST3", "target/bundled/sift.vst3")
}

/// The library inside a bundle, where Steinberg's bundle layout puts it for this platform:
/// `Contents/x86_64-linux/<name>.so`, or `Contents/x86_64-win/<name>.vst3` on Windows.
pub fn binary_path(bundle: &Path) -> PathBuf {
    let name = bundle.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if cfg!(windows) {
        bundle.join("Contents").join("x86_64-win").join(format!("{name}.vst3"))
    } else {
        bundle.join("Contents").join("x86_64-linux").join(format!("{name}.so"))
    }
}

/// One class the factory offers.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    pub cid: TUID,
    pub name: String,
    pub category: String,
}

/// The loaded plugin library and its factory.
///
/// Dropping it releases the factory and calls the library's exit entry point. The library
/// itself stays loaded, as hosts keep it: a Rust library's threads and thread-local destructors
/// may still run its code after its last instance is gone.
pub struct Module {
    factory: Option<ComPtr<IPluginFactory>>,
    /// Never dropped, so never closed (see above).
    library: ManuallyDrop<libloading::Library>,
    path: PathBuf,
}

/// The exit entry point's name on this platform.
const EXIT: &[u8] = if cfg!(windows) { b"ExitDll\0" } else { b"ModuleExit\0" };

impl Module {
    /// Loads the library of `bundle`, calls its entry point (`ModuleEntry(handle)` on Linux,
    /// `InitDll()` on Windows, where it is optional) and gets its factory.
    pub fn load(bundle: &Path) -> Result<Module, String> {
        let path = binary_path(bundle);
        if !path.is_file() {
            return Err(format!(
                "VST3 plugin not found at {}: build it with `cargo xtask bundle sift --release` \
                 (`--target windows` for Windows), or set SIFT_VST3 to a .vst3 bundle",
                path.display()
            ));
        }
        let shown = path.display();
        // SAFETY: loading the plugin runs its initialisers and entry point: what is tested.
        unsafe {
            let (library, handle) = open(&path).map_err(|e| format!("cannot load {shown}: {e}"))?;
            if cfg!(windows) {
                if let Ok(init) = library.get::<unsafe extern "system" fn() -> bool>(b"InitDll\0") {
                    if !init() {
                        return Err(format!("InitDll() of {shown} returned false"));
                    }
                }
            } else {
                let entry = library
                    .get::<unsafe extern "C" fn(*mut c_void) -> bool>(b"ModuleEntry\0")
                    .map_err(|e| format!("{shown} exports no ModuleEntry: {e}"))?;
                if !entry(handle) {
                    return Err(format!("ModuleEntry() of {shown} returned false"));
                }
            }
            let get_factory = library
                .get::<unsafe extern "system" fn() -> *mut c_void>(b"GetPluginFactory\0")
                .map_err(|e| format!("{shown} exports no GetPluginFactory: {e}"))?;
            let factory = ComPtr::from_raw(get_factory() as *mut IPluginFactory)
                .ok_or_else(|| format!("GetPluginFactory() of {shown} returned null"))?;
            Ok(Module { factory: Some(factory), library: ManuallyDrop::new(library), path })
        }
    }

    /// The module of [`bundle_path`] that every live instance of this process shares: loaded
    /// by the first, exited after the last, as a host loads a plugin once however many
    /// instances its project has. Panics, saying what to build, if the bundle is missing.
    pub fn shared() -> Arc<Module> {
        static SHARED: Mutex<Weak<Module>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = shared.upgrade() {
            return module;
        }
        let module = Arc::new(Module::load(&bundle_path()).unwrap_or_else(|e| panic!("{e}")));
        *shared = Arc::downgrade(&module);
        module
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn factory(&self) -> &ComPtr<IPluginFactory> {
        self.factory.as_ref().expect("the factory lives as long as the module")
    }

    /// Every class the factory lists.
    pub fn classes(&self) -> Vec<ClassInfo> {
        let factory = self.factory();
        // SAFETY: `info` is a valid out-pointer for each index below the count.
        unsafe {
            (0..factory.countClasses())
                .filter_map(|i| {
                    let mut info: PClassInfo = std::mem::zeroed();
                    (factory.getClassInfo(i, &mut info) == kResultOk).then(|| ClassInfo {
                        cid: info.cid,
                        name: c_text(&info.name),
                        category: c_text(&info.category),
                    })
                })
                .collect()
        }
    }

    /// The audio effect class called `name`.
    pub fn class(&self, name: &str) -> Result<ClassInfo, String> {
        let classes = self.classes();
        classes.iter().find(|c| c.name == name && c.category == AUDIO_EFFECT_CLASS).cloned().ok_or_else(|| {
            format!(
                "no audio effect class {name:?} in the factory: {:?}",
                classes.iter().map(|c| &c.name).collect::<Vec<_>>()
            )
        })
    }

    /// `IPluginFactory::createInstance` of class `cid` for interface `I`.
    fn create<I: Interface>(&self, cid: &TUID) -> Result<ComPtr<I>, String> {
        let mut object = std::ptr::null_mut();
        // SAFETY: `cid` and the IID are 16 bytes each, `object` a valid out-pointer.
        let result = unsafe { self.factory().createInstance(cid.as_ptr(), I::IID.as_ptr() as *const _, &mut object) };
        check(result, "IPluginFactory::createInstance")?;
        // SAFETY: on success `object` is an owned pointer to an `I`.
        unsafe { ComPtr::from_raw(object as *mut I) }.ok_or_else(|| "createInstance gave null".into())
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        drop(self.factory.take());
        // SAFETY: the exit entry point takes nothing; every object of the library is released.
        unsafe {
            if let Ok(exit) = self.library.get::<unsafe extern "system" fn() -> bool>(EXIT) {
                if !exit() {
                    eprintln!(
                        "{} of {} returned false",
                        String::from_utf8_lossy(&EXIT[..EXIT.len() - 1]),
                        self.path.display()
                    );
                }
            }
        }
    }
}

/// Opens the library; also returns its native handle (which `ModuleEntry` takes on Linux).
///
/// # Safety
/// Runs the library's initialisers.
#[cfg(unix)]
unsafe fn open(path: &Path) -> Result<(libloading::Library, *mut c_void), libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    let handle = Library::open(Some(path), RTLD_NOW | RTLD_LOCAL)?.into_raw();
    Ok((Library::from_raw(handle).into(), handle))
}

/// Opens the library; also returns its native handle (which `ModuleEntry` takes on Linux).
///
/// # Safety
/// Runs the library's initialisers.
#[cfg(windows)]
unsafe fn open(path: &Path) -> Result<(libloading::Library, *mut c_void), libloading::Error> {
    use libloading::os::windows::Library;
    let handle = Library::new(path)?.into_raw();
    Ok((Library::from_raw(handle).into(), handle as *mut c_void))
}

/// A NUL-terminated `char8` array as text.
fn c_text(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Instance

/// What `IComponent::getBusInfo` and `IAudioProcessor::getBusArrangement` say about one bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bus {
    pub name: String,
    pub channels: i32,
    pub is_main: bool,
    pub default_active: bool,
    pub arrangement: SpeakerArrangement,
}

/// What `IEditController::getParameterInfo` says about one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub id: ParamID,
    pub title: String,
    pub step_count: i32,
    pub default: ParamValue,
    pub flags: i32,
}

/// A parameter change, the normalized `value` of `id` from sample `time` on (from the start
/// of a render, or within the block for [`Plugin::process_block`]).
#[derive(Clone, Copy, Debug)]
pub struct ParamChange {
    pub time: usize,
    pub id: ParamID,
    pub value: ParamValue,
}

/// The process mode `setupProcessing` gives the plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Live playback: the plugin never waits.
    Realtime,
    /// An export: the plugin may take its time, so the output does not depend on the machine.
    Offline,
}

impl Mode {
    #[allow(clippy::unnecessary_cast)]
    fn vst3(self) -> i32 {
        (match self {
            Mode::Realtime => ProcessModes_::kRealtime,
            Mode::Offline => ProcessModes_::kOffline,
        }) as i32
    }
}

/// Every output bus's channels after a render: `buses[bus][channel][sample]`.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub buses: Vec<Vec<Vec<f32>>>,
}

impl Rendered {
    /// Bus 0, the main output.
    pub fn main(&self) -> &[Vec<f32>] {
        &self.buses[0]
    }
}

/// How the instance was activated.
#[derive(Clone, Copy, Debug)]
struct Setup {
    sample_rate: f64,
    max_block: usize,
    mode: Mode,
}

/// One instance of a class, created, initialised and queried as a host does.
///
/// Dropping it stops processing, deactivates, terminates and releases it, and then its
/// reference to the [`Module`] (the last one exits the library).
pub struct Plugin {
    component: ComPtr<IComponent>,
    processor: ComPtr<IAudioProcessor>,
    controller: ComPtr<IEditController>,
    /// Whether the controller is an object of its own, created from `getControllerClassId`
    /// (nice-plug implements both on one object; the SDK's own plugins do not).
    separate_controller: bool,
    /// The context given to `initialize`, kept alive for the instance's life.
    _host: ComWrapper<HostApplication>,
    handler: ComWrapper<ComponentHandler>,
    input_changes: ComWrapper<ParameterChanges>,
    output_changes: ComWrapper<ParameterChanges>,
    inputs: Vec<Bus>,
    outputs: Vec<Bus>,
    setup: Option<Setup>,
    /// The project time of the next block, in samples.
    position: i64,
    // Last, so the instance is gone before the module can exit.
    module: Arc<Module>,
}

/// `result` as `Ok` when it is `kResultOk`, else an error naming `call`.
fn check(result: tresult, call: &str) -> Result<(), String> {
    if result == kResultOk {
        Ok(())
    } else {
        Err(format!("{call} failed ({result})"))
    }
}

/// [`check`] for `setProcessing(state)`, which the SDK lets a processor leave unimplemented.
fn check_set_processing(result: tresult, state: bool) -> Result<(), String> {
    if result == kNotImplemented {
        return Ok(());
    }
    check(result, &format!("IAudioProcessor::setProcessing({state})"))
}

impl Plugin {
    /// An instance of class `name` from the shared module ([`Module::shared`]).
    pub fn new(name: &str) -> Result<Plugin, String> {
        Self::from_module(Module::shared(), name)
    }

    /// Creates the component of class `name`, initialises it with a host context, and finds its
    /// audio processor and edit controller (the same object, or one created from the
    /// component's controller class id and initialised likewise).
    pub fn from_module(module: Arc<Module>, name: &str) -> Result<Plugin, String> {
        let class = module.class(name)?;
        let component = module.create::<IComponent>(&class.cid)?;
        let host = ComWrapper::new(HostApplication);
        let context = host.as_com_ref::<FUnknown>().expect("the host context is an FUnknown").as_ptr();
        // SAFETY: `context` is a live object that outlives the instance (`_host`).
        check(unsafe { component.initialize(context) }, "IComponent::initialize")?;
        let processor = component.cast::<IAudioProcessor>().ok_or("the component is no IAudioProcessor")?;
        let (controller, separate_controller) = match component.cast::<IEditController>() {
            Some(controller) => (controller, false),
            None => {
                let mut cid: TUID = [0; 16];
                // SAFETY: `cid` is a valid out-pointer; `context` as above.
                unsafe {
                    check(component.getControllerClassId(&mut cid), "IComponent::getControllerClassId")?;
                    let controller = module.create::<IEditController>(&cid)?;
                    check(controller.initialize(context), "IEditController::initialize")?;
                    (controller, true)
                }
            }
        };
        let handler = ComWrapper::new(ComponentHandler::default());
        let handler_ptr = handler.as_com_ref::<IComponentHandler>().expect("an IComponentHandler").as_ptr();
        // SAFETY: the handler outlives the instance (`handler`).
        check(unsafe { controller.setComponentHandler(handler_ptr) }, "IEditController::setComponentHandler")?;
        let mut plugin = Plugin {
            component,
            processor,
            controller,
            separate_controller,
            _host: host,
            handler,
            input_changes: ComWrapper::new(ParameterChanges::default()),
            output_changes: ComWrapper::new(ParameterChanges::default()),
            inputs: Vec::new(),
            outputs: Vec::new(),
            setup: None,
            position: 0,
            module,
        };
        plugin.inputs = plugin.read_buses(INPUT)?;
        plugin.outputs = plugin.read_buses(OUTPUT)?;
        Ok(plugin)
    }

    /// The module the instance came from.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The audio buses in `direction`, as the component and the processor describe them.
    fn read_buses(&self, direction: BusDirection) -> Result<Vec<Bus>, String> {
        // SAFETY: `info` and `arrangement` are valid out-pointers for each index below the count.
        unsafe {
            (0..self.component.getBusCount(AUDIO, direction))
                .map(|i| {
                    let mut info: BusInfo = std::mem::zeroed();
                    check(self.component.getBusInfo(AUDIO, direction, i, &mut info), "IComponent::getBusInfo")?;
                    let mut arrangement: SpeakerArrangement = 0;
                    check(
                        self.processor.getBusArrangement(direction, i, &mut arrangement),
                        "IAudioProcessor::getBusArrangement",
                    )?;
                    #[allow(clippy::unnecessary_cast)]
                    Ok(Bus {
                        name: from_utf16(&info.name),
                        channels: info.channelCount,
                        is_main: info.busType == BusTypes_::kMain as i32,
                        default_active: info.flags & BusFlags_::kDefaultActive as u32 != 0,
                        arrangement,
                    })
                })
                .collect()
        }
    }

    /// The audio input buses.
    pub fn inputs(&self) -> &[Bus] {
        &self.inputs
    }

    /// The audio output buses.
    pub fn outputs(&self) -> &[Bus] {
        &self.outputs
    }

    // --- parameters ----------------------------------------------------------------------

    /// Every parameter the edit controller lists.
    pub fn params(&self) -> Vec<Param> {
        // SAFETY: `info` is a valid out-pointer for each index below the count.
        unsafe {
            (0..self.controller.getParameterCount())
                .filter_map(|i| {
                    let mut info: ParameterInfo = std::mem::zeroed();
                    (self.controller.getParameterInfo(i, &mut info) == kResultOk).then(|| Param {
                        id: info.id,
                        title: from_utf16(&info.title),
                        step_count: info.stepCount,
                        default: info.defaultNormalizedValue,
                        flags: info.flags,
                    })
                })
                .collect()
        }
    }

    /// The parameter titled `title`. Panics, listing the titles, if there is none.
    pub fn param(&self, title: &str) -> Param {
        let params = self.params();
        params.iter().find(|p| p.title == title).cloned().unwrap_or_else(|| {
            panic!("no parameter {title:?}: {:?}", params.iter().map(|p| &p.title).collect::<Vec<_>>())
        })
    }

    /// The controller's normalized value of `id`.
    pub fn get_param(&self, id: ParamID) -> ParamValue {
        // SAFETY: a plain call.
        unsafe { self.controller.getParamNormalized(id) }
    }

    /// Sets `id` on the controller, as a host does for a change outside playback (while it
    /// processes, it also sends the change to the processor: [`ParamChange`]).
    pub fn set_param(&mut self, id: ParamID, value: ParamValue) -> Result<(), String> {
        // SAFETY: a plain call.
        check(unsafe { self.controller.setParamNormalized(id, value) }, "IEditController::setParamNormalized")
    }

    /// What the plugin told the host through the component handler: `performEdit` calls, and
    /// the `restartComponent` flags or-ed together.
    pub fn handler_calls(&self) -> (u32, u32) {
        use std::sync::atomic::Ordering::SeqCst;
        (self.handler.edits.load(SeqCst), self.handler.restart_flags.load(SeqCst))
    }

    // --- state ---------------------------------------------------------------------------

    /// The component's state (`IComponent::getState`), as a host saves it in its project.
    pub fn save_state(&mut self) -> Result<Vec<u8>, String> {
        let stream = ComWrapper::new(MemoryStream::default());
        let ptr = stream.as_com_ref::<IBStream>().expect("an IBStream").as_ptr();
        // SAFETY: the stream is live for the call.
        check(unsafe { self.component.getState(ptr) }, "IComponent::getState")?;
        Ok(stream.bytes())
    }

    /// Restores a saved state as a host opening a project does: `IComponent::setState`, then
    /// the same bytes to the controller (`IEditController::setComponentState`) so its view of
    /// the parameters follows.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let stream = ComWrapper::new(MemoryStream::with_bytes(bytes.to_vec()));
        let ptr = stream.as_com_ref::<IBStream>().expect("an IBStream").as_ptr();
        // SAFETY: the stream is live for both calls.
        unsafe {
            check(self.component.setState(ptr), "IComponent::setState")?;
            stream.rewind();
            check(self.controller.setComponentState(ptr), "IEditController::setComponentState")
        }
    }

    // --- activation ----------------------------------------------------------------------

    /// Sets the instance up for `sample_rate` and blocks of up to `max_block` samples in
    /// `mode` (32-bit samples), gives every audio bus its channels (stereo stays stereo) and
    /// activates it, then activates the instance, reads its latency and starts processing.
    /// Deactivates first if active.
    pub fn activate(&mut self, sample_rate: f64, max_block: usize, mode: Mode) -> Result<(), String> {
        self.deactivate()?;
        let mut setup = ProcessSetup {
            processMode: mode.vst3(),
            symbolicSampleSize: SAMPLE_32,
            maxSamplesPerBlock: max_block as i32,
            sampleRate: sample_rate,
        };
        let arrangement = |bus: &Bus| match bus.channels {
            1 => SpeakerArr::kMono,
            2 => SpeakerArr::kStereo,
            n => (1 << n) - 1,
        };
        let mut ins: Vec<SpeakerArrangement> = self.inputs.iter().map(arrangement).collect();
        let mut outs: Vec<SpeakerArrangement> = self.outputs.iter().map(arrangement).collect();
        // SAFETY: `setup` and the arrangements are valid for the calls.
        unsafe {
            check(self.processor.canProcessSampleSize(SAMPLE_32), "IAudioProcessor::canProcessSampleSize(kSample32)")?;
            check(self.processor.setupProcessing(&mut setup), "IAudioProcessor::setupProcessing")?;
            check(
                self.processor.setBusArrangements(
                    ins.as_mut_ptr(),
                    ins.len() as i32,
                    outs.as_mut_ptr(),
                    outs.len() as i32,
                ),
                "IAudioProcessor::setBusArrangements",
            )?;
            for (direction, count) in [(INPUT, self.inputs.len()), (OUTPUT, self.outputs.len())] {
                for i in 0..count as i32 {
                    check(self.component.activateBus(AUDIO, direction, i, 1), "IComponent::activateBus")?;
                }
            }
            check(self.component.setActive(1), "IComponent::setActive(true)")?;
            self.setup = Some(Setup { sample_rate, max_block, mode });
            check_set_processing(self.processor.setProcessing(1), true)
        }
    }

    /// Stops processing and deactivates, if active.
    pub fn deactivate(&mut self) -> Result<(), String> {
        if self.setup.take().is_none() {
            return Ok(());
        }
        // SAFETY: plain calls.
        unsafe {
            check_set_processing(self.processor.setProcessing(0), false)?;
            check(self.component.setActive(0), "IComponent::setActive(false)")
        }
    }

    /// `IAudioProcessor::getLatencySamples`: the delay the host compensates.
    pub fn latency(&self) -> usize {
        // SAFETY: a plain call.
        unsafe { self.processor.getLatencySamples() as usize }
    }

    // --- processing ----------------------------------------------------------------------

    /// Processes one block: `input[channel]` of the main input, `outputs[bus][channel]`
    /// (resized to the block), `changes` at offsets within the block, sent in
    /// `inputParameterChanges` (and mirrored on the controller with `setParamNormalized`, as
    /// hosts keep their controller in step with the automation they play).
    pub fn process_block(
        &mut self,
        input: &[&[f32]],
        outputs: &mut [Vec<Vec<f32>>],
        changes: &[ParamChange],
    ) -> Result<(), String> {
        let setup = self.setup.ok_or("process_block() on an inactive instance")?;
        let len = input.first().map_or(0, |c| c.len());
        if len > setup.max_block {
            return Err(format!("a block of {len} samples, over the maximum of {}", setup.max_block));
        }
        // The plugin gets buffers of its own: it may write to its inputs.
        let mut input_copy: Vec<Vec<f32>> = input.iter().map(|c| c.to_vec()).collect();
        let mut in_ptrs: Vec<*mut f32> = input_copy.iter_mut().map(|c| c.as_mut_ptr()).collect();
        let mut out_ptrs: Vec<Vec<*mut f32>> = outputs
            .iter_mut()
            .map(|bus| {
                bus.iter_mut()
                    .map(|c| {
                        c.clear();
                        c.resize(len, 0.0);
                        c.as_mut_ptr()
                    })
                    .collect()
            })
            .collect();
        let bus_buffers = |channels: &mut Vec<*mut f32>| AudioBusBuffers {
            numChannels: channels.len() as i32,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 { channelBuffers32: channels.as_mut_ptr() },
        };
        let mut in_buses = vec![bus_buffers(&mut in_ptrs)];
        let mut out_buses: Vec<AudioBusBuffers> = out_ptrs.iter_mut().map(bus_buffers).collect();

        self.input_changes.clear();
        self.output_changes.clear();
        for change in changes {
            if change.time >= len.max(1) {
                return Err(format!("a change at {} in a block of {len}", change.time));
            }
            self.input_changes.add(change.id, change.time as i32, change.value);
        }
        #[allow(clippy::unnecessary_cast)]
        let mut context = ProcessContext {
            state: StatesAndFlags_::kPlaying as u32,
            sampleRate: setup.sample_rate,
            projectTimeSamples: self.position,
            continousTimeSamples: self.position,
            // SAFETY: every other field is plain data, zero meaning "not given".
            ..unsafe { std::mem::zeroed() }
        };
        let mut data = ProcessData {
            processMode: setup.mode.vst3(),
            symbolicSampleSize: SAMPLE_32,
            numSamples: len as i32,
            numInputs: in_buses.len() as i32,
            numOutputs: out_buses.len() as i32,
            inputs: in_buses.as_mut_ptr(),
            outputs: out_buses.as_mut_ptr(),
            inputParameterChanges: self.changes_ptr(true),
            outputParameterChanges: self.changes_ptr(false),
            inputEvents: std::ptr::null_mut(),
            outputEvents: std::ptr::null_mut(),
            processContext: &mut context,
        };
        // SAFETY: every pointer in `data` is live and sized for `len` samples until it returns.
        check(unsafe { self.processor.process(&mut data) }, "IAudioProcessor::process")?;
        self.position += len as i64;
        for change in changes {
            self.set_param(change.id, change.value)?;
        }
        Ok(())
    }

    fn changes_ptr(&self, input: bool) -> *mut IParameterChanges {
        let changes = if input { &self.input_changes } else { &self.output_changes };
        changes.as_com_ref::<IParameterChanges>().expect("an IParameterChanges").as_ptr()
    }

    /// Runs `input` (the main input's channels) through in blocks whose sizes `block_size`
    /// gives (called with each block's start), `changes` at their samples; returns every output
    /// bus.
    pub fn render(
        &mut self,
        input: &[Vec<f32>],
        mut block_size: impl FnMut(usize) -> usize,
        changes: &[ParamChange],
    ) -> Result<Rendered, String> {
        let max_block = self.setup.ok_or("render() on an inactive instance")?.max_block;
        let total = input.first().map_or(0, |c| c.len());
        let shape: Vec<usize> = self.outputs.iter().map(|b| b.channels as usize).collect();
        let mut rendered = Rendered { buses: shape.iter().map(|&n| vec![Vec::with_capacity(total); n]).collect() };
        let mut scratch: Vec<Vec<Vec<f32>>> = shape.iter().map(|&n| vec![Vec::new(); n]).collect();
        let mut pos = 0;
        while pos < total {
            let len = block_size(pos).clamp(1, max_block).min(total - pos);
            let block: Vec<&[f32]> = input.iter().map(|c| &c[pos..pos + len]).collect();
            let in_block: Vec<ParamChange> = changes
                .iter()
                .filter(|c| (pos..pos + len).contains(&c.time))
                .map(|c| ParamChange { time: c.time - pos, ..*c })
                .collect();
            self.process_block(&block, &mut scratch, &in_block)?;
            for (bus, out) in rendered.buses.iter_mut().zip(&scratch) {
                for (channel, data) in bus.iter_mut().zip(out) {
                    channel.extend_from_slice(data);
                }
            }
            pos += len;
        }
        Ok(rendered)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let deactivated = self.deactivate();
        // SAFETY: plain calls; the handler is unset before it goes.
        unsafe {
            self.controller.setComponentHandler(std::ptr::null_mut());
            if self.separate_controller {
                self.controller.terminate();
            }
            self.component.terminate();
        }
        if let Err(e) = deactivated {
            if !std::thread::panicking() {
                panic!("{e}");
            }
        }
    }
}
