//! The `sift` command-line tool; everything lives in [`sift_cli::commands`].

fn main() -> std::process::ExitCode {
    sift_cli::main()
}
