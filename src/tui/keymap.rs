//! The one table from keys to actions; the help popup is drawn from it too.

pub mod remap;

use std::borrow::Cow;
use std::sync::OnceLock;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::app::{App, Focus, Tab};
use super::breakpoint::BreakpointAction;
use super::frames::FramesAction;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere.
    Global,
    /// Browsing turns.
    Turns,
    /// Typing in the composer.
    Composer,
    /// The resume offer popup.
    Offer,
    /// The help popup.
    Help,
    /// The Frames tab, over the turn list's keys.
    Frames,
}

impl Scope {
    /// Heading in the help popup.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Anywhere",
            Scope::Turns => "Turn list",
            Scope::Composer => "Composer",
            Scope::Offer => "Resume offer",
            Scope::Help => "Help",
            Scope::Frames => "Frames tab",
        }
    }
}

/// One key binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The key.
    pub code: KeyCode,
    /// Modifiers that must be held (Shift is ignored for characters).
    pub mods: KeyModifiers,
    /// What it does.
    pub action: Action,
    /// How the help popup writes the key (first binding of an action with a label wins).
    pub keys: Cow<'static, str>,
    /// What the help popup says it does (empty: an alias, not listed).
    pub help: &'static str,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;

macro_rules! bind {
    ($scope:ident, $code:expr, $mods:expr, $action:expr, $keys:expr, $help:expr) => {
        Binding {
            scope: Scope::$scope,
            code: $code,
            mods: $mods,
            action: $action,
            keys: Cow::Borrowed($keys),
            help: $help,
        }
    };
}

/// The table in use: the defaults, or what [`install`] put in place before the first key.
static TABLE: OnceLock<Vec<Binding>> = OnceLock::new();

/// Every key binding in use.
pub fn bindings() -> &'static [Binding] {
    TABLE.get_or_init(defaults)
}

/// Puts a remapped table (see [`remap::remap`]) in place; false if keys were already read.
pub fn install(table: Vec<Binding>) -> bool {
    TABLE.set(table).is_ok()
}

/// The built-in bindings.
pub fn defaults() -> Vec<Binding> {
    use KeyCode::{
        BackTab, Char, Down, End, Enter, Esc, F, Home, Left, PageDown, PageUp, Right,
        Tab as TabKey, Up,
    };
    {
        vec![
            bind!(Global, Char('c'), CTRL, Action::Quit, "Ctrl-C", "quit"),
            bind!(
                Global,
                F(1),
                NONE,
                Action::ToggleHelp,
                "F1",
                "show all keys"
            ),
            bind!(
                Global,
                F(6),
                NONE,
                Action::Breakpoint(BreakpointAction::TogglePauseClient),
                // Listed in proxy mode's footer, not in the help popup.
                "F6",
                ""
            ),
            bind!(
                Global,
                F(7),
                NONE,
                Action::Breakpoint(BreakpointAction::TogglePauseServer),
                "F7",
                ""
            ),
            bind!(
                Global,
                Char('r'),
                CTRL,
                Action::Reconnect,
                "Ctrl-R",
                "reconnect"
            ),
            bind!(Global, F(8), NONE, Action::ToggleLog, "F8", "message log"),
            bind!(
                Help,
                Esc,
                NONE,
                Action::ToggleHelp,
                "Esc ?",
                "close this help"
            ),
            bind!(Help, Char('?'), NONE, Action::ToggleHelp, "", ""),
            bind!(Help, Char('q'), NONE, Action::ToggleHelp, "", ""),
            bind!(
                Help,
                Down,
                NONE,
                Action::ScrollPopup(1),
                "j k ↓ ↑",
                "scroll"
            ),
            bind!(Help, Char('j'), NONE, Action::ScrollPopup(1), "", ""),
            bind!(Help, Up, NONE, Action::ScrollPopup(-1), "", ""),
            bind!(Help, Char('k'), NONE, Action::ScrollPopup(-1), "", ""),
            bind!(Help, PageDown, NONE, Action::ScrollPopup(10), "", ""),
            bind!(Help, PageUp, NONE, Action::ScrollPopup(-10), "", ""),
            bind!(
                Offer,
                Char('r'),
                NONE,
                Action::ResendFullContext,
                "r",
                "resend full context"
            ),
            bind!(
                Offer,
                Char('f'),
                NONE,
                Action::StartFresh,
                "f",
                "start fresh"
            ),
            bind!(
                Offer,
                Esc,
                NONE,
                Action::DismissOffer,
                "Esc",
                "decide later"
            ),
            bind!(Turns, Char('q'), NONE, Action::Quit, "q", "quit"),
            bind!(
                Turns,
                Esc,
                NONE,
                Action::DismissMessage,
                "Esc",
                "clear the status line"
            ),
            bind!(
                Turns,
                Char('?'),
                NONE,
                Action::ToggleHelp,
                "?",
                "show all keys"
            ),
            bind!(Turns, Down, NONE, Action::SelectNext, "j ↓", "next turn"),
            bind!(Turns, Char('j'), NONE, Action::SelectNext, "", ""),
            bind!(Turns, Up, NONE, Action::SelectPrev, "k ↑", "previous turn"),
            bind!(Turns, Char('k'), NONE, Action::SelectPrev, "", ""),
            bind!(
                Turns,
                Home,
                NONE,
                Action::SelectFirst,
                "g Home",
                "first turn"
            ),
            bind!(Turns, Char('g'), NONE, Action::SelectFirst, "", ""),
            bind!(
                Turns,
                End,
                NONE,
                Action::SelectLast,
                "G End",
                "newest turn, follow"
            ),
            bind!(Turns, Char('G'), NONE, Action::SelectLast, "", ""),
            bind!(
                Turns,
                PageDown,
                NONE,
                Action::PageTurns(10),
                "PgDn PgUp",
                "page through turns"
            ),
            bind!(Turns, PageUp, NONE, Action::PageTurns(-10), "", ""),
            bind!(
                Turns,
                TabKey,
                NONE,
                Action::NextTab,
                "Tab → l",
                "next detail tab"
            ),
            bind!(Turns, Right, NONE, Action::NextTab, "", ""),
            bind!(Turns, Char('l'), NONE, Action::NextTab, "", ""),
            bind!(
                Turns,
                BackTab,
                NONE,
                Action::PrevTab,
                "S-Tab ← h",
                "previous detail tab"
            ),
            bind!(Turns, Left, NONE, Action::PrevTab, "", ""),
            bind!(Turns, Char('h'), NONE, Action::PrevTab, "", ""),
            bind!(
                Turns,
                Char('1'),
                NONE,
                Action::ShowTab(Tab::Payload),
                "1-7",
                "jump to a detail tab"
            ),
            bind!(Turns, Char('2'), NONE, Action::ShowTab(Tab::Events), "", ""),
            bind!(
                Turns,
                Char('3'),
                NONE,
                Action::ShowTab(Tab::Context),
                "",
                ""
            ),
            bind!(Turns, Char('4'), NONE, Action::ShowTab(Tab::Output), "", ""),
            bind!(Turns, Char('5'), NONE, Action::ShowTab(Tab::Usage), "", ""),
            bind!(
                Turns,
                Char('6'),
                NONE,
                Action::ShowTab(Tab::Insight),
                "",
                ""
            ),
            bind!(Turns, Char('7'), NONE, Action::ShowTab(Tab::Frames), "", ""),
            bind!(
                Turns,
                Char('J'),
                NONE,
                Action::ScrollDetail(5),
                "J K",
                "scroll detail"
            ),
            bind!(Turns, Char('K'), NONE, Action::ScrollDetail(-5), "", ""),
            bind!(
                Turns,
                Enter,
                NONE,
                Action::FocusComposer,
                "i Enter",
                "write a message"
            ),
            bind!(Turns, Char('i'), NONE, Action::FocusComposer, "", ""),
            bind!(
                Turns,
                Char('R'),
                NONE,
                Action::Reconnect,
                "R",
                "reconnect / rotate"
            ),
            bind!(
                Frames,
                Char('J'),
                NONE,
                Action::Frames(FramesAction::Step(1)),
                "J K",
                "next / previous frame"
            ),
            bind!(
                Frames,
                Char('K'),
                NONE,
                Action::Frames(FramesAction::Step(-1)),
                "",
                ""
            ),
            bind!(
                Frames,
                PageDown,
                NONE,
                Action::ScrollDetail(5),
                "PgDn PgUp",
                "scroll the frame's JSON"
            ),
            bind!(Frames, PageUp, NONE, Action::ScrollDetail(-5), "", ""),
            bind!(
                Frames,
                Char('/'),
                NONE,
                Action::Frames(FramesAction::OpenSearch),
                "/",
                "search the frames"
            ),
            bind!(
                Frames,
                Char('n'),
                NONE,
                Action::Frames(FramesAction::NextMatch),
                "n N",
                "next / previous match"
            ),
            bind!(
                Frames,
                Char('N'),
                NONE,
                Action::Frames(FramesAction::PrevMatch),
                "",
                ""
            ),
            bind!(
                Frames,
                Char('f'),
                NONE,
                Action::Frames(FramesAction::CycleFilter),
                "f",
                "filter errors/sent/recv/meta"
            ),
            bind!(
                Frames,
                Char('t'),
                NONE,
                Action::Frames(FramesAction::FilterKind),
                "t",
                "only this frame's type"
            ),
            bind!(
                Frames,
                Char('L'),
                NONE,
                Action::Frames(FramesAction::FilterLane),
                "L",
                "only this frame's lane"
            ),
            bind!(
                Frames,
                Char('F'),
                NONE,
                Action::Frames(FramesAction::ClearFilter),
                "F",
                "show every frame"
            ),
            bind!(
                Composer,
                Esc,
                NONE,
                Action::FocusTurns,
                "Esc",
                "back to turns"
            ),
            bind!(Composer, Enter, NONE, Action::SendTurn, "Enter", "send"),
            bind!(
                Composer,
                Char('j'),
                CTRL,
                Action::ComposerNewline,
                "Ctrl-J A-Enter",
                "new line"
            ),
            bind!(Composer, Enter, ALT, Action::ComposerNewline, "", ""),
            bind!(
                Composer,
                Char('u'),
                CTRL,
                Action::ComposerDeleteLine,
                "Ctrl-U",
                "delete to line start"
            ),
            bind!(
                Composer,
                Char('t'),
                CTRL,
                Action::CycleComposerMode,
                "Ctrl-T",
                "message/raw mode"
            ),
            bind!(
                Composer,
                Char('n'),
                CTRL,
                Action::NextPendingCall,
                "Ctrl-N Ctrl-P",
                "next/prev pending call"
            ),
            bind!(Composer, Char('p'), CTRL, Action::PrevPendingCall, "", ""),
            bind!(
                Composer,
                Char('o'),
                CTRL,
                Action::LoadOutputFile,
                "Ctrl-O",
                "load output from file"
            ),
            bind!(
                Composer,
                F(2),
                NONE,
                Action::ToggleStore,
                "F2 Alt-S",
                "toggle store"
            ),
            bind!(Composer, Char('s'), ALT, Action::ToggleStore, "", ""),
            bind!(
                Composer,
                F(3),
                NONE,
                Action::CycleLane,
                "F3 Alt-L",
                "cycle stream_id lane"
            ),
            bind!(Composer, Char('l'), ALT, Action::CycleLane, "", ""),
            bind!(
                Composer,
                F(4),
                NONE,
                Action::ToggleWarmup,
                "F4 Alt-W",
                "warm-up generate:false"
            ),
            bind!(Composer, Char('w'), ALT, Action::ToggleWarmup, "", ""),
            bind!(
                Composer,
                F(5),
                NONE,
                Action::ToggleSteer,
                "F5 Alt-T",
                "steer while running"
            ),
            bind!(Composer, Char('t'), ALT, Action::ToggleSteer, "", ""),
            bind!(
                Composer,
                PageDown,
                NONE,
                Action::ScrollDetail(5),
                "PgDn PgUp",
                "scroll detail"
            ),
            bind!(Composer, PageUp, NONE, Action::ScrollDetail(-5), "", ""),
            bind!(
                Composer,
                Up,
                ALT,
                Action::SelectPrev,
                "Alt-↑ Alt-↓",
                "select turns"
            ),
            bind!(Composer, Down, ALT, Action::SelectNext, "", ""),
        ]
    }
}

/// Whether a binding matches a key (Shift is part of the character itself).
fn matches(b: &Binding, key: &KeyEvent) -> bool {
    let mods = match key.code {
        KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    b.code == key.code && b.mods == mods
}

fn lookup(scope: Scope, key: &KeyEvent) -> Option<Action> {
    bindings()
        .iter()
        .find(|b| b.scope == scope && matches(b, key))
        .map(|b| b.action.clone())
}

/// The action a key press means in the app's current state; `None` ignores the key.
pub fn resolve(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if let Some(action) = lookup(Scope::Global, &key) {
        return Some(action);
    }
    if app.proxy.as_ref().is_some_and(|p| p.is_open()) {
        return Some(super::breakpoint::resolve_key(key));
    }
    if app.help || app.log_open {
        return lookup(Scope::Help, &key);
    }
    if app.offer.is_some() {
        return lookup(Scope::Offer, &key);
    }
    if app.frames_tab.typing.is_some() {
        return search_key(key);
    }
    match app.focus {
        Focus::Turns if app.tab == Tab::Frames => {
            lookup(Scope::Frames, &key).or_else(|| lookup(Scope::Turns, &key))
        }
        Focus::Turns => lookup(Scope::Turns, &key),
        Focus::Composer => lookup(Scope::Composer, &key).or(Some(Action::ComposerInput(key))),
    }
}

/// What a key means in the Frames tab, if the tab binds it (replay asks before its own keys).
pub fn frames_key(key: &KeyEvent) -> Option<Action> {
    lookup(Scope::Frames, key)
}

/// A key while the Frames tab's search is being typed.
pub fn search_key(key: KeyEvent) -> Option<Action> {
    let action = match key.code {
        KeyCode::Enter => FramesAction::SearchSubmit,
        KeyCode::Esc => FramesAction::SearchCancel,
        KeyCode::Backspace => FramesAction::SearchBackspace,
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            FramesAction::SearchChar(c)
        }
        _ => return None,
    };
    Some(Action::Frames(action))
}

/// Help lines, per scope: (keys, what they do).
pub fn help_entries() -> Vec<(Scope, Vec<(&'static str, &'static str)>)> {
    let scopes = [
        Scope::Turns,
        Scope::Frames,
        Scope::Composer,
        Scope::Offer,
        Scope::Global,
    ];
    scopes
        .into_iter()
        .map(|s| {
            let rows = bindings()
                .iter()
                .filter(|b| b.scope == s && !b.help.is_empty())
                .map(|b| (b.keys.as_ref(), b.help))
                .collect();
            (s, rows)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::SessionInfo;
    use crate::tui::theme::Theme;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn keys_depend_on_focus_and_popups() {
        let mut app = App::new(SessionInfo::default(), Theme::default());
        app.focus = Focus::Turns;
        assert_eq!(
            resolve(&app, key(KeyCode::Char('q'), NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            resolve(&app, key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::SelectLast)
        );
        app.focus = Focus::Composer;
        assert_eq!(
            resolve(&app, key(KeyCode::Char('q'), NONE)),
            Some(Action::ComposerInput(key(KeyCode::Char('q'), NONE)))
        );
        assert_eq!(
            resolve(&app, key(KeyCode::Char('c'), CTRL)),
            Some(Action::Quit)
        );
        app.help = true;
        assert_eq!(resolve(&app, key(KeyCode::Char('x'), NONE)), None);
        assert_eq!(
            resolve(&app, key(KeyCode::Esc, NONE)),
            Some(Action::ToggleHelp)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        let all = bindings();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let shadowed = a.code == b.code
                    && a.mods == b.mods
                    && (a.scope == b.scope || a.scope == Scope::Global || b.scope == Scope::Global);
                assert!(!shadowed, "{:?} {:?} bound twice", a.code, a.mods);
            }
        }
    }
}
