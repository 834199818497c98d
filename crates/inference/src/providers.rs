//! Execution providers: where a model runs (CPU, a GPU or an NPU), what each needs installed,
//! and where their libraries are found.
//!
//! The ONNX Runtime library Sift loads is the CPU build from the `onnxruntime` wheel. Other
//! providers come in two ways:
//!
//! - **Plugin providers** (WebGPU, OpenVINO, CUDA): separate libraries registered with the
//!   running environment (`RegisterExecutionProviderLibrary`, ONNX Runtime ≥ 1.22), fetched from
//!   PyPI into a user folder (`sift providers install NAME`, `cargo xtask setup --gpu NAME`)
//!   outside the plugin bundle, so a bundle stays small and a user adds only what their machine
//!   can use. CUDA's provider library (from `onnxruntime-gpu`) exports the same plugin entry
//!   point, so it is registered the same way, with NVIDIA's libraries loaded beside it.
//! - **Built-in providers** of other platforms' ONNX Runtime builds (DirectML on Windows, CoreML
//!   on macOS, QNN on Qualcomm NPUs): appended by name; where the loaded runtime lacks them the
//!   request falls back to the CPU and says so.
//!
//! Whatever was asked for, the provider that actually runs the model is reported
//! ([`crate::OnnxModel::provider`]) together with why a request fell back
//! ([`crate::OnnxModel::provider_fallback`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::locations::provider_dirs;

/// Where a model should run. [`Device::Auto`] picks the first installed accelerator that loads
/// and runs the model, else the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// The first accelerator that is installed and works, else the CPU.
    #[default]
    Auto,
    /// ONNX Runtime's CPU provider (always available).
    Cpu,
    /// Any GPU provider that is installed and works (the plugin's older "GPU" choice).
    Gpu,
    /// NVIDIA CUDA (plugin library from the `onnxruntime-gpu` wheel plus NVIDIA's CUDA 13 and
    /// cuDNN 9 libraries).
    Cuda,
    /// NVIDIA TensorRT (from `onnxruntime-gpu`; needs NVIDIA's TensorRT libraries on the system).
    TensorRt,
    /// WebGPU through Dawn: Vulkan on Linux, D3D12 on Windows, Metal on macOS (plugin library
    /// `onnxruntime-ep-webgpu`).
    WebGpu,
    /// Intel CPU, GPU or NPU through OpenVINO (plugin library `onnxruntime-ep-openvino`).
    OpenVino,
    /// DirectML (Windows builds of ONNX Runtime with DirectML).
    DirectMl,
    /// Apple's Core ML (macOS builds of ONNX Runtime).
    CoreMl,
    /// Qualcomm NPUs (the QNN build of ONNX Runtime).
    Qnn,
}

impl Device {
    /// Every choice, in the order menus show them.
    pub const ALL: [Device; 10] = [
        Device::Auto,
        Device::Cpu,
        Device::Gpu,
        Device::Cuda,
        Device::TensorRt,
        Device::WebGpu,
        Device::OpenVino,
        Device::DirectMl,
        Device::CoreMl,
        Device::Qnn,
    ];

    /// The name typed on the command line (`--device webgpu`).
    pub fn name(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Cuda => "cuda",
            Device::TensorRt => "tensorrt",
            Device::WebGpu => "webgpu",
            Device::OpenVino => "openvino",
            Device::DirectMl => "directml",
            Device::CoreMl => "coreml",
            Device::Qnn => "qnn",
        }
    }

    /// The name shown to users and reported as the provider that runs (`"CPU"`, `"WebGPU"`).
    pub fn label(self) -> &'static str {
        match self {
            Device::Auto => "Auto",
            Device::Cpu => "CPU",
            Device::Gpu => "GPU",
            Device::Cuda => "CUDA",
            Device::TensorRt => "TensorRT",
            Device::WebGpu => "WebGPU",
            Device::OpenVino => "OpenVINO",
            Device::DirectMl => "DirectML",
            Device::CoreMl => "CoreML",
            Device::Qnn => "QNN",
        }
    }

    /// ONNX Runtime's name of the provider (`None` for Auto and GPU, which are choices among
    /// providers).
    pub fn ep_name(self) -> Option<&'static str> {
        Some(match self {
            Device::Auto | Device::Gpu => return None,
            Device::Cpu => "CPUExecutionProvider",
            Device::Cuda => "CUDAExecutionProvider",
            Device::TensorRt => "TensorrtExecutionProvider",
            Device::WebGpu => "WebGpuExecutionProvider",
            Device::OpenVino => "OpenVINOExecutionProvider",
            Device::DirectMl => "DmlExecutionProvider",
            Device::CoreMl => "CoreMLExecutionProvider",
            Device::Qnn => "QNNExecutionProvider",
        })
    }

    /// Why this provider cannot exist on this platform, or `None` where it can.
    pub fn unsupported_here(self) -> Option<&'static str> {
        let (windows, macos, linux) =
            (cfg!(target_os = "windows"), cfg!(target_os = "macos"), cfg!(target_os = "linux"));
        match self {
            Device::Cuda | Device::TensorRt if !(windows || linux) => {
                Some("NVIDIA's providers run on Linux and Windows only")
            }
            Device::OpenVino if !(windows || linux) || !cfg!(target_arch = "x86_64") => {
                Some("the OpenVINO provider is published for x86-64 Linux and Windows only")
            }
            Device::DirectMl if !windows => Some("DirectML runs on Windows only"),
            Device::CoreMl if !macos => Some("Core ML runs on macOS only"),
            Device::Qnn if !(windows || linux) => Some("QNN runs on Windows and Linux on Qualcomm chips only"),
            _ => None,
        }
    }

    /// What Auto (and GPU) try, in order, before the CPU: the fast, widely working providers
    /// first. TensorRT is left out: its first load builds an engine for minutes. OpenVINO comes
    /// last and, under Auto, only on an Intel GPU or NPU (on the CPU it is no gain over ONNX
    /// Runtime's own provider).
    pub fn auto_order() -> &'static [Device] {
        &[Device::Cuda, Device::DirectMl, Device::CoreMl, Device::Qnn, Device::WebGpu, Device::OpenVino]
    }

    /// The package that provides this device's plugin library, if it is one.
    pub fn package(self) -> Option<&'static ProviderPackage> {
        PACKAGES.iter().find(|p| p.device == self)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Device::ALL.into_iter().find(|d| d.name() == wanted).ok_or_else(|| {
            format!(
                "unknown device `{s}`; choose one of {}",
                Device::ALL.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// A provider library published on PyPI and how it is installed.
#[derive(Clone, Copy, Debug)]
pub struct ProviderPackage {
    /// The device it provides.
    pub device: Device,
    /// The folder name under the providers folder (`webgpu`), also what `install` takes
    /// (CUDA and TensorRT share `cuda`).
    pub name: &'static str,
    /// The PyPI wheels, `name==version`; the first holds the provider library.
    pub wheels: &'static [&'static str],
    /// The provider library's file name inside the folder.
    pub library: &'static str,
    /// What the download and the installed folder weigh, in words for the README and `--help`.
    pub size: &'static str,
}

/// The provider libraries Sift knows how to install.
pub const PACKAGES: &[ProviderPackage] = &[
    ProviderPackage {
        device: Device::WebGpu,
        name: "webgpu",
        wheels: &["onnxruntime-ep-webgpu==0.4.0"],
        library: if cfg!(target_os = "windows") {
            "onnxruntime_providers_webgpu.dll"
        } else if cfg!(target_os = "macos") {
            "libonnxruntime_providers_webgpu.dylib"
        } else {
            "libonnxruntime_providers_webgpu.so"
        },
        size: "6.9 MB download, 16.5 MB installed",
    },
    ProviderPackage {
        device: Device::OpenVino,
        name: "openvino",
        wheels: &["onnxruntime-ep-openvino==1.8.1"],
        library: if cfg!(target_os = "windows") {
            "onnxruntime_providers_openvino_plugin.dll"
        } else {
            "libonnxruntime_providers_openvino_plugin.so"
        },
        size: "52.6 MB download, 157 MB installed (OpenVINO 2026 runtime included)",
    },
    ProviderPackage {
        device: Device::Cuda,
        name: "cuda",
        wheels: CUDA_WHEELS,
        library: if cfg!(target_os = "windows") {
            "onnxruntime_providers_cuda.dll"
        } else {
            "libonnxruntime_providers_cuda.so"
        },
        size: "onnxruntime-gpu 256 MB plus NVIDIA's CUDA 13 and cuDNN 9 wheels (about 1.5 GB installed)",
    },
    // TensorRT's provider comes in the same wheel and folder as CUDA's; TensorRT itself
    // (libnvinfer) is not fetched: it is NVIDIA's, installed with their TensorRT packages.
    ProviderPackage {
        device: Device::TensorRt,
        name: "cuda",
        wheels: CUDA_WHEELS,
        library: if cfg!(target_os = "windows") {
            "onnxruntime_providers_tensorrt.dll"
        } else {
            "libonnxruntime_providers_tensorrt.so"
        },
        size: "as CUDA, plus NVIDIA's TensorRT libraries on the system",
    },
];

/// The wheels of the CUDA folder (CUDA's and TensorRT's providers).
const CUDA_WHEELS: &[&str] = &[
    "onnxruntime-gpu==1.31.1",
    "nvidia-cuda-runtime~=13.0",
    "nvidia-cublas~=13.0",
    "nvidia-cufft~=12.0",
    "nvidia-curand~=10.0",
    "nvidia-cuda-nvrtc~=13.0",
    "nvidia-cudnn-cu13~=9.0",
];

/// A package by the name `sift providers install` takes (`webgpu`, `openvino`, `cuda`).
pub fn package_named(name: &str) -> Option<&'static ProviderPackage> {
    let wanted = name.trim().to_ascii_lowercase();
    PACKAGES.iter().find(|p| p.name == wanted)
}

/// The installed library of `package`, first found in [`provider_dirs`], or every path looked at.
pub fn find_library(package: &ProviderPackage, binary_dir: Option<&Path>) -> Result<PathBuf, Vec<PathBuf>> {
    let looked: Vec<PathBuf> =
        provider_dirs(binary_dir).into_iter().map(|dir| dir.join(package.name).join(package.library)).collect();
    looked.iter().find(|p| p.is_file()).cloned().ok_or(looked)
}

/// The installed state of every known provider package, for `sift providers`.
pub fn installed(binary_dir: Option<&Path>) -> Vec<(&'static ProviderPackage, Option<PathBuf>)> {
    PACKAGES.iter().map(|p| (p, find_library(p, binary_dir).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locations::PROVIDER_DIR_ENV;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for device in Device::ALL {
            assert_eq!(device.name().parse::<Device>(), Ok(device));
            assert_eq!(device.label().parse::<Device>(), Ok(device), "labels parse too");
        }
        assert_eq!("Web-GPU".parse::<Device>(), Ok(Device::WebGpu));
        let error = "vulkan".parse::<Device>().unwrap_err();
        assert!(error.contains("webgpu") && error.contains("openvino") && error.contains("auto"), "{error}");
    }

    #[test]
    fn platform_rules() {
        assert!(Device::Cpu.unsupported_here().is_none());
        assert!(Device::WebGpu.unsupported_here().is_none(), "WebGPU is published for every desktop platform");
        if cfg!(target_os = "linux") {
            assert_eq!(Device::DirectMl.unsupported_here(), Some("DirectML runs on Windows only"));
            assert!(Device::CoreMl.unsupported_here().is_some());
        }
    }

    #[test]
    fn every_plugin_device_has_a_package() {
        for device in [Device::WebGpu, Device::OpenVino, Device::Cuda, Device::TensorRt] {
            assert!(device.package().is_some(), "{device}");
        }
        assert!(Device::DirectMl.package().is_none());
        if std::env::var_os(PROVIDER_DIR_ENV).is_none() {
            let dirs = provider_dirs(Some(Path::new("/opt/sift")));
            assert_eq!(dirs[0], PathBuf::from("/opt/sift/providers"));
        }
    }
}
