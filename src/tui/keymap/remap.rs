//! Key remaps from `config.toml`'s `[keys.<scope>]` tables: names for actions, key syntax,
//! and a checked table that replaces the defaults. One `[keys]` namespace serves every screen
//! with a key table (live and proxy, replay): each screen takes its own scopes' tables.

use std::path::Path;

use crossterm::event::{KeyCode, KeyModifiers};

pub use super::table::key_label;
use super::table::{self, KeyTable};
use super::{Binding, Keymap, Scope};
use crate::config::{ConfigError, KeySpec, did_you_mean};
use crate::tui::action::Action;
use crate::tui::app::Tab;
use crate::tui::breakpoint::BreakpointAction;
use crate::tui::frames::FramesAction;
use crate::tui::payload::PayloadAction;

/// The name `config.toml` uses for an action, for every action a key can trigger.
pub fn action_name(action: &Action) -> Option<&'static str> {
    Some(match action {
        Action::Quit => "quit",
        Action::Reconnect => "reconnect",
        Action::ToggleHelp => "help",
        Action::ToggleLog => "log",
        Action::ScrollPopup(n) if *n > 0 => "popup-down",
        Action::ScrollPopup(_) => "popup-up",
        Action::ResendFullContext => "resend",
        Action::StartFresh => "fresh",
        Action::DismissOffer => "later",
        Action::SelectNext => "next",
        Action::SelectPrev => "prev",
        Action::SelectFirst => "first",
        Action::SelectLast => "last",
        Action::PageTurns(n) if *n > 0 => "page-down",
        Action::PageTurns(_) => "page-up",
        Action::NextTab => "next-tab",
        Action::PrevTab => "prev-tab",
        Action::ShowTab(Tab::Payload) => "tab-payload",
        Action::ShowTab(Tab::Events) => "tab-events",
        Action::ShowTab(Tab::Context) => "tab-context",
        Action::ShowTab(Tab::Output) => "tab-output",
        Action::ShowTab(Tab::Usage) => "tab-usage",
        Action::ShowTab(Tab::Insight) => "tab-insight",
        Action::ScrollDetail(n) if *n > 0 => "scroll-down",
        Action::ScrollDetail(_) => "scroll-up",
        Action::FocusComposer => "compose",
        Action::FocusTurns => "back",
        Action::SendTurn => "send",
        Action::ComposerNewline => "newline",
        Action::ComposerDeleteLine => "delete-line",
        Action::CycleComposerMode => "mode",
        Action::NextPendingCall => "next-call",
        Action::PrevPendingCall => "prev-call",
        Action::LoadOutputFile => "load-output",
        Action::ToggleStore => "store",
        Action::CycleLane => "lane",
        Action::ToggleWarmup => "warmup",
        Action::ToggleSteer => "steer",
        Action::DismissMessage => "dismiss",
        Action::Breakpoint(BreakpointAction::TogglePauseClient) => "pause-client",
        Action::Breakpoint(BreakpointAction::TogglePauseServer) => "pause-server",
        Action::Breakpoint(BreakpointAction::Forward) => "forward",
        Action::Breakpoint(BreakpointAction::ForwardOriginal) => "forward-original",
        Action::Breakpoint(BreakpointAction::Drop) => "drop",
        Action::ShowTab(Tab::Frames) => "tab-frames",
        Action::Frames(FramesAction::Step(n)) if *n > 0 => "frame-next",
        Action::Frames(FramesAction::Step(_)) => "frame-prev",
        Action::Frames(FramesAction::OpenSearch) => "frame-search",
        Action::Frames(FramesAction::NextMatch) => "match-next",
        Action::Frames(FramesAction::PrevMatch) => "match-prev",
        Action::Frames(FramesAction::CycleFilter) => "frame-filter",
        Action::Frames(FramesAction::FilterKind) => "frame-filter-type",
        Action::Frames(FramesAction::FilterLane) => "frame-filter-lane",
        Action::Frames(FramesAction::ClearFilter) => "frame-filter-clear",
        Action::Payload(PayloadAction::ToggleString) => "expand-string",
        Action::Payload(PayloadAction::ToggleAll) => "expand-all",
        Action::Payload(PayloadAction::Sideways(n)) if *n > 0 => "scroll-right",
        Action::Payload(PayloadAction::Sideways(_)) => "scroll-left",
        Action::Frames(FramesAction::SearchSubmit) => "search-run",
        Action::Frames(FramesAction::SearchCancel) => "search-cancel",
        Action::Frames(FramesAction::SearchBackspace) => "search-delete",
        Action::Breakpoint(BreakpointAction::ForwardAll) => "forward-all",
        _ => return None,
    })
}

/// What `config.toml` calls a screen's scopes and actions, and which of its scopes apply over
/// all the others.
pub struct Names<S: 'static, A> {
    /// Every scope of the screen, with its name in `[keys.<scope>]`.
    pub scopes: &'static [(S, &'static str)],
    /// The name of an action, for every action a key can trigger there.
    pub action: fn(&A) -> Option<&'static str>,
    /// Whether a scope's keys apply in every state (a key there clashes with any scope's).
    pub over_all: fn(S) -> bool,
}

impl<S: Copy + PartialEq, A> Names<S, A> {
    /// The name of `scope` in `[keys.<scope>]`.
    pub fn scope_name(&self, scope: S) -> &'static str {
        self.scopes
            .iter()
            .find(|(s, _)| *s == scope)
            .map_or("?", |(_, name)| name)
    }
}

/// The live and proxy screens' names.
pub const LIVE: Names<Scope, Action> = Names {
    scopes: &[
        (Scope::Global, "global"),
        (Scope::Proxy, "proxy"),
        (Scope::Turns, "turns"),
        (Scope::Composer, "composer"),
        (Scope::Offer, "offer"),
        (Scope::Help, "help"),
        (Scope::Log, "log"),
        (Scope::Frames, "frames"),
        (Scope::Payload, "payload"),
        (Scope::Search, "search"),
        (Scope::Held, "held"),
    ],
    action: action_name,
    over_all: live_over_all,
};

fn live_over_all(scope: Scope) -> bool {
    matches!(scope, Scope::Global | Scope::Proxy)
}

/// The name of a live scope in `[keys.<scope>]`.
pub fn scope_name(scope: Scope) -> &'static str {
    LIVE.scope_name(scope)
}

/// Every scope name any screen takes, for the error that names an unknown one.
fn all_scope_names() -> Vec<&'static str> {
    LIVE.scopes
        .iter()
        .map(|(_, n)| *n)
        .chain(
            crate::tui::replay::keys::NAMES
                .scopes
                .iter()
                .map(|(_, n)| *n),
        )
        .collect()
}

/// Parses `ctrl-r`, `alt+enter`, `shift-tab`, `F2`, `pgdn`, `j`, `G`, `?`, `space`.
pub fn parse_key(text: &str) -> Result<(KeyCode, KeyModifiers), String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = text.trim();
    'strip: loop {
        for (prefix, m) in [
            ("ctrl", KeyModifiers::CONTROL),
            ("c", KeyModifiers::CONTROL),
            ("alt", KeyModifiers::ALT),
            ("a", KeyModifiers::ALT),
            ("meta", KeyModifiers::ALT),
            ("m", KeyModifiers::ALT),
            ("shift", KeyModifiers::SHIFT),
            ("s", KeyModifiers::SHIFT),
        ] {
            let n = prefix.len();
            // `get` rather than indexing: a spec like "ü-x" or "éé" has no char boundary at
            // byte `n`, and slicing there would panic on a user's config line.
            let head = rest.get(..n);
            let tail = rest.get(n + 1..).filter(|t| !t.is_empty());
            if let (Some(head), Some(tail)) = (head, tail)
                && head.eq_ignore_ascii_case(prefix)
                && matches!(rest.as_bytes().get(n), Some(b'-' | b'+'))
            {
                mods |= m;
                rest = tail;
                continue 'strip;
            }
        }
        break;
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => KeyCode::Char(c),
        _ => match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            f if f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                return Err(format!(
                    "{text:?} is not a key; write e.g. \"j\", \"ctrl-r\", \"alt-enter\", \"F2\", \"pgdn\", \"space\""
                ));
            }
        },
    };
    // Shift is part of a character ("G"), and Shift-Tab is its own key.
    Ok(match code {
        KeyCode::Char(c) if mods.contains(KeyModifiers::SHIFT) => (
            KeyCode::Char(c.to_ascii_uppercase()),
            mods - KeyModifiers::SHIFT,
        ),
        KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
            (KeyCode::BackTab, mods - KeyModifiers::SHIFT)
        }
        _ => (code, mods),
    })
}

/// Applies `specs` to the live `defaults`: each `(scope, action)` named replaces that action's
/// keys in that scope, giving the keymap an App is built with. Errors name the config file,
/// line and key, and suggest the likely name.
pub fn remap(defaults: &[Binding], specs: &[KeySpec], path: &Path) -> Result<Keymap, ConfigError> {
    remap_table(&LIVE, defaults, specs, path)
}

/// [`remap`] for any screen's key table: the specs of `names`' scopes apply, those of another
/// screen's scopes are left to it, and a scope no screen has is an error.
pub fn remap_table<S, A>(
    names: &Names<S, A>,
    defaults: &[table::Binding<S, A>],
    specs: &[KeySpec],
    path: &Path,
) -> Result<KeyTable<S, A>, ConfigError>
where
    S: Copy + PartialEq + 'static,
    A: Clone + PartialEq,
{
    let mut table = KeyTable::new(defaults.to_vec());
    let mut applied: Vec<(S, A, &KeySpec)> = Vec::new();
    for spec in specs {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: spec.line,
            key: format!("keys.{}.{}", spec.scope, spec.action),
            message,
        };
        let Some(&(scope, _)) = names.scopes.iter().find(|(_, n)| *n == spec.scope) else {
            let scope_names = all_scope_names();
            if scope_names.contains(&spec.scope.as_str()) {
                continue;
            }
            let hint = did_you_mean(&spec.scope, &scope_names)
                .map_or_else(String::new, |s| format!("did you mean [keys.{s}]? "));
            return Err(invalid(format!(
                "unknown scope; {hint}scopes are {}",
                scope_names.join(", ")
            )));
        };
        let mut action_names: Vec<&str> = Vec::new();
        for name in defaults
            .iter()
            .filter(|b| b.scope == scope)
            .filter_map(|b| (names.action)(&b.action))
        {
            if !action_names.contains(&name) {
                action_names.push(name);
            }
        }
        let Some(first) = defaults
            .iter()
            .find(|b| b.scope == scope && (names.action)(&b.action) == Some(spec.action.as_str()))
        else {
            let hint = did_you_mean(&spec.action, &action_names)
                .map_or_else(String::new, |s| format!("did you mean `{s}`? "));
            return Err(invalid(format!(
                "no action of that name in {}; {hint}actions there are {}",
                spec.scope,
                action_names.join(", ")
            )));
        };
        let action = first.action.clone();
        let help = defaults
            .iter()
            .find(|b| b.scope == scope && b.action == action && !b.help.is_empty())
            .map_or("", |b| b.help);
        let mut keys = Vec::new();
        for text in &spec.keys {
            let key = parse_key(text).map_err(&invalid)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        // Help rows are labelled from their bindings, so the new keys show up there as written.
        let new = keys
            .into_iter()
            .map(|(code, mods)| table::Binding {
                scope,
                code,
                mods,
                action: action.clone(),
                help,
            })
            .collect();
        table.replace(scope, |a| *a == action, new);
        applied.push((scope, action, spec));
    }
    // Checked once all remaps are in, so two actions can swap keys.
    if let Some((i, j)) = clash(table.bindings(), names.over_all) {
        let (a, b) = (&table.bindings()[i], &table.bindings()[j]);
        let name = |x: &table::Binding<S, A>| {
            format!(
                "{}.{}",
                names.scope_name(x.scope),
                (names.action)(&x.action).unwrap_or("?")
            )
        };
        let message = format!(
            "{} would be bound to both {} and {}; remap one of them too",
            key_label(a.code, a.mods),
            name(a),
            name(b)
        );
        let culprit = applied
            .iter()
            .rev()
            .find(|(s, act, _)| {
                (*s == a.scope && *act == a.action) || (*s == b.scope && *act == b.action)
            })
            .map(|(_, _, spec)| *spec);
        return Err(match culprit {
            Some(spec) => ConfigError::Invalid {
                path: path.to_owned(),
                line: spec.line,
                key: format!("keys.{}.{}", spec.scope, spec.action),
                message,
            },
            None => ConfigError::Invalid {
                path: path.to_owned(),
                line: 1,
                key: "keys".into(),
                message,
            },
        });
    }
    Ok(table)
}

/// The positions of the first key bound twice in one scope (or in a scope and one that
/// applies over all).
fn clash<S: Copy + PartialEq, A: PartialEq>(
    table: &[table::Binding<S, A>],
    over_all: fn(S) -> bool,
) -> Option<(usize, usize)> {
    for (i, a) in table.iter().enumerate() {
        for (j, b) in table.iter().enumerate().skip(i + 1) {
            let same_key = a.code == b.code && a.mods == b.mods;
            let overlap = a.scope == b.scope || over_all(a.scope) || over_all(b.scope);
            if same_key && overlap && a.action != b.action {
                return Some((i, j));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::defaults;

    fn spec(scope: &str, action: &str, keys: &[&str]) -> KeySpec {
        KeySpec {
            scope: scope.into(),
            action: action.into(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            line: 7,
        }
    }

    #[test]
    fn every_bound_action_has_a_name() {
        for b in &defaults() {
            assert!(
                action_name(&b.action).is_some(),
                "{:?} has no name",
                b.action
            );
        }
    }

    #[test]
    fn keys_parse_in_the_usual_spellings() {
        use KeyCode::*;
        let none = KeyModifiers::NONE;
        assert_eq!(parse_key("j"), Ok((Char('j'), none)));
        assert_eq!(parse_key("ctrl-r"), Ok((Char('r'), KeyModifiers::CONTROL)));
        assert_eq!(parse_key("C+r"), Ok((Char('r'), KeyModifiers::CONTROL)));
        assert_eq!(parse_key("Alt-Enter"), Ok((Enter, KeyModifiers::ALT)));
        assert_eq!(parse_key("shift-g"), Ok((Char('G'), none)));
        assert_eq!(parse_key("shift-tab"), Ok((BackTab, none)));
        assert_eq!(parse_key("F12"), Ok((F(12), none)));
        assert_eq!(parse_key("pgdn"), Ok((PageDown, none)));
        assert_eq!(parse_key("-"), Ok((Char('-'), none)));
        assert_eq!(parse_key("ctrl--"), Ok((Char('-'), KeyModifiers::CONTROL)));
        assert!(parse_key("hyper-x").unwrap_err().contains("\"hyper-x\""));
        assert!(parse_key("F13").is_err());
    }

    #[test]
    fn non_ascii_specs_are_keys_or_errors_never_panics() {
        // These panicked: byte 1 of "éé" and "ü-x" is inside a character.
        let none = KeyModifiers::NONE;
        assert!(parse_key("éé").unwrap_err().contains("\"éé\""));
        assert!(parse_key("ü-x").unwrap_err().contains("\"ü-x\""));
        assert_eq!(parse_key("ü"), Ok((KeyCode::Char('ü'), none)));
        assert_eq!(
            parse_key("ctrl-é"),
            Ok((KeyCode::Char('é'), KeyModifiers::CONTROL))
        );
        assert!(parse_key("ctrl-éé").is_err());
        assert!(parse_key("cé").is_err());
        let err = remap(
            &defaults(),
            &[spec("turns", "next", &["éé"])],
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("keys.turns.next") && err.contains("éé"),
            "{err}"
        );
    }

    #[test]
    fn remap_replaces_an_actions_keys_and_relabels_help() {
        let table = remap(
            &defaults(),
            &[spec("turns", "next", &["n", "down"])],
            Path::new("c.toml"),
        )
        .unwrap();
        let next: Vec<&Binding> = table
            .bindings()
            .iter()
            .filter(|b| b.scope == Scope::Turns && b.action == Action::SelectNext)
            .collect();
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].code, KeyCode::Char('n'));
        assert_eq!(next[0].help, "next turn");
        let rows = crate::tui::keymap::help_rows(&table, Scope::Turns);
        assert!(
            rows.iter()
                .any(|r| r.keys == "n ↓" && r.help == "next turn"),
            "{rows:?}"
        );
        // `j` is free now; other scopes keep their keys.
        assert!(
            !table
                .bindings()
                .iter()
                .any(|b| b.scope == Scope::Turns && b.code == KeyCode::Char('j'))
        );
        assert!(
            table
                .bindings()
                .iter()
                .any(|b| b.scope == Scope::Composer && b.action == Action::SelectNext)
        );
    }

    #[test]
    fn unknown_names_and_clashes_name_file_line_and_key() {
        let path = Path::new("/u/config.toml");
        let err = remap(&defaults(), &[spec("turns", "nxet", &["n"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/u/config.toml line 7"), "{err}");
        assert!(
            err.contains("keys.turns.nxet") && err.contains("did you mean `next`?"),
            "{err}"
        );
        let err = remap(&defaults(), &[spec("turn", "next", &["n"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean [keys.turns]?"), "{err}");
        let err = remap(&defaults(), &[spec("turns", "next", &["k"])], path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("turns.next") && err.contains("turns.prev"),
            "{err}"
        );
        let err = remap(&defaults(), &[spec("turns", "quit", &["ctrl-r"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("global.reconnect"), "{err}");
        let err = remap(&defaults(), &[spec("turns", "quit", &["hyper-q"])], path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("keys.turns.quit") && err.contains("\"hyper-q\""),
            "{err}"
        );
    }

    /// One `[keys]` namespace for two screens: each takes its own scopes, a scope of neither is
    /// an error naming the nearest, and a replay clash names both replay actions.
    #[test]
    fn replay_scopes_belong_to_the_replay() {
        use crate::tui::replay::keys::{self, remapped};
        let path = Path::new("/u/config.toml");
        let specs = [
            spec("replay", "play", &["p"]),
            spec("turns", "next", &["n"]),
        ];
        let live = remap(&defaults(), &specs, path).unwrap();
        assert_eq!(live, remap(&defaults(), &specs[1..], path).unwrap());
        let replay = remapped(&specs, path).unwrap();
        let p = crossterm::event::KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE);
        assert_eq!(
            replay.lookup(keys::Scope::Cursor, &p),
            Some(crate::tui::replay::app::ReplayAction::TogglePlay)
        );
        let err = remapped(&[spec("replya", "play", &["p"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean [keys.replay]?"), "{err}");
        let err = remap(&defaults(), &[spec("replya", "play", &["p"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("keys.replya.play"), "{err}");
        let err = remapped(&[spec("replay", "play", &["j"])], path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("replay.play") && err.contains("replay.next"),
            "{err}"
        );
        let err = remapped(&[spec("replay", "play", &["ctrl-c"])], path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("replay-global.quit"), "{err}");
        for b in &keys::defaults() {
            assert!(
                keys::action_name(&b.action).is_some(),
                "{:?} has no name",
                b.action
            );
        }
    }

    #[test]
    fn two_actions_can_swap_keys() {
        let table = remap(
            &defaults(),
            &[
                spec("turns", "first", &["G"]),
                spec("turns", "last", &["g"]),
            ],
            Path::new("c.toml"),
        )
        .unwrap();
        let find = |c: char| {
            table
                .bindings()
                .iter()
                .find(|b| b.scope == Scope::Turns && b.code == KeyCode::Char(c))
                .map(|b| b.action.clone())
        };
        assert_eq!(find('G'), Some(Action::SelectFirst));
        assert_eq!(find('g'), Some(Action::SelectLast));
    }
}
