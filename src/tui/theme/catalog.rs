//! The themes there are: built-in TOML presets, with user files layered over them by name.

use std::path::{Path, PathBuf};

use super::{Theme, ThemeError};

/// The built-in themes, by name: embedded so the binary needs no files.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../../themes/default.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    (
        "catppuccin-mocha",
        include_str!("../../../themes/catppuccin-mocha.toml"),
    ),
    (
        "gruvbox-dark",
        include_str!("../../../themes/gruvbox-dark.toml"),
    ),
];

/// Where a theme comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Shipped in the binary.
    BuiltIn,
    /// A user file (which may replace a built-in of the same name).
    User {
        /// The file.
        path: PathBuf,
        /// It replaces a built-in theme.
        overrides: bool,
    },
}

/// One theme's source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name `--theme` takes: the file name without `.toml`.
    pub name: String,
    /// Where it comes from.
    pub origin: Origin,
    /// Its TOML.
    pub text: String,
}

impl Entry {
    /// How errors name it: the file path, or `built-in NAME`.
    pub fn label(&self) -> String {
        match &self.origin {
            Origin::BuiltIn => format!("built-in {}", self.name),
            Origin::User { path, .. } => path.display().to_string(),
        }
    }
}

/// All themes by name, user files after (and over) the built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::built_in()
    }
}

impl Catalog {
    /// Only the built-in themes.
    pub fn built_in() -> Catalog {
        let entries = BUILT_IN
            .iter()
            .map(|(name, text)| Entry {
                name: (*name).to_owned(),
                origin: Origin::BuiltIn,
                text: (*text).to_owned(),
            })
            .collect();
        Catalog { entries }
    }

    /// The built-in themes plus every `*.toml` in `dir` (a missing folder adds nothing).
    pub fn with_user_dir(dir: Option<&Path>) -> Result<Catalog, ThemeError> {
        let mut catalog = Catalog::built_in();
        let Some(dir) = dir else {
            return Ok(catalog);
        };
        let read_err = |path: &Path, e: std::io::Error| ThemeError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(catalog),
            Err(e) => return Err(read_err(dir, e)),
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            catalog.add(name, path, text);
        }
        Ok(catalog)
    }

    /// Adds a user theme, replacing any theme of the same name.
    pub fn add(&mut self, name: String, path: PathBuf, text: String) {
        let overrides = self.entries.iter().any(|e| e.name == name);
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name,
            origin: Origin::User { path, overrides },
            text,
        });
    }

    /// Every theme, built-in first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The names, comma-separated (for error messages).
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        names.join(", ")
    }

    /// Loads a theme by name, following `extends` (a built-in of the same name when a user
    /// file extends itself, so an override can change just a role or two).
    pub fn load(&self, name: &str) -> Result<Theme, ThemeError> {
        self.load_at(name, 0, None)
    }

    fn load_at(
        &self,
        name: &str,
        depth: usize,
        skip_user: Option<&str>,
    ) -> Result<Theme, ThemeError> {
        let unknown = || ThemeError::Unknown {
            name: name.to_owned(),
            available: self.names(),
        };
        let entry = if skip_user == Some(name) {
            let text = BUILT_IN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .ok_or_else(unknown)?;
            Entry {
                name: name.to_owned(),
                origin: Origin::BuiltIn,
                text: text.to_owned(),
            }
        } else {
            self.entries
                .iter()
                .find(|e| e.name == name)
                .cloned()
                .ok_or_else(unknown)?
        };
        let label = entry.label();
        let base = match Theme::extends_of(&entry.text, &label)? {
            Some(parent) if depth < 8 => {
                let skip = (parent == name).then_some(name);
                Some(self.load_at(&parent, depth + 1, skip)?)
            }
            Some(_) => {
                return Err(ThemeError::Parse {
                    origin: label,
                    detail: "`extends` goes round in a circle".into(),
                });
            }
            None => None,
        };
        let mut theme = Theme::strict_from_toml(&entry.text, &label, base.as_ref())?;
        theme.name = entry.name;
        Ok(theme)
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier};

    use super::*;
    use crate::tui::theme::ROLES;

    #[test]
    fn every_built_in_theme_loads_and_defines_every_role() {
        let catalog = Catalog::built_in();
        assert!(catalog.entries().len() >= 4);
        for (name, text) in BUILT_IN {
            // Strict: no base, so a role left out would be an error.
            let theme =
                Theme::strict_from_toml(text, name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            let table: toml::Table = toml::from_str(text).unwrap();
            let roles = table["roles"].as_table().unwrap();
            for role in ROLES {
                assert!(roles.contains_key(role), "{name} does not name {role}");
            }
            assert_eq!(roles.len(), ROLES.len(), "{name} has unknown roles");
            assert_eq!(catalog.load(name).unwrap().name, *name);
            assert_ne!(
                theme.text, theme.selection,
                "{name}: selection must stand out"
            );
        }
    }

    #[test]
    fn default_is_ansi_only_so_it_follows_the_palette() {
        let theme = Catalog::built_in().load("default").unwrap();
        for (role, style) in theme.roles() {
            for c in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "default {role} uses {c}"
                );
            }
        }
        assert!(theme.selection.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn missing_role_names_file_and_role() {
        let text = "[roles]\ntext = {}\naccent = {}\nok = {}\nwarn = {}\nerror = {}\nmuted = {}\nselection = {}\nborder = {}\nbadge = {}\n";
        let mut catalog = Catalog::built_in();
        catalog.add("mine".into(), "/u/themes/mine.toml".into(), text.into());
        let err = catalog.load("mine").unwrap_err().to_string();
        assert!(err.contains("/u/themes/mine.toml"), "{err}");
        assert!(err.contains("role title is missing"), "{err}");
    }

    #[test]
    fn bad_colour_names_file_role_and_value() {
        let text = BUILT_IN[0].1.replace("fg = \"green\"", "fg = \"grene\"");
        let mut catalog = Catalog::built_in();
        catalog.add("mine".into(), "/u/themes/mine.toml".into(), text);
        let err = catalog.load("mine").unwrap_err().to_string();
        assert!(err.contains("/u/themes/mine.toml"), "{err}");
        assert!(
            err.contains("role ok") && err.contains("\"grene\""),
            "{err}"
        );
    }

    #[test]
    fn user_files_override_and_extend_by_name() {
        let dir = tempfile::tempdir().unwrap();
        // Overrides the built-in "default", changing one role and inheriting the rest.
        std::fs::write(
            dir.path().join("default.toml"),
            "extends = \"default\"\n[roles]\nok = { fg = \"#00ff00\" }\n",
        )
        .unwrap();
        // A new theme built on another one.
        std::fs::write(
            dir.path().join("night.toml"),
            "extends = \"gruvbox-dark\"\n[roles]\naccent = { fg = \"magenta\" }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a theme").unwrap();
        let catalog = Catalog::with_user_dir(Some(dir.path())).unwrap();
        let default = catalog.load("default").unwrap();
        assert_eq!(default.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(default.error.fg, Some(Color::Red));
        let entry = catalog
            .entries()
            .iter()
            .find(|e| e.name == "default")
            .unwrap();
        assert!(matches!(
            entry.origin,
            Origin::User {
                overrides: true,
                ..
            }
        ));
        let night = catalog.load("night").unwrap();
        let gruvbox = catalog.load("gruvbox-dark").unwrap();
        assert_eq!(night.accent.fg, Some(Color::Magenta));
        assert_eq!(night.error, gruvbox.error);
        assert_eq!(catalog.entries().len(), BUILT_IN.len() + 1);
    }

    #[test]
    fn unknown_theme_lists_the_names() {
        let err = Catalog::built_in()
            .load("solarised")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"solarised\"") && err.contains("gruvbox-dark"),
            "{err}"
        );
    }

    #[test]
    fn extends_loops_are_errors_not_hangs() {
        let mut catalog = Catalog::built_in();
        catalog.add("a".into(), "a.toml".into(), "extends = \"b\"".into());
        catalog.add("b".into(), "b.toml".into(), "extends = \"a\"".into());
        assert!(catalog.load("a").is_err());
    }
}
