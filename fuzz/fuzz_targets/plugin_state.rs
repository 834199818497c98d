//! The plugin's saved state: a project file from someone else.
//!
//! Input: the state blob as a host hands it back (nice-plug's JSON `PluginState`, uncompressed:
//! Sift builds nice-plug without `zstd`). What follows is nice-plug's own load path
//! (`wrapper::state::deserialize_json` and `deserialize_object`, crate-private there, so
//! repeated here step for step): parse, Sift's `Plugin::filter_state` (the migration
//! `params::keep_old_defaults`), each saved parameter set on the live parameters, then the
//! persisted fields. Then what the plugin reads of the result: the mixer's targets, the mode
//! and the model file each mode resolves to; and the state saved again.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use nice_plug::params::internals::ParamPtr;
use nice_plug::params::{InternalParamMut, Params};
use nice_plug::plugin::{ParamValue, Plugin, PluginState};
use sift::params::{SiftParams, SingleParams};
use sift::{Sift, SiftSingle};
use sift_engine::Mode;

fuzz_target!(|data: &[u8]| {
    let Ok(mut state) = serde_json::from_slice::<PluginState>(data) else { return };
    // Both plugins: `Sift Single` nests Sift's parameters and adds its own.
    let single = state.version.len() % 2 == 1;
    let (params, common): (Arc<dyn Params>, Arc<SiftParams>) = if single {
        let params = Arc::new(SingleParams::default());
        let common = params.common.clone();
        SiftSingle::filter_state(&mut state);
        (params, common)
    } else {
        let params = Arc::new(SiftParams::default());
        Sift::filter_state(&mut state);
        (params.clone(), params)
    };
    load(&state, params.as_ref());

    let _ = common.role_targets();
    let _ = (common.editor_state.size(), common.editor_state.logical_size(), common.editor_state.physical_size());
    let mode: Mode = common.mode.value().into();
    let picked = common.model_path.lock().map(|p| p.clone()).ok().filter(|p| !p.is_empty());
    for mode in [mode, Mode::Live, Mode::Balanced, Mode::Studio] {
        let _ = sift_inference::catalogue::resolve_for(picked.as_deref(), mode, None);
    }
    let fields = params.serialize_fields();
    let again = PluginState { version: state.version.clone(), params: state.params.clone(), fields };
    let _ = serde_json::to_vec(&again).expect("a loaded state saves again");
});

/// nice-plug's `deserialize_object` after `filter_state`, without a buffer config (no smoothers).
fn load(state: &PluginState, params: &dyn Params) {
    let map = params.param_map();
    for (id, value) in &state.params {
        let Some(&(_, ptr, _)) = map.iter().find(|(name, _, _)| name == id) else { continue };
        // SAFETY: the pointers come from `params`, alive for this whole function.
        unsafe {
            match (ptr, value) {
                (ParamPtr::FloatParam(p), ParamValue::F32(v)) => {
                    (*p)._internal_set_plain_value(*v);
                }
                (ParamPtr::IntParam(p), ParamValue::I32(v)) => {
                    (*p)._internal_set_plain_value(*v);
                }
                (ParamPtr::BoolParam(p), ParamValue::Bool(v)) => {
                    (*p)._internal_set_plain_value(*v);
                }
                (ParamPtr::EnumParam(p), ParamValue::I32(v)) => {
                    (*p)._internal_set_plain_value(*v);
                }
                (ParamPtr::EnumParam(p), ParamValue::String(id)) => {
                    (*p).set_from_id(id);
                }
                _ => {}
            }
        }
    }
    params.deserialize_fields(&state.fields);
}
