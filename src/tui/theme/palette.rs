//! Fits a theme to the terminal: no colour under `NO_COLOR`, nearest ANSI colours where
//! truecolour is not announced.

use ratatui::style::{Color, Modifier, Style};

use super::Theme;

/// What colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSupport {
    /// None at all (`NO_COLOR`, `TERM=dumb`): only bold, dim, italic and reverse.
    NoColor,
    /// The 16 ANSI colours.
    Ansi16,
    /// The xterm 256-colour palette.
    Ansi256,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColor,
}

impl ColorSupport {
    /// Reads `NO_COLOR`, `COLORTERM` and `TERM` through `env` (tests pass a map).
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> ColorSupport {
        // https://no-color.org: present and not empty disables colour.
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorSupport::NoColor;
        }
        let term = env("TERM").unwrap_or_default();
        if term == "dumb" {
            return ColorSupport::NoColor;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            ColorSupport::TrueColor
        } else if term.contains("256color") {
            ColorSupport::Ansi256
        } else {
            ColorSupport::Ansi16
        }
    }
}

/// The 16 ANSI colours with xterm's default RGB values, for nearest-colour matching.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The RGB value of an xterm 256-colour index.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = i - 16;
            (
                LEVELS[usize::from(n / 36)],
                LEVELS[usize::from(n / 6 % 6)],
                LEVELS[usize::from(n % 6)],
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// Squared distance, with the usual weights for how the eye sees red, green and blue.
fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| u32::from(x.abs_diff(y)).pow(2);
    2 * d(a.0, b.0) + 4 * d(a.1, b.1) + 3 * d(a.2, b.2)
}

/// The ANSI colour that keeps a colour's meaning: its hue picks red, yellow, green, cyan,
/// blue or magenta (so "ok" stays green), its lightness the normal or light variant.
/// Near-greys, and pale tints meant as text, map to black, dark grey, grey or white.
/// Plain RGB distance would turn most pastel themes grey.
pub fn nearest_ansi16(rgb: (u8, u8, u8)) -> Color {
    let (r, g, b) = (i32::from(rgb.0), i32::from(rgb.1), i32::from(rgb.2));
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let spread = max - min;
    // Lightness in per-mille, to stay in integers.
    let light = (max + min) * 1000 / 510;
    if spread < 32 || (light > 750 && spread < 64) {
        return match light {
            0..200 => Color::Black,
            200..600 => Color::DarkGray,
            600..850 => Color::Gray,
            _ => Color::White,
        };
    }
    // Hue in degrees.
    let hue = if max == r {
        (60 * (g - b) / spread).rem_euclid(360)
    } else if max == g {
        60 * (b - r) / spread + 120
    } else {
        60 * (r - g) / spread + 240
    };
    let bright = light > 600;
    let pick = |normal: Color, lighter: Color| if bright { lighter } else { normal };
    match hue {
        18..62 => pick(Color::Yellow, Color::LightYellow),
        62..150 => pick(Color::Green, Color::LightGreen),
        150..200 => pick(Color::Cyan, Color::LightCyan),
        200..260 => pick(Color::Blue, Color::LightBlue),
        260..330 => pick(Color::Magenta, Color::LightMagenta),
        _ => pick(Color::Red, Color::LightRed),
    }
}

/// The nearest colour of the xterm 256 palette (cube and grey ramp, not the 16 the user may
/// have re-coloured).
pub fn nearest_ansi256(rgb: (u8, u8, u8)) -> Color {
    (16..=255u8)
        .min_by_key(|i| distance(rgb, indexed_rgb(*i)))
        .map_or(Color::Reset, Color::Indexed)
}

fn fit_colour(c: Color, support: ColorSupport) -> Color {
    match (support, c) {
        (ColorSupport::Ansi16, Color::Rgb(r, g, b)) => nearest_ansi16((r, g, b)),
        (ColorSupport::Ansi16, Color::Indexed(i)) => nearest_ansi16(indexed_rgb(i)),
        (ColorSupport::Ansi256, Color::Rgb(r, g, b)) => nearest_ansi256((r, g, b)),
        _ => c,
    }
}

fn fit_style(style: Style, support: ColorSupport) -> Style {
    if support == ColorSupport::NoColor {
        // Without colour a background cannot mark anything; reverse video takes its place.
        let mut plain = Style::default()
            .add_modifier(style.add_modifier)
            .remove_modifier(style.sub_modifier);
        if style.bg.is_some_and(|bg| bg != Color::Reset) {
            plain = plain.add_modifier(Modifier::REVERSED);
        }
        return plain;
    }
    Style {
        fg: style.fg.map(|c| fit_colour(c, support)),
        bg: style.bg.map(|c| fit_colour(c, support)),
        ..style
    }
}

impl Theme {
    /// This theme as the terminal can show it.
    #[must_use]
    pub fn fit(mut self, support: ColorSupport) -> Theme {
        self.text = fit_style(self.text, support);
        self.accent = fit_style(self.accent, support);
        self.ok = fit_style(self.ok, support);
        self.warn = fit_style(self.warn, support);
        self.error = fit_style(self.error, support);
        self.muted = fit_style(self.muted, support);
        self.selection = fit_style(self.selection, support);
        self.border = fit_style(self.border, support);
        self.badge = fit_style(self.badge, support);
        self.title = fit_style(self.title, support);
        if support == ColorSupport::NoColor
            && !self.selection.add_modifier.contains(Modifier::REVERSED)
        {
            self.selection = self.selection.add_modifier(Modifier::REVERSED);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::tui::theme::Catalog;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn detection_follows_no_color_colorterm_and_term() {
        let d = |pairs: &[(&str, &str)]| ColorSupport::detect(&env(pairs));
        assert_eq!(
            d(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")]),
            ColorSupport::NoColor
        );
        assert_eq!(
            d(&[("NO_COLOR", ""), ("COLORTERM", "truecolor")]),
            ColorSupport::TrueColor
        );
        assert_eq!(d(&[("COLORTERM", "24bit")]), ColorSupport::TrueColor);
        assert_eq!(d(&[("TERM", "xterm-256color")]), ColorSupport::Ansi256);
        assert_eq!(d(&[("TERM", "xterm")]), ColorSupport::Ansi16);
        assert_eq!(d(&[("TERM", "dumb")]), ColorSupport::NoColor);
    }

    #[test]
    fn nearest_colours_are_sensible() {
        assert_eq!(nearest_ansi16((243, 139, 168)), Color::LightRed); // catppuccin red
        assert_eq!(nearest_ansi16((166, 227, 161)), Color::LightGreen);
        assert_eq!(nearest_ansi16((137, 180, 250)), Color::LightBlue);
        assert_eq!(nearest_ansi16((146, 131, 116)), Color::DarkGray); // gruvbox gray
        assert_eq!(nearest_ansi16((40, 40, 40)), Color::Black);
        assert_eq!(nearest_ansi16((184, 187, 38)), Color::Green); // gruvbox green
        assert_eq!(nearest_ansi16((205, 214, 244)), Color::White); // catppuccin text
        assert_eq!(nearest_ansi16((149, 56, 0)), Color::Yellow); // orange warns as yellow
        assert_eq!(nearest_ansi256((255, 0, 0)), Color::Indexed(196));
        assert_eq!(nearest_ansi256((128, 128, 128)), Color::Indexed(244));
    }

    #[test]
    fn no_color_keeps_only_modifiers_and_marks_selection() {
        for entry in Catalog::built_in().entries() {
            let theme = Catalog::built_in().load(&entry.name).unwrap();
            let plain = theme.clone().fit(ColorSupport::NoColor);
            for (role, style) in plain.roles() {
                assert_eq!((style.fg, style.bg), (None, None), "{} {role}", entry.name);
            }
            assert!(plain.selection.add_modifier.contains(Modifier::REVERSED));
            assert!(
                plain.accent.add_modifier.contains(Modifier::BOLD),
                "{}",
                entry.name
            );
        }
    }

    #[test]
    fn sixteen_colour_terminals_get_no_rgb() {
        for entry in Catalog::built_in().entries() {
            let theme = Catalog::built_in()
                .load(&entry.name)
                .unwrap()
                .fit(ColorSupport::Ansi16);
            for (role, style) in theme.roles() {
                for c in [style.fg, style.bg].into_iter().flatten() {
                    assert!(
                        !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                        "{} {role}: {c}",
                        entry.name
                    );
                }
            }
            // Distinct meanings stay distinct.
            assert_ne!(theme.ok.fg, theme.error.fg, "{}", entry.name);
            assert_ne!(theme.ok.fg, theme.warn.fg, "{}", entry.name);
            assert_ne!(theme.warn.fg, theme.error.fg, "{}", entry.name);
            assert_ne!(theme.text.fg, theme.muted.fg, "{}", entry.name);
        }
    }
}
