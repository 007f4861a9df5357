//! The replay screen's key table: one list that both dispatches keys and draws the help, per
//! state of the screen, remappable from `config.toml` (`[keys.replay]` and the other
//! `replay-*` scopes). Over the inspector, the Frames tab's keys come from the live keymap the
//! replay was opened with (its remaps included).

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{ExportKind, FilterFrom, PromptKind, ReplayAction, ReplayApp, Speed};
use crate::config::{ConfigError, KeySpec};
use crate::tui::Action;
use crate::tui::app::Tab;
use crate::tui::keymap::remap::{self, Names};
use crate::tui::keymap::{self, HelpRow, table};

/// Where a replay binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere, prompts and help included.
    Global,
    /// Typing a prompt (`/`, `:`, `w`).
    Prompt,
    /// The help popup.
    Help,
    /// A diff shown over the detail.
    Diff,
    /// The live inspector at the cursor: its turn list, tabs and detail.
    Inspector,
    /// The time cursor: frames, turns, playback, search, filters, marks, exports.
    Cursor,
}

/// One replay binding.
pub type Binding = table::Binding<Scope, ReplayAction>;

/// The replay screen's keys.
pub type ReplayKeys = table::KeyTable<Scope, ReplayAction>;

impl Default for ReplayKeys {
    fn default() -> Self {
        ReplayKeys::new(defaults())
    }
}

/// What `config.toml` calls the replay's scopes and actions: the time cursor's keys are
/// `[keys.replay]`, the others `[keys.replay-<scope>]`.
pub const NAMES: Names<Scope, ReplayAction> = Names {
    scopes: &[
        (Scope::Cursor, "replay"),
        (Scope::Global, "replay-global"),
        (Scope::Prompt, "replay-prompt"),
        (Scope::Help, "replay-help"),
        (Scope::Diff, "replay-diff"),
        (Scope::Inspector, "replay-inspector"),
    ],
    action: action_name,
    over_all: |scope| scope == Scope::Global,
};

/// The name `config.toml` uses for a replay action, for every action a key can trigger; the
/// inspector's actions keep their live names (`next`, `scroll-down`, `next-tab`).
pub fn action_name(action: &ReplayAction) -> Option<&'static str> {
    use ReplayAction as A;
    Some(match action {
        A::Quit => "quit",
        A::StepFrame(1) => "next",
        A::StepFrame(-1) => "prev",
        A::StepFrame(n) if *n > 0 => "page-down",
        A::StepFrame(_) => "page-up",
        A::StepTurn(n) if *n > 0 => "next-turn",
        A::StepTurn(_) => "prev-turn",
        A::First => "first",
        A::Last => "last",
        A::TogglePlay => "play",
        A::SetSpeed(Speed::X1) => "speed-1",
        A::SetSpeed(Speed::X10) => "speed-10",
        A::SetSpeed(Speed::Max) => "speed-max",
        A::OpenPrompt(PromptKind::Jump) => "jump",
        A::OpenPrompt(PromptKind::Search) => "search",
        A::OpenPrompt(PromptKind::Export(_)) => "export-as",
        A::SearchNext => "match-next",
        A::SearchPrev => "match-prev",
        A::CycleFilter => "filter",
        A::FilterBySelected(FilterFrom::Kind) => "filter-type",
        A::FilterBySelected(FilterFrom::Conn) => "filter-conn",
        A::FilterBySelected(FilterFrom::Lane) => "filter-lane",
        A::ClearFilter => "filter-clear",
        A::MarkTurn => "mark",
        A::ShowDiff { http: false } => "diff",
        A::ShowDiff { http: true } => "diff-http",
        A::Export(ExportKind::Frame) => "export-frame",
        A::Export(ExportKind::Turn) => "export-turn",
        A::Export(ExportKind::Response) => "export-response",
        A::Scroll(n) if *n > 0 => "scroll-down",
        A::Scroll(_) => "scroll-up",
        A::ToggleTail => "tail",
        A::ToggleInspect => "inspect",
        A::ToggleHelp => "help",
        A::Back => "back",
        A::PromptSubmit => "run",
        A::PromptCancel => "cancel",
        A::PromptBackspace => "delete",
        A::Inspect(live) => return remap::action_name(live),
        _ => return None,
    })
}

/// The replay's keys with the config file's `[keys.replay*]` remaps over the defaults (the
/// other scopes' tables are the live keymap's). Errors name the file, line and key.
pub fn remapped(specs: &[KeySpec], path: &Path) -> Result<ReplayKeys, ConfigError> {
    remap::remap_table(&NAMES, &defaults(), specs, path)
}

/// A layer of keys in a state: the replay's own scopes, or a scope of the live keymap whose
/// actions go to the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A replay scope.
    Own(Scope),
    /// A live scope (Frames tab, its search), acting on the inspector.
    Live(keymap::Scope),
}

/// What an unbound key does in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing.
    Ignore,
    /// A character is typed into the prompt.
    Prompt,
    /// Any other key closes the help.
    CloseHelp,
    /// A character is typed into the Frames tab's search.
    Search,
}

fn bind(scope: Scope, code: KeyCode, action: ReplayAction, help: &'static str) -> Binding {
    Binding {
        scope,
        code,
        mods: KeyModifiers::NONE,
        action,
        help,
    }
}

/// The built-in replay bindings, in help order.
pub fn defaults() -> Vec<Binding> {
    use KeyCode::{
        BackTab, Backspace, Char, Down, End, Enter, Esc, Home, PageDown, PageUp, Tab as TabKey, Up,
    };
    use ReplayAction as A;
    use Scope::{Cursor, Diff, Global, Help, Inspector, Prompt};
    let view = A::Inspect;
    vec![
        Binding {
            mods: KeyModifiers::CONTROL,
            ..bind(Global, Char('c'), A::Quit, "quit")
        },
        bind(Prompt, Enter, A::PromptSubmit, "run"),
        bind(Prompt, Esc, A::PromptCancel, "cancel"),
        bind(Prompt, Backspace, A::PromptBackspace, "delete"),
        bind(Help, Esc, A::ToggleHelp, "close (any other key too)"),
        bind(Help, Char('?'), A::ToggleHelp, "close (any other key too)"),
        bind(Help, Char('q'), A::Quit, "quit"),
        bind(Diff, Char('j'), A::Scroll(1), "scroll the diff"),
        bind(Diff, Char('k'), A::Scroll(-1), "scroll the diff"),
        bind(Diff, Down, A::Scroll(1), "scroll the diff"),
        bind(Diff, Up, A::Scroll(-1), "scroll the diff"),
        bind(Inspector, Down, view(Action::SelectNext), "select a turn"),
        bind(Inspector, Up, view(Action::SelectPrev), "select a turn"),
        bind(
            Inspector,
            Char('J'),
            view(Action::ScrollDetail(5)),
            "scroll the detail",
        ),
        bind(
            Inspector,
            Char('K'),
            view(Action::ScrollDetail(-5)),
            "scroll the detail",
        ),
        bind(
            Inspector,
            TabKey,
            view(Action::NextTab),
            "next / previous tab",
        ),
        bind(
            Inspector,
            BackTab,
            view(Action::PrevTab),
            "next / previous tab",
        ),
        bind(
            Cursor,
            Char('j'),
            A::StepFrame(1),
            "next / previous frame (moves the time cursor)",
        ),
        bind(
            Cursor,
            Char('k'),
            A::StepFrame(-1),
            "next / previous frame (moves the time cursor)",
        ),
        bind(
            Cursor,
            Down,
            A::StepFrame(1),
            "next / previous frame (moves the time cursor)",
        ),
        bind(
            Cursor,
            Up,
            A::StepFrame(-1),
            "next / previous frame (moves the time cursor)",
        ),
        bind(Cursor, Char(']'), A::StepTurn(1), "next / previous turn"),
        bind(Cursor, Char('['), A::StepTurn(-1), "next / previous turn"),
        bind(
            Cursor,
            Char('g'),
            A::First,
            "first / last frame, ten frames",
        ),
        bind(Cursor, Home, A::First, "first / last frame, ten frames"),
        bind(Cursor, Char('G'), A::Last, "first / last frame, ten frames"),
        bind(Cursor, End, A::Last, "first / last frame, ten frames"),
        bind(
            Cursor,
            PageDown,
            A::StepFrame(10),
            "first / last frame, ten frames",
        ),
        bind(
            Cursor,
            PageUp,
            A::StepFrame(-10),
            "first / last frame, ten frames",
        ),
        bind(
            Cursor,
            Char(' '),
            A::TogglePlay,
            "play / pause (original timing)",
        ),
        bind(
            Cursor,
            Char('1'),
            A::SetSpeed(Speed::X1),
            "play at ×1, ×10, max",
        ),
        bind(
            Cursor,
            Char('2'),
            A::SetSpeed(Speed::X10),
            "play at ×1, ×10, max",
        ),
        bind(
            Cursor,
            Char('3'),
            A::SetSpeed(Speed::Max),
            "play at ×1, ×10, max",
        ),
        bind(
            Cursor,
            Char(':'),
            A::OpenPrompt(PromptKind::Jump),
            "jump: turn N, #frame, resp_…, 12.5s",
        ),
        bind(
            Cursor,
            Char('/'),
            A::OpenPrompt(PromptKind::Search),
            "search, next, previous",
        ),
        bind(Cursor, Char('n'), A::SearchNext, "search, next, previous"),
        bind(Cursor, Char('N'), A::SearchPrev, "search, next, previous"),
        bind(
            Cursor,
            Char('f'),
            A::CycleFilter,
            "filter: all, errors, sent, received, meta",
        ),
        bind(
            Cursor,
            Char('t'),
            A::FilterBySelected(FilterFrom::Kind),
            "only this type, connection, lane",
        ),
        bind(
            Cursor,
            Char('c'),
            A::FilterBySelected(FilterFrom::Conn),
            "only this type, connection, lane",
        ),
        bind(
            Cursor,
            Char('l'),
            A::FilterBySelected(FilterFrom::Lane),
            "only this type, connection, lane",
        ),
        bind(Cursor, Char('F'), A::ClearFilter, "clear the filter"),
        bind(Cursor, Char('m'), A::MarkTurn, "mark this turn for a diff"),
        bind(
            Cursor,
            Char('d'),
            A::ShowDiff { http: false },
            "diff marked vs this turn (else vs HTTP)",
        ),
        bind(
            Cursor,
            Char('D'),
            A::ShowDiff { http: true },
            "this request vs what HTTP mode sends",
        ),
        bind(
            Cursor,
            Char('e'),
            A::Export(ExportKind::Frame),
            "export frame, turn, response (w: named file)",
        ),
        bind(
            Cursor,
            Char('E'),
            A::Export(ExportKind::Turn),
            "export frame, turn, response (w: named file)",
        ),
        bind(
            Cursor,
            Char('r'),
            A::Export(ExportKind::Response),
            "export frame, turn, response (w: named file)",
        ),
        bind(
            Cursor,
            Char('w'),
            A::OpenPrompt(PromptKind::Export(ExportKind::Frame)),
            "export frame, turn, response (w: named file)",
        ),
        bind(Cursor, Char('J'), A::Scroll(1), "scroll the detail or diff"),
        bind(
            Cursor,
            Char('K'),
            A::Scroll(-1),
            "scroll the detail or diff",
        ),
        bind(
            Cursor,
            Char('T'),
            A::ToggleTail,
            "follow a growing file (tail -f)",
        ),
        bind(
            Cursor,
            Char('v'),
            A::ToggleInspect,
            "inspector at the cursor / frames timeline",
        ),
        bind(Cursor, Char('?'), A::ToggleHelp, "this help"),
        bind(Cursor, Esc, A::Back, "close diff, prompt or help"),
        bind(Cursor, Char('q'), A::Quit, "quit"),
    ]
}

/// The layers asked, first match wins, and what an unbound key does: the screen's state as far
/// as keys go. Dispatch, help and the tests of one against the other all read it.
pub fn mode(app: &ReplayApp) -> (Vec<Layer>, Fallback) {
    if app.help && app.prompt.is_none() {
        return (
            vec![Layer::Own(Scope::Global), Layer::Own(Scope::Help)],
            Fallback::CloseHelp,
        );
    }
    screen_mode(app)
}

/// The state under the help popup: what its keys do there is what the help lists.
fn screen_mode(app: &ReplayApp) -> (Vec<Layer>, Fallback) {
    use Layer::{Live, Own};
    if app.prompt.is_some() {
        return (
            vec![Own(Scope::Global), Own(Scope::Prompt)],
            Fallback::Prompt,
        );
    }
    if app.diff.is_some() {
        return (
            vec![Own(Scope::Global), Own(Scope::Diff), Own(Scope::Cursor)],
            Fallback::Ignore,
        );
    }
    match app.inspector.as_ref().filter(|_| app.inspect) {
        Some(ins) if ins.app.frames_tab.typing.is_some() => (
            vec![Own(Scope::Global), Live(keymap::Scope::Search)],
            Fallback::Search,
        ),
        Some(ins) if ins.app.tab == Tab::Frames => (
            vec![
                Own(Scope::Global),
                Live(keymap::Scope::Frames),
                Own(Scope::Inspector),
                Own(Scope::Cursor),
            ],
            Fallback::Ignore,
        ),
        Some(_) => (
            vec![
                Own(Scope::Global),
                Own(Scope::Inspector),
                Own(Scope::Cursor),
            ],
            Fallback::Ignore,
        ),
        None => (
            vec![Own(Scope::Global), Own(Scope::Cursor)],
            Fallback::Ignore,
        ),
    }
}

/// What `key` means in `layer`.
fn lookup(app: &ReplayApp, layer: Layer, key: &KeyEvent) -> Option<ReplayAction> {
    match layer {
        Layer::Own(scope) => app.keys.lookup(scope, key),
        Layer::Live(scope) => app.keymap.lookup(scope, key).map(ReplayAction::Inspect),
    }
}

/// The action a key means in the app's current state.
pub fn resolve(app: &ReplayApp, key: KeyEvent) -> Option<ReplayAction> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let (layers, fallback) = mode(app);
    if let Some(action) = layers.iter().find_map(|&l| lookup(app, l, &key)) {
        return Some(action);
    }
    match (fallback, key.code) {
        (Fallback::Prompt, KeyCode::Char(c)) => Some(ReplayAction::PromptChar(c)),
        (Fallback::CloseHelp, _) => Some(ReplayAction::ToggleHelp),
        (Fallback::Search, _) => {
            keymap::fallback(keymap::Fallback::Search, key).map(ReplayAction::Inspect)
        }
        _ => None,
    }
}

/// Help rows of `layers[at]`, leaving out the keys an earlier layer takes first (they would
/// not do what the row says).
pub fn layer_rows(app: &ReplayApp, layers: &[Layer], at: usize) -> Vec<HelpRow> {
    let free = |code: KeyCode, mods: KeyModifiers| {
        let key = KeyEvent::new(code, mods);
        !layers[..at].iter().any(|&l| lookup(app, l, &key).is_some())
    };
    match layers[at] {
        Layer::Own(scope) => visible_rows(app.keys.bindings(), scope, free),
        Layer::Live(scope) => visible_rows(app.keymap.bindings(), scope, free),
    }
}

/// Rows of `scope` in `bindings` with only the keys `free` lets through.
fn visible_rows<S: Copy + PartialEq, A: Clone>(
    bindings: &[table::Binding<S, A>],
    scope: S,
    free: impl Fn(KeyCode, KeyModifiers) -> bool,
) -> Vec<HelpRow> {
    let kept: Vec<table::Binding<S, A>> = bindings
        .iter()
        .filter(|b| b.scope == scope && free(b.code, b.mods))
        .cloned()
        .collect();
    table::KeyTable::new(kept).rows(scope, &[])
}

/// Help rows of a state's layers, in order; rows of several layers that say the same thing
/// become one (`Ctrl-C q  quit`).
pub fn rows_of(app: &ReplayApp, layers: &[Layer]) -> Vec<HelpRow> {
    let mut rows: Vec<HelpRow> = Vec::new();
    for row in (0..layers.len()).flat_map(|i| layer_rows(app, layers, i)) {
        match rows.iter_mut().find(|r| r.help == row.help) {
            Some(r) => {
                r.keys.push(' ');
                r.keys.push_str(&row.keys);
            }
            None => rows.push(row),
        }
    }
    rows
}

/// What the help popup lists: the keys of the screen under it.
pub fn help_rows(app: &ReplayApp) -> Vec<HelpRow> {
    rows_of(app, &screen_mode(app).0)
}

/// How the help popup is closed: its own scope's rows (`Esc ? close`).
pub fn close_rows(app: &ReplayApp) -> Vec<HelpRow> {
    app.keys.rows(Scope::Help, &[Scope::Global])
}
