//! `turnscope` with no subcommand: the live session TUI, on the real API or the built-in emulator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cli::config::GlobalArgs;
use crate::config::{Overrides, Source};
use crate::emulator::{self, EmulatorConfig, LatencyProfile};
use crate::session::SessionConfig;
use crate::tui::app::{App, SessionInfo};

/// Flags of the live TUI (used when no subcommand is given).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LiveArgs {
    /// WebSocket (or HTTP base) URL; default: OPENAI_BASE_URL or https://api.openai.com/v1,
    /// or the built-in emulator when OPENAI_API_KEY is not set.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Model for new requests (default: TURNSCOPE_MODEL, the config file, or gpt-5.1).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// `store` on new requests: `--store` or `--store=false` (toggle in the composer with F2).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub store: Option<bool>,
    /// `OpenAI-Organization` header (default: OPENAI_ORG_ID or the config file).
    #[arg(long, value_name = "ORG")]
    pub organization: Option<String>,
    /// `OpenAI-Project` header (default: OPENAI_PROJECT_ID or the config file).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Tool definitions sent with every request: a JSON array (or {"tools": [...]}).
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Instructions sent with every request, read from a text file.
    #[arg(long, value_name = "FILE")]
    pub instructions: Option<PathBuf>,
    /// Record the session to this transcript (default: a new file in the data directory).
    #[arg(long, value_name = "PATH", conflicts_with = "no_record")]
    pub record: Option<PathBuf>,
    /// Do not record the session.
    #[arg(long)]
    pub no_record: bool,
    /// Record new sessions into this directory (default: the data directory's `sessions`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["record", "no_record"])]
    pub record_dir: Option<PathBuf>,
    /// Latency profile of the built-in emulator: zero, realistic, lan or FILE.toml[:NAME].
    #[arg(long, default_value = "realistic", value_name = "PROFILE")]
    pub emulator_latency: String,
    /// Largest WebSocket message sent or received, in bytes.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Do NOT verify the server's TLS certificate (local test servers only; prints a warning).
    #[arg(long)]
    pub insecure: bool,
}

impl LiveArgs {
    /// The settings these flags give, for [`crate::config::resolve`].
    pub fn overrides(&self) -> Overrides {
        Overrides {
            url: self.url.clone(),
            model: self.model.clone(),
            store: self.store,
            tools: self.tools.clone(),
            instructions: self.instructions.clone(),
            record_dir: self.record_dir.clone(),
            theme: None,
            organization: self.organization.clone(),
            project: self.project.clone(),
        }
    }
}

/// Printed to stderr whenever `--insecure` is given.
pub const INSECURE_WARNING: &str = "turnscope: WARNING: --insecure: the server's TLS certificate is NOT verified; anyone on the network path can read or change this session, API key included";

/// Reads `--tools`: a JSON array of tool definitions, or an object with a `tools` array.
pub fn load_tools(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --tools file {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "--tools file {} is not JSON; give a JSON array of tool definitions",
            path.display()
        )
    })?;
    let tools = match value {
        Value::Array(tools) => tools,
        Value::Object(mut o) => match o.remove("tools") {
            Some(Value::Array(tools)) => tools,
            _ => anyhow::bail!(
                "--tools file {} has no \"tools\" array; give a JSON array of tool definitions",
                path.display()
            ),
        },
        _ => anyhow::bail!(
            "--tools file {} must hold a JSON array of tool definitions",
            path.display()
        ),
    };
    if let Some((i, _)) = tools
        .iter()
        .enumerate()
        .find(|(_, t)| t.get("type").and_then(Value::as_str).is_none())
    {
        anyhow::bail!(
            "--tools file {}: tool #{} has no \"type\" (e.g. \"function\")",
            path.display(),
            i + 1
        );
    }
    Ok(tools)
}

/// `sk-…abcd`: enough to tell keys apart, never the key.
pub fn mask_key(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.chars().count() <= 8 {
        "…".into()
    } else {
        format!("{}…{tail}", key.chars().take(3).collect::<String>())
    }
}

/// Runs the live TUI.
pub fn run(args: &LiveArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let settings = global.settings(args.overrides())?;
    if settings.url.source != Source::Default {
        crate::config::check_url(
            &settings.url.value,
            &format!("url ({})", settings.url.source),
        )
        .map_err(anyhow::Error::msg)?;
    }
    let tools = settings
        .tools
        .value
        .as_deref()
        .map(load_tools)
        .transpose()?;
    let instructions = settings
        .instructions
        .value
        .as_deref()
        .map(|p| {
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --instructions file {}", p.display()))
        })
        .transpose()?;
    let theme = crate::cli::config::load_theme(&settings.theme)?;
    let keymap = crate::cli::config::keymap(&settings)?;
    let api_key = settings.api_key.as_ref().map(|k| k.expose().to_owned());
    let record = match (&args.record, args.no_record, &settings.record_dir.value) {
        (_, true, _) => None,
        (Some(path), false, _) => Some(path.clone()),
        (None, false, Some(dir)) => Some(crate::config::record_path_in(dir)),
        (None, false, None) => crate::config::default_record_path(),
    };
    if args.insecure {
        eprintln!("{INSECURE_WARNING}");
    }
    let model = settings.model.value.clone();
    // An explicit URL (flag, OPENAI_BASE_URL or config) means a real server; otherwise the
    // emulator stands in when there is no key.
    let explicit_url = (settings.url.source != Source::Default).then(|| settings.url.value.clone());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let cancel = CancellationToken::new();
        let emulated = api_key.is_none() && explicit_url.is_none();
        let emu = if emulated {
            let latency = LatencyProfile::resolve(&args.emulator_latency)?;
            Some(
                emulator::start(EmulatorConfig {
                    latency,
                    ..EmulatorConfig::default()
                })
                .await?,
            )
        } else {
            None
        };
        let url = match &emu {
            Some(emu) => emu.ws_url(),
            None => crate::endpoint::ws_url_from_base(&settings.url.value),
        };
        let info = SessionInfo {
            url: crate::endpoint::display_url(&url),
            model: model.clone(),
            emulated,
            key_hint: api_key.as_deref().map(mask_key),
        };
        let mut app = App::new(info, theme);
        app.keymap = keymap;
        app.prices = settings.price_table();
        app.composer.store = settings.store.value;
        // Without --tools, the emulator's demo tools go out once the server says it is
        // turnscope's emulator (built in, or reached by --url, also through the proxy).
        app.demo_tools = tools.is_none();
        app.tools = tools.unwrap_or_default();
        app.instructions = instructions;
        // No key, no Authorization header: the emulator accepts that, the real API says 401.
        let saved = record.clone();
        let config = SessionConfig {
            url,
            api_key,
            organization: settings.organization.value.clone(),
            project: settings.project.value.clone(),
            record,
            model: Some(model),
            insecure: args.insecure,
            max_message_size: args.max_message_size,
            ..SessionConfig::default()
        };
        let result = crate::tui::live::run(app, config, cancel).await;
        if let Some(emu) = emu {
            emu.shutdown().await;
        }
        result.context("the terminal failed")?;
        crate::cli::recording::print_saved(saved.as_deref());
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked() {
        assert_eq!(mask_key("sk-proj-abcdefghijklmnop1234"), "sk-…1234");
        assert_eq!(mask_key("short"), "…");
    }

    #[test]
    fn tools_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tools.json");
        std::fs::write(&path, "{\"x\":1}").unwrap();
        let err = load_tools(&path).unwrap_err().to_string();
        assert!(
            err.contains("tools.json") && err.contains("\"tools\" array"),
            "{err}"
        );
        std::fs::write(&path, "[{\"type\":\"function\",\"name\":\"f\"}]").unwrap();
        assert_eq!(load_tools(&path).unwrap().len(), 1);
    }
}
