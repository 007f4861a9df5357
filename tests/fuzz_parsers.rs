//! Property tests: every parser a user feeds (key specs, `--break` conditions, replay `--at` and
//! `:` jump targets and searches, durations, URLs, themes, scenario and latency profile files,
//! `config.toml`) takes any string without panicking, and answers either a value or an error.
//!
//! The default is small for CI; `FUZZ_CASES=N` runs N cases per property. The figure recorded
//! in the README comes from `FUZZ_CASES=84000 cargo test --release --test fuzz_parsers`
//! (12 properties, 1,008,000 cases, ~5 minutes on 2 loaded cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use turnscope::config;
use turnscope::emulator::{LatencyProfile, MAX_OUTPUT_BYTES, MAX_SAY_WORDS, Scenario};
use turnscope::frame::Dir;
use turnscope::latency::{Transport, TurnLoad, predict_turn, wait_of_us};
use turnscope::proxy::{Breakpoint, Breakpoints, Condition};
use turnscope::replay::{Index, IndexOptions};
use turnscope::tui::keymap::{self, remap};
use turnscope::tui::replay::app::{PromptKind, ReplayAction, ReplayApp, update};
use turnscope::tui::replay::resolve::resolve;
use turnscope::tui::theme::{Catalog, Theme};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Strings made of `vocab` pieces (the words a parser looks for, multi-byte characters that
/// sit where it slices, separators) mixed with arbitrary characters, or any string at all.
fn hostile(vocab: &'static [&'static str]) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vocab).prop_map(str::to_owned),
        1 => "\\PC{0,3}",
        1 => ".{0,2}",
    ];
    prop_oneof![
        3 => prop::collection::vec(piece, 0..8).prop_map(|p| p.concat()),
        1 => ".{0,40}",
        1 => any::<String>(),
    ]
}

const MULTIBYTE: [&str; 8] = ["é", "ü", "ß", "日本", "🙂", "\u{301}", "\u{0}", "\u{2028}"];

const KEY_WORDS: &[&str] = &[
    "ctrl", "c", "alt", "a", "meta", "m", "shift", "s", "-", "+", "f", "F", "1", "12", "13", "0",
    "enter", "tab", "pgdn", "space", "esc", " ", "é", "ü", "ß", "日本", "🙂", "\u{301}",
];

const BREAK_WORDS: &[&str] = &[
    "c2s:",
    "s2c:",
    "*",
    "all",
    "/",
    "response",
    "/response/status",
    "==",
    " ",
    "\"failed\"",
    "null",
    "{",
    "}",
    "[",
    "1e999",
    "~1",
    "~0",
    "é",
    "🙂",
    "\u{0}",
    "type",
];

const TARGET_WORDS: &[&str] = &[
    "#",
    "resp",
    "resp_",
    "0",
    "1",
    "2",
    "3",
    "99999999999999999999",
    "-",
    "+",
    ".",
    "5",
    "s",
    "ms",
    "m",
    "h",
    "us",
    "ns",
    "d",
    "1e308",
    "inf",
    "NaN",
    " ",
    "é",
    "🙂",
];

const URL_WORDS: &[&str] = &[
    "http",
    "https",
    "ws",
    "wss",
    "ftp",
    "://",
    "/",
    "v1",
    "responses",
    "?",
    "#",
    "@",
    ":",
    "[",
    "]",
    "::1",
    "127.0.0.1",
    "localhost",
    "8787",
    "user:pw",
    "key=",
    "sk-x",
    " ",
    "é",
    "🙂",
    "%",
];

fn toml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile(KEY_WORDS),
        hostile(URL_WORDS),
        prop::sample::select(&MULTIBYTE[..]).prop_map(str::to_owned),
    ]
    .prop_map(|s| toml::Value::String(s).to_string())
}

/// A TOML value as text: strings (escaped properly, so parsers get past the TOML layer),
/// numbers at the edges, arrays, or a bare arbitrary token.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => toml_string(),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(&["9223372036854775807", "0", "-1", "1e300", "1e-300", "inf",
            "nan", "-0.0", "true", "false"][..]).prop_map(str::to_owned),
        1 => prop::collection::vec(toml_string(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => ".{0,12}",
    ]
}

/// A TOML document from the keys and tables the parsers know, with hostile values.
fn toml_doc(
    tables: &'static [&'static str],
    keys: Vec<&'static str>,
) -> impl Strategy<Value = String> {
    let line = prop_oneof![
        1 => prop::sample::select(tables).prop_map(str::to_owned),
        4 => (prop::sample::select(keys), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => ".{0,20}",
    ];
    prop_oneof![
        6 => prop::collection::vec(line, 0..14).prop_map(|l| l.join("\n")),
        1 => ".{0,80}",
    ]
}

const CONFIG_TABLES: &[&str] = &[
    "[keys.turns]",
    "[keys.global]",
    "[keys.composer]",
    "[keys.offer]",
    "[keys.help]",
    "[keys.replay]",
    "[keys.replay-diff]",
    "[keys.é]",
    "[keys]",
    "[x]",
];
/// The keys `config.toml` knows (its own list), action names and near misses.
fn config_keys() -> Vec<&'static str> {
    let mut keys = config::KEYS.to_vec();
    keys.extend(["next", "prev", "quit", "help", "send", "play", "é", "nxet"]);
    keys
}
const THEME_TABLES: &[&str] = &["[roles]", "[roles.accent]", "[x]"];
/// Every theme role (the theme's own list), style fields and dotted forms.
fn theme_keys() -> Vec<&'static str> {
    let mut keys = turnscope::tui::theme::ROLES.to_vec();
    keys.extend([
        "name",
        "extends",
        "fg",
        "bg",
        "bold",
        "dim",
        "italic",
        "reversed",
        "accent.fg",
        "ok.bg",
    ]);
    keys
}
const SCENARIO_TABLES: &[&str] = &["[[turns]]", "[[tools]]", "[[turns.calls]]", "[turns.fault]"];
const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "instructions",
    "user",
    "say",
    "say_words",
    "fail",
    "calls",
    "name",
    "arguments",
    "output",
    "output_bytes",
    "output_kind",
    "kind",
    "after_events",
    "type",
];
const LATENCY_TABLES: &[&str] = &["[p]", "[q]", "[é]"];
/// Every latency profile parameter (the profile's own list) and the noise seed.
fn latency_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = LatencyProfile::zero().values().map(|(k, _)| k).to_vec();
    keys.push("jitter_seed");
    keys
}

thread_local! {
    /// One scratch directory per test thread for the profile files (a directory per case
    /// would make the million-case run mostly mkdir and rmdir).
    static SCRATCH: tempfile::TempDir = tempfile::tempdir().unwrap();

    /// The built-in theme the theme properties layer over (parsed once: it is the base, not
    /// the input under test).
    static BASE: Theme = Theme::default();

    /// One index of a real recording for every replay case (opening it per case is the slow
    /// part, and the prompts never change the file).
    static INDEX: Index = {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tool_loop.tsjsonl");
        let index = Index::open(&path, IndexOptions::default()).unwrap();
        assert!(index.wait_complete(Duration::from_secs(60)).complete());
        index
    };
}

/// Writes `text` as this thread's profile file and returns its path. The old file is removed
/// first: rewriting a file in place truncates it, and ext4 (`auto_da_alloc`) then flushes it to
/// disk on close, ~4.5 ms a case here, against ~0.1 ms for a new file.
fn profile_file(text: &str) -> String {
    let file = SCRATCH.with(|d| d.path().join("p.toml"));
    let _ = std::fs::remove_file(&file);
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// Sizes where the scenario limits bite: small ones, any size up to the limit, the limit's
/// neighbours and everything above it up to `usize::MAX`. A size under the limit builds the
/// whole text when the file is read (the limit itself: a million words, 16 MiB, ~0.2-0.8 s in
/// a debug build), so those are one case in ~70; the rest cost microseconds.
fn size_around(limit: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        32 => 0..4096usize,
        1 => 4096..=limit,
        2 => limit + 1..=limit + 2,
        32 => limit + 1..=usize::MAX,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Key specs as `config.toml` spells them: a key or an error quoting the spec.
    #[test]
    fn key_specs(spec in hostile(KEY_WORDS)) {
        match remap::parse_key(&spec) {
            Ok((code, mods)) => { let _ = remap::key_label(code, mods); }
            Err(e) => prop_assert!(e.contains(&format!("{spec:?}")), "{}", e),
        }
    }

    /// `--break` specs, then matching frames with them.
    #[test]
    fn break_conditions(spec in hostile(BREAK_WORDS), frame in hostile(BREAK_WORDS)) {
        if let Ok(bp) = Breakpoint::parse(&spec) {
            let rules = Breakpoints { rules: vec![bp] };
            let _ = rules.matches(Dir::Sent, &frame);
            let _ = rules.matches(Dir::Recv, &format!("{{\"type\":{frame:?}}}"));
        }
        let _ = Condition::parse(&spec);
    }

    /// Replay's `--at` and `:` targets (turn, `#frame`, response id, time) and `/` searches
    /// on a real recording: the cursor stays on a frame.
    #[test]
    fn replay_targets_and_searches(text in hostile(TARGET_WORDS), search in any::<bool>()) {
        INDEX.with(|index| {
            let theme = BASE.with(Theme::clone);
            let mut app = ReplayApp::new("t".into(), index.header().clone(), theme);
            app.t0 = 1_000_000;
            let kind = if search { PromptKind::Search } else { PromptKind::Jump };
            update(&mut app, ReplayAction::OpenPrompt(kind));
            for c in text.chars() {
                update(&mut app, ReplayAction::PromptChar(c));
            }
            update(&mut app, ReplayAction::PromptSubmit);
            resolve(&mut app, index);
            assert!(app.cursor < index.len().max(1));
        });
    }

    /// Durations (`--max-connection-age`, rerun's timeout) go through humantime.
    #[test]
    fn durations(text in hostile(TARGET_WORDS)) {
        let _ = humantime::parse_duration(&text);
    }

    /// Server URLs: checked at start, turned into WebSocket/HTTP/OTLP URLs, shown without
    /// credentials, searched for query-string keys.
    #[test]
    fn urls(url in hostile(URL_WORDS)) {
        if config::check_url(&url, "--url").is_ok() {
            prop_assert!(turnscope::endpoint::ws_url_from_base(&url).contains("://"));
        }
        let _ = turnscope::bench::http_url_from_base(&url);
        let shown = turnscope::endpoint::display_url(&url);
        prop_assert!(shown.len() <= url.len());
        let _ = turnscope::otel::traces_url(&url);
        let _ = turnscope::secrets::query_credentials(&url);
    }

    /// `config.toml` text, then its key remaps and theme name as the app applies them.
    #[test]
    fn config_files(text in toml_doc(CONFIG_TABLES, config_keys())) {
        let path = Path::new("/fuzz/config.toml");
        if let Ok(file) = config::parse(&text, path) {
            let _ = remap::remap(&keymap::defaults(), &file.keys, path);
            let _ = turnscope::tui::replay::keys::remapped(&file.keys, path);
            if let Some(url) = &file.url { let _ = config::check_url(url, "url"); }
            if let Some(theme) = &file.theme { let _ = Catalog::built_in().load(theme); }
        }
    }

    /// Theme files, loose (over a base) and strict (every role, or `extends`).
    #[test]
    fn theme_files(text in toml_doc(THEME_TABLES, theme_keys())) {
        BASE.with(|base| {
            let _ = Theme::extends_of(&text, "fuzz.toml");
            let _ = Theme::from_toml(&text, "fuzz.toml", base);
            let _ = Theme::strict_from_toml(&text, "fuzz.toml", None);
            let _ = Theme::strict_from_toml(&text, "fuzz.toml", Some(base));
        });
    }

    /// Theme colours: any string in a colour slot is a colour or an error naming it.
    #[test]
    fn theme_colours(fg in hostile(URL_WORDS), bg in "#[0-9a-fé]{0,8}") {
        let text = format!("[roles]\naccent = {{ fg = {}, bg = {} }}\n",
            toml::Value::String(fg), toml::Value::String(bg));
        BASE.with(|base| { let _ = Theme::from_toml(&text, "fuzz.toml", base); });
    }

    /// Scenario files, TOML and JSON: a scenario or an error, never an unbounded allocation.
    #[test]
    fn scenario_files(text in toml_doc(SCENARIO_TABLES, SCENARIO_KEYS.to_vec()), json in ".{0,60}") {
        let _ = Scenario::parse(&text, "fuzz.toml", false);
        let _ = Scenario::parse(&json, "fuzz.json", true);
    }

    /// Scenario sizes at the limits and the edges of `usize`: over a limit is an error.
    #[test]
    fn scenario_sizes(words in size_around(MAX_SAY_WORDS), bytes in size_around(MAX_OUTPUT_BYTES), kind in hostile(KEY_WORDS)) {
        let text = format!(
            "name='x'\nuser='u'\n[[turns]]\nsay_words = {words}\n[[turns]]\ncalls = [{{ name = 'f', output_bytes = {bytes}, output_kind = {} }}]\n",
            toml::Value::String(kind)
        );
        let parsed = Scenario::parse(&text, "fuzz.toml", false);
        // TOML integers are i64: larger sizes fail in the TOML layer, which is an error too.
        if words > MAX_SAY_WORDS || bytes > MAX_OUTPUT_BYTES {
            prop_assert!(parsed.is_err());
        }
    }

    /// Latency profile files (`--latency FILE.toml[:NAME]`): a profile whose modelled waits
    /// are durations (saturating), or an error.
    #[test]
    fn latency_profiles(text in toml_doc(LATENCY_TABLES, latency_keys()), name in hostile(TARGET_WORDS)) {
        let file = profile_file(&text);
        for spec in [file.clone(), format!("{file}:p"), format!("{file}:{name}")] {
            if let Ok(p) = LatencyProfile::resolve(&spec) {
                waits(&p);
            }
        }
    }

    /// The profile numbers themselves, at every magnitude, in every parameter.
    #[test]
    fn latency_numbers(v in prop::collection::vec(prop_oneof![any::<f64>(), 0.0..1e-300, 1e300..f64::MAX], 10)) {
        let mut text = "[p]\n".to_owned();
        for ((key, _), v) in LatencyProfile::zero().values().iter().zip(&v) {
            text.push_str(&format!("{key} = {v:?}\n"));
        }
        if let Ok(p) = LatencyProfile::resolve(&profile_file(&text)) {
            waits(&p);
        }
    }
}

/// Every wait the emulator derives from a profile, for loads from nothing to the largest.
fn waits(p: &LatencyProfile) {
    for n in [0.0, 1.0, 1e6, f64::MAX] {
        let load = TurnLoad {
            request_bytes: n,
            request_tokens: n,
            loaded_tokens: n,
            uncached_tokens: n,
            output_tokens: n,
            generates: true,
        };
        for mode in [Transport::WebSocket, Transport::Http] {
            let t = predict_turn(p, mode, &load);
            for us in t.terms() {
                let _ = wait_of_us(us);
            }
            let _ = wait_of_us(t.total_us());
        }
    }
    for n in [0, 1, usize::MAX] {
        let _ = p.output_delay(n);
    }
}
