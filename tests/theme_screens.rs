//! The live TUI drawn in different themes: the Buffer's debug snapshot records every style.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screens.rs"]
mod screens;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use turnscope::tui::app::App;
use turnscope::tui::theme::{Catalog, ColorSupport, Theme};
use turnscope::tui::view;

/// The first six frames of the tool loop at 80×24 in `theme`.
fn app_in(theme: Theme) -> App {
    screens::app_with(
        "tool_loop.tsjsonl",
        Some(6),
        screens::Start {
            theme,
            size: Some((80, 24)),
            recording: "/data/sessions/2026-11-25T10-00-00-000Z.tsjsonl",
            ..screens::Start::default()
        },
    )
}

fn buffer(app: &App) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().buffer().clone()
}

fn theme(name: &str, support: ColorSupport) -> Theme {
    Catalog::built_in().load(name).unwrap().fit(support)
}

#[test]
fn catppuccin_mocha_truecolor() {
    let app = app_in(theme("catppuccin-mocha", ColorSupport::TrueColor));
    insta::assert_snapshot!(format!("{:?}", buffer(&app)));
}

#[test]
fn light_theme() {
    let app = app_in(theme("light", ColorSupport::TrueColor));
    insta::assert_snapshot!(format!("{:?}", buffer(&app)));
}

#[test]
fn same_screen_different_styles() {
    let dark = buffer(&app_in(theme("default", ColorSupport::TrueColor)));
    let mocha = buffer(&app_in(theme("catppuccin-mocha", ColorSupport::TrueColor)));
    let symbols = |b: &ratatui::buffer::Buffer| -> String {
        b.content().iter().map(|c| c.symbol().to_owned()).collect()
    };
    assert_eq!(
        symbols(&dark),
        symbols(&mocha),
        "a theme changes styles only"
    );
    assert_ne!(dark, mocha);
}

#[test]
fn no_color_draws_no_colour_at_all() {
    let b = buffer(&app_in(theme("catppuccin-mocha", ColorSupport::NoColor)));
    for cell in b.content() {
        assert!(matches!(cell.fg, Color::Reset), "{cell:?}");
        assert!(matches!(cell.bg, Color::Reset), "{cell:?}");
    }
}

#[test]
fn sixteen_colours_draw_no_rgb() {
    let b = buffer(&app_in(theme("gruvbox-dark", ColorSupport::Ansi16)));
    for cell in b.content() {
        for c in [cell.fg, cell.bg] {
            assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{cell:?}");
        }
    }
}
