//! Step 2: the ONNX Runtime shared library, taken from the `onnxruntime` wheel (PyPI is the one
//! place it can be had from here) and put in `runtime/`, where `sift` and the tests load it.

use super::Outcome;
use crate::paths::{ort_library_name, Paths, ORT_VERSION};
use crate::{python, wheel};
use anyhow::Result;

pub fn ensure(paths: &Paths) -> Result<Outcome> {
    let dest = paths.ort_library();
    let wheel = python::wheel(paths, "onnxruntime", ORT_VERSION, true)?;
    let member = format!("onnxruntime/capi/{}", ort_library_name());
    let size = wheel::member_size(&wheel, &member)?;
    if dest.metadata().is_ok_and(|m| m.len() == size) {
        return Ok(Outcome::UpToDate);
    }
    wheel::extract(&wheel, &member, &dest)?;
    println!("    wrote {}", dest.display());
    Ok(Outcome::Done)
}
