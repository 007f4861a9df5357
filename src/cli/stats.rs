//! `turnscope stats FILE… [--json] [--fail-on …]`: per-turn metrics of a recorded transcript,
//! or one row per file over many.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;

use crate::ledger::cost::{Prices, SessionCost};
use crate::ledger::{CacheOutcome, SendMode, Turn, TurnStatus};
use crate::report;
use crate::secrets::RedactLines;

mod fold;

pub(super) use fold::fold_file;
use fold::{Retired, Retiring};

/// A condition `--fail-on` can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A turn resent items the server already had.
    FullResend,
    /// A turn's cached tokens fell short of the context the ledger expected cached.
    CacheMiss,
    /// A turn ended with an error event or failed.
    Error,
    /// A turn was lost when its connection closed.
    Dropped,
}

/// Arguments of `turnscope stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope, or a HAR (Chrome DevTools, mitmproxy); several files or a directory
    /// (every `.tsjsonl` in it, recursively) give one row per file plus totals.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Print the stable JSON report (schema in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 (and a summary on stderr) if any turn shows one of these.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT,…")]
    pub fail_on: Vec<FailOn>,
}

/// What `stats` keeps of the turns its ledger retires: their cost and `--fail-on` violations,
/// and for one file their rows of the table (written at once) or their `--json` elements
/// (spooled until the document's head is known).
struct Tally<'a> {
    prices: &'a Prices,
    checks: &'a [FailOn],
    cost: SessionCost,
    failures: Vec<String>,
    rows: Rows,
}

/// Where a [`Tally`] writes each retired turn.
enum Rows {
    /// Nowhere (one row per file).
    None,
    /// The table's rows, to stdout, its header first (once the file opened: an error names a
    /// file that cannot be read before anything is printed).
    Table(Table),
    /// The `--json` elements, to a spool.
    Json(report::TurnSpool),
}

/// The `stats` table as its rows come.
struct Table {
    /// A transcript written by another tool may hold a key (an error message quoting it); the
    /// JSON writers redact each string, the table's lines go through the redactor.
    out: RedactLines<std::io::BufWriter<std::io::Stdout>>,
    headed: bool,
}

impl Table {
    fn head(&mut self) -> std::io::Result<&mut RedactLines<std::io::BufWriter<std::io::Stdout>>> {
        if !self.headed {
            self.headed = true;
            report::write_table_head(&mut self.out)?;
        }
        Ok(&mut self.out)
    }
}

impl Tally<'_> {
    fn take(&mut self, retired: &Retired) -> anyhow::Result<()> {
        let turns = &retired.turns;
        for t in turns {
            self.failures
                .extend(self.checks.iter().filter_map(|c| violation(t, *c)));
        }
        for t in turns {
            self.cost.add_turn(self.prices, t);
        }
        match &mut self.rows {
            Rows::None => {}
            Rows::Table(table) => report::write_table_rows(table.head()?, self.prices, turns)?,
            Rows::Json(spool) => spool.write(&retired.remedies, self.prices, turns)?,
        }
        Ok(())
    }
}

/// Runs `stats`: skipped lines are reported on stderr, one line each.
pub fn run(args: &StatsArgs, global: &super::config::GlobalArgs) -> anyhow::Result<ExitCode> {
    let prices = super::config::price_table(global)?;
    if let [file] = args.files.as_slice()
        && !file.is_dir()
    {
        return run_one(args, file, &prices);
    }
    run_many(args, &prices)
}

/// One transcript: a row per turn, each written (or spooled, for `--json`) as the fold retires
/// it.
fn run_one(args: &StatsArgs, file: &Path, prices: &Prices) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let rows = if args.json {
        Rows::Json(report::TurnSpool::new().map_err(|e| {
            anyhow::anyhow!("stats --json: cannot create a temporary file for the turns: {e}; set TMPDIR to a writable directory")
        })?)
    } else {
        Rows::Table(Table {
            out: RedactLines::new(std::io::BufWriter::new(std::io::stdout())),
            headed: false,
        })
    };
    let mut tally = Tally {
        prices,
        checks: &args.fail_on,
        cost: SessionCost::default(),
        failures: Vec::new(),
        rows,
    };
    let folded = fold_file(
        file,
        &name,
        Some(Retiring {
            sink: &mut |r| tally.take(&r),
            remedies: args.json,
        }),
        std::thread::available_parallelism().map_or(1, usize::from),
    )?;
    match tally.rows {
        Rows::Json(spool) => {
            let har = folded
                .har
                .as_ref()
                .map(|har| serde_json::json!({"summary": har, "timing": crate::har::TIMING_NOTE}));
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report::write_stats_json_spooled(
                &mut out,
                &name,
                &folded.header,
                &folded.ledger,
                &folded.skipped,
                har.as_ref(),
                &tally.cost,
                spool,
            )?;
            out.flush()?;
        }
        Rows::Table(mut table) => {
            let out = table.head()?;
            report::write_table_total(out, &folded.ledger, &tally.cost)?;
            out.flush()?;
        }
        Rows::None => {}
    }
    let failures = tally.failures;
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "turnscope: {name}: {} --fail-on violation(s): {}",
        failures.len(),
        failures.join("; ")
    );
    Ok(ExitCode::FAILURE)
}

/// Many transcripts: a row per file, then totals; files are folded on all cores and rows
/// printed (streamed) in the order given.
fn run_many(args: &StatsArgs, prices: &Prices) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.files {
        if path.is_dir() {
            let before = files.len();
            collect_transcripts(path, &mut files)?;
            if files.len() == before {
                eprintln!(
                    "turnscope: {}: no .tsjsonl files in this directory",
                    path.display()
                );
            }
        } else {
            files.push(path.clone());
        }
    }
    let mut out = RedactLines::new(std::io::stdout().lock());
    out.write_all(
        if args.json {
            report::summary_json_start()
        } else {
            report::summary_table_header()
        }
        .as_bytes(),
    )?;
    let mut all = report::ManyTotals::default();
    let mut ok = true;
    // A few files per core at a time: rows stream out while memory holds only a few ledgers.
    let cores = rayon::current_num_threads().max(1);
    for chunk in files.chunks(cores * 2) {
        // Files share the cores; a file alone (a directory of one) has them all.
        let threads = (cores / chunk.len()).max(1);
        let results: Vec<(String, FileOutcome)> = chunk
            .par_iter()
            .map(|path| {
                let name = path.display().to_string();
                let mut tally = Tally {
                    prices,
                    checks: &args.fail_on,
                    cost: SessionCost::default(),
                    failures: Vec::new(),
                    rows: Rows::None,
                };
                let retiring = Retiring {
                    sink: &mut |r| tally.take(&r),
                    remedies: false,
                };
                let result = fold_file(path, &name, Some(retiring), threads)
                    .map(|f| {
                        let summary =
                            report::FileSummary::of(&name, &f.ledger, f.skipped.len(), tally.cost);
                        (summary, tally.failures)
                    })
                    .map_err(|e| e.to_string());
                (name, result)
            })
            .collect();
        for (name, result) in results {
            match result {
                Ok((summary, failures)) => {
                    let row = if args.json {
                        report::summary_row_json(&summary, all.files == 0)
                    } else {
                        report::summary_table_row(&summary)
                    };
                    out.write_all(row.as_bytes())?;
                    all.add(&summary);
                    if !failures.is_empty() {
                        ok = false;
                        eprintln!(
                            "turnscope: {name}: {} --fail-on violation(s): {}",
                            failures.len(),
                            failures.join("; ")
                        );
                    }
                }
                Err(e) => {
                    ok = false;
                    eprintln!("turnscope: {e} (file skipped)");
                }
            }
        }
        out.flush()?;
    }
    out.write_all(
        if args.json {
            report::summary_json_end(&all, all.files > 0)
        } else {
            report::summary_table_total(&all)
        }
        .as_bytes(),
    )?;
    out.flush()?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One file of many: its summary and `--fail-on` violations, or why it could not be read.
type FileOutcome = Result<(report::FileSummary, Vec<String>), String>;

/// Every `.tsjsonl` under `dir`, sorted by path.
fn collect_transcripts(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}; give a readable directory", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_transcripts(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "tsjsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Describes how `turn` violates `check`, if it does.
fn violation(turn: &Turn, check: FailOn) -> Option<String> {
    let n = turn.index;
    let insight = &turn.insight;
    match check {
        FailOn::FullResend => match &insight.mode {
            SendMode::FullResend {
                reason,
                known_bytes,
                ..
            } => Some(format!(
                "turn {n} full-resend ({reason}; {known_bytes} bytes already known)"
            )),
            _ => None,
        },
        FailOn::CacheMiss => (insight.cache == CacheOutcome::Miss).then(|| {
            let causes: Vec<String> = insight.causes.iter().map(report::cause_text).collect();
            format!("turn {n} cache-miss ({})", causes.join(", "))
        }),
        FailOn::Error => match &turn.status {
            TurnStatus::Error { code, message } => Some(format!(
                "turn {n} error ({}: {message})",
                code.as_deref().unwrap_or("error")
            )),
            TurnStatus::Failed => Some(format!("turn {n} failed")),
            _ => None,
        },
        FailOn::Dropped => {
            (turn.status == TurnStatus::Dropped).then(|| format!("turn {n} dropped"))
        }
    }
}
