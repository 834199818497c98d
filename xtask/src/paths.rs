//! Where every file that xtask reads or writes lives, all as absolute paths under the repository.

use std::path::{Path, PathBuf};

/// Version of ONNX Runtime; must match `onnxruntime==` in `model/requirements.txt` and the `api-*`
/// feature of the `ort` crate.
pub const ORT_VERSION: &str = "1.31.1";

/// The ONNX Runtime library as named inside the `onnxruntime` wheel and in `runtime/`.
pub fn ort_library_name() -> String {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_string()
    } else if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

/// Sift's own four-stem model's name (`sift separate --model NAME`); its file is `NAME.onnx`,
/// both where it is committed and where it is installed.
pub const OWN_MODEL: &str = "sift-4stem";
/// The composed four-stem model's name; its description is `NAME.compose.toml`.
pub const COMPOSED_MODEL: &str = "spleeter+sift-4stem";

pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    /// The repository is the parent of this crate's folder; the target folder follows
    /// `CARGO_TARGET_DIR` like cargo itself, so that `target/release/sift` is found wherever
    /// cargo put it.
    pub fn discover() -> Self {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the repository").to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Self { root, target }
    }

    pub fn venv(&self) -> PathBuf {
        self.root.join(".venv")
    }

    /// Downloaded wheels; kept under the target folder so `cargo clean` clears them.
    pub fn wheel_cache(&self) -> PathBuf {
        self.target.join("sift-cache").join("wheels")
    }

    pub fn model_sources(&self) -> PathBuf {
        self.root.join("model")
    }

    pub fn requirements(&self) -> PathBuf {
        self.model_sources().join("requirements.txt")
    }

    pub fn ort_library(&self) -> PathBuf {
        self.root.join("runtime").join(ort_library_name())
    }

    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    pub fn default_model(&self) -> PathBuf {
        self.models().join("spleeter-2stems.onnx")
    }

    /// Sift's own four-stem streaming model as committed to the repository: exported from a
    /// training checkpoint by `model/training/export.py` (model/README.md says with what).
    pub fn own_model_source(&self) -> PathBuf {
        self.model_sources().join("weights").join(format!("{OWN_MODEL}.onnx"))
    }

    /// Where `cargo xtask setup` installs Sift's own model, beside the default one.
    pub fn own_model(&self) -> PathBuf {
        self.models().join(format!("{OWN_MODEL}.onnx"))
    }

    /// The composed four-stem model's description as committed: Spleeter's vocals, Sift's own
    /// drums, bass and other (`crates/inference/src/composed.rs`).
    pub fn composed_model_source(&self) -> PathBuf {
        self.model_sources().join("weights").join(format!("{COMPOSED_MODEL}.compose.toml"))
    }

    /// Where `cargo xtask setup` installs the composed model's description.
    pub fn composed_model(&self) -> PathBuf {
        self.models().join(format!("{COMPOSED_MODEL}.compose.toml"))
    }

    /// The models the plugin bundles ship with.
    pub fn shipped_models(&self) -> [PathBuf; 3] {
        [self.default_model(), self.own_model(), self.composed_model()]
    }

    pub fn demo(&self) -> PathBuf {
        self.root.join("demo")
    }

    pub fn demo_clip(&self) -> PathBuf {
        self.demo().join("falcon69.stem.mp4")
    }

    /// The clip's stems and mixture as WAV files, the reference for `sift eval`.
    pub fn demo_reference(&self) -> PathBuf {
        self.demo().join("falcon69")
    }

    /// Shared evaluation material lies beside the repository, in `../shared/eval`.
    pub fn eval_data(&self) -> PathBuf {
        self.root.parent().unwrap_or(&self.root).join("shared").join("eval")
    }

    /// Where `cargo xtask bundle` (nice-plug-xtask) writes the plugin bundles.
    pub fn bundled(&self) -> PathBuf {
        self.target.join("bundled")
    }

    /// The VST3 bundle, a folder on every OS.
    pub fn vst3_bundle(&self) -> PathBuf {
        self.bundled().join("sift.vst3")
    }

    /// The CLAP plugin: a single library file on Linux and Windows, a bundle folder on macOS.
    pub fn clap_bundle(&self) -> PathBuf {
        self.bundled().join("sift.clap")
    }

    /// The Windows download's folder (`cargo xtask bundle --target windows`).
    pub fn windows_bundle(&self) -> PathBuf {
        self.bundled().join("windows")
    }

    pub fn sift_binary(&self) -> PathBuf {
        self.target.join("release").join(format!("sift{}", std::env::consts::EXE_SUFFIX))
    }
}
