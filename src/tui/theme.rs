//! Semantic styles for every screen, loaded from TOML; the only place colours are named.

mod catalog;
mod palette;

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub use catalog::{BUILT_IN, Catalog, Origin};
pub use palette::ColorSupport;

/// The built-in default theme (ANSI colours, follows the terminal palette).
pub const DEFAULT_THEME: &str = include_str!("../../themes/default.toml");

/// Every role a theme defines, in the order `turnscope themes` shows them.
pub const ROLES: [&str; 10] = [
    "text",
    "accent",
    "ok",
    "warn",
    "error",
    "muted",
    "selection",
    "border",
    "badge",
    "title",
];

/// Why a theme file could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThemeError {
    /// Not valid TOML, or an unknown role or field.
    #[error(
        "theme {origin}: {detail}; roles are text, accent, ok, warn, error, muted, selection, border, badge, title"
    )]
    Parse {
        /// File name or `built-in`.
        origin: String,
        /// What the TOML parser said.
        detail: String,
    },
    /// A colour name that is not a colour.
    #[error(
        "theme {origin}: role {role} has colour {value:?}; use a name like \"cyan\", an index like \"208\" or \"#rrggbb\""
    )]
    Colour {
        /// File name.
        origin: String,
        /// The role.
        role: String,
        /// The bad value, quoted.
        value: String,
    },
    /// A theme that does not say `extends = "…"` must define every role.
    #[error(
        "theme {origin}: role {role} is missing; define it under [roles] or add extends = \"default\" to inherit the rest"
    )]
    MissingRole {
        /// File name.
        origin: String,
        /// The role.
        role: &'static str,
    },
    /// No built-in or user theme has this name.
    #[error("no theme named {name:?}; available: {available} (see `turnscope themes`)")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        available: String,
    },
    /// A user theme file could not be read.
    #[error("cannot read theme file {path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        detail: String,
    },
}

/// One role's style as written in TOML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Roles {
    text: Option<StyleSpec>,
    accent: Option<StyleSpec>,
    ok: Option<StyleSpec>,
    warn: Option<StyleSpec>,
    error: Option<StyleSpec>,
    muted: Option<StyleSpec>,
    selection: Option<StyleSpec>,
    border: Option<StyleSpec>,
    badge: Option<StyleSpec>,
    title: Option<StyleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    /// Inherit roles this file leaves out from the named theme.
    extends: Option<String>,
    #[serde(default)]
    roles: Roles,
}

/// The styles views draw with, by meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    /// Ordinary text.
    pub text: Style,
    /// Highlights: the app name, the active tab, keys in hints.
    pub accent: Style,
    /// Good news: connected, completed, savings.
    pub ok: Style,
    /// Attention: queued, the 50-minute mark.
    pub warn: Style,
    /// Errors, the 55-minute mark, dropped turns.
    pub error: Style,
    /// Secondary text: labels, placeholders.
    pub muted: Style,
    /// The selected row.
    pub selection: Style,
    /// Block borders.
    pub border: Style,
    /// Badges such as "emulator".
    pub badge: Style,
    /// Block titles.
    pub title: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::from_toml(DEFAULT_THEME, "built-in", &Theme::fallback())
            .unwrap_or_else(|_| Theme::fallback())
    }
}

impl Theme {
    /// A theme built in code, used only if the embedded TOML could not be read.
    fn fallback() -> Self {
        Theme {
            name: "fallback".into(),
            text: Style::default(),
            accent: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            warn: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            error: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            muted: Style::default().fg(Color::DarkGray),
            selection: Style::default().add_modifier(Modifier::REVERSED),
            border: Style::default().fg(Color::DarkGray),
            badge: Style::default().fg(Color::Black).bg(Color::Magenta),
            title: Style::default().add_modifier(Modifier::BOLD),
        }
    }

    /// The style of a role by name (see [`ROLES`]).
    pub fn role(&self, role: &str) -> Option<Style> {
        Some(match role {
            "text" => self.text,
            "accent" => self.accent,
            "ok" => self.ok,
            "warn" => self.warn,
            "error" => self.error,
            "muted" => self.muted,
            "selection" => self.selection,
            "border" => self.border,
            "badge" => self.badge,
            "title" => self.title,
            _ => return None,
        })
    }

    /// Every role's style, in [`ROLES`] order.
    pub fn roles(&self) -> [(&'static str, Style); 10] {
        ROLES.map(|r| (r, self.role(r).unwrap_or_default()))
    }

    /// The theme a file extends, if it says `extends = "…"` (read before the file is loaded).
    pub fn extends_of(text: &str, origin: &str) -> Result<Option<String>, ThemeError> {
        parse_file(text, origin).map(|f| f.extends)
    }

    /// Reads a complete theme: every role must be defined, unless the file names a theme it
    /// `extends`, which `base` must then be.
    pub fn strict_from_toml(
        text: &str,
        origin: &str,
        base: Option<&Theme>,
    ) -> Result<Theme, ThemeError> {
        let file = parse_file(text, origin)?;
        let defined = [
            file.roles.text.is_some(),
            file.roles.accent.is_some(),
            file.roles.ok.is_some(),
            file.roles.warn.is_some(),
            file.roles.error.is_some(),
            file.roles.muted.is_some(),
            file.roles.selection.is_some(),
            file.roles.border.is_some(),
            file.roles.badge.is_some(),
            file.roles.title.is_some(),
        ];
        match (file.extends.is_some(), base) {
            (true, Some(base)) => Theme::from_toml(text, origin, base),
            _ => {
                if let Some((role, _)) = ROLES.iter().zip(defined).find(|(_, d)| !d) {
                    return Err(ThemeError::MissingRole {
                        origin: origin.to_owned(),
                        role,
                    });
                }
                Theme::from_toml(text, origin, &Theme::fallback())
            }
        }
    }

    /// Reads a theme file; roles it leaves out come from `base`.
    pub fn from_toml(text: &str, origin: &str, base: &Theme) -> Result<Theme, ThemeError> {
        let file = parse_file(text, origin)?;
        let r = file.roles;
        let pick =
            |role: &str, spec: Option<StyleSpec>, base: Style| -> Result<Style, ThemeError> {
                spec.map_or(Ok(base), |s| style_of(&s, origin, role))
            };
        Ok(Theme {
            name: file.name.unwrap_or_else(|| origin.to_owned()),
            text: pick("text", r.text, base.text)?,
            accent: pick("accent", r.accent, base.accent)?,
            ok: pick("ok", r.ok, base.ok)?,
            warn: pick("warn", r.warn, base.warn)?,
            error: pick("error", r.error, base.error)?,
            muted: pick("muted", r.muted, base.muted)?,
            selection: pick("selection", r.selection, base.selection)?,
            border: pick("border", r.border, base.border)?,
            badge: pick("badge", r.badge, base.badge)?,
            title: pick("title", r.title, base.title)?,
        })
    }
}

fn parse_file(text: &str, origin: &str) -> Result<ThemeFile, ThemeError> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::config::line_of(text, s.start))
            .unwrap_or(1);
        ThemeError::Parse {
            origin: format!("{origin} line {line}"),
            detail: e.message().to_owned(),
        }
    })
}

fn colour(value: &str, origin: &str, role: &str) -> Result<Color, ThemeError> {
    Color::from_str(value).map_err(|_| ThemeError::Colour {
        origin: origin.to_owned(),
        role: role.to_owned(),
        value: value.to_owned(),
    })
}

fn style_of(spec: &StyleSpec, origin: &str, role: &str) -> Result<Style, ThemeError> {
    let mut style = Style::default();
    if let Some(fg) = &spec.fg {
        style = style.fg(colour(fg, origin, role)?);
    }
    if let Some(bg) = &spec.bg {
        style = style.bg(colour(bg, origin, role)?);
    }
    for (on, m) in [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.reversed, Modifier::REVERSED),
    ] {
        if on {
            style = style.add_modifier(m);
        }
    }
    Ok(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_with_every_role() {
        let t = Theme::from_toml(DEFAULT_THEME, "built-in", &Theme::fallback()).unwrap();
        assert_eq!(t.name, "default");
        assert_eq!(t.accent.fg, Some(Color::Cyan));
        assert_eq!(t.error.fg, Some(Color::Red));
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn bad_colour_and_unknown_role_are_named() {
        let base = Theme::default();
        let err = Theme::from_toml("[roles]\nok = { fg = \"greenish\" }", "mine.toml", &base)
            .unwrap_err();
        assert!(err.to_string().contains("\"greenish\""), "{err}");
        assert!(err.to_string().contains("role ok"), "{err}");
        let err =
            Theme::from_toml("[roles]\nshiny = { fg = \"red\" }", "mine.toml", &base).unwrap_err();
        assert!(err.to_string().contains("shiny"), "{err}");
    }

    #[test]
    fn partial_file_layers_over_base() {
        let base = Theme::default();
        let t = Theme::from_toml(
            "name = \"x\"\n[roles]\nok = { fg = \"#00ff00\" }",
            "x.toml",
            &base,
        )
        .unwrap();
        assert_eq!(t.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(t.warn, base.warn);
    }
}
