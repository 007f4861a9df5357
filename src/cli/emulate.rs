//! `turnscope emulate`: run the local Responses API emulator until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::emulator::{
    self, AgeLimitInFlight, EmulatorConfig, FaultPlan, LatencyProfile, Scenario,
};

/// Arguments of `turnscope emulate`.
#[derive(Debug, clap::Args)]
pub struct EmulateArgs {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (anyone who reaches it can use the emulator).
    #[arg(long)]
    pub allow_remote: bool,
    /// Accept only this Bearer key (default: any key, or none).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// WebSocket connection age limit, e.g. `60m`, `30s`: the connection gets the real
    /// server's `error` event (code websocket_connection_limit_reached, status 400, "Responses
    /// websocket connection limit reached (60 minutes). …") and is closed (1001).
    #[arg(long, default_value = "60m", value_parser = humantime::parse_duration)]
    pub max_connection_age: Duration,
    /// What the age limit does to a response still streaming (the real server's choice is not
    /// documented): `finish` lets running responses end normally, answers requests sent after
    /// the limit with the error, then sends the error and closes once idle; `cut` stops
    /// running responses without a terminal event, sends the error and closes at once.
    #[arg(long, default_value = "finish", value_name = "finish|cut")]
    pub age_limit_inflight: AgeLimitInFlight,
    /// Latency profile: `zero`, `realistic`, `lan`, or FILE.toml[:NAME].
    #[arg(long, default_value = "zero", value_name = "PROFILE")]
    pub latency: String,
    /// Scripted model: `coding-agent` or a scenario file (TOML/JSON); default: the persona.
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// WebSocket connections open at once per API key (default: unlimited). Over the cap the
    /// upgrade is refused with HTTP 429, code websocket_connection_cap_reached (an emulator
    /// code: the real API's per-key cap, if any, is not public).
    #[arg(long, value_name = "N")]
    pub max_connections_per_key: Option<usize>,
    /// Responses running at once per connection; more get `response.queued`.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_active_responses: usize,
    /// Distinct named lanes (`stream_id`) per connection.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_lanes: usize,
    /// Largest accepted client message or request body, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Fault: close the TCP connection (no close frame) after N server events.
    #[arg(long, value_name = "N")]
    pub fault_drop_after: Option<u64>,
    /// Fault: stop sending after N server events (the connection stays open).
    #[arg(long, value_name = "N")]
    pub fault_stall_after: Option<u64>,
    /// Fault: send one non-JSON text frame after N server events.
    #[arg(long, value_name = "N")]
    pub fault_malformed_after: Option<u64>,
    /// Fault: send one oversized frame after N server events.
    #[arg(long, value_name = "N")]
    pub fault_oversized_after: Option<u64>,
    /// Also answer for this model name (repeatable; `*` = any name). Without it, names not in
    /// the built-in list (`turnscope::emulator::KNOWN_MODELS`: the gpt-5 family, o-series,
    /// gpt-4.1/4o …, dated snapshots included) or the scenario get `model_not_found`, as the
    /// real API answers an unknown model.
    #[arg(
        long = "allow-model",
        value_name = "NAME",
        env = "TURNSCOPE_EMULATOR_MODELS",
        value_delimiter = ','
    )]
    pub allow_model: Vec<String>,
    /// Seed for the opaque ids (resp_…, msg_…, call_…): the same seed and request order give
    /// the same ids (default: from the clock).
    #[arg(long, value_name = "N")]
    pub id_seed: Option<u64>,
    /// Size of the oversized fault frame in bytes (default: 1 MiB + 1).
    #[arg(long, default_value_t = 1024 * 1024 + 1, value_name = "BYTES")]
    pub fault_oversized_bytes: usize,
    /// On Ctrl-C or SIGTERM, how long running responses may take to finish before they are
    /// cut (no new connections meanwhile; a second Ctrl-C stops at once), e.g. `30s`, `2m`.
    #[arg(long, default_value = super::shutdown::DEFAULT_GRACE, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,
}

impl EmulateArgs {
    /// The emulator configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let latency = LatencyProfile::resolve(&self.latency)?;
        let scenario = self
            .scenario
            .as_deref()
            .map(Scenario::resolve)
            .transpose()?;
        Ok(EmulatorConfig {
            listen: self.listen,
            allow_remote: self.allow_remote,
            api_key: self.api_key.clone(),
            max_connection_age: self.max_connection_age,
            age_limit_inflight: self.age_limit_inflight,
            latency,
            scenario,
            max_connections_per_key: self.max_connections_per_key,
            max_active_responses: self.max_active_responses,
            max_lanes: self.max_lanes,
            max_message_bytes: self.max_message_bytes,
            oversized_frame_bytes: self.fault_oversized_bytes,
            faults: FaultPlan {
                drop_after: self.fault_drop_after,
                stall_after: self.fault_stall_after,
                malformed_after: self.fault_malformed_after,
                oversized_after: self.fault_oversized_after,
            },
            id_seed: self.id_seed,
            extra_models: self.allow_model.clone(),
        })
    }
}

/// Runs `emulate` until Ctrl-C.
pub fn run(args: &EmulateArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let scenario = config
            .scenario
            .as_ref()
            .map_or("persona".to_owned(), |s| format!("scenario {}", s.name()));
        let latency = config.latency.name.clone();
        if config.allow_remote
            && let Some(warning) = crate::endpoint::remote_warning(config.listen, emulator::EXPOSES)
        {
            eprintln!("{warning}");
        }
        let emu = emulator::start(config).await?;
        println!("turnscope emulator listening ({scenario}, latency {latency})");
        println!("  OPENAI_BASE_URL={}", emu.base_url());
        println!("  WebSocket:      {}", emu.ws_url());
        let mut signals = super::shutdown::StopSignals::new()?;
        println!("Ctrl-C to stop.");
        let signal = signals.next().await;
        let grace = args.shutdown_grace;
        super::shutdown::announce(signal, grace);
        if !super::shutdown::drain_or_exit(&mut signals, emu.shutdown_within(grace)).await {
            super::shutdown::cut(grace);
        }
        Ok(ExitCode::SUCCESS)
    })
}
