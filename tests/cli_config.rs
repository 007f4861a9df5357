//! The config, themes, completions, man and --log surfaces, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cli.rs"]
mod cli;

use cli::turnscope;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_shows_each_source_and_masks_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "model = \"file-model\"\ntheme = \"light\"\n").unwrap();
    let out = turnscope(
        &[
            "--model",
            "flag-model",
            "config",
            "--config",
            file.to_str().unwrap(),
        ],
        &[
            ("OPENAI_API_KEY", "sk-proj-secretsecretsecret9876"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    assert!(line("model").contains("flag-model") && line("model").ends_with("flag --model"));
    assert!(line("url").ends_with("env OPENAI_BASE_URL"), "{text}");
    assert!(line("theme").contains("light") && line("theme").ends_with("file"));
    assert!(line("store").ends_with("default"));
    assert!(line("api key").contains("sk-…9876"), "{text}");
    assert!(!text.contains("secretsecret"), "{text}");
    assert!(text.contains(file.to_str().unwrap()));
}

#[test]
fn bad_config_fails_with_file_line_and_key_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "model = \"m\"\nthemme = \"light\"\n").unwrap();
    let path = file.to_str().unwrap();
    let out = turnscope(&["config", "--config", path], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("turnscope: config file "), "{err}");
    assert!(
        err.contains(path) && err.contains("line 2") && err.contains("`themme`"),
        "{err}"
    );
    assert!(err.contains("did you mean `theme`?"), "{err}");
    let out = turnscope(&["config", "--config", path, "--ignore-config"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--ignore-config"));
    // The same file through the environment.
    let out = turnscope(&["config"], &[("TURNSCOPE_CONFIG", path)]);
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}

#[test]
fn unknown_theme_is_named() {
    let out = turnscope(&["config", "--ignore-config", "--theme", "solarized"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("\"solarized\"") && err.contains("catppuccin-mocha"),
        "{err}"
    );
    assert!(err.contains("flag --theme"), "{err}");
}

#[test]
fn themes_listing_is_plain_when_piped() {
    let out = turnscope(&["themes"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for name in [
        "default",
        "light",
        "high-contrast",
        "catppuccin-mocha",
        "gruvbox-dark",
    ] {
        assert!(text.contains(&format!("{name}  built-in")), "{text}");
    }
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn completions_and_man_page_come_out() {
    for shell in ["bash", "zsh", "fish"] {
        let out = turnscope(&["completions", shell], &[]);
        assert!(out.status.success());
        assert!(stdout(&out).contains("themes"), "{shell}");
    }
    let out = turnscope(&["man"], &[]);
    assert!(stdout(&out).contains(".TH turnscope 1"));
}

#[test]
fn log_goes_to_the_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ts.log");
    let out = turnscope(
        &["--log", log.to_str().unwrap(), "config", "--ignore-config"],
        &[("RUST_LOG", "turnscope=debug")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("turnscope started"), "{text}");
    assert!(text.contains("Config"), "{text}");
    let out = turnscope(
        &["--log", log.to_str().unwrap(), "config"],
        &[("RUST_LOG", "turnscope=loud")],
    );
    assert!(stderr(&out).contains("RUST_LOG"), "{}", stderr(&out));
}

#[test]
fn config_names_the_effective_target_and_lints_url_and_tools() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "model = \"m\"\n").unwrap();
    let cfg = file.to_str().unwrap();
    // No key, no url: the TUI will use the emulator, and config says so.
    let out = turnscope(&["config", "--config", cfg], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let target = text.lines().find(|l| l.starts_with("target ")).unwrap();
    assert!(target.contains("built-in emulator"), "{text}");
    let out = turnscope(
        &["config", "--config", cfg],
        &[("OPENAI_API_KEY", "sk-test-0000000000001234")],
    );
    let text = stdout(&out);
    assert!(text.contains("wss://api.openai.com/v1/responses"), "{text}");
    // A bad url and a missing tools file are caught by the linter, with the thing named.
    for (body, what) in [
        ("url = \"ftp://x\"\n", "ftp"),
        ("tools = \"missing.json\"\n", "missing.json"),
    ] {
        std::fs::write(&file, body).unwrap();
        let out = turnscope(&["config", "--config", cfg], &[]);
        assert!(!out.status.success(), "{body}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(what), "{err}");
    }
    // The live TUI refuses a bad --url before touching the terminal.
    let out = turnscope(&["--ignore-config", "--url", "ftp://x"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("scheme `ftp`"), "{}", stderr(&out));
}

/// `[keys.replay]` remaps the replay's own keys: `config` checks them like the live ones, and a
/// clash stops `replay` with the file, line and both actions before the screen opens.
#[test]
fn replay_key_remaps_are_checked_by_config_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[keys.replay]\nplay = [\"p\"]\n").unwrap();
    let out = turnscope(&["config", "--config", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("keys.replay.play = p"),
        "{}",
        stdout(&out)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "model = \"m\"\n[keys.replay]\nplay = [\"j\"]\n").unwrap();
    let path = bad.to_str().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tool_loop.tsjsonl"
    );
    for args in [
        vec!["config", "--config", path],
        vec!["replay", fixture, "--config", path],
    ] {
        let out = turnscope(&args, &[]);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(path) && err.contains("line 3") && err.contains("keys.replay.play"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("replay.play") && err.contains("replay.next"),
            "{args:?}: {err}"
        );
    }
}
