//! The COM objects a VST3 host hands the plugin, as Rust classes (`vst3::Class`, instantiated
//! with `ComWrapper`): the host context, the component handler, a block's parameter changes
//! and a memory stream for state.
//!
//! Every method is called by the plugin through a vtable, so each is `unsafe fn` by the trait's
//! signature; the safety contract is the VST3 SDK's (valid pointers from the caller).

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};

use vst3::Steinberg::IBStream_::IStreamSeekMode_::{kIBSeekCur, kIBSeekEnd, kIBSeekSet};
use vst3::Steinberg::Vst::{
    IComponentHandler, IComponentHandlerTrait, IHostApplication, IHostApplicationTrait, IParamValueQueue,
    IParamValueQueueTrait, IParameterChanges, IParameterChangesTrait, ParamID, ParamValue, String128,
};
use vst3::Steinberg::{
    int32, int64, kInvalidArgument, kNoInterface, kResultFalse, kResultOk, tresult, IBStream, IBStreamTrait, TUID,
};
use vst3::{Class, ComWrapper};

/// The host's name, as `IHostApplication::getName` gives it.
pub const HOST_NAME: &str = "Sift VST3 test host";

/// Copies `text` into a VST3 UTF-16 string, cut to fit and NUL-terminated.
pub fn to_string128(text: &str, dest: &mut String128) {
    let units: Vec<u16> = text.encode_utf16().take(dest.len() - 1).collect();
    dest[..units.len()].copy_from_slice(&units);
    dest[units.len()] = 0;
}

/// A VST3 UTF-16 string (up to its NUL) as Rust text.
pub fn from_utf16(units: &[u16]) -> String {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

/// The host context passed to `IPluginBase::initialize`: real hosts pass an
/// `IHostApplication`, and a plugin may ask it for its name or for message objects (this host
/// makes none: `createInstance` says so).
pub struct HostApplication;

impl Class for HostApplication {
    type Interfaces = (IHostApplication,);
}

impl IHostApplicationTrait for HostApplication {
    unsafe fn getName(&self, name: *mut String128) -> tresult {
        if name.is_null() {
            return kInvalidArgument;
        }
        to_string128(HOST_NAME, &mut *name);
        kResultOk
    }

    unsafe fn createInstance(&self, _cid: *mut TUID, _iid: *mut TUID, obj: *mut *mut c_void) -> tresult {
        if !obj.is_null() {
            *obj = std::ptr::null_mut();
        }
        kNoInterface
    }
}

/// The component handler a host gives the edit controller: the plugin reports edits from its
/// editor and asks for restarts (a new latency) through it. This one counts what it is told.
/// The plugin may call it from its own GUI thread, hence the atomics.
#[derive(Default)]
pub struct ComponentHandler {
    /// `performEdit` calls so far.
    pub edits: AtomicU32,
    /// Every `restartComponent` flag seen so far, or-ed together.
    pub restart_flags: AtomicU32,
}

impl Class for ComponentHandler {
    type Interfaces = (IComponentHandler,);
}

impl IComponentHandlerTrait for ComponentHandler {
    unsafe fn beginEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn performEdit(&self, _id: ParamID, _value: ParamValue) -> tresult {
        self.edits.fetch_add(1, Ordering::SeqCst);
        kResultOk
    }

    unsafe fn endEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn restartComponent(&self, flags: int32) -> tresult {
        self.restart_flags.fetch_or(flags as u32, Ordering::SeqCst);
        kResultOk
    }
}

/// One parameter's changes within a block: `(sample offset, normalized value)` points, in
/// order, as `ProcessData::inputParameterChanges` carries them.
pub struct ParamValueQueue {
    id: ParamID,
    points: RefCell<Vec<(int32, ParamValue)>>,
}

impl Class for ParamValueQueue {
    type Interfaces = (IParamValueQueue,);
}

impl IParamValueQueueTrait for ParamValueQueue {
    unsafe fn getParameterId(&self) -> ParamID {
        self.id
    }

    unsafe fn getPointCount(&self) -> int32 {
        self.points.borrow().len() as int32
    }

    unsafe fn getPoint(&self, index: int32, offset: *mut int32, value: *mut ParamValue) -> tresult {
        match self.points.borrow().get(index as usize) {
            Some(&(at, v)) if index >= 0 && !offset.is_null() && !value.is_null() => {
                *offset = at;
                *value = v;
                kResultOk
            }
            _ => kInvalidArgument,
        }
    }

    unsafe fn addPoint(&self, offset: int32, value: ParamValue, index: *mut int32) -> tresult {
        let mut points = self.points.borrow_mut();
        points.push((offset, value));
        if !index.is_null() {
            *index = points.len() as int32 - 1;
        }
        kResultOk
    }
}

/// A block's parameter changes: one queue per parameter. The host fills one for the input and
/// hands the plugin an empty one for its output, cleared before every block.
#[derive(Default)]
pub struct ParameterChanges {
    queues: RefCell<Vec<ComWrapper<ParamValueQueue>>>,
}

impl Class for ParameterChanges {
    type Interfaces = (IParameterChanges,);
}

impl ParameterChanges {
    /// Empties it for the next block.
    pub fn clear(&self) {
        self.queues.borrow_mut().clear();
    }

    /// Adds a point for parameter `id` at `offset` within the block; points of one parameter
    /// must come in time order.
    pub fn add(&self, id: ParamID, offset: i32, value: ParamValue) {
        let mut queues = self.queues.borrow_mut();
        match queues.iter().find(|q| q.id == id) {
            Some(queue) => queue.points.borrow_mut().push((offset, value)),
            None => queues.push(ComWrapper::new(ParamValueQueue { id, points: RefCell::new(vec![(offset, value)]) })),
        }
    }

    fn queue_ptr(queue: &ComWrapper<ParamValueQueue>) -> *mut IParamValueQueue {
        // Not add-ref'ed: the queue lives as long as this object's block, as the SDK's own
        // `ParameterChanges` hands its queues out.
        queue.as_com_ref::<IParamValueQueue>().expect("a queue is an IParamValueQueue").as_ptr()
    }
}

impl IParameterChangesTrait for ParameterChanges {
    unsafe fn getParameterCount(&self) -> int32 {
        self.queues.borrow().len() as int32
    }

    unsafe fn getParameterData(&self, index: int32) -> *mut IParamValueQueue {
        match self.queues.borrow().get(index as usize) {
            Some(queue) if index >= 0 => Self::queue_ptr(queue),
            _ => std::ptr::null_mut(),
        }
    }

    unsafe fn addParameterData(&self, id: *const ParamID, index: *mut int32) -> *mut IParamValueQueue {
        if id.is_null() {
            return std::ptr::null_mut();
        }
        let id = *id;
        let mut queues = self.queues.borrow_mut();
        let at = match queues.iter().position(|q| q.id == id) {
            Some(at) => at,
            None => {
                queues.push(ComWrapper::new(ParamValueQueue { id, points: RefCell::new(Vec::new()) }));
                queues.len() - 1
            }
        };
        if !index.is_null() {
            *index = at as int32;
        }
        Self::queue_ptr(&queues[at])
    }
}

// The seek modes' enum is a `c_uint` on Linux and a `c_int` on Windows.
#[allow(clippy::unnecessary_cast)]
const SEEK_SET: int32 = kIBSeekSet as int32;
#[allow(clippy::unnecessary_cast)]
const SEEK_CUR: int32 = kIBSeekCur as int32;
#[allow(clippy::unnecessary_cast)]
const SEEK_END: int32 = kIBSeekEnd as int32;

/// A growable in-memory `IBStream`, for `getState` / `setState` as a host's project file.
#[derive(Default)]
pub struct MemoryStream {
    bytes: RefCell<Vec<u8>>,
    position: Cell<usize>,
}

impl Class for MemoryStream {
    type Interfaces = (IBStream,);
}

impl MemoryStream {
    /// A stream holding `bytes`, positioned at its start.
    pub fn with_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes: RefCell::new(bytes), position: Cell::new(0) }
    }

    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }

    /// Back to the start, as a host does before handing the same data to the next reader.
    pub fn rewind(&self) {
        self.position.set(0);
    }
}

impl IBStreamTrait for MemoryStream {
    unsafe fn read(&self, buffer: *mut c_void, count: int32, read: *mut int32) -> tresult {
        if buffer.is_null() || count < 0 {
            return kInvalidArgument;
        }
        let bytes = self.bytes.borrow();
        let start = self.position.get().min(bytes.len());
        let n = (count as usize).min(bytes.len() - start);
        std::ptr::copy_nonoverlapping(bytes[start..].as_ptr(), buffer as *mut u8, n);
        self.position.set(start + n);
        if !read.is_null() {
            *read = n as int32;
        }
        if n == 0 && count > 0 {
            kResultFalse
        } else {
            kResultOk
        }
    }

    unsafe fn write(&self, buffer: *mut c_void, count: int32, written: *mut int32) -> tresult {
        if buffer.is_null() || count < 0 {
            return kInvalidArgument;
        }
        let mut bytes = self.bytes.borrow_mut();
        let start = self.position.get();
        let end = start + count as usize;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        std::ptr::copy_nonoverlapping(buffer as *const u8, bytes[start..end].as_mut_ptr(), count as usize);
        self.position.set(end);
        if !written.is_null() {
            *written = count;
        }
        kResultOk
    }

    unsafe fn seek(&self, pos: int64, mode: int32, result: *mut int64) -> tresult {
        let len = self.bytes.borrow().len() as int64;
        let base = match mode {
            SEEK_SET => 0,
            SEEK_CUR => self.position.get() as int64,
            SEEK_END => len,
            _ => return kInvalidArgument,
        };
        let target = base + pos;
        if target < 0 {
            return kInvalidArgument;
        }
        self.position.set(target as usize);
        if !result.is_null() {
            *result = target;
        }
        kResultOk
    }

    unsafe fn tell(&self, pos: *mut int64) -> tresult {
        if pos.is_null() {
            return kInvalidArgument;
        }
        *pos = self.position.get() as int64;
        kResultOk
    }
}
