//! The live and proxy screens' key table, owned by the App: what a key means in each state
//! of the screen, and the help rows drawn from the same table (see [`table`]).

#[cfg(test)]
mod coverage;
pub mod defaults;
pub mod remap;
pub mod table;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::app::{App, Focus, Tab};
use super::breakpoint::BreakpointAction;
use super::frames::FramesAction;
pub use defaults::defaults;
pub use table::HelpRow;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere.
    Global,
    /// Everywhere in proxy mode (breakpoints), over the other scopes.
    Proxy,
    /// Browsing turns.
    Turns,
    /// Typing in the composer.
    Composer,
    /// The resume offer popup.
    Offer,
    /// The help popup.
    Help,
    /// The message log popup.
    Log,
    /// The Frames tab, over the turn list's keys.
    Frames,
    /// The Payload tab, over the turn list's keys.
    Payload,
    /// Typing the Frames tab's search.
    Search,
    /// A held frame's editor (proxy breakpoints).
    Held,
}

impl Scope {
    /// Heading in the help popup.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Anywhere",
            Scope::Proxy => "Proxy",
            Scope::Turns => "Turn list",
            Scope::Composer => "Composer",
            Scope::Offer => "Resume offer",
            Scope::Help => "Help",
            Scope::Log => "Message log",
            Scope::Frames => "Frames tab",
            Scope::Payload => "Payload tab",
            Scope::Search => "Frames search",
            Scope::Held => "Held frame",
        }
    }
}

/// One key binding of the live table.
pub type Binding = table::Binding<Scope, Action>;

/// The live and proxy screens' keys: the defaults, or the config file's remaps over them.
/// Each App holds its own, so two Apps in one process can differ.
pub type Keymap = table::KeyTable<Scope, Action>;

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new(defaults())
    }
}

/// What an unbound key does in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing.
    Ignore,
    /// It is typed into the composer.
    Composer,
    /// It is typed into the Frames search (characters without Ctrl).
    Search,
    /// It edits the held frame.
    Editor,
}

/// The scopes asked, first match wins, and what an unbound key does: the screen's state as
/// far as keys go. Dispatch and the tests of help against dispatch both read it.
pub fn mode(app: &App) -> (&'static [Scope], Fallback) {
    use Scope::{Composer, Frames, Global, Held, Help, Log, Offer, Payload, Proxy, Search, Turns};
    let proxy = app.proxy.is_some();
    if app.proxy.as_ref().is_some_and(|p| p.is_open()) {
        return (&[Global, Proxy, Held], Fallback::Editor);
    }
    // Each state twice: with the proxy's breakpoint keys over it, and without.
    let (with, without): (&'static [Scope], &'static [Scope]) = if app.help {
        (&[Global, Proxy, Help], &[Global, Help])
    } else if app.log_open {
        (&[Global, Proxy, Log], &[Global, Log])
    } else if app.offer.is_some() {
        (&[Global, Proxy, Offer], &[Global, Offer])
    } else if app.frames_tab.typing.is_some() {
        let scopes: &'static [Scope] = &[Global, Search];
        return (scopes, Fallback::Search);
    } else {
        match app.focus {
            Focus::Turns if app.tab == Tab::Frames => {
                (&[Global, Proxy, Frames, Turns], &[Global, Frames, Turns])
            }
            Focus::Turns if app.tab == Tab::Payload => {
                (&[Global, Proxy, Payload, Turns], &[Global, Payload, Turns])
            }
            Focus::Turns => (&[Global, Proxy, Turns], &[Global, Turns]),
            Focus::Composer => {
                let scopes: &'static [Scope] = if proxy {
                    &[Global, Proxy, Composer]
                } else {
                    &[Global, Composer]
                };
                return (scopes, Fallback::Composer);
            }
        }
    };
    (if proxy { with } else { without }, Fallback::Ignore)
}

/// What an unbound key means under `fallback`.
pub fn fallback(fallback: Fallback, key: KeyEvent) -> Option<Action> {
    match fallback {
        Fallback::Ignore => None,
        Fallback::Composer => Some(Action::ComposerInput(key)),
        Fallback::Search => match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Some(Action::Frames(FramesAction::SearchChar(c)))
            }
            _ => None,
        },
        Fallback::Editor => Some(Action::Breakpoint(BreakpointAction::EditorInput(key))),
    }
}

/// The action a key press means in the app's current state, from the app's own keymap;
/// `None` ignores the key.
pub fn resolve(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let (scopes, fb) = mode(app);
    match app.keymap.lookup_in(scopes, &key) {
        Some((_, action)) => Some(action),
        None => fallback(fb, key),
    }
}

/// Help rows of `scope` as the help popup lists them: global keys come first everywhere.
pub fn help_rows(keymap: &Keymap, scope: Scope) -> Vec<HelpRow> {
    let before: &[Scope] = if scope == Scope::Global {
        &[]
    } else {
        &[Scope::Global]
    };
    keymap.rows(scope, before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::SessionInfo;

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;
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
        let keymap = Keymap::default();
        let all = keymap.bindings();
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
