//! The `sift` command-line tool; everything lives in [`sift::cli`].

fn main() -> std::process::ExitCode {
    sift::cli::main()
}
