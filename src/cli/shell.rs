//! `redops completions SHELL` and `redops man`: shell completion scripts (`clap_complete`) and
//! the roff man page (`clap_mangen`), both generated from the clap definition of [`super::Cli`],
//! so they cannot drift from the real commands and flags. Both print to stdout, through
//! `output`, for the user to redirect where their shell or `man` looks (README).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{output, Cli, EXIT_PROBLEM};

/// `redops completions` options.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Prints the completion script for a shell; returns the exit code.
#[must_use]
pub fn completions(args: &CompletionsArgs) -> u8 {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    output::bytes(&script)
}

/// Prints the man page, redops(1), in roff; returns the exit code.
#[must_use]
pub fn man() -> u8 {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        output::error(&format!("cannot render the man page: {e}"), None);
        return EXIT_PROBLEM;
    }
    output::bytes(&page)
}
