//! The replay screen's keymap: one table for keys, actions and the help popup.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{ExportKind, FilterFrom, PromptKind, ReplayAction, ReplayApp, Speed};
use crate::tui::Action;

/// (keys as shown in help, what they do).
const HELP: &[(&str, &str)] = &[
    ("j/k", "next / previous frame (moves the time cursor)"),
    ("↓/↑", "select a turn (in the frames view: a frame)"),
    ("]/[", "next / previous turn"),
    ("g/G PgDn/PgUp", "first / last frame, ten frames"),
    ("space", "play / pause (original timing)"),
    ("1 2 3", "play at ×1, ×10, max"),
    (":", "jump: turn N, #frame, resp_…, 12.5s"),
    ("/ n N", "search, next, previous"),
    ("f", "filter: all, errors, sent, received, meta"),
    ("t c l", "only this type, connection, lane"),
    ("F", "clear the filter"),
    ("m", "mark this turn for a diff"),
    ("d", "diff marked vs this turn (else vs HTTP)"),
    ("D", "this request vs what HTTP mode sends"),
    (
        "e E r w",
        "export frame, turn, response; w: to a named file",
    ),
    ("J/K", "scroll the detail or diff"),
    ("T", "follow a growing file (tail -f)"),
    ("v", "inspector at the cursor / frames timeline"),
    ("Tab S-Tab", "inspector: next / previous tab"),
    ("Frames tab", "/ n N f t L F J K act on the tab's frames"),
    ("Esc", "close diff, prompt or help"),
    ("q", "quit"),
];

/// Keys and what they do, for the help popup.
pub fn help_entries() -> &'static [(&'static str, &'static str)] {
    HELP
}

/// The action a key means in the app's current state.
pub fn resolve(app: &ReplayApp, key: KeyEvent) -> Option<ReplayAction> {
    use ReplayAction as A;
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(A::Quit);
    }
    if app.prompt.is_some() {
        return match key.code {
            KeyCode::Enter => Some(A::PromptSubmit),
            KeyCode::Esc => Some(A::PromptCancel),
            KeyCode::Backspace => Some(A::PromptBackspace),
            KeyCode::Char(c) => Some(A::PromptChar(c)),
            _ => None,
        };
    }
    if app.help {
        return match key.code {
            KeyCode::Char('q') => Some(A::Quit),
            _ => Some(A::ToggleHelp),
        };
    }
    let in_diff = app.diff.is_some();
    // The inspector's own keys: its turn list, tabs and detail scroll (the App's actions).
    let inspect = app.inspect && !in_diff;
    let view = |action| Some(A::Inspect(action));
    // The Frames tab's own keys (search, filters, frame selection) win while it is shown.
    if let Some(ins) = app.inspector.as_ref().filter(|_| inspect) {
        if ins.app.frames_tab.typing.is_some() {
            return crate::tui::keymap::search_key(key).map(A::Inspect);
        }
        if ins.app.tab == crate::tui::app::Tab::Frames
            && let Some(action) = crate::tui::keymap::frames_key(&key)
        {
            return view(action);
        }
    }
    match key.code {
        KeyCode::Down if inspect => return view(Action::SelectNext),
        KeyCode::Up if inspect => return view(Action::SelectPrev),
        KeyCode::Char('J') if inspect => return view(Action::ScrollDetail(5)),
        KeyCode::Char('K') if inspect => return view(Action::ScrollDetail(-5)),
        KeyCode::Tab if app.inspect => return view(Action::NextTab),
        KeyCode::BackTab if app.inspect => return view(Action::PrevTab),
        _ => {}
    }
    Some(match key.code {
        KeyCode::Char('q') => A::Quit,
        KeyCode::Char('?') => A::ToggleHelp,
        KeyCode::Esc => A::Back,
        KeyCode::Char('j') | KeyCode::Down if in_diff => A::Scroll(1),
        KeyCode::Char('k') | KeyCode::Up if in_diff => A::Scroll(-1),
        KeyCode::Char('j') | KeyCode::Down => A::StepFrame(1),
        KeyCode::Char('k') | KeyCode::Up => A::StepFrame(-1),
        KeyCode::PageDown => A::StepFrame(10),
        KeyCode::PageUp => A::StepFrame(-10),
        KeyCode::Char(']') => A::StepTurn(1),
        KeyCode::Char('[') => A::StepTurn(-1),
        KeyCode::Char('g') | KeyCode::Home => A::First,
        KeyCode::Char('G') | KeyCode::End => A::Last,
        KeyCode::Char(' ') => A::TogglePlay,
        KeyCode::Char('1') => A::SetSpeed(Speed::X1),
        KeyCode::Char('2') => A::SetSpeed(Speed::X10),
        KeyCode::Char('3') => A::SetSpeed(Speed::Max),
        KeyCode::Char(':') => A::OpenPrompt(PromptKind::Jump),
        KeyCode::Char('/') => A::OpenPrompt(PromptKind::Search),
        KeyCode::Char('w') => A::OpenPrompt(PromptKind::Export(ExportKind::Frame)),
        KeyCode::Char('n') => A::SearchNext,
        KeyCode::Char('N') => A::SearchPrev,
        KeyCode::Char('f') => A::CycleFilter,
        KeyCode::Char('t') => A::FilterBySelected(FilterFrom::Kind),
        KeyCode::Char('c') => A::FilterBySelected(FilterFrom::Conn),
        KeyCode::Char('l') => A::FilterBySelected(FilterFrom::Lane),
        KeyCode::Char('F') => A::ClearFilter,
        KeyCode::Char('m') => A::MarkTurn,
        KeyCode::Char('d') => A::ShowDiff { http: false },
        KeyCode::Char('D') => A::ShowDiff { http: true },
        KeyCode::Char('e') => A::Export(ExportKind::Frame),
        KeyCode::Char('E') => A::Export(ExportKind::Turn),
        KeyCode::Char('r') => A::Export(ExportKind::Response),
        KeyCode::Char('J') => A::Scroll(1),
        KeyCode::Char('K') => A::Scroll(-1),
        KeyCode::Char('T') => A::ToggleTail,
        KeyCode::Char('v') => A::ToggleInspect,
        _ => return None,
    })
}
