//! `cargo xtask test`: the whole test suite against the real runtime library, the default model,
//! the bundled plugins and the shared evaluation clips, as CI runs it.
//!
//! 0. the system packages the tests need (`system_packages`), installed as root where missing;
//! 1. set-up, and the release bundles (`target/bundled/sift.clap`, `sift.vst3`) the host tests load,
//!    and the Windows download (`target/bundled/windows`) with the Wine prefix its tests run in;
//! 2. `cargo test --workspace`: engine, command line (the Windows build's too, under Wine), and
//!    the CLAP host (`tests/clap-host`); then the CLAP host's audio tests on a debug plugin that
//!    aborts if its `process()` allocates (`alloc_check`);
//! 3. the CLAP host's tests built for Windows, under Wine, on the Windows `sift.clap`
//!    (`windows::host_tests`), then the Linux plugin opening the project the Windows one saved,
//!    then the VST3 host's tests (`tests/vst3-host`) under Wine on the Windows `sift.vst3`
//!    (`windows::vst3_host_tests`), then the Windows editor under Wine (`windows::editor_test`);
//! 4. `tests/hosts/run.sh`: DawDreamer and pedalboard load the VST3 bundle under Xvfb;
//! 5. `model/training/tests`: the training pipeline (`training_tests`).
//!
//! Every suite always runs; the exit status is non-zero if any failed.

use crate::paths::Paths;
use crate::process::{cargo, command, run_for_status};
use crate::{alloc_check, bundle, providers, python, setup, system_packages, training_tests, windows};
use anyhow::Result;

pub fn run(paths: &Paths) -> Result<()> {
    system_packages::ensure()?;
    setup::run(paths)?;
    bundle::bundle_after_setup(paths, &["--release".to_string()])?;
    windows::bundle(paths)?;
    windows::wine::prepare(paths)?;
    let wine_providers = windows::wine::providers(paths)?;
    // Where the Linux and the Windows plugin leave the projects they saved for each other
    // (`tests/clap-host/tests/params_state.rs`): emptied, so each run exchanges fresh ones.
    let state_exchange = windows::host_tests::state_exchange(paths)?;
    python::install_requirements(paths, &paths.root.join("tests/hosts/requirements.txt"))?;
    println!("==> execution providers for the provider tests (target/providers, target/lavapipe)");
    let unavailable = providers::ensure_for_tests(paths)?;
    if let Some(reason) = &unavailable {
        println!("    WARNING: the provider tests will skip: {reason}");
    }

    // The tests find the runtime and the model the way users' copies do (next to the binary or
    // plugin, or in the source tree for binaries built here), not through the overrides the
    // other xtask commands set.
    let tested = |mut cmd: std::process::Command| {
        cmd.env_remove("SIFT_ORT_DYLIB")
            .env_remove("SIFT_MODEL_DIR")
            .env("SIFT_EVAL_DIR", paths.eval_data())
            .env("SIFT_WINDOWS_BUNDLE", paths.windows_bundle())
            .env("SIFT_WINEPREFIX", windows::wine::prefix(paths))
            .env("SIFT_WINE_PROVIDERS", &wine_providers)
            .env("SIFT_STATE_EXCHANGE", &state_exchange);
        match &unavailable {
            Some(reason) => cmd.env(providers::UNAVAILABLE_ENV, reason),
            None => cmd.env_remove(providers::UNAVAILABLE_ENV),
        };
        cmd
    };
    println!("==> cargo test --workspace");
    let mut cargo_test = cargo(paths);
    // Every test binary runs even after one fails, so one failure never hides another.
    cargo_test.args(["test", "--workspace", "--no-fail-fast"]);
    let rust = run_for_status(&mut tested(cargo_test))?;

    println!("==> the CLAP host's audio tests on a debug plugin that aborts if process() allocates");
    let checked_plugin = alloc_check::build(paths)?;
    let mut alloc_test = cargo(paths);
    alloc_test.args(["test", "-p", "sift-clap-host"]);
    for test in alloc_check::TESTS {
        alloc_test.args(["--test", test]);
    }
    alloc_test.env("SIFT_CLAP", &checked_plugin);
    let allocs = run_for_status(&mut tested(alloc_test))?;

    println!("==> the CLAP test host's tests on Windows (tests/clap-host built for Windows, under Wine)");
    let windows_hosts = windows::host_tests::run(paths, &state_exchange)?;
    println!("==> the Linux plugin opens the project the Windows plugin saved");
    let mut state_test = cargo(paths);
    state_test
        .args(["test", "-p", "sift-clap-host", "--test", "params_state", windows::host_tests::STATE_TEST])
        .env("SIFT_STATE_FROM_OTHER_PLATFORM", "1");
    let windows_state = run_for_status(&mut tested(state_test))?;
    println!("==> the VST3 test host's tests on Windows (tests/vst3-host built for Windows, under Wine)");
    let windows_vst3 = windows::vst3_host_tests::run(paths)?;
    println!("==> the Windows editor under Wine on Xvfb, its picture checked from Linux (windows::editor_test)");
    let windows_editor = windows::editor_test::run(paths)?;

    println!("==> tests/hosts/run.sh (DawDreamer and pedalboard, VST3)");
    let mut host_tests = command(paths, "bash");
    host_tests.arg("tests/hosts/run.sh");
    let hosts = run_for_status(&mut tested(host_tests))?;

    println!("==> model/training/tests (the training pipeline, Debian's PyTorch)");
    let training = training_tests::run_tests(paths)?;

    if rust != 0
        || allocs != 0
        || windows_hosts != 0
        || windows_state != 0
        || windows_vst3 != 0
        || windows_editor != 0
        || hosts != 0
        || training != 0
    {
        eprintln!(
            "\nFAILED: cargo test exited {rust}, the allocation-checked plugin's tests {allocs}, the Windows CLAP host tests {windows_hosts}, the Windows project \
             on Linux {windows_state}, the Windows VST3 host tests {windows_vst3}, the Windows editor test {windows_editor}, host tests exited {hosts}, training tests exited {training}"
        );
        std::process::exit(1);
    }
    Ok(())
}
