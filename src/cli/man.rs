//! `turnscope man [--out DIR]`: the man page, generated from the clap definitions.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

/// Arguments of `turnscope man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `turnscope.1` and one `turnscope-<subcommand>.1` per subcommand into DIR
    /// instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The main page (roff), with every subcommand listed.
pub fn page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut out)?;
    Ok(out)
}

/// Runs `man`.
pub fn run(args: &ManArgs) -> anyhow::Result<ExitCode> {
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(super::Cli::command(), dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
        }
        None => std::io::stdout().write_all(&page()?)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_every_subcommand() {
        let text = String::from_utf8(page().unwrap()).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH turnscope"),
            "{text}"
        );
        for sub in super::super::Cli::command().get_subcommands() {
            assert!(text.contains(sub.get_name()), "no {}", sub.get_name());
        }
    }

    #[test]
    fn out_dir_gets_a_page_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        run(&ManArgs {
            out: Some(dir.path().to_owned()),
        })
        .unwrap();
        assert!(dir.path().join("turnscope.1").exists());
        for sub in super::super::Cli::command().get_subcommands() {
            let name = format!("turnscope-{}.1", sub.get_name());
            assert!(dir.path().join(&name).exists(), "no {name}");
        }
    }
}
