//! The README's example `config.toml` is a valid config: it parses and its key remaps apply.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use turnscope::config;
use turnscope::tui::keymap;

#[test]
fn readme_example_config_is_valid() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let text = &section[start..start + section[start..].find("```").unwrap()];
    let path = Path::new("/home/me/.config/turnscope/config.toml");
    let file = config::parse(text, path).unwrap();
    assert_eq!(file.theme.as_deref(), Some("catppuccin-mocha"));
    assert!(!file.keys.is_empty());
    keymap::remap::remap(&keymap::defaults(), &file.keys, path).unwrap();
    let replay = turnscope::tui::replay::keys::remapped(&file.keys, path).unwrap();
    assert_ne!(replay, turnscope::tui::replay::keys::ReplayKeys::default());
    let settings = config::resolve(&config::Overrides::default(), &|_| None, Some(&file)).unwrap();
    turnscope::tui::theme::Catalog::built_in()
        .load(&settings.theme.value)
        .unwrap();
}
