//! The Payload tab's reading state and its pure update: which long strings are shown whole
//! (the one at the top of the pane, or all of them) and how far the pane is scrolled sideways.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::app::{App, Tab};
use super::view::json;

/// Strings longer than this many characters are folded in the Payload tab.
pub const FOLD: usize = 160;

/// Lines the Payload tab draws above the JSON (the summary and a blank line).
pub const HEAD_LINES: usize = 2;

/// Columns one sideways scroll step moves.
pub const SIDEWAYS_STEP: i32 = 8;

/// What the Payload tab keeps for the selected turn; another turn starts folded again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadView {
    /// The turn this state belongs to (0-based).
    pub turn: Option<usize>,
    /// Long strings shown whole, by their order among the long strings of the payload.
    pub expanded: BTreeSet<usize>,
    /// Every long string shown whole.
    pub all: bool,
    /// Columns scrolled to the right.
    pub sideways: u16,
}

impl PayloadView {
    /// This state if it belongs to `turn`, else the fresh one.
    pub fn for_turn(&self, turn: Option<usize>) -> PayloadView {
        if self.turn == turn {
            self.clone()
        } else {
            PayloadView {
                turn,
                ..PayloadView::default()
            }
        }
    }

    /// Whether long string number `n` is shown whole.
    pub fn is_expanded(&self, n: usize) -> bool {
        self.all || self.expanded.contains(&n)
    }
}

/// Everything the Payload tab can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadAction {
    /// Show whole (or fold again) the first long string at or below the pane's top line.
    ToggleString,
    /// Show every long string whole, or fold them all again.
    ToggleAll,
    /// Scroll sideways by columns (negative = left).
    Sideways(i32),
}

/// The selected turn's request as sent, if it has one.
pub fn request_text(app: &App, turn: usize) -> Option<Cow<'_, str>> {
    app.ledger
        .turns()
        .get(turn)?
        .request_frame
        .and_then(|f| app.frames.json(f))
}

/// The long string the next [`PayloadAction::ToggleString`] acts on: the first one whose line is
/// at or below the pane's top line (`scroll`), given the lines each long string starts on.
pub fn target(starts: &[usize], scroll: usize) -> Option<usize> {
    let top = scroll.saturating_sub(HEAD_LINES);
    starts.iter().position(|&line| line >= top)
}

/// Applies a Payload action; outside the Payload tab it only says where it works.
pub fn update(app: &mut App, action: PayloadAction) {
    if app.tab != Tab::Payload {
        app.set_message(
            super::app::Level::Info,
            "e, E, H and L act on the Payload tab (1)",
        );
        return;
    }
    let mut view = app.payload_view.for_turn(app.selected);
    match action {
        PayloadAction::ToggleAll => {
            view.all = !view.all;
            view.expanded.clear();
        }
        PayloadAction::ToggleString => {
            let Some(text) = app.selected.and_then(|i| request_text(app, i)) else {
                return;
            };
            let pretty = json::pretty_with(&text, FOLD, &|n| view.is_expanded(n));
            if let Some(n) = target(&pretty.long_starts, usize::from(app.detail_scroll)) {
                if view.all {
                    // Folding one out of "all": the others stay whole.
                    view.all = false;
                    view.expanded = (0..pretty.long_starts.len()).filter(|&k| k != n).collect();
                } else if !view.expanded.remove(&n) {
                    view.expanded.insert(n);
                }
            }
        }
        PayloadAction::Sideways(n) => {
            let next = i64::from(view.sideways) + i64::from(n);
            view.sideways = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
        }
    }
    app.payload_view = view;
}
