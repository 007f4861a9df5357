//! Help against dispatch, for every state of every screen (live and proxy, replay): each key a
//! help row lists does what the row says there, and each key that does something is listed.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::table::every_key;
use super::{Fallback, Keymap, Scope, fallback, mode, resolve};
use crate::tui::action::Action;
use crate::tui::app::{App, Focus, Offer, SessionInfo, Tab};
use crate::tui::breakpoint::{BreakpointAction, Held};
use crate::tui::replay::app::{PromptKind, ReplayAction, ReplayApp};
use crate::tui::replay::inspect::{Inspector, start_app};
use crate::tui::replay::keys::{self as replay_keys, Layer, ReplayKeys};
use crate::tui::theme::Theme;
use crate::tui::update::update;

/// The live screen in each of its key states, named.
fn live_states() -> Vec<(&'static str, App)> {
    let new = || App::new(SessionInfo::default(), Theme::default());
    let mut turns = new();
    turns.focus = Focus::Turns;
    let mut frames = new();
    frames.focus = Focus::Turns;
    frames.tab = Tab::Frames;
    let composer = new();
    let mut help = new();
    help.help = true;
    let mut log = new();
    log.log_open = true;
    let mut offer = new();
    offer.offer = Some(Offer::Resume {
        why: "test".into(),
        turn: 0,
        items: 1,
        bytes: 1,
        tokens: 1,
    });
    let mut search = new();
    search.focus = Focus::Turns;
    search.tab = Tab::Frames;
    search.frames_tab.typing = Some(String::new());
    let mut proxy_turns = new();
    proxy_turns.focus = Focus::Turns;
    proxy_turns.proxy = Some(crate::tui::breakpoint::ProxyPanel::default());
    let mut proxy_composer = new();
    proxy_composer.proxy = Some(crate::tui::breakpoint::ProxyPanel::default());
    let mut held = new();
    held.proxy = Some(crate::tui::breakpoint::ProxyPanel::default());
    update(
        &mut held,
        Action::Breakpoint(BreakpointAction::Held(Held {
            id: 1,
            conn: 0,
            dir: crate::frame::Dir::Sent,
            text: "{}".into(),
        })),
    );
    vec![
        ("turns", turns),
        ("frames tab", frames),
        ("composer", composer),
        ("help", help),
        ("message log", log),
        ("resume offer", offer),
        ("frames search", search),
        ("proxy turns", proxy_turns),
        ("proxy composer", proxy_composer),
        ("held frame", held),
    ]
}

#[test]
fn live_help_rows_dispatch_and_every_dispatched_key_is_listed() {
    for (name, app) in live_states() {
        let (scopes, fb) = mode(&app);
        // What help lists in this state: each scope's rows minus keys an earlier scope takes.
        let mut listed: Vec<(KeyEvent, Action)> = Vec::new();
        for (i, &scope) in scopes.iter().enumerate() {
            let rows = app.keymap.rows(scope, &scopes[..i]);
            for b in app.keymap.bindings().iter().filter(|b| b.scope == scope) {
                let key = KeyEvent::new(b.code, b.mods);
                if app.keymap.lookup_in(&scopes[..i], &key).is_some() {
                    continue;
                }
                assert!(
                    rows.iter()
                        .any(|r| r.help == b.help && lists(&r.keys, &b.label())),
                    "{name}: {} ({:?}) is not in help: {rows:?}",
                    b.label(),
                    b.action
                );
                assert_eq!(
                    resolve(&app, key),
                    Some(b.action.clone()),
                    "{name}: help says {} does {:?}",
                    b.label(),
                    b.help
                );
                listed.push((key, b.action.clone()));
            }
        }
        for key in every_key() {
            let Some(action) = resolve(&app, key) else {
                continue;
            };
            if fb != Fallback::Ignore && Some(&action) == fallback(fb, key).as_ref() {
                continue;
            }
            let normal = KeyEvent::new(key.code, normalize(key));
            assert!(
                listed.iter().any(|(k, a)| *k == normal && *a == action),
                "{name}: {key:?} does {action:?} but help does not list it"
            );
        }
    }
}

/// Whether a row's keys (`j ↓`, `1-7`) include the key written `label`.
fn lists(keys: &str, label: &str) -> bool {
    keys.split(' ').any(|k| {
        k == label
            || match (k.split_once('-'), label.parse::<u8>()) {
                (Some((a, b)), Ok(n)) => {
                    a.parse::<u8>().is_ok_and(|a| a <= n) && b.parse::<u8>().is_ok_and(|b| n <= b)
                }
                _ => false,
            }
    })
}

/// Shift is part of a character, as the table writes it.
fn normalize(key: KeyEvent) -> KeyModifiers {
    match key.code {
        KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    }
}

#[test]
fn two_apps_in_one_process_keep_their_own_keymaps() {
    let spec = crate::config::KeySpec {
        scope: "turns".into(),
        action: "next".into(),
        keys: vec!["n".into()],
        line: 1,
    };
    let remapped =
        super::remap::remap(&super::defaults(), &[spec], std::path::Path::new("c.toml")).unwrap();
    let mut a = App::new(SessionInfo::default(), Theme::default());
    let mut b = App::new(SessionInfo::default(), Theme::default());
    b.keymap = std::sync::Arc::new(remapped);
    a.focus = Focus::Turns;
    b.focus = Focus::Turns;
    let n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE);
    let j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    assert_eq!(resolve(&a, j), Some(Action::SelectNext));
    assert_eq!(resolve(&a, n), None);
    assert_eq!(resolve(&b, n), Some(Action::SelectNext));
    assert_eq!(resolve(&b, j), None);
    // Each App's help is drawn from its own table.
    let next = |k: &Keymap| {
        super::help_rows(k, Scope::Turns)
            .into_iter()
            .find(|r| r.help == "next turn")
            .map(|r| r.keys)
    };
    assert_eq!(next(&a.keymap).as_deref(), Some("j ↓"));
    assert_eq!(next(&b.keymap).as_deref(), Some("n"));
}

/// The replay screen in each of its key states, named, with `keys` as its own key table.
fn replay_states(keys: &Arc<ReplayKeys>) -> Vec<(&'static str, ReplayApp)> {
    let new = || {
        let mut app = ReplayApp::new(
            "t".into(),
            crate::transcript::Header::new("test", None, None),
            Theme::default(),
        );
        app.keys = Arc::clone(keys);
        app
    };
    let with_inspector = |tab: Tab, typing: bool| {
        let mut app = new();
        let mut ins = start_app(&app.header, app.theme.clone(), app.keymap.clone());
        ins.tab = tab;
        if typing {
            ins.frames_tab.typing = Some(String::new());
        }
        app.inspector = Some(Inspector::new(ins));
        app
    };
    let mut timeline = new();
    timeline.inspect = false;
    let mut diff = with_inspector(Tab::Payload, false);
    diff.diff = Some(crate::replay::context::Diff::default());
    let mut prompt = new();
    prompt.prompt = Some(crate::tui::replay::app::Prompt {
        kind: PromptKind::Jump,
        text: String::new(),
    });
    let mut help = with_inspector(Tab::Payload, false);
    help.help = true;
    vec![
        ("frames timeline", timeline),
        ("inspector", with_inspector(Tab::Payload, false)),
        ("inspector frames tab", with_inspector(Tab::Frames, false)),
        ("inspector frames search", with_inspector(Tab::Frames, true)),
        ("diff", diff),
        ("prompt", prompt),
        ("help", help),
    ]
}

#[test]
fn replay_help_rows_dispatch_and_every_dispatched_key_is_listed() {
    replay_help_matches_dispatch(&Arc::default());
}

/// The replay's own keys remapped from `config.toml` (scrub, play, filters, the diff's scroll):
/// dispatch and help follow the new keys in every state, and the old ones are gone.
#[test]
fn remapped_replay_keys_dispatch_and_help_agree() {
    let spec = |scope: &str, action: &str, keys: &[&str]| crate::config::KeySpec {
        scope: scope.into(),
        action: action.into(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        line: 1,
    };
    let specs = [
        spec("replay", "next", &["ctrl-n", "down"]),
        spec("replay", "play", &["p"]),
        spec("replay", "speed-max", &["0"]),
        spec("replay", "filter", &["x"]),
        spec("replay-diff", "scroll-down", &["ctrl-d"]),
        // A live scope's table is the live keymap's: the replay leaves it alone.
        spec("turns", "next", &["n"]),
    ];
    let keys = Arc::new(replay_keys::remapped(&specs, std::path::Path::new("c.toml")).unwrap());
    replay_help_matches_dispatch(&keys);
    let timeline = replay_states(&keys).swap_remove(0).1;
    let press = |code: KeyCode, mods: KeyModifiers| {
        replay_keys::resolve(&timeline, KeyEvent::new(code, mods))
    };
    assert_eq!(
        press(KeyCode::Char('p'), KeyModifiers::NONE),
        Some(ReplayAction::TogglePlay)
    );
    assert_eq!(press(KeyCode::Char(' '), KeyModifiers::NONE), None);
    assert_eq!(
        press(KeyCode::Char('n'), KeyModifiers::CONTROL),
        Some(ReplayAction::StepFrame(1))
    );
    assert_eq!(press(KeyCode::Char('j'), KeyModifiers::NONE), None);
    assert_eq!(
        press(KeyCode::Char('x'), KeyModifiers::NONE),
        Some(ReplayAction::CycleFilter)
    );
    let rows = replay_keys::help_rows(&timeline);
    let row = |help: &str| {
        rows.iter()
            .find(|r| r.help.starts_with(help))
            .map(|r| r.keys.clone())
    };
    assert_eq!(row("play / pause").as_deref(), Some("p"));
    assert_eq!(
        row("next / previous frame").as_deref(),
        Some("Ctrl-N ↓ k ↑")
    );
    assert_eq!(row("play at").as_deref(), Some("1 2 0"));
}

fn replay_help_matches_dispatch(keys: &Arc<ReplayKeys>) {
    for (name, app) in replay_states(keys) {
        let (layers, fb) = replay_keys::mode(&app);
        let mut listed: Vec<(KeyEvent, ReplayAction)> = Vec::new();
        for i in 0..layers.len() {
            let rows = replay_keys::layer_rows(&app, &layers, i);
            let bindings: Vec<(KeyEvent, ReplayAction, String, &str)> = match layers[i] {
                Layer::Own(s) => app
                    .keys
                    .bindings()
                    .iter()
                    .filter(|b| b.scope == s)
                    .map(|b| {
                        (
                            KeyEvent::new(b.code, b.mods),
                            b.action.clone(),
                            b.label(),
                            b.help,
                        )
                    })
                    .collect(),
                Layer::Live(s) => app
                    .keymap
                    .bindings()
                    .iter()
                    .filter(|b| b.scope == s)
                    .map(|b| {
                        let a = ReplayAction::Inspect(b.action.clone());
                        (KeyEvent::new(b.code, b.mods), a, b.label(), b.help)
                    })
                    .collect(),
            };
            for (key, action, label, help) in bindings {
                let earlier = layers[..i].iter().any(|&l| layer_binds(&app, l, &key));
                if earlier {
                    continue;
                }
                assert!(
                    rows.iter()
                        .any(|r| r.help == help && lists(&r.keys, &label)),
                    "{name}: {label} ({action:?}) is not in help: {rows:?}"
                );
                assert_eq!(
                    replay_keys::resolve(&app, key),
                    Some(action.clone()),
                    "{name}: help says {label} does {help:?}"
                );
                listed.push((key, action));
            }
        }
        for key in every_key() {
            let Some(action) = replay_keys::resolve(&app, key) else {
                continue;
            };
            let fell_back = match fb {
                replay_keys::Fallback::Ignore => false,
                replay_keys::Fallback::Prompt => matches!(action, ReplayAction::PromptChar(_)),
                replay_keys::Fallback::CloseHelp => action == ReplayAction::ToggleHelp,
                replay_keys::Fallback::Search => matches!(
                    action,
                    ReplayAction::Inspect(Action::Frames(
                        crate::tui::frames::FramesAction::SearchChar(_)
                    ))
                ),
            };
            if fell_back {
                continue;
            }
            let normal = KeyEvent::new(key.code, normalize(key));
            assert!(
                listed.iter().any(|(k, a)| *k == normal && *a == action),
                "{name}: {key:?} does {action:?} but help does not list it"
            );
        }
    }
}

fn layer_binds(app: &ReplayApp, layer: Layer, key: &KeyEvent) -> bool {
    match layer {
        Layer::Own(s) => app.keys.lookup(s, key).is_some(),
        Layer::Live(s) => app.keymap.lookup(s, key).is_some(),
    }
}
