//! `turnscope config`: the config file's path and the effective settings with their sources;
//! also the global flags that choose the config file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{self, ConfigChoice, Overrides, Setting, Settings};
use crate::tui::keymap::Keymap;
use crate::tui::theme::{Catalog, ColorSupport, Theme};

/// The theme a setting names (built-in or user file), fitted to what the terminal shows.
pub fn load_theme(name: &Setting<String>) -> anyhow::Result<Theme> {
    let catalog = Catalog::with_user_dir(config::themes_dir().as_deref())?;
    let theme = catalog
        .load(&name.value)
        .with_context(|| format!("theme from {}", name.source))?;
    Ok(theme.fit(ColorSupport::detect(&|k| std::env::var(k).ok())))
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Read this config file instead of the default `config.toml` (also: TURNSCOPE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not read any config file: built-in defaults, environment and flags only.
    #[arg(long, global = true)]
    pub ignore_config: bool,
    /// Colour theme by name (see `turnscope themes`).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Append a log to FILE, filtered by RUST_LOG (default `warn,turnscope=debug`).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

impl GlobalArgs {
    /// Which config file these flags (and TURNSCOPE_CONFIG) choose.
    pub fn choice(&self) -> ConfigChoice {
        ConfigChoice::pick(
            self.config.as_deref(),
            self.ignore_config,
            std::env::var(config::resolve::env::CONFIG).ok(),
        )
    }

    /// Reads the config file and combines it with the process environment and `flags`.
    pub fn settings(&self, mut flags: Overrides) -> Result<Settings, config::ConfigError> {
        if flags.theme.is_none() {
            flags.theme.clone_from(&self.theme);
        }
        let file = self.choice().load()?;
        config::resolve(&flags, &|name| std::env::var(name).ok(), file.as_ref())
    }
}

/// The price table for cost figures: the built-in one with the config file's `[prices]` over
/// it. Reads only the file, so a report works whatever the environment holds.
pub fn price_table(global: &GlobalArgs) -> anyhow::Result<crate::ledger::cost::Prices> {
    let prices = global
        .choice()
        .load()?
        .map(|f| f.prices)
        .unwrap_or_default();
    Ok(crate::ledger::cost::Prices::builtin().with_overrides(&prices))
}

/// The theme and the keymap the settings name: for TUIs that take no other settings (the
/// proxy's).
pub fn ui_look(global: &GlobalArgs) -> anyhow::Result<(Theme, Arc<Keymap>)> {
    let settings = global.settings(Overrides::default())?;
    Ok((load_theme(&settings.theme)?, keymap(&settings)?))
}

/// The keymap an App is built with: the defaults with the config file's remaps over them
/// (checked; the defaults when there are none).
pub fn keymap(settings: &Settings) -> anyhow::Result<Arc<Keymap>> {
    if settings.keys.is_empty() {
        return Ok(Arc::default());
    }
    let file = settings.file.clone().unwrap_or_default();
    Ok(Arc::new(crate::tui::keymap::remap::remap(
        &crate::tui::keymap::defaults(),
        &settings.keys,
        &file,
    )?))
}

/// The replay screen's own keys: its defaults with the config file's `[keys.replay*]` remaps
/// over them (checked; the defaults when there are none).
pub fn replay_keys(
    settings: &Settings,
) -> anyhow::Result<Arc<crate::tui::replay::keys::ReplayKeys>> {
    if settings.keys.is_empty() {
        return Ok(Arc::default());
    }
    let file = settings.file.clone().unwrap_or_default();
    Ok(Arc::new(crate::tui::replay::keys::remapped(
        &settings.keys,
        &file,
    )?))
}

/// Arguments of `turnscope config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Print only the config file's path.
    #[arg(long)]
    pub path: bool,
}

/// The report `turnscope config` prints.
pub fn report(choice: &ConfigChoice, settings: &Settings) -> String {
    let mut out = String::new();
    let path = match choice {
        ConfigChoice::Ignore => "none (--ignore-config)".to_owned(),
        ConfigChoice::Default(None) => "none (this system has no config directory)".to_owned(),
        ConfigChoice::Explicit(p) | ConfigChoice::Default(Some(p)) => {
            if settings.file.is_some() {
                p.display().to_string()
            } else {
                format!("{} (not found: built-in defaults)", p.display())
            }
        }
    };
    out.push_str(&format!("config file: {path}\n"));
    if let Some(dir) = config::themes_dir() {
        out.push_str(&format!("themes dir:  {}\n", dir.display()));
    }
    out.push('\n');
    let rows = settings.rows();
    let width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    for (name, value, source) in rows {
        out.push_str(&format!("{name:<13} {value:<width$}  {source}\n"));
    }
    // What the live TUI will talk to, which the `url` row alone does not say.
    let target = if settings.url.source == config::Source::Default && settings.api_key.is_none() {
        "the built-in emulator (no OPENAI_API_KEY and no url set)".to_owned()
    } else {
        crate::endpoint::display_url(&crate::endpoint::ws_url_from_base(&settings.url.value))
    };
    out.push_str(&format!("\n{:<13} {target}\n", "target"));
    if !settings.prices.is_empty() {
        out.push_str("\nprices (file, USD per 1M tokens):\n");
        for (model, p) in &settings.prices {
            out.push_str(&format!(
                "  prices.\"{model}\" = input {}, cached_input {}, output {}\n",
                p.input, p.cached_input, p.output
            ));
        }
    }
    if !settings.keys.is_empty() {
        out.push_str("\nkey bindings (file):\n");
        for k in &settings.keys {
            out.push_str(&format!(
                "  keys.{}.{} = {}\n",
                k.scope,
                k.action,
                k.keys.join(" ")
            ));
        }
    }
    out
}

/// Runs `config`.
pub fn run(args: &ConfigArgs, global: &GlobalArgs, flags: Overrides) -> anyhow::Result<ExitCode> {
    let choice = global.choice();
    if args.path {
        match choice.path() {
            Some(p) => println!("{}", p.display()),
            None => anyhow::bail!(
                "no config file: --ignore-config was given or there is no config directory"
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let settings = global.settings(flags)?;
    // Check what the live TUI would check, so `turnscope config` is a config linter too.
    let file = settings.file.clone().unwrap_or_default();
    crate::tui::keymap::remap::remap(&crate::tui::keymap::defaults(), &settings.keys, &file)?;
    crate::tui::replay::keys::remapped(&settings.keys, &file)?;
    load_theme(&settings.theme)?;
    if settings.url.source != config::Source::Default {
        config::check_url(
            &settings.url.value,
            &format!("url ({})", settings.url.source),
        )
        .map_err(anyhow::Error::msg)?;
    }
    if let Some(tools) = &settings.tools.value {
        crate::cli::live::load_tools(tools)?;
    }
    if let Some(path) = &settings.instructions.value {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read instructions file {}", path.display()))?;
    }
    print!("{}", report(&choice, &settings));
    Ok(ExitCode::SUCCESS)
}
