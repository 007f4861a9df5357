//! The Frames tab's state and its pure update: every frame of the selected connection (pings,
//! errors, closes and meta lines included), one selected, searched and filtered — the Messages
//! panel of browser devtools, over turns. The same in live, proxy and replay: it reads only
//! `App::frames`.

use memchr::memmem;

use super::app::App;
use crate::frame::Frame;
use crate::replay::filter::Filter;

/// What the Frames tab keeps beside `App::frames` (which keeps each frame's head, on disk).
#[derive(Debug, Clone, Default)]
pub struct FramesTab {
    /// The selected frame (index into `App::frames`); `None` follows the newest shown frame.
    pub selected: Option<usize>,
    /// Which frames are shown.
    pub filter: Filter,
    /// The search text in force.
    pub search: Option<String>,
    /// Frames whose payload holds the search text (indices into `App::frames`, ascending).
    pub hits: Vec<usize>,
    /// Search text being typed (keys go here while it is `Some`).
    pub typing: Option<String>,
}

/// Everything the Frames tab can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramesAction {
    /// Select the next shown frame (negative = previous).
    Step(i32),
    /// Start typing a search.
    OpenSearch,
    /// A character typed into the search.
    SearchChar(char),
    /// Delete the search's last character.
    SearchBackspace,
    /// Search for what was typed: select the first match from the selection on.
    SearchSubmit,
    /// Stop typing, keeping the search in force.
    SearchCancel,
    /// Select the next match.
    NextMatch,
    /// Select the previous match.
    PrevMatch,
    /// Cycle the quick filters: all, errors, sent, received, meta.
    CycleFilter,
    /// Only frames of the selected frame's type (again: every frame).
    FilterKind,
    /// Only frames of the selected frame's lane (again: every frame).
    FilterLane,
    /// Show every frame again.
    ClearFilter,
}

impl FramesTab {
    /// Records a frame as it is pushed onto `App::frames` at index `at`.
    pub fn push(&mut self, frame: &Frame, at: usize) {
        if let Some(q) = &self.search
            && memmem::find(frame.payload.as_bytes(), q.as_bytes()).is_some()
        {
            self.hits.push(at);
        }
    }
}

/// The connection the tab shows: the selected turn's, else the newest.
pub fn connection(app: &App) -> Option<u32> {
    app.selected_turn()
        .map(|t| t.conn)
        .or_else(|| app.current_conn())
}

/// Indices (into `App::frames`) of the shown frames, oldest first.
pub fn shown(app: &App) -> Vec<usize> {
    shown_of_all(app).0
}

/// The shown frames and how many frames the tab's connection has (one pass over the store's
/// records).
pub fn shown_of_all(app: &App) -> (Vec<usize>, usize) {
    app.frames.shown(connection(app), &app.frames_tab.filter)
}

/// The selected frame if it is shown, else the newest shown one.
pub fn selected(app: &App, shown: &[usize]) -> Option<usize> {
    app.frames_tab
        .selected
        .filter(|s| shown.binary_search(s).is_ok())
        .or_else(|| shown.last().copied())
}

/// Shown frames that match the search, oldest first.
pub fn matches(app: &App, shown: &[usize]) -> Vec<usize> {
    app.frames_tab
        .hits
        .iter()
        .copied()
        .filter(|h| shown.binary_search(h).is_ok())
        .collect()
}

/// Applies one Frames action.
pub fn update(app: &mut App, action: FramesAction) {
    use FramesAction as A;
    let shown = shown(app);
    let current = selected(app, &shown);
    let tab = &mut app.frames_tab;
    match action {
        A::Step(n) => {
            let at = current
                .and_then(|c| shown.binary_search(&c).ok())
                .unwrap_or(0);
            let next = if n < 0 {
                at.saturating_sub(n.unsigned_abs() as usize)
            } else {
                (at + n.unsigned_abs() as usize).min(shown.len().saturating_sub(1))
            };
            tab.selected = shown.get(next).copied();
            app.detail_scroll = 0;
        }
        A::OpenSearch => tab.typing = Some(String::new()),
        A::SearchChar(c) => {
            if let Some(t) = &mut tab.typing {
                t.push(c);
            }
        }
        A::SearchBackspace => {
            if let Some(t) = &mut tab.typing {
                t.pop();
            }
        }
        A::SearchCancel => tab.typing = None,
        A::SearchSubmit => {
            let text = tab.typing.take().unwrap_or_default();
            if text.is_empty() {
                tab.search = None;
                tab.hits.clear();
                return;
            }
            let finder = memmem::Finder::new(text.as_bytes());
            // Bodies are read back from the spool or the recording: a search costs a pass, once.
            let frames = &app.frames;
            tab.hits = (0..frames.len())
                .filter(|&i| {
                    frames
                        .payload_bytes(i)
                        .is_some_and(|b| finder.find(&b).is_some())
                })
                .collect();
            tab.search = Some(text);
            // The first match at or after the selection, wrapping.
            let from = current.unwrap_or(0);
            go_to_match(app, &shown, |m| m >= from, true);
        }
        A::NextMatch => {
            let from = current.unwrap_or(0);
            go_to_match(app, &shown, |m| m > from, true);
        }
        A::PrevMatch => {
            let from = current.unwrap_or(usize::MAX);
            go_to_match(app, &shown, |m| m < from, false);
        }
        A::CycleFilter => tab.filter = tab.filter.cycle(),
        A::FilterKind | A::FilterLane => {
            let head = current.and_then(|c| app.frames.head(c));
            let wanted = match (action, &head) {
                (A::FilterKind, Some(h)) => Some(Filter::Kind(h.kind.clone())),
                (_, Some(h)) => h.lane.clone().map(Filter::Lane),
                (_, None) => None,
            };
            match wanted {
                Some(w) if tab.filter == w => tab.filter = Filter::All,
                Some(w) => tab.filter = w,
                None => app.set_message(
                    super::app::Level::Info,
                    "the selected frame names no lane (stream_id); select one that does",
                ),
            }
        }
        A::ClearFilter => tab.filter = Filter::All,
    }
}

/// Selects the first match (or last, going back) that `after` accepts, wrapping once.
fn go_to_match(app: &mut App, shown: &[usize], after: impl Fn(usize) -> bool, forward: bool) {
    let found = matches(app, shown);
    let pick = if forward {
        found
            .iter()
            .copied()
            .find(|&m| after(m))
            .or(found.first().copied())
    } else {
        found
            .iter()
            .rev()
            .copied()
            .find(|&m| after(m))
            .or(found.last().copied())
    };
    let query = app.frames_tab.search.clone().unwrap_or_default();
    match pick {
        Some(m) => {
            app.frames_tab.selected = Some(m);
            app.detail_scroll = 0;
        }
        None => app.set_message(
            super::app::Level::Info,
            format!("no shown frame holds {query:?} (F clears the filter)"),
        ),
    }
}
