//! `turnscope stats FILE… [--json] [--fail-on …]`: per-turn metrics of a recorded transcript,
//! or one row per file over many.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;

use crate::ledger::cost::{Prices, SessionCost};
use crate::ledger::{CacheOutcome, Ledger, Prepared, Remedy, SendMode, Turn, TurnStatus};
use crate::secrets::RedactLines;
use crate::{report, transcript};

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

/// Bytes of transcript read, parsed and token-counted per batch: enough work to keep every
/// core busy, small enough that memory stays a fraction of the file. Two batches are alive at
/// once (one folded, one read), each a buffer (which may grow to twice this) and a read per
/// frame: at 4 MB that was ~21 MB of a 20 MB file's 25 MB heap peak; at 1 MB, once finished
/// turns retired, 4.7 MB of a 200 MB file's 10.3 MB (heaptrack).
const BATCH_BYTES: usize = 256 << 10;

/// A transcript folded: its header, ledger and the lines skipped (each already reported on
/// stderr, one line each).
pub(super) struct Folded {
    header: transcript::Header,
    pub(super) ledger: Ledger,
    skipped: Vec<transcript::LineError>,
    /// What a HAR held and skipped (`None` for a transcript).
    har: Option<crate::har::Summary>,
}

/// Turns a folding ledger retired ([`Ledger::retire_finished`]), in turn order, with what its
/// client names as each one's remedies ([`Ledger::remedies`], taken as they retired: the
/// ledger folds on while they are written).
pub(super) struct Retired {
    pub(super) turns: Vec<Turn>,
    pub(super) remedies: Vec<Vec<Remedy>>,
}

impl Retired {
    /// What `ledger` retires now (every turn with `all`), if anything; each turn's remedies
    /// only `with_remedies` (only `--json` prints them: the others leave `remedies` empty).
    fn from(ledger: &mut Ledger, all: bool, with_remedies: bool) -> Option<Retired> {
        let turns = if all {
            ledger.retire_all()
        } else {
            ledger.retire_finished()
        };
        let remedies = if with_remedies {
            turns.iter().map(|t| ledger.remedies(t)).collect()
        } else {
            Vec::new()
        };
        (!turns.is_empty()).then_some(Retired { turns, remedies })
    }
}

/// What takes the turns a folding ledger retires. It runs beside the fold of the next batch
/// (on the other core), so it must be `Send`.
pub(super) type Retire<'a> = &'a mut (dyn FnMut(Retired) -> anyhow::Result<()> + Send);

/// Where [`fold_file`] sends the turns it retires, and whether that sink prints remedies.
pub(super) struct Retiring<'a> {
    pub(super) sink: Retire<'a>,
    /// Whether [`Retired::remedies`] is filled (`--json` of one file prints them).
    pub(super) remedies: bool,
}

/// Reads and folds one transcript (or HAR), in batches parsed and token-counted on all cores.
/// With `retire`, every turn goes to it once it is finished (the rest at the end) and leaves
/// the ledger, so memory holds the turns that can still change, not the file's; without, the
/// ledger keeps every turn.
pub(super) fn fold_file(
    path: &Path,
    name: &str,
    mut retire: Option<Retiring<'_>>,
) -> anyhow::Result<Folded> {
    let retiring = retire.as_ref().map(|r| r.remedies);
    let mut sink = |gone: Option<Retired>| -> anyhow::Result<()> {
        match (retire.as_mut(), gone) {
            (Some(to), Some(gone)) => (to.sink)(gone),
            _ => Ok(()),
        }
    };
    let take = |ledger: &mut Ledger, all: bool| {
        retiring.and_then(|remedies| Retired::from(ledger, all, remedies))
    };
    if crate::har::is_har(path) {
        let loaded = crate::har::load(path)?;
        super::recording::report_har(name, &loaded.summary);
        let mut ledger = Ledger::summary_only();
        ledger.push_batch(&loaded.frames);
        sink(take(&mut ledger, true))?;
        return Ok(Folded {
            header: loaded.header,
            ledger,
            skipped: Vec::new(),
            har: Some(loaded.summary),
        });
    }
    let mut reader = transcript::Reader::open(path)?;
    let header = reader.header().clone();
    // Reports print figures only, never frame lists or streamed text.
    let mut ledger = Ledger::summary_only();
    let mut skipped = Vec::new();
    // Two buffers: while the ledger folds one batch (its sequential part), the next is read and
    // parsed, and the turns the batch before retired are written, on the other cores. Frames
    // are folded where they were read: nothing is copied. Writing the retired turns beside the
    // fold, not between folds, gives the pool work for a core the fold or the read leaves idle.
    let (mut buf_a, mut buf_b) = (Vec::new(), Vec::new());
    let mut report = |e: transcript::LineError| {
        super::recording::report_skip(name, &e, skipped.len());
        skipped.push(e);
    };
    // The vocabulary's index is built on first use; build it beside the first read, not in the
    // first batch's token pass while the other core waits for it.
    let (mut a, ()) = rayon::join(
        || read_batch(&mut reader, &mut buf_a, &mut report),
        crate::tokens::load,
    );
    let mut gone = None;
    // The buffers take turns: each step folds the batch read into one and reads into the other.
    while let Some(batch) = a {
        let read = (&mut reader, &mut buf_b);
        let b = step(&mut ledger, batch, read, &mut report, || sink(gone.take()))?;
        gone = take(&mut ledger, false);
        let Some(b) = b else { break };
        let read = (&mut reader, &mut buf_a);
        a = step(&mut ledger, b, read, &mut report, || sink(gone.take()))?;
        gone = take(&mut ledger, false);
    }
    sink(gone)?;
    sink(take(&mut ledger, true))?;
    super::recording::report_skip_total(name, skipped.len());
    Ok(Folded {
        header,
        ledger,
        skipped,
        har: None,
    })
}

/// One step of [`fold_file`]: folds `batch` while the next batch is read into `read`'s buffer
/// and `write` writes the turns the step before retired, on the other core.
fn step<'n, R: std::io::BufRead + Send>(
    ledger: &mut Ledger,
    batch: Prepared<'_>,
    read: (&mut transcript::Reader<R>, &'n mut Vec<u8>),
    report: &mut (impl FnMut(transcript::LineError) + Send),
    write: impl FnOnce() -> anyhow::Result<()> + Send,
) -> anyhow::Result<Option<Prepared<'n>>> {
    let (reader, buf) = read;
    let ((), (next, written)) = rayon::join(
        || ledger.push_prepared(batch),
        || rayon::join(|| read_batch(reader, buf, report), write),
    );
    written?;
    Ok(next)
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

/// Reads the next batch of lines into `buf` and reads their frames on all cores; unreadable
/// lines go to `skipped`. `None` at the end of the file.
fn read_batch<'a, R: std::io::BufRead>(
    reader: &mut transcript::Reader<R>,
    buf: &'a mut Vec<u8>,
    skipped: &mut impl FnMut(transcript::LineError),
) -> Option<Prepared<'a>> {
    let lines = reader.read_lines(BATCH_BYTES, buf);
    if lines.is_empty() {
        return None;
    }
    let buf: &'a [u8] = buf;
    let mut frames = Vec::with_capacity(lines.len());
    for entry in lines.parse(buf) {
        match entry {
            Ok(line) => frames.push(line.into_frame_ref()),
            Err(e) => skipped(e),
        }
    }
    Some(Ledger::prepare(frames))
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
    for chunk in files.chunks(rayon::current_num_threads().max(1) * 2) {
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
                let result = fold_file(path, &name, Some(retiring))
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
