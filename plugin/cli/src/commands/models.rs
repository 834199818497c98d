//! `sift models`.

use sift_inference::catalogue;

pub fn run() -> anyhow::Result<()> {
    let dir = sift_inference::binary_location::binary_dir();
    println!("folders searched, in order:");
    for d in catalogue::model_dirs(dir.as_deref()) {
        println!("  {}", d.display());
    }
    let installed = catalogue::installed(dir.as_deref());
    if installed.is_empty() {
        println!("no models installed: run `cargo xtask setup`");
    }
    for (name, path) in installed {
        println!("{name:<24} {}", path.display());
    }
    Ok(())
}
