//! Replay index on a generated transcript (REPLAY_BENCH_MB, default 1000 MB, kept under
//! target/): time to first screen, full-index and fold throughput, peak RSS, and two baselines
//! on the same file in the same run, each with its own ratio: a bare newline count (the floor:
//! no index can be faster than reading the file once) and `jq -c . FILE > /dev/null` (what a
//! JSON tool costs). The floor is measured before the index, so the index never gets a page
//! cache the floor did not have.

#[path = "support/floor.rs"]
mod floor;
#[path = "../tests/support/procs.rs"]
mod procs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::replay::{Index, IndexOptions};
use turnscope::transcript::synth;
use turnscope::tui::replay::app::{ReplayAction, ReplayApp, update};
use turnscope::tui::replay::resolve::resolve;

fn peak_rss_kb() -> Option<u64> {
    procs::status_kb("self", "VmHWM")
}

fn rss_kb() -> Option<u64> {
    procs::status_kb("self", "VmRSS")
}

/// What a jump to the last frame costs the inspector (what replay opens on), fed `chunk` frames
/// per draw as the screen's loop does: (time until caught up, longest single resolve + draw,
/// draws, RSS with the caught-up App alive in KB).
fn inspector_jump(index: &Index, path: &Path, chunk: u64) -> (Duration, Duration, u64, u64) {
    let mut app = ReplayApp::new(
        path.display().to_string(),
        index.header().clone(),
        turnscope::tui::theme::Theme::default(),
    );
    app.feed_chunk = chunk;
    update(
        &mut app,
        ReplayAction::Resized {
            width: 120,
            height: 40,
        },
    );
    resolve(&mut app, index);
    update(&mut app, ReplayAction::Last);
    let Ok(mut terminal) = Terminal::new(TestBackend::new(120, 40)) else {
        return (Duration::ZERO, Duration::ZERO, 0, 0);
    };
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    let mut draws = 0;
    loop {
        let step = Instant::now();
        resolve(&mut app, index);
        let _ = terminal.draw(|f| turnscope::tui::view::replay::render(&app, f));
        longest = longest.max(step.elapsed());
        draws += 1;
        if app
            .inspector
            .as_ref()
            .is_none_or(|i| i.catching_up().is_none())
        {
            break;
        }
    }
    (start.elapsed(), longest, draws, rss_kb().unwrap_or(0))
}

fn generate(path: &Path, bytes: u64) -> std::io::Result<u64> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() >= bytes
    {
        return Ok(meta.len());
    }
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let written = synth::write_synthetic(&mut out, bytes, 7)?;
    out.flush()?;
    Ok(written)
}

fn jq_seconds(path: &Path) -> Result<f64, String> {
    let start = Instant::now();
    let status = Command::new("jq")
        .args(["-c", "."])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("jq not runnable ({e}); install it with `apt-get install -y jq`"))?;
    if !status.success() {
        return Err(format!("jq failed: {status}"));
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() {
    let mb: u64 = std::env::var("REPLAY_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = dir.join(format!("replay_bench_{mb}MB.tsjsonl"));
    let start = Instant::now();
    let size = match generate(&path, mb * 1_000_000) {
        Ok(size) => size,
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let size_mb = size as f64 / 1e6;
    println!(
        "transcript: {} ({size_mb:.0} MB, ready in {:.1}s)",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_kb().unwrap_or(0);
    let (t_floor, newlines) = floor::count_newlines(&path);

    // Time to first screen: open, header, first 100 frames parsed.
    let start = Instant::now();
    let index = match Index::open(&path, IndexOptions::default()) {
        Ok(index) => index,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let ready = index.wait_frames(100, Duration::from_secs(30));
    let parsed = (0..ready.min(100))
        .filter(|&p| index.get(p).is_ok())
        .count();
    // The replay screen itself: timeline rows, selected frame, drawn once. The frames view, as
    // this measures the index; the inspector (what replay opens on) folds every frame up to
    // the cursor into the live App, which the render bench measures.
    let mut app = ReplayApp::new(
        path.display().to_string(),
        index.header().clone(),
        turnscope::tui::theme::Theme::default(),
    );
    app.inspect = false;
    update(
        &mut app,
        ReplayAction::Resized {
            width: 120,
            height: 40,
        },
    );
    resolve(&mut app, &index);
    if let Ok(mut terminal) = Terminal::new(TestBackend::new(120, 40)) {
        let _ = terminal.draw(|f| turnscope::tui::view::replay::render(&app, f));
    }
    let first_screen = start.elapsed().as_secs_f64();
    // Navigation while indexing goes on: jump to the end of what is indexed so far.
    let nav = Instant::now();
    update(&mut app, ReplayAction::Last);
    resolve(&mut app, &index);
    let t_nav = nav.elapsed().as_secs_f64();

    let indexed = index.wait_until(Duration::from_secs(600), |p| p.indexed);
    let t_index = start.elapsed().as_secs_f64();
    let folded = index.wait_complete(Duration::from_secs(600));
    let t_fold = start.elapsed().as_secs_f64();
    let turns = index.with_ledger(|l| l.turns().len());
    let rss = peak_rss_kb();
    // The inspector at the end, the whole file folded into the live App: all in one call (as
    // before chunking: the screen held for that long), then a chunk per draw.
    let rss_index = rss_kb().unwrap_or(0);
    let whole = inspector_jump(&index, &path, u64::MAX);
    let chunked = inspector_jump(&index, &path, turnscope::tui::replay::app::FEED_CHUNK);
    drop(index);

    println!(
        "time to first screen : {:.1} ms ({parsed} frames parsed, replay screen drawn)",
        first_screen * 1e3
    );
    println!(
        "jump to the last indexed frame while indexing: {:.1} ms (frame #{})",
        t_nav * 1e3,
        app.cursor + 1
    );
    println!(
        "full index           : {t_index:.3}s = {:.0} MB/s ({} lines)",
        size_mb / t_index,
        indexed.frames
    );
    println!(
        "ledger fold, no tokens: {t_fold:.3}s = {:.0} MB/s ({turns} turns, {} skipped)",
        size_mb / t_fold,
        folded.skipped
    );
    for (label, (total, longest, draws, rss_app)) in [
        ("inspector jump to the end, one call", whole),
        ("inspector jump, FEED_CHUNK per draw", chunked),
    ] {
        println!(
            "{label}: {:.2}s until caught up, longest draw {:.1} ms ({draws} draws; goal: no draw over 200 ms), RSS {:.0} MB (index alone {:.0} MB)",
            total.as_secs_f64(),
            longest.as_secs_f64() * 1e3,
            rss_app as f64 / 1e3,
            rss_index as f64 / 1e3
        );
    }
    match rss {
        Some(kb) => println!(
            "peak RSS             : {:.1} MB = {:.1}% of the file (before opening: {:.1} MB; goal < 20%)",
            kb as f64 / 1e3,
            kb as f64 * 1e3 / size as f64 * 100.0,
            rss_before as f64 / 1e3
        ),
        None => println!("peak RSS             : unavailable (no /proc/self/status)"),
    }
    println!(
        "newline count (floor): {t_floor:.3}s = {:.0} MB/s ({newlines} lines)",
        size_mb / t_floor
    );
    println!(
        "ratio full index / floor   : {:.2}x the newline count's time",
        t_index / t_floor
    );
    println!(
        "ratio index+fold / floor   : {:.2}x the newline count's time",
        t_fold / t_floor
    );
    match jq_seconds(&path) {
        Ok(t_jq) => {
            println!(
                "jq -c . (baseline)   : {t_jq:.3}s = {:.0} MB/s",
                size_mb / t_jq
            );
            println!(
                "ratio jq / full index      : {:.1}x faster (goal >= 5x)",
                t_jq / t_index
            );
            println!("ratio jq / index+fold      : {:.1}x faster", t_jq / t_fold);
        }
        Err(e) => println!("jq -c . (baseline)   : skipped: {e}"),
    }
}
