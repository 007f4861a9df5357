//! `turnscope themes`: every built-in and user theme, each with a small coloured sample.

use std::io::IsTerminal;
use std::process::ExitCode;

use crossterm::style::{Attribute, ContentStyle, StyledContent};
use ratatui::style::{Modifier, Style};

use crate::tui::theme::{Catalog, ColorSupport, Origin, Theme};

/// Arguments of `turnscope themes`.
#[derive(Debug, clap::Args)]
pub struct ThemesArgs {
    /// No escape codes: the samples as plain text with each role's colours spelled out.
    #[arg(long)]
    pub plain: bool,
}

/// `text` drawn in `style` with ANSI escapes (plain when `colour` is false).
fn paint(text: &str, style: Style, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let mut cs = ContentStyle {
        foreground_color: style.fg.map(Into::into),
        background_color: style.bg.map(Into::into),
        ..ContentStyle::default()
    };
    for (m, a) in [
        (Modifier::BOLD, Attribute::Bold),
        (Modifier::DIM, Attribute::Dim),
        (Modifier::ITALIC, Attribute::Italic),
        (Modifier::REVERSED, Attribute::Reverse),
    ] {
        if style.add_modifier.contains(m) {
            cs.attributes.set(a);
        }
    }
    StyledContent::new(cs, text).to_string()
}

/// `cyan bold`, `#cdd6f4 on #45475a`, `reversed`: a style in words.
pub fn describe(style: Style) -> String {
    let mut parts = Vec::new();
    if let Some(fg) = style.fg {
        parts.push(fg.to_string().to_lowercase());
    }
    if let Some(bg) = style.bg {
        parts.push(format!("on {}", bg.to_string().to_lowercase()));
    }
    for (m, word) in [
        (Modifier::BOLD, "bold"),
        (Modifier::DIM, "dim"),
        (Modifier::ITALIC, "italic"),
        (Modifier::REVERSED, "reversed"),
    ] {
        if style.add_modifier.contains(m) {
            parts.push(word.to_owned());
        }
    }
    if parts.is_empty() {
        "plain".into()
    } else {
        parts.join(" ")
    }
}

/// A few lines in the shape of the live TUI, drawn in `theme`.
pub fn sample(theme: &Theme, colour: bool) -> Vec<String> {
    const WIDTH: usize = 42;
    let p = |text: &str, style: Style| paint(text, style, colour);
    let row = |segments: &[(&str, Style)]| {
        let used: usize = segments.iter().map(|(t, _)| t.chars().count()).sum();
        let body: String = segments.iter().map(|(t, s)| p(t, *s)).collect();
        let pad = " ".repeat(WIDTH.saturating_sub(used));
        format!(
            "{}{body}{pad}{}",
            p("│ ", theme.border),
            p(" │", theme.border)
        )
    };
    let rule = "─".repeat(WIDTH - 5);
    vec![
        format!(
            "{}{} {} {} {}",
            p(" turnscope ", theme.accent),
            p(" emulator ", theme.badge),
            p("● connected", theme.ok),
            p("age 51:20", theme.warn),
            p("gpt-5.1", theme.muted),
        ),
        format!(
            "{}{}{}",
            p("┌ ", theme.border),
            p("Turns", theme.title),
            p(&format!(" {rule}┐"), theme.border)
        ),
        row(&[
            ("#1  done    1.2 s  cached 94%", theme.text),
            ("  +512 tok", theme.muted),
        ]),
        row(&[(
            "#2  running 0.4 s  read_file(path)        ",
            theme.selection,
        )]),
        row(&[("#3  error   1011 keepalive timeout", theme.error)]),
        p(&format!("└{}┘", "─".repeat(WIDTH + 2)), theme.border),
    ]
}

/// The listing: each theme's name, origin, sample and (plain) role colours.
pub fn listing(catalog: &Catalog, support: ColorSupport, plain: bool) -> String {
    let colour = !plain && support != ColorSupport::NoColor;
    let mut out = String::new();
    for entry in catalog.entries() {
        let origin = match &entry.origin {
            Origin::BuiltIn => "built-in".to_owned(),
            Origin::User {
                path,
                overrides: true,
            } => {
                format!("{} (overrides the built-in)", path.display())
            }
            Origin::User { path, .. } => path.display().to_string(),
        };
        out.push_str(&format!("{}  {origin}\n", entry.name));
        match catalog.load(&entry.name) {
            Ok(theme) => {
                let shown = theme.clone().fit(support);
                for line in sample(&shown, colour) {
                    out.push_str(&format!("  {line}\n"));
                }
                if !colour {
                    for (role, style) in theme.roles() {
                        out.push_str(&format!("    {role:<10} {}\n", describe(style)));
                    }
                }
            }
            Err(e) => out.push_str(&format!("  unusable: {e}\n")),
        }
        out.push('\n');
    }
    out
}

/// Runs `themes`.
pub fn run(args: &ThemesArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::with_user_dir(crate::config::themes_dir().as_deref())?;
    let support = ColorSupport::detect(&|k| std::env::var(k).ok());
    let plain = args.plain || !std::io::stdout().is_terminal();
    print!("{}", listing(&catalog, support, plain));
    if let Some(dir) = crate::config::themes_dir() {
        println!(
            "Use one with --theme NAME or `theme = \"NAME\"` in config.toml; add your own as {}/NAME.toml",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_shows_every_theme_and_role() {
        let text = listing(&Catalog::built_in(), ColorSupport::TrueColor, true);
        for (name, _) in crate::tui::theme::BUILT_IN {
            assert!(
                text.contains(&format!("{name}  built-in")),
                "{name}\n{text}"
            );
        }
        assert!(text.contains("accent     cyan bold"), "{text}");
        assert!(text.contains("#89b4fa bold"), "{text}");
        assert!(!text.contains('\u{1b}'), "plain listing has escapes");
    }

    #[test]
    fn coloured_listing_uses_escapes_unless_no_color() {
        let text = listing(&Catalog::built_in(), ColorSupport::TrueColor, false);
        assert!(text.contains("\u{1b}[38;2;137;180;250m"), "{text}");
        let text = listing(&Catalog::built_in(), ColorSupport::NoColor, false);
        assert!(!text.contains("\u{1b}["), "NO_COLOR listing has escapes");
    }
}
