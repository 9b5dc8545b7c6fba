//! The `redops` binary: everything lives in the library; see `redops::cli`.

fn main() -> std::process::ExitCode {
    redops::cli::main()
}
