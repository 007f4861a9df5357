//! `turnscope bench`: the same scripted agent workload in WebSocket mode and in HTTP mode,
//! paired run by run, against the built-in emulator (with a latency profile) or a real endpoint.
//!
//! ```text
//! scenario ─resize─▶ emulator (per tool-call count) ◀── client (ws | http) ─▶ frames
//!                                                      frames ─▶ ledger ─▶ samples ─▶ stats
//! ```
//! Frames are only recorded while a run is timed; the ledger folds them afterwards, so the
//! accounting never sits on the measured path.

pub mod client;
pub mod cost;
pub mod model;
pub mod report;
pub mod sample;
pub mod stats;
pub mod svg;
#[cfg(test)]
pub(crate) mod test_report;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use crate::emulator::{self, EmulatorConfig, EmulatorError, LatencyProfile, Scenario};
use crate::ledger::Transport;
use client::{Recording, Target, Workload};
use stats::{ModeStats, RunSample, SpeedUp};

/// Version of the `bench --json` schema; bumped on any incompatible change.
pub const BENCH_SCHEMA: u32 = 1;

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A run failed: connect error, HTTP error, error event, or a dropped stream.
    #[error("{mode} run against {url} failed: {detail}; check the URL, key and model")]
    Run {
        /// `websocket` or `http`.
        mode: &'static str,
        /// The URL (credentials removed).
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The built-in emulator could not start.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// A run task died.
    #[error("a bench run stopped unexpectedly: {0}; run the bench again")]
    Task(String),
}

/// Which server the runs talk to.
#[derive(Debug, Clone)]
pub enum Server {
    /// The built-in emulator, started per tool-call count on an ephemeral port.
    Emulator {
        /// Its latency profile.
        latency: LatencyProfile,
    },
    /// Any Responses API endpoint (HTTP base URL, e.g. `https://api.openai.com/v1`).
    Url {
        /// The base URL.
        base: String,
        /// Bearer key.
        api_key: Option<String>,
        /// Model to request.
        model: String,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The workload.
    pub scenario: Scenario,
    /// Tool-call counts to sweep; empty = the scenario's own count.
    pub tool_calls: Vec<usize>,
    /// Paired repetitions per count.
    pub runs: usize,
    /// Runs in flight at once (1 = strictly one after another).
    pub parallel: usize,
    /// The server.
    pub server: Server,
}

impl BenchConfig {
    /// The tool-call counts this config measures, in order.
    pub fn counts(&self) -> Vec<usize> {
        if self.tool_calls.is_empty() {
            vec![self.scenario.call_count()]
        } else {
            self.tool_calls.clone()
        }
    }

    /// Turns the whole bench should take (for a progress bar), assuming the model follows
    /// the script.
    pub fn expected_turns(&self) -> usize {
        self.counts()
            .iter()
            .map(|n| self.scenario.with_tool_calls(*n).turns().len())
            .sum::<usize>()
            * self.runs
            * 2
    }
}

/// Where the bench ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerInfo {
    /// `emulator` or `url`.
    pub kind: &'static str,
    /// The base URL for `url`.
    pub url: Option<String>,
    /// The emulator's latency profile.
    pub latency: Option<LatencyProfile>,
}

/// End-to-end times per run index, µs, per mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairedRuns {
    /// WebSocket mode, by run index.
    pub websocket: Vec<u64>,
    /// HTTP mode, by run index.
    pub http: Vec<u64>,
}

/// The results at one tool-call count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Function calls the scripted agent makes.
    pub tool_calls: usize,
    /// WebSocket mode.
    pub websocket: ModeStats,
    /// HTTP mode.
    pub http: ModeStats,
    /// The paired speed-up; `None` without complete pairs.
    pub speedup: Option<SpeedUp>,
    /// Raw end-to-end times.
    pub e2e_us: PairedRuns,
    /// Where the time goes per the emulator's latency profile (`None` for `--url`).
    pub model: Option<ModelView>,
    /// What the runs cost per mode ([`cost::price`]; `None` unpriced).
    pub cost: Option<cost::PointCost>,
    /// Every run's turns, per mode, by run index.
    pub samples: Samples,
}

/// The raw samples of one point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Samples {
    /// WebSocket runs.
    pub websocket: Vec<RunSample>,
    /// HTTP runs.
    pub http: Vec<RunSample>,
}

/// The latency model applied to both modes of one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelView {
    /// WebSocket mode's median run.
    pub websocket: model::Breakdown,
    /// HTTP mode's median run.
    pub http: model::Breakdown,
    /// The speed-up the profile alone predicts from the measured bytes and tokens, %.
    pub predicted_speedup_pct: f64,
}

impl ModelView {
    /// Applies profile `p` to a point's two modes, turn by turn.
    pub fn new(p: &LatencyProfile, point: &Point) -> Self {
        let w = model::breakdown(
            p,
            Transport::WebSocket,
            &point.samples.websocket,
            &point.websocket,
        );
        let h = model::breakdown(p, Transport::Http, &point.samples.http, &point.http);
        ModelView {
            websocket: w,
            http: h,
            predicted_speedup_pct: model::predicted_speedup_pct(&w, &h),
        }
    }
}

/// The whole bench result (the `--json` document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// [`BENCH_SCHEMA`].
    pub schema: u32,
    /// Scenario name.
    pub scenario: String,
    /// Server.
    pub server: ServerInfo,
    /// Paired runs per count.
    pub runs: usize,
    /// Runs in flight at once.
    pub parallel: usize,
    /// One entry per tool-call count, in the order given.
    pub points: Vec<Point>,
    /// Wall time of the whole bench, µs.
    pub wall_us: u64,
    /// The price the costs use ([`cost::price`]; `None` until priced).
    pub pricing: Option<cost::Pricing>,
}

/// The order runs start in: pairs by index, alternating which mode goes first (ABBA…), so a
/// drift over time falls on both modes equally.
pub fn schedule(runs: usize) -> Vec<(usize, Transport)> {
    (0..runs)
        .flat_map(|i| {
            if i % 2 == 0 {
                [(i, Transport::WebSocket), (i, Transport::Http)]
            } else {
                [(i, Transport::Http), (i, Transport::WebSocket)]
            }
        })
        .collect()
}

/// The client side of `scenario`.
pub fn workload(scenario: &Scenario, model: &str, steer_tool_choice: bool) -> Workload {
    let outputs = scenario
        .turns()
        .iter()
        .flat_map(|t| t.calls.iter().map(|c| c.output.clone()))
        .collect();
    Workload {
        model: model.to_owned(),
        instructions: scenario.instructions().map(str::to_owned),
        tools: scenario.tools().to_vec(),
        first_input: scenario.first_input(),
        outputs,
        steer_tool_choice,
        max_turns: scenario.turns().len() + scenario.call_count() + 5,
        http_chain: false,
    }
}

/// Runs every (run, mode) of one count; returns the recordings by (run, mode).
async fn run_count(
    target: &Target,
    work: &Workload,
    runs: usize,
    parallel: usize,
    progress: &mpsc::UnboundedSender<()>,
) -> Result<Vec<(usize, Transport, Recording)>, BenchError> {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::new();
    for (run, mode) in schedule(runs) {
        // Acquired here, in schedule order, so runs start in exactly that order.
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| BenchError::Task(e.to_string()))?;
        let (target, work, progress) = (target.clone(), work.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let result = client::run(&target, &work, mode, &progress).await;
            drop(permit);
            result.map(|r| (run, mode, r))
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.map_err(|e| BenchError::Task(e.to_string()))??);
    }
    Ok(out)
}

/// Folds every recording through the ledger, on the blocking pool (the runs are over: this
/// never overlaps a timed run of the same count).
async fn samples(
    recordings: Vec<(usize, Transport, Recording)>,
) -> Result<Vec<(Transport, RunSample)>, BenchError> {
    let tasks: Vec<_> = recordings
        .into_iter()
        .map(|(run, mode, rec)| {
            tokio::task::spawn_blocking(move || (mode, sample::run_sample(run, &rec)))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.map_err(|e| BenchError::Task(e.to_string()))?);
    }
    Ok(out)
}

/// One count's samples, as its [`Point`].
pub fn point(tool_calls: usize, samples: Vec<(Transport, RunSample)>) -> Point {
    let mut ws: Vec<RunSample> = Vec::new();
    let mut http: Vec<RunSample> = Vec::new();
    for (mode, s) in samples {
        match mode {
            Transport::WebSocket => ws.push(s),
            Transport::Http => http.push(s),
        }
    }
    ws.sort_by_key(|r| r.run);
    http.sort_by_key(|r| r.run);
    let (a, b) = stats::paired_e2e(&ws, &http);
    Point {
        tool_calls,
        websocket: stats::mode_stats(&ws),
        http: stats::mode_stats(&http),
        speedup: stats::speedup(&a, &b),
        e2e_us: PairedRuns {
            websocket: ws.iter().map(|r| r.e2e_us).collect(),
            http: http.iter().map(|r| r.e2e_us).collect(),
        },
        model: None,
        cost: None,
        samples: Samples {
            websocket: ws,
            http,
        },
    }
}

/// Runs the bench; every finished turn is announced on `progress`.
pub async fn run(
    config: &BenchConfig,
    progress: mpsc::UnboundedSender<()>,
) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let mut points = Vec::new();
    for n in config.counts() {
        let scenario = config.scenario.with_tool_calls(n);
        let recordings = match &config.server {
            Server::Emulator { latency } => {
                let emu = emulator::start(EmulatorConfig {
                    latency: latency.clone(),
                    scenario: Some(scenario.clone()),
                    ..EmulatorConfig::default()
                })
                .await?;
                let target = Target::emulator(&emu, "turnscope-bench");
                let work = workload(&scenario, scenario.model(), false);
                let result =
                    run_count(&target, &work, config.runs, config.parallel, &progress).await;
                emu.shutdown().await;
                result?
            }
            Server::Url {
                base,
                api_key,
                model,
            } => {
                let target = Target {
                    ws_url: crate::endpoint::ws_url_from_base(base),
                    http_url: http_url_from_base(base),
                    api_key: api_key.clone(),
                };
                let work = workload(&scenario, model, true);
                run_count(&target, &work, config.runs, config.parallel, &progress).await?
            }
        };
        let mut p = point(n, samples(recordings).await?);
        if let Server::Emulator { latency } = &config.server {
            p.model = Some(ModelView::new(latency, &p));
        }
        points.push(p);
    }
    let server = match &config.server {
        Server::Emulator { latency } => ServerInfo {
            kind: "emulator",
            url: None,
            latency: Some(latency.clone()),
        },
        Server::Url { base, .. } => ServerInfo {
            kind: "url",
            url: Some(crate::endpoint::display_url(base)),
            latency: None,
        },
    };
    Ok(BenchReport {
        schema: BENCH_SCHEMA,
        scenario: config.scenario.name().to_owned(),
        server,
        runs: config.runs,
        parallel: config.parallel,
        points,
        wall_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        pricing: None,
    })
}

/// `https://api.openai.com/v1` → `https://api.openai.com/v1/responses` (kept if it already
/// ends in `/responses`; a bare host gets `/v1/responses`).
pub fn http_url_from_base(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let has_path = base.split("://").nth(1).is_some_and(|r| r.contains('/'));
    if base.ends_with("/responses") {
        base.to_owned()
    } else if has_path {
        format!("{base}/responses")
    } else {
        format!("{base}/v1/responses")
    }
}

/// What a bench against a real endpoint will send, estimated by running the HTTP-mode
/// workload once against the zero-latency emulator (a real model's outputs will differ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Estimate {
    /// Requests in total (both modes, all runs, all counts).
    pub requests: u64,
    /// Billed input tokens in total (cached ones included; both modes bill the whole context).
    pub input_tokens: u64,
    /// Output tokens in total.
    pub output_tokens: u64,
}

/// Estimates the cost of `config` (see [`Estimate`]).
pub async fn estimate(config: &BenchConfig) -> Result<Estimate, BenchError> {
    let mut total = Estimate::default();
    let (tx, _rx) = mpsc::unbounded_channel();
    for n in config.counts() {
        let scenario = config.scenario.with_tool_calls(n);
        let emu = emulator::start(EmulatorConfig {
            scenario: Some(scenario.clone()),
            ..EmulatorConfig::default()
        })
        .await?;
        let target = Target::emulator(&emu, "turnscope-estimate");
        let work = workload(&scenario, scenario.model(), false);
        let rec = client::run(&target, &work, Transport::Http, &tx).await;
        emu.shutdown().await;
        let ledger = sample::fold(&rec?);
        let per_run = 2 * config.runs as u64;
        total.requests += ledger.turns().len() as u64 * per_run;
        total.input_tokens += ledger.totals().input_tokens * per_run;
        total.output_tokens += ledger.totals().output_tokens * per_run;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_alternates_which_mode_goes_first() {
        assert_eq!(
            schedule(3),
            vec![
                (0, Transport::WebSocket),
                (0, Transport::Http),
                (1, Transport::Http),
                (1, Transport::WebSocket),
                (2, Transport::WebSocket),
                (2, Transport::Http),
            ]
        );
    }

    #[test]
    fn http_url_from_base_adds_the_path() {
        assert_eq!(
            http_url_from_base("https://api.openai.com/v1/"),
            "https://api.openai.com/v1/responses"
        );
        assert_eq!(
            http_url_from_base("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/v1/responses"
        );
        assert_eq!(
            http_url_from_base("http://h/v1/responses"),
            "http://h/v1/responses"
        );
    }

    #[test]
    fn workload_answers_the_scripted_outputs_in_order() {
        let s = Scenario::builtin("coding-agent")
            .unwrap()
            .with_tool_calls(3);
        let w = workload(&s, "m", false);
        assert_eq!(w.outputs.len(), 3);
        assert_eq!(w.outputs[1], s.turns()[1].calls[0].output);
        let config = BenchConfig {
            scenario: s,
            tool_calls: vec![3, 5],
            runs: 2,
            parallel: 1,
            server: Server::Emulator {
                latency: LatencyProfile::zero(),
            },
        };
        // (3 + 1) + (5 + 1) turns, × 2 runs × 2 modes.
        assert_eq!(config.expected_turns(), 40);
    }
}
