//! Where turnscope keeps its files, and its `config.toml`: parsed with line-accurate errors.
//!
//! This is the only module that asks `directories` for the per-user folders. How the file's
//! values combine with flags and the environment lives in [`resolve`].

pub mod resolve;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ledger::cost::Price;
pub use resolve::{Overrides, Setting, Settings, Source, resolve};

/// The config file's name inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Every key `config.toml` accepts at the top level (for "did you mean").
pub const KEYS: &[&str] = &[
    "url",
    "model",
    "store",
    "tools",
    "instructions",
    "record_dir",
    "theme",
    "organization",
    "project",
    "keys",
    "prices",
];

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("dev", "turnscope", "turnscope")
}

/// The user's turnscope data directory (e.g. `~/.local/share/turnscope`), if the OS has one.
pub fn data_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().to_owned())
}

/// The user's turnscope config directory (e.g. `~/.config/turnscope`), if the OS has one.
pub fn config_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().to_owned())
}

/// `<config dir>/config.toml`: read when neither `--config` nor `--ignore-config` is given.
pub fn default_config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join(CONFIG_FILE))
}

/// `<config dir>/themes`: user theme files, which override built-in themes of the same name.
pub fn themes_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("themes"))
}

/// Where sessions are recorded unless `record_dir` says otherwise: `<data dir>/sessions`.
pub fn default_record_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("sessions"))
}

/// A fresh transcript path in `dir`: `<dir>/<UTC timestamp>.tsjsonl`.
///
/// The timestamp has millisecond precision and no `:` so the name is portable and two
/// sessions started in the same second do not collide.
pub fn record_path_in(dir: &Path) -> PathBuf {
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace([':', '.'], "-");
    dir.join(format!("{stamp}.tsjsonl"))
}

/// A fresh transcript path for a live session: `<data dir>/sessions/<UTC timestamp>.tsjsonl`.
pub fn default_record_path() -> Option<PathBuf> {
    default_record_dir().map(|d| record_path_in(&d))
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists (or was named with `--config`) but could not be read.
    #[error(
        "cannot read config file {path} (fix it, point --config elsewhere, or pass --ignore-config)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has the wrong type.
    #[error("config file {path} line {line}, key `{key}`: {message} (or pass --ignore-config)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// Dotted key (`keys.turns.next`), or `?` when the TOML itself is broken.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {var} is {value:?}; set it to {expected} or unset it")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value, quoted.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
}

/// One remapped action from `[keys.<scope>]`: `next = ["j", "down"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// A scope of a screen's key table: `global`, `turns`, `composer`, …, `replay`,
    /// `replay-diff`, ….
    pub scope: String,
    /// The action's name, e.g. `next`.
    pub action: String,
    /// Keys as written, e.g. `ctrl-r`, `F2`, `alt-enter`, `j`.
    pub keys: Vec<String>,
    /// 1-based line in the config file, for error messages.
    pub line: usize,
}

/// The values a `config.toml` sets; anything absent falls through to the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    /// The file these values came from.
    pub path: PathBuf,
    /// Base URL (`https://…/v1`) or WebSocket URL.
    pub url: Option<String>,
    /// Model for new requests.
    pub model: Option<String>,
    /// `store` on new requests.
    pub store: Option<bool>,
    /// Tool definitions file (relative paths are relative to the config file).
    pub tools: Option<PathBuf>,
    /// Instructions file.
    pub instructions: Option<PathBuf>,
    /// Directory for recorded sessions.
    pub record_dir: Option<PathBuf>,
    /// Theme name.
    pub theme: Option<String>,
    /// `OpenAI-Organization` header.
    pub organization: Option<String>,
    /// `OpenAI-Project` header.
    pub project: Option<String>,
    /// Key remaps, in file order.
    pub keys: Vec<KeySpec>,
    /// Model prices from `[prices."MODEL"]` tables, replacing or adding to the built-in table.
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    url: Option<String>,
    model: Option<String>,
    store: Option<bool>,
    tools: Option<PathBuf>,
    instructions: Option<PathBuf>,
    record_dir: Option<PathBuf>,
    theme: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    #[serde(default)]
    keys: BTreeMap<String, BTreeMap<String, toml::Spanned<Vec<String>>>>,
    #[serde(default)]
    prices: BTreeMap<String, toml::Spanned<Price>>,
}

/// What a `[prices."MODEL"]` table holds, and that dotted names need quotes.
const PRICES_HINT: &str = "a price table is [prices.\"MODEL\"] with input, cached_input and output in USD per 1M tokens (optional as_of, source); quote model names that hold dots: [prices.\"gpt-5.1\"]";

/// Checks a server URL before anything connects: `http(s)://` base URLs, `ws(s)://` URLs, or a
/// bare host. Anything else (`ftp://x`) would become `wss://ftp://x/v1/responses`; the error
/// names `what` (the flag or setting) and the accepted forms.
pub fn check_url(url: &str, what: &str) -> Result<(), String> {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            if !matches!(
                scheme.to_ascii_lowercase().as_str(),
                "http" | "https" | "ws" | "wss"
            ) {
                return Err(format!(
                    "{what} `{url}`: scheme `{scheme}` is not supported; use https://host/v1 (or http://, ws://, wss://)"
                ));
            }
            rest
        }
        None => url,
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || rest.contains("://") {
        return Err(format!(
            "{what} `{url}` has no valid host; use e.g. https://api.openai.com/v1 or http://127.0.0.1:8787/v1"
        ));
    }
    Ok(())
}

/// The closest of `known` to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// The dotted key written on the line holding `span`: its `[table]` header plus `name =`.
fn key_at(text: &str, span: &Range<usize>) -> String {
    let line = line_of(text, span.start);
    let mut table = String::new();
    let mut key = String::from("?");
    for (i, raw) in text.lines().enumerate().take(line) {
        let l = raw.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
            if i + 1 == line {
                return table;
            }
        } else if i + 1 == line
            && let Some((name, _)) = l.split_once('=')
        {
            key = name.trim().trim_matches('"').to_owned();
        }
    }
    if table.is_empty() || key == "?" {
        key
    } else {
        format!("{table}.{key}")
    }
}

/// Parses the text of a config file; `path` only names it in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let invalid = |line: usize, key: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        line,
        key,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let line = line_of(text, span.start);
        let message = e.message().to_owned();
        // serde says "unknown field `modle`, expected one of …": name the key and the likely fix.
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default().to_owned();
            let hint = did_you_mean(&name, KEYS).map_or_else(
                || format!("known keys are {}", KEYS.join(", ")),
                |k| format!("did you mean `{k}`?"),
            );
            let mut key = key_at(text, &span);
            if key == "?" {
                key.clone_from(&name);
            }
            if key.starts_with("prices") {
                return invalid(line, key, format!("unknown key `{name}`; {PRICES_HINT}"));
            }
            return invalid(line, key, format!("unknown key; {hint}"));
        }
        let key = key_at(text, &span);
        if key.starts_with("prices") {
            return invalid(line, key, format!("{message}; {PRICES_HINT}"));
        }
        invalid(line, key, message)
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let anchor = |p: Option<PathBuf>| p.map(|p| expand_path(&p, base));
    let mut keys = Vec::new();
    for (scope, actions) in raw.keys {
        for (action, list) in actions {
            keys.push(KeySpec {
                line: line_of(text, list.span().start),
                scope: scope.clone(),
                action,
                keys: list.into_inner(),
            });
        }
    }
    keys.sort_by_key(|k| k.line);
    let mut prices = BTreeMap::new();
    for (model, price) in raw.prices {
        let line = line_of(text, price.span().start);
        let price = price.into_inner();
        if let Some(problem) = price.problem() {
            return Err(invalid(line, format!("prices.{model}"), problem));
        }
        prices.insert(model, price);
    }
    Ok(FileConfig {
        path: path.to_owned(),
        url: raw.url,
        model: raw.model,
        store: raw.store,
        tools: anchor(raw.tools),
        instructions: anchor(raw.instructions),
        record_dir: anchor(raw.record_dir),
        theme: raw.theme,
        organization: raw.organization,
        project: raw.project,
        keys,
        prices,
    })
}

/// `~/x` becomes `<home>/x`; a relative path is taken relative to `base` (the config's folder).
pub fn expand_path(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_owned())
    {
        return home.join(rest);
    }
    if path.is_relative() {
        base.join(path)
    } else {
        path.to_owned()
    }
}

/// Which config file to read, from `--config`, `--ignore-config` and `TURNSCOPE_CONFIG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChoice {
    /// Read nothing: defaults, the environment and flags only.
    Ignore,
    /// This file, which must exist (named by `--config` or `TURNSCOPE_CONFIG`).
    Explicit(PathBuf),
    /// The default path, if it exists.
    Default(Option<PathBuf>),
}

impl ConfigChoice {
    /// Picks the file: `--ignore-config` wins, then `--config`, then `TURNSCOPE_CONFIG`.
    pub fn pick(flag: Option<&Path>, ignore: bool, env: Option<String>) -> ConfigChoice {
        if ignore {
            ConfigChoice::Ignore
        } else if let Some(path) = flag {
            ConfigChoice::Explicit(path.to_owned())
        } else if let Some(path) = env.filter(|v| !v.trim().is_empty()) {
            ConfigChoice::Explicit(PathBuf::from(path))
        } else {
            ConfigChoice::Default(default_config_path())
        }
    }

    /// The path this choice points at, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigChoice::Ignore | ConfigChoice::Default(None) => None,
            ConfigChoice::Explicit(p) | ConfigChoice::Default(Some(p)) => Some(p),
        }
    }

    /// Reads the chosen file; a missing default file is simply no file.
    pub fn load(&self) -> Result<Option<FileConfig>, ConfigError> {
        let (path, required) = match self {
            ConfigChoice::Ignore | ConfigChoice::Default(None) => return Ok(None),
            ConfigChoice::Explicit(p) => (p, true),
            ConfigChoice::Default(Some(p)) => (p, false),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => parse(&text, path).map(Some),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path: path.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_anything_connects() {
        for ok in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:8787/v1",
            "ws://h/v1/responses",
            "WSS://h",
            "api.example.com/v1",
        ] {
            assert_eq!(check_url(ok, "--url"), Ok(()), "{ok}");
        }
        for bad in ["ftp://x", "https://", "http:///v1", "", "https://a b/v1"] {
            let err = check_url(bad, "--url").unwrap_err();
            assert!(err.starts_with("--url `"), "{bad}: {err}");
        }
    }

    #[test]
    fn default_record_path_is_a_tsjsonl_under_sessions() {
        // Some CI sandboxes have no home directory; then there is simply no default.
        if let Some(path) = default_record_path() {
            assert_eq!(path.extension().and_then(|e| e.to_str()), Some("tsjsonl"));
            let parent = path.parent().and_then(|p| p.file_name());
            assert_eq!(parent.and_then(|p| p.to_str()), Some("sessions"));
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(!name.contains(':'), "{name}");
        }
    }

    const GOOD: &str = r#"# mine
url = "ws://127.0.0.1:9000/v1"
model = "gpt-5.1-mini"
store = true
tools = "tools.json"
instructions = "/abs/instructions.md"
theme = "light"

[keys.turns]
next = ["j", "down", "ctrl-n"]
quit = ["q"]
"#;

    #[test]
    fn a_full_file_parses_with_paths_anchored_to_it() {
        let cfg = parse(GOOD, Path::new("/home/u/.config/turnscope/config.toml")).unwrap();
        assert_eq!(cfg.url.as_deref(), Some("ws://127.0.0.1:9000/v1"));
        assert_eq!(cfg.store, Some(true));
        assert_eq!(
            cfg.tools,
            Some(PathBuf::from("/home/u/.config/turnscope/tools.json"))
        );
        assert_eq!(
            cfg.instructions,
            Some(PathBuf::from("/abs/instructions.md"))
        );
        assert_eq!(cfg.theme.as_deref(), Some("light"));
        assert_eq!(cfg.keys.len(), 2);
        assert_eq!(cfg.keys[0].action, "next");
        assert_eq!(cfg.keys[0].scope, "turns");
        assert_eq!(cfg.keys[0].line, 10);
        assert_eq!(cfg.keys[0].keys, ["j", "down", "ctrl-n"]);
    }

    #[test]
    fn unknown_key_names_file_line_key_and_suggests() {
        let text = "url = \"ws://x\"\nmodle = \"gpt-5.1\"\n";
        let err = parse(text, Path::new("/etc/ts/config.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/ts/config.toml"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("`modle`"), "{msg}");
        assert!(msg.contains("did you mean `model`?"), "{msg}");
    }

    #[test]
    fn unknown_key_far_from_any_lists_the_known_ones() {
        let err = parse("\n\nzzz = 1\n", Path::new("c.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3") && msg.contains("`zzz`"), "{msg}");
        assert!(msg.contains("known keys are url, model"), "{msg}");
    }

    #[test]
    fn wrong_type_names_the_key_and_line() {
        let text = "model = \"m\"\n\nstore = \"yes\"\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err();
        let ConfigError::Invalid { line, key, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!((*line, key.as_str()), (3, "store"), "{err}");
        let text = "[keys.turns]\nnext = \"j\"\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err();
        let ConfigError::Invalid { line, key, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!((*line, key.as_str()), (2, "keys.turns.next"), "{err}");
    }

    #[test]
    fn prices_override_the_builtin_table_and_bad_ones_name_the_model() {
        let text = "model = \"m\"\n\n[prices.\"gpt-5.1\"]\ninput = 2.0\ncached_input = 0.5\noutput = 8.0\n\n[prices.my-model]\ninput = 1\ncached_input = 0\noutput = 3\n";
        let cfg = parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(cfg.prices.len(), 2);
        assert_eq!(cfg.prices["gpt-5.1"].input, 2.0);
        assert_eq!(cfg.prices["my-model"].output, 3.0);
        let settings = resolve(&Overrides::default(), &|_| None, Some(&cfg)).unwrap();
        let table = settings.price_table();
        assert_eq!(table.get("gpt-5.1").map(|p| p.output), Some(8.0));
        assert!(table.get("gpt-5-mini").is_some(), "built-in entries stay");
        let row = settings
            .rows()
            .into_iter()
            .find(|r| r.0 == "prices")
            .unwrap();
        assert!(row.1.ends_with("+ file: gpt-5.1, my-model"), "{row:?}");
        // A negative price names its model and line.
        let err = parse(
            "[prices.x]\ninput = 1\ncached_input = -1\noutput = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        let ConfigError::Invalid {
            line, key, message, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((*line, key.as_str()), (1, "prices.x"), "{err}");
        assert!(message.contains("cached_input"), "{err}");
        // An unquoted dotted name becomes nested tables: say to quote it.
        let err = parse(
            "[prices.gpt-5.1]\ninput = 1\ncached_input = 0\noutput = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("[prices.\"gpt-5.1\"]"), "{err}");
        // A misspelt field is named.
        let err = parse(
            "[prices.x]\ninput = 1\ncached = 0\noutput = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`cached`"), "{err}");
    }

    #[test]
    fn broken_toml_names_the_line() {
        let err = parse("model = \"m\"\nurl = \n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn explicit_missing_file_is_an_error_default_missing_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = ConfigChoice::Explicit(missing.clone()).load().unwrap_err();
        assert!(err.to_string().contains("nope.toml"), "{err}");
        assert_eq!(ConfigChoice::Default(Some(missing)).load().unwrap(), None);
        assert_eq!(ConfigChoice::Ignore.load().unwrap(), None);
    }

    #[test]
    fn ignore_beats_flag_beats_env() {
        let flag = Path::new("/f.toml");
        assert_eq!(
            ConfigChoice::pick(Some(flag), true, Some("/e.toml".into())),
            ConfigChoice::Ignore
        );
        assert_eq!(
            ConfigChoice::pick(Some(flag), false, Some("/e.toml".into())),
            ConfigChoice::Explicit(flag.to_owned())
        );
        assert_eq!(
            ConfigChoice::pick(None, false, Some("/e.toml".into())),
            ConfigChoice::Explicit("/e.toml".into())
        );
    }
}
