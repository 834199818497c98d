//! Running child commands: each one is printed before it runs, sees where the runtime library and
//! the models are, and turns a failure into an error that names the command.

use crate::paths::Paths;
use anyhow::{anyhow, bail, Result};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// A command run from the repository root with `SIFT_ORT_DYLIB` and `SIFT_MODEL_DIR` set, so the
/// `sift` binary, the tests and the model scripts all use the files that `setup` prepared.
pub fn command(paths: &Paths, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(&paths.root).env("SIFT_ORT_DYLIB", paths.ort_library()).env("SIFT_MODEL_DIR", paths.models());
    cmd
}

/// `cargo` as the one that runs xtask (cargo sets `CARGO`), so the same toolchain builds Sift.
pub fn cargo(paths: &Paths) -> Command {
    command(paths, std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` to completion; `hint` says what to check when it fails.
pub fn run(cmd: &mut Command, hint: &str) -> Result<()> {
    let shown = display(cmd);
    println!("    $ {shown}");
    let status = cmd.status().map_err(|err| anyhow!("{}\n{hint}", spawn_failure(cmd, &shown, err)))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})\n{hint}");
    }
    Ok(())
}

/// Like [`run`], but gives the command's exit code back instead of failing on it.
pub fn run_for_status(cmd: &mut Command) -> Result<i32> {
    let shown = display(cmd);
    println!("    $ {shown}");
    let status = cmd.status().map_err(|err| anyhow!(spawn_failure(cmd, &shown, err)))?;
    Ok(status.code().unwrap_or(1))
}

fn spawn_failure(cmd: &Command, shown: &str, err: std::io::Error) -> String {
    format!("could not start `{shown}` ({err}): is `{}` installed and on PATH?", cmd.get_program().to_string_lossy())
}

/// The command line as a shell would take it, with paths under the repository shown relative and
/// tools from elsewhere (cargo, python3) by name only.
pub fn display(cmd: &Command) -> String {
    let root = cmd.get_current_dir().unwrap_or(Path::new(""));
    let program = Path::new(cmd.get_program());
    let program = match program.strip_prefix(root) {
        Ok(inside) => inside.as_os_str(),
        Err(_) => program.file_name().unwrap_or(program.as_os_str()),
    };
    std::iter::once(program)
        .chain(cmd.get_args().map(|arg| {
            let path = Path::new(arg);
            path.strip_prefix(root).map(Path::as_os_str).unwrap_or(arg)
        }))
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                format!("'{arg}'")
            } else {
                arg.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::display;
    use std::process::Command;

    #[test]
    fn shows_repository_paths_relative_and_quotes_spaces() {
        let mut cmd = Command::new("/opt/tools/bin/pip");
        cmd.current_dir("/repo").args(["download", "-d", "/repo/target/wheels", "a b"]);
        assert_eq!(display(&cmd), "pip download -d target/wheels 'a b'");
    }
}
