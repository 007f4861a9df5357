//! `turnscope completions SHELL`: shell completion scripts generated from the clap definitions.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `turnscope completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "turnscope", &mut out);
    out
}

/// Runs `completions`: the script goes to stdout.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        super::super::Cli::command().debug_assert();
    }

    #[test]
    fn every_shell_script_names_every_subcommand() {
        let cmd = super::super::Cli::command();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(script(shell)).unwrap();
            for sub in cmd.get_subcommands() {
                assert!(
                    text.contains(sub.get_name()),
                    "{shell}: no {}",
                    sub.get_name()
                );
            }
            assert!(text.contains("ignore-config"), "{shell}");
        }
    }
}
