//! `turnscope proxy`: relay an agent to the upstream, record, and print one line per turn.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::emulator::{self, EmulatorConfig};
use crate::ledger::cost::{Prices, SessionCost};
use crate::ledger::{Ledger, Turn};
use crate::proxy::{self, Breakpoint, Breakpoints, ProxyConfig, ProxyEvent};
use crate::report::{PROMPT_CACHE, fmt_bytes, fmt_tokens, fmt_us};
use crate::tui::app::{App, Focus, Level, Recording, SessionInfo};
use crate::tui::breakpoint::ProxyPanel;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use tokio_util::sync::CancellationToken;

/// Arguments of `turnscope proxy`.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address agents connect to; point them at http://ADDR/v1.
    #[arg(long, default_value = proxy::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (anyone who reaches it can use your agents' keys).
    #[arg(long)]
    pub allow_remote: bool,
    /// Upstream base URL [default: https://api.openai.com/v1 when OPENAI_API_KEY is set,
    /// else the built-in emulator, started in-process].
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Transcript to write [default: a new file under the data directory's sessions/].
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Record nothing.
    #[arg(long, conflicts_with = "record")]
    pub no_record: bool,
    /// No TUI: print one summary line per finished turn (for CI and long runs).
    #[arg(long)]
    pub no_tui: bool,
    /// Largest WebSocket message relayed either way (and HTTP request body), in bytes.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Hold matching frames in the TUI for a decision (repeatable): `[c2s:|s2c:]CONDITION`,
    /// CONDITION = `*`, an event type (`response.create`) or `/json/pointer == VALUE`.
    #[arg(long = "break", value_name = "SPEC", conflicts_with = "no_tui")]
    pub breakpoints: Vec<String>,
    /// Send each turn as a span when it ends (OpenTelemetry, batched, off the relay path).
    #[command(flatten)]
    pub otlp: super::export::OtlpArgs,
    /// On Ctrl-C or SIGTERM (with the TUI: on quitting it, or SIGTERM): how long running
    /// responses may take to finish before they are cut (no new connections meanwhile; each
    /// WebSocket is closed with 1001 between turns; a second Ctrl-C stops at once), e.g. `30s`.
    #[arg(long, default_value = super::shutdown::DEFAULT_GRACE, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub shutdown_grace: std::time::Duration,
}

/// How long a quit from the TUI may take before its drain is announced (an idle proxy stops in
/// well under this, and says nothing).
const QUIET_QUIT: std::time::Duration = std::time::Duration::from_millis(300);

/// Runs the proxy until Ctrl-C.
pub fn run(args: &ProxyArgs, global: &super::config::GlobalArgs) -> anyhow::Result<ExitCode> {
    let look = super::config::ui_look(global)?;
    let prices = super::config::price_table(global)?;
    // With the TUI: one worker runs the proxy (relays and recorder) and this thread runs the
    // TUI's loop, so drawing a screen never holds up a relayed frame. With a worker per core, a
    // handoff from the relay to the recorder often woke the other, parked worker (a futex and a
    // context switch) for a few frames' work, and the two workers took turns stealing each
    // other's tasks; with one, relay and recorder pass frames without a wake-up.
    //
    // Headless: relays, recorder and fold all run on this one thread. The fold on a thread of
    // its own was woken (a futex and a context switch each way) for every batch the recorder
    // passed on, two to four times a turn: `perf` put ~35% of the headless proxy's samples on
    // the relay bench's 200 B turns in those switches. The fold of a turn's request runs while
    // the upstream works on its answer; what it costs (a request's tokens, its long pieces and
    // large texts remembered) is far less than the switches were.
    let runtime = if args.no_tui {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
    }
    .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args, look, prices))
}

async fn run_async(
    args: &ProxyArgs,
    (theme, keymap): (Theme, Arc<Keymap>),
    prices: Prices,
) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.upstream {
        crate::config::check_url(url, "--upstream").map_err(anyhow::Error::msg)?;
    }
    // Checked before anything starts: a breakpoint that can never fire is a typo.
    let rules = Breakpoints {
        rules: args
            .breakpoints
            .iter()
            .map(|spec| Breakpoint::parse(spec))
            .collect::<Result<_, _>>()?,
    };
    let has_key = std::env::var("OPENAI_API_KEY").is_ok_and(|k| !k.trim().is_empty());
    let mut emu = None;
    let upstream = match (&args.upstream, has_key) {
        (Some(url), _) => url.clone(),
        (None, true) => proxy::OPENAI_BASE_URL.to_owned(),
        (None, false) => {
            let running = emulator::start(EmulatorConfig::default())
                .await
                .context("cannot start the built-in emulator as the upstream")?;
            let url = running.base_url();
            emu = Some(running);
            url
        }
    };
    let record = if args.no_record {
        None
    } else {
        args.record
            .clone()
            .or_else(crate::config::default_record_path)
    };
    let otlp = args.otlp.config()?;
    if args.allow_remote
        && let Some(warning) = crate::endpoint::remote_warning(args.listen, proxy::EXPOSES)
    {
        eprintln!("{warning}");
    }
    // One listener for the whole run, registered before the proxy listens: a fresh `ctrl_c()`
    // per loop turn missed a signal that landed while a frame was being folded (under load the
    // proxy then never stopped), and a SIGTERM before it was registered killed the TUI with the
    // terminal left raw.
    let mut signals = super::shutdown::StopSignals::new()?;
    // The token counter's vocabulary index (~5 ms) is built before the first agent arrives:
    // built by the first turn's fold instead, it held up that turn's relaying (headless, the
    // fold shares the relay's thread).
    crate::tokens::load();
    let mut running = proxy::start(ProxyConfig {
        listen: args.listen,
        allow_remote: args.allow_remote,
        upstream: upstream.clone(),
        record: record.clone(),
        max_message_size: args.max_message_size,
        breakpoints: rules.clone(),
        insecure_upstream: false,
    })
    .await?;
    let export = match otlp {
        Some(config) => {
            // The session is named like `export` names it: by the recording's file name.
            let session = record
                .as_deref()
                .and_then(std::path::Path::file_name)
                .map_or_else(|| "proxy".into(), |n| n.to_string_lossy().into_owned());
            Some(otlp_tee(&mut running, &config, session)?)
        }
        None => None,
    };
    let grace = args.shutdown_grace;
    if !args.no_tui {
        let saved = record.clone();
        // A stop signal (SIGTERM; Ctrl-C is a key while the TUI has the terminal) ends the TUI
        // as `q` does, so the terminal is restored before anything is printed.
        let cancel = CancellationToken::new();
        let (result, stopped_by) = {
            let tui = run_tui(
                &mut running,
                &upstream,
                emu.is_some(),
                record,
                rules,
                (theme, keymap, prices),
                cancel.clone(),
            );
            tokio::pin!(tui);
            let signal = tokio::select! {
                result = &mut tui => Err(result),
                signal = signals.next() => Ok(signal),
            };
            match signal {
                Err(result) => (result, "quit"),
                Ok(signal) => {
                    cancel.cancel();
                    (tui.await, signal)
                }
            }
        };
        // Then the same drain as headless: running responses finish (and are recorded) within
        // the grace period; a second signal stops at once. A quit with nothing running ends
        // quietly: the drain is announced only for a signal or once it has taken a moment.
        let drain = running.shutdown_within(grace);
        tokio::pin!(drain);
        let quick = match stopped_by {
            "quit" => tokio::time::timeout(QUIET_QUIT, &mut drain).await.ok(),
            _ => None,
        };
        let finished = match quick {
            Some(finished) => finished,
            None => {
                super::shutdown::announce(stopped_by, grace);
                super::shutdown::drain_or_exit(&mut signals, drain).await
            }
        };
        if !finished {
            super::shutdown::cut(grace);
        }
        finish_export(export).await;
        if let Some(emu) = emu {
            emu.shutdown().await;
        }
        result.context("the terminal failed")?;
        crate::cli::recording::print_saved(saved.as_deref());
        return Ok(ExitCode::SUCCESS);
    }
    let via = if emu.is_some() {
        " (built-in emulator)"
    } else {
        ""
    };
    eprintln!("turnscope proxy → {upstream}{via}");
    eprintln!("  OPENAI_BASE_URL={}", running.base_url());
    eprintln!("  websocket_base_url={}", running.ws_base_url());
    match &record {
        Some(path) => eprintln!("  recording to {}", path.display()),
        None => eprintln!("  not recording"),
    }
    eprintln!("Ctrl-C to stop.");

    // The fold runs on the one thread that also relays and records (see `run`): the recorder
    // hands it a batch of events at a time, after the batch's frames were forwarded. It reads
    // until the event stream ends, so it also reads the last events while the proxy shuts down:
    // nothing in flight waits for a reader. It is a task of its own, not part of this future:
    // the runtime polls the I/O driver (one more `epoll_wait`) before it polls the future it
    // blocks on each time that future is woken, and the recorder woke it two or three times a
    // turn; a woken task runs in the same pass as the relay and the recorder.
    let events = std::mem::replace(&mut running.events, proxy::ProxyEvents::ended());
    let fold = tokio::spawn(fold_headless(events, running.control.clone(), prices));
    tokio::pin!(fold);
    let mut folded = None;
    tokio::select! {
        biased;
        signal = signals.next() => super::shutdown::announce(signal, args.shutdown_grace),
        summary = &mut fold => folded = Some(summary),
    }
    let stopped = async {
        match folded {
            Some(summary) => (running.shutdown_within(grace).await, summary),
            None => tokio::join!(running.shutdown_within(grace), &mut fold),
        }
    };
    let (finished, summary) = super::shutdown::drain_or_exit(&mut signals, stopped).await;
    if !finished {
        super::shutdown::cut(grace);
    }
    finish_export(export).await;
    if let Some(emu) = emu {
        emu.shutdown().await;
    }
    match summary {
        Ok(summary) => summary.end(),
        // Only a panic in the fold ends it early; the transcript has every frame.
        Err(e) => eprintln!("turnscope: the turn summary failed ({e}); the recording is complete"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts the OpenTelemetry tee on the proxy's event stream (see `otel::live`).
fn otlp_tee(
    running: &mut proxy::RunningProxy,
    config: &crate::otel::ExportConfig,
    session: String,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let sink = crate::otel::Sink::new(config, crate::otel::live::EXPORT_TIMEOUT)?;
    match (sink.endpoint(), &config.file) {
        (Some(url), _) => eprintln!("  exporting spans to {url}"),
        (None, Some(file)) => eprintln!("  writing spans to {}", file.display()),
        (None, None) => {}
    }
    let events = std::mem::replace(&mut running.events, proxy::ProxyEvents::ended());
    let (events, done) = crate::otel::live::tee(events, sink, session, config.include_content);
    running.events = events;
    Ok(done)
}

/// Waits for the last spans to go out, at most a little longer than one export may take.
async fn finish_export(export: Option<tokio::task::JoinHandle<()>>) {
    if let Some(done) = export {
        let limit = crate::otel::live::EXPORT_TIMEOUT + std::time::Duration::from_secs(1);
        if tokio::time::timeout(limit, done).await.is_err() {
            eprintln!(
                "turnscope: OTLP export did not finish in {limit:?}; its last spans are lost"
            );
        }
    }
}

/// The TUI over the running proxy, until the user quits.
async fn run_tui(
    running: &mut proxy::RunningProxy,
    upstream: &str,
    emulated: bool,
    record: Option<PathBuf>,
    rules: Breakpoints,
    (theme, keymap, prices): (Theme, Arc<Keymap>, Prices),
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let info = SessionInfo {
        url: format!("proxy {} → {upstream}", running.base_url()),
        model: "(the agent's)".into(),
        emulated,
        key_hint: None,
    };
    let mut app = App::new(info, theme);
    app.keymap = keymap;
    app.prices = prices;
    app.proxy = Some(ProxyPanel {
        base_url: running.base_url(),
        ..ProxyPanel::default()
    });
    app.focus = Focus::Turns;
    app.turn_window = Some(crate::tui::app::PROXY_TURN_WINDOW);
    app.recording = match record {
        Some(path) => Recording::To(path),
        None => Recording::Off,
    };
    app.set_message(
        Level::Info,
        format!(
            "point your agent at OPENAI_BASE_URL={} (or websocket_base_url={})",
            running.base_url(),
            running.ws_base_url()
        ),
    );
    let events = std::mem::replace(&mut running.events, proxy::ProxyEvents::ended());
    let control = running.control.clone();
    crate::tui::proxy::run(app, events, control, rules, cancel)
        .await
        .map(|_| ())
}

/// Reads the proxy's events until they end: folds frames (printing each turn as it ends),
/// prints errors, and forwards held frames — headless has no one to decide.
async fn fold_headless(
    mut events: proxy::ProxyEvents,
    control: proxy::ProxyControl,
    prices: Prices,
) -> Summary {
    let mut summary = Summary::new(prices);
    while let Some(event) = events.recv().await {
        match event {
            ProxyEvent::Frame(frame, _) => summary.push(&frame),
            ProxyEvent::Error(message) => eprintln!("turnscope: {message}"),
            ProxyEvent::Paused { id, .. } => {
                let _ = control.decide(id, proxy::BreakpointDecision::Forward);
            }
            ProxyEvent::Released { .. } => {}
        }
    }
    summary
}

/// Folds frames and prints each turn once, when it reaches a final status; at the end, the
/// totals. The ledger keeps figures only and retires finished turns into running totals
/// ([`Ledger::retire_finished`]), so a proxy left running stays the same size whatever it
/// relays, for however many turns.
struct Summary {
    ledger: Ledger,
    prices: Prices,
    /// What the retired turns cost.
    cost: SessionCost,
    /// Live turns whose line is printed (a turn's line is printed when it ends; it may stay in
    /// the ledger a while longer).
    printed: HashSet<usize>,
}

impl Summary {
    fn new(prices: Prices) -> Self {
        Summary {
            ledger: Ledger::summary_only(),
            prices,
            cost: SessionCost::default(),
            printed: HashSet::new(),
        }
    }

    fn push(&mut self, frame: &crate::frame::Frame) {
        self.ledger.push(frame);
        let base = self.ledger.retired();
        for (i, turn) in self.ledger.turns().iter().enumerate() {
            if turn.status.is_final() && self.printed.insert(base + i) {
                println!("{}", turn_line(turn));
            }
        }
        let gone = self.ledger.retire_finished();
        self.forget(base, &gone);
    }

    /// The retired turns `gone`, numbered from `base`, go into the totals.
    fn forget(&mut self, base: usize, gone: &[Turn]) {
        for (i, turn) in gone.iter().enumerate() {
            if !self.printed.remove(&(base + i)) {
                // Still open at the end: its line says how far it got.
                println!("{}", turn_line(turn));
            }
            self.cost.add_turn(&self.prices, turn);
        }
    }

    /// The proxy stopped: every turn not printed yet, then the totals line.
    fn end(mut self) {
        let base = self.ledger.retired();
        let gone = self.ledger.retire_all();
        self.forget(base, &gone);
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = crate::report::write_table_total(&mut out, &self.ledger, &self.cost);
        print!("{}", String::from_utf8_lossy(&out));
    }
}

/// `turn 3 conn 0 done ttft 12.3ms total 45.1ms sent 312B full 4.1K saved 92.4% prompt cache 1,024`.
pub(crate) fn turn_line(t: &Turn) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".into(), fmt_us);
    let marks = if t.marks().is_empty() {
        String::new()
    } else {
        format!(" marks {}", crate::report::marks_text(t))
    };
    format!(
        "turn {} conn {} {} ttft {} total {} sent {} full {} saved {:.1}% {} {}{marks}",
        t.index,
        t.conn,
        t.status.label(),
        opt(t.ttft_us()),
        opt(t.latency_total_us()),
        fmt_bytes(t.incremental.bytes),
        fmt_bytes(t.full_context.bytes),
        t.saved_pct(),
        PROMPT_CACHE,
        t.cached_tokens().map_or_else(|| "-".into(), fmt_tokens),
    )
}
