//! Precedence of settings: flag > environment > config file > default, as one pure function.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::ledger::cost::{Price, Prices};

use super::{ConfigError, FileConfig, KeySpec};

/// The model used when nothing names one.
pub const DEFAULT_MODEL: &str = "gpt-5.1";
/// The base URL used when nothing names one (the official SDKs' default).
pub const DEFAULT_URL: &str = "https://api.openai.com/v1";
/// The theme used when nothing names one.
pub const DEFAULT_THEME: &str = "default";

/// Environment variables, as the official SDKs name them where they have one.
pub mod env {
    /// The API key (`Authorization: Bearer …`); never printed, logged or recorded.
    pub const API_KEY: &str = "OPENAI_API_KEY";
    /// Base URL, e.g. `http://127.0.0.1:8080/v1`.
    pub const BASE_URL: &str = "OPENAI_BASE_URL";
    /// Sent as the `OpenAI-Organization` header.
    pub const ORG_ID: &str = "OPENAI_ORG_ID";
    /// Sent as the `OpenAI-Project` header.
    pub const PROJECT_ID: &str = "OPENAI_PROJECT_ID";
    /// Model for new requests.
    pub const MODEL: &str = "TURNSCOPE_MODEL";
    /// `store` on new requests (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
    pub const STORE: &str = "TURNSCOPE_STORE";
    /// Tool definitions file.
    pub const TOOLS: &str = "TURNSCOPE_TOOLS";
    /// Instructions file.
    pub const INSTRUCTIONS: &str = "TURNSCOPE_INSTRUCTIONS";
    /// Directory for recorded sessions.
    pub const RECORD_DIR: &str = "TURNSCOPE_RECORD_DIR";
    /// Theme name.
    pub const THEME: &str = "TURNSCOPE_THEME";
    /// Config file to read instead of the default one.
    pub const CONFIG: &str = "TURNSCOPE_CONFIG";
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--model`.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    File,
    /// Built in.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File => f.write_str("file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The effective value.
    pub value: T,
    /// Which layer set it.
    pub source: Source,
}

/// Values given on the command line; `None` leaves the setting to the lower layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--url`.
    pub url: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--store` / `--no-store`.
    pub store: Option<bool>,
    /// `--tools`.
    pub tools: Option<PathBuf>,
    /// `--instructions`.
    pub instructions: Option<PathBuf>,
    /// `--record-dir`.
    pub record_dir: Option<PathBuf>,
    /// `--theme`.
    pub theme: Option<String>,
    /// `--organization`.
    pub organization: Option<String>,
    /// `--project`.
    pub project: Option<String>,
}

/// An API key: its `Debug` and `Display` show only a masked form.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", mask_secret(&self.0))
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_secret(&self.0))
    }
}

/// `sk-…abcd`: enough to tell keys apart, never the key (short keys show nothing).
pub fn mask_secret(key: &str) -> String {
    let n = key.chars().count();
    if n <= 12 {
        return "…".into();
    }
    let head: String = key.chars().take(3).collect();
    let tail: String = key.chars().skip(n - 4).collect();
    format!("{head}…{tail}")
}

/// The effective settings, each with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// Base or WebSocket URL.
    pub url: Setting<String>,
    /// Model for new requests.
    pub model: Setting<String>,
    /// `store` on new requests.
    pub store: Setting<bool>,
    /// Tool definitions file.
    pub tools: Setting<Option<PathBuf>>,
    /// Instructions file.
    pub instructions: Setting<Option<PathBuf>>,
    /// Directory for recorded sessions; `None`: the data directory's `sessions` folder.
    pub record_dir: Setting<Option<PathBuf>>,
    /// Theme name.
    pub theme: Setting<String>,
    /// `OpenAI-Organization` header.
    pub organization: Setting<Option<String>>,
    /// `OpenAI-Project` header.
    pub project: Setting<Option<String>>,
    /// From `OPENAI_API_KEY` only: never from a file or a flag, so it never lands in either.
    pub api_key: Option<ApiKey>,
    /// Key remaps from the file.
    pub keys: Vec<KeySpec>,
    /// Model prices from the file's `[prices]`, over the built-in table.
    pub prices: BTreeMap<String, Price>,
}

impl Settings {
    /// The price table costs are computed with: the built-in one, the file's `[prices]` over it.
    pub fn price_table(&self) -> Prices {
        Prices::builtin().with_overrides(&self.prices)
    }

    /// The settings as (name, shown value, source) rows, the key masked.
    pub fn rows(&self) -> Vec<(&'static str, String, String)> {
        fn path(p: Option<&PathBuf>) -> String {
            p.map_or_else(|| "-".into(), |p| p.display().to_string())
        }
        fn text(s: Option<&String>) -> String {
            s.cloned().unwrap_or_else(|| "-".into())
        }
        let record_dir = match &self.record_dir.value {
            Some(dir) => dir.display().to_string(),
            None => super::default_record_dir().map_or_else(
                || "- (no data directory)".into(),
                |d| d.display().to_string(),
            ),
        };
        vec![
            ("url", self.url.value.clone(), self.url.source.to_string()),
            (
                "model",
                self.model.value.clone(),
                self.model.source.to_string(),
            ),
            (
                "store",
                self.store.value.to_string(),
                self.store.source.to_string(),
            ),
            (
                "tools",
                path(self.tools.value.as_ref()),
                self.tools.source.to_string(),
            ),
            (
                "instructions",
                path(self.instructions.value.as_ref()),
                self.instructions.source.to_string(),
            ),
            ("record_dir", record_dir, self.record_dir.source.to_string()),
            (
                "theme",
                self.theme.value.clone(),
                self.theme.source.to_string(),
            ),
            (
                "organization",
                text(self.organization.value.as_ref()),
                self.organization.source.to_string(),
            ),
            (
                "project",
                text(self.project.value.as_ref()),
                self.project.source.to_string(),
            ),
            (
                "prices",
                self.prices_row(),
                if self.prices.is_empty() {
                    Source::Default.to_string()
                } else {
                    Source::File.to_string()
                },
            ),
            (
                "api key",
                self.api_key
                    .as_ref()
                    .map_or_else(|| "- (not set)".into(), ToString::to_string),
                if self.api_key.is_some() {
                    Source::Env(env::API_KEY).to_string()
                } else {
                    Source::Default.to_string()
                },
            ),
        ]
    }
}

impl Settings {
    /// `built-in (13 models)` or `built-in (13 models) + file: gpt-5, my-model`.
    fn prices_row(&self) -> String {
        let builtin = format!("built-in ({} models)", Prices::builtin().len());
        if self.prices.is_empty() {
            builtin
        } else {
            let names: Vec<&str> = self.prices.keys().map(String::as_str).collect();
            format!("{builtin} + file: {}", names.join(", "))
        }
    }
}

/// Picks the first layer that has a value: flag, then environment, then file, then default.
fn layer<T>(
    flag: (Option<T>, &'static str),
    env: (Option<T>, &'static str),
    file: Option<T>,
    default: T,
) -> Setting<T> {
    if let Some(value) = flag.0 {
        Setting {
            value,
            source: Source::Flag(flag.1),
        }
    } else if let Some(value) = env.0 {
        Setting {
            value,
            source: Source::Env(env.1),
        }
    } else if let Some(value) = file {
        Setting {
            value,
            source: Source::File,
        }
    } else {
        Setting {
            value: default,
            source: Source::Default,
        }
    }
}

/// Like [`layer`] for settings whose default is "none".
fn layer_opt<T>(
    flag: (Option<T>, &'static str),
    env: (Option<T>, &'static str),
    file: Option<T>,
) -> Setting<Option<T>> {
    let s = layer(
        (flag.0.map(Some), flag.1),
        (env.0.map(Some), env.1),
        file.map(Some),
        None,
    );
    Setting {
        value: s.value,
        source: s.source,
    }
}

/// Parses a boolean environment value the way most CLIs do.
fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            var,
            value: value.to_owned(),
            expected: "true or false",
        }),
    }
}

/// Combines the layers. `env` looks a variable up (empty values count as unset), so tests
/// pass a closure over a map instead of touching the process environment.
pub fn resolve(
    flags: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&FileConfig>,
) -> Result<Settings, ConfigError> {
    let get = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
    let path = |name: &'static str| get(name).map(PathBuf::from);
    let store_env = get(env::STORE)
        .map(|v| parse_bool(env::STORE, &v))
        .transpose()?;
    let f = file.cloned().unwrap_or_default();
    Ok(Settings {
        file: file.map(|f| f.path.clone()),
        url: layer(
            (flags.url.clone(), "--url"),
            (get(env::BASE_URL), env::BASE_URL),
            f.url,
            DEFAULT_URL.to_owned(),
        ),
        model: layer(
            (flags.model.clone(), "--model"),
            (get(env::MODEL), env::MODEL),
            f.model,
            DEFAULT_MODEL.to_owned(),
        ),
        store: layer(
            (flags.store, "--store"),
            (store_env, env::STORE),
            f.store,
            false,
        ),
        tools: layer_opt(
            (flags.tools.clone(), "--tools"),
            (path(env::TOOLS), env::TOOLS),
            f.tools,
        ),
        instructions: layer_opt(
            (flags.instructions.clone(), "--instructions"),
            (path(env::INSTRUCTIONS), env::INSTRUCTIONS),
            f.instructions,
        ),
        record_dir: layer_opt(
            (flags.record_dir.clone(), "--record-dir"),
            (path(env::RECORD_DIR), env::RECORD_DIR),
            f.record_dir,
        ),
        theme: layer(
            (flags.theme.clone(), "--theme"),
            (get(env::THEME), env::THEME),
            f.theme,
            DEFAULT_THEME.to_owned(),
        ),
        organization: layer_opt(
            (flags.organization.clone(), "--organization"),
            (get(env::ORG_ID), env::ORG_ID),
            f.organization,
        ),
        project: layer_opt(
            (flags.project.clone(), "--project"),
            (get(env::PROJECT_ID), env::PROJECT_ID),
            f.project,
        ),
        api_key: get(env::API_KEY).map(ApiKey),
        keys: f.keys,
        prices: f.prices,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn file() -> FileConfig {
        super::super::parse(
            "url = \"ws://file/v1\"\nmodel = \"file-model\"\nstore = true\ntheme = \"light\"\n",
            Path::new("/cfg/config.toml"),
        )
        .unwrap()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = resolve(&Overrides::default(), &env_of(&[]), None).unwrap();
        assert_eq!(
            s.url,
            Setting {
                value: DEFAULT_URL.into(),
                source: Source::Default
            }
        );
        assert_eq!(s.model.value, DEFAULT_MODEL);
        assert_eq!(
            s.store,
            Setting {
                value: false,
                source: Source::Default
            }
        );
        assert_eq!(s.theme.value, "default");
        assert_eq!(
            s.tools,
            Setting {
                value: None,
                source: Source::Default
            }
        );
        assert_eq!(s.api_key, None);
        assert_eq!(s.file, None);
    }

    #[test]
    fn file_beats_default() {
        let f = file();
        let s = resolve(&Overrides::default(), &env_of(&[]), Some(&f)).unwrap();
        assert_eq!(
            s.url,
            Setting {
                value: "ws://file/v1".into(),
                source: Source::File
            }
        );
        assert_eq!(
            s.store,
            Setting {
                value: true,
                source: Source::File
            }
        );
        assert_eq!(s.theme.source, Source::File);
        assert_eq!(s.file.as_deref(), Some(Path::new("/cfg/config.toml")));
    }

    #[test]
    fn env_beats_file() {
        let f = file();
        let env = env_of(&[
            ("OPENAI_BASE_URL", "http://env/v1"),
            ("TURNSCOPE_MODEL", "env-model"),
            ("TURNSCOPE_STORE", "off"),
            ("TURNSCOPE_THEME", ""),
        ]);
        let s = resolve(&Overrides::default(), &env, Some(&f)).unwrap();
        assert_eq!(
            s.url,
            Setting {
                value: "http://env/v1".into(),
                source: Source::Env("OPENAI_BASE_URL")
            }
        );
        assert_eq!(s.model.value, "env-model");
        assert_eq!(
            s.store,
            Setting {
                value: false,
                source: Source::Env("TURNSCOPE_STORE")
            }
        );
        // An empty variable counts as unset, so the file still wins.
        assert_eq!(
            s.theme,
            Setting {
                value: "light".into(),
                source: Source::File
            }
        );
    }

    #[test]
    fn flag_beats_env_and_file() {
        let f = file();
        let env = env_of(&[
            ("OPENAI_BASE_URL", "http://env/v1"),
            ("OPENAI_ORG_ID", "org-env"),
        ]);
        let flags = Overrides {
            url: Some("ws://flag/v1".into()),
            store: Some(false),
            organization: Some("org-flag".into()),
            ..Overrides::default()
        };
        let s = resolve(&flags, &env, Some(&f)).unwrap();
        assert_eq!(
            s.url,
            Setting {
                value: "ws://flag/v1".into(),
                source: Source::Flag("--url")
            }
        );
        assert_eq!(
            s.store,
            Setting {
                value: false,
                source: Source::Flag("--store")
            }
        );
        assert_eq!(s.organization.value.as_deref(), Some("org-flag"));
        assert_eq!(s.model.source, Source::File);
    }

    #[test]
    fn sdk_environment_names_are_read() {
        let env = env_of(&[
            ("OPENAI_API_KEY", "sk-proj-abcdefghijklmnop1234"),
            ("OPENAI_ORG_ID", "org-1"),
            ("OPENAI_PROJECT_ID", "proj_1"),
        ]);
        let s = resolve(&Overrides::default(), &env, None).unwrap();
        assert_eq!(s.organization.source, Source::Env("OPENAI_ORG_ID"));
        assert_eq!(s.project.value.as_deref(), Some("proj_1"));
        let key = s.api_key.clone().unwrap();
        assert_eq!(key.expose(), "sk-proj-abcdefghijklmnop1234");
        let shown = format!("{s:?} {:?}", s.rows());
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(shown.contains("sk-…1234"), "{shown}");
    }

    #[test]
    fn bad_boolean_env_names_the_variable() {
        let env = env_of(&[("TURNSCOPE_STORE", "maybe")]);
        let err = resolve(&Overrides::default(), &env, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TURNSCOPE_STORE") && err.contains("\"maybe\""),
            "{err}"
        );
    }

    #[test]
    fn short_secrets_are_fully_hidden() {
        assert_eq!(mask_secret("sk-123"), "…");
        assert_eq!(mask_secret("sk-proj-abcdefghijklmnop1234"), "sk-…1234");
    }
}
