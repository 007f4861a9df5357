//! The only place app state changes: `update(app, action) -> commands`. Pure: no I/O, no clock.

use std::path::PathBuf;

mod composer;
mod navigate;
mod popups;
mod source;

use composer::{on_file, paste_text, pick_call, send, switch_mode};
use navigate::{ensure_visible, move_selection, on_click, scroll_detail, select, show_tab};
pub use source::STALL_US;
pub(crate) use source::earlier_hint;
use source::{on_frame, on_link, on_tick};

use super::action::{Action, Command};
use super::app::{App, ComposerMode, Focus, Level, Offer, REPLAY_READ_ONLY, Recording, Tab};
use super::view;
use crate::ledger::context as chain;
use crate::report::{counted, fmt_bytes};

/// Applies one action; returns the side effects to perform.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    let commands = apply(app, action);
    // Focus, popups and resizes change the list's height: keep the selection in view.
    ensure_visible(app);
    commands
}

fn apply(app: &mut App, action: Action) -> Vec<Command> {
    if app.replay.is_some() && action.writes() {
        app.set_message(Level::Info, REPLAY_READ_ONLY);
        return Vec::new();
    }
    match action {
        Action::FrameReceived(frame) => on_frame(app, frame, None),
        Action::FrameRecorded(frame, at) => on_frame(app, frame, Some(&at)),
        Action::LinkChanged(state) => on_link(app, state),
        Action::LaneQueued { lane, depth } => {
            if depth == 0 {
                app.queued.remove(&lane);
            } else {
                app.queued.insert(lane, depth);
            }
        }
        Action::RecordingStarted(result) => {
            app.recording = match result {
                Ok(path) => Recording::To(path),
                Err(e) => {
                    app.set_message(Level::Error, format!("not recording: {e}"));
                    Recording::Failed(e)
                }
            };
        }
        Action::SendFailed { count, why } => {
            // The session's reason may already say "not sent"; say it once.
            let why = why.strip_prefix("not sent: ").unwrap_or(&why);
            let plural = if count == 1 { "" } else { "s" };
            app.set_message(
                Level::Error,
                format!(
                    "{count} event{plural} not sent: {why} — {} reconnects",
                    reconnect_key(app)
                ),
            );
        }
        Action::Ticked { now_us } => on_tick(app, now_us),
        Action::Resized { width, height } => {
            app.area = ratatui::layout::Rect::new(0, 0, width, height);
        }
        Action::FileLoaded { path, result } => on_file(app, &path, result),
        Action::Pasted(text) => {
            app.focus = Focus::Composer;
            app.composer.textarea.insert_str(paste_text(&text));
            app.composer.error = None;
        }
        Action::Breakpoint(action) => return super::breakpoint::update(app, action),
        Action::Frames(action) => super::frames::update(app, action),
        Action::Payload(action) => super::payload::update(app, action),
        Action::Quit => return vec![Command::Quit],
        Action::ToggleHelp | Action::ToggleLog | Action::ScrollPopup(_) => {
            popups::update(app, &action);
        }
        Action::DismissMessage => app.message = None,
        Action::SelectNext => move_selection(app, 1),
        Action::SelectPrev => move_selection(app, -1),
        Action::PageTurns(n) => move_selection(app, n),
        Action::SelectFirst => {
            app.follow = false;
            select(app, 0);
            navigate::say_where_earlier_turns_are(app);
        }
        Action::SelectLast => {
            app.follow = true;
            select(app, app.ledger.turns().len().saturating_sub(1));
        }
        Action::NextTab => show_tab(app, Tab::ALL[(app.tab.index() + 1) % Tab::ALL.len()]),
        Action::PrevTab => {
            show_tab(
                app,
                Tab::ALL[(app.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()],
            );
        }
        Action::ShowTab(tab) => show_tab(app, tab),
        Action::ScrollDetail(n) => scroll_detail(app, n),
        Action::FocusComposer => app.focus = Focus::Composer,
        Action::FocusTurns => app.focus = Focus::Turns,
        Action::ComposerInput(key) => {
            app.composer.textarea.input(key);
            app.composer.error = None;
        }
        Action::ComposerNewline => app.composer.textarea.insert_newline(),
        Action::ComposerDeleteLine => {
            app.composer.textarea.delete_line_by_head();
            app.composer.error = None;
        }
        Action::SendTurn => return send(app),
        Action::CycleComposerMode => {
            let next = match app.composer.mode {
                // Tool outputs only exist while calls wait; otherwise it is a hidden extra step.
                ComposerMode::Message if app.pending_calls().is_empty() => ComposerMode::Raw,
                ComposerMode::Message => ComposerMode::ToolOutputs,
                ComposerMode::ToolOutputs => ComposerMode::Raw,
                ComposerMode::Raw => ComposerMode::Message,
            };
            switch_mode(app, next);
        }
        Action::NextPendingCall => pick_call(app, 1),
        Action::PrevPendingCall => pick_call(app, -1),
        Action::LoadOutputFile => {
            let path = app.composer.text().trim().to_owned();
            if path.is_empty() {
                app.composer.error =
                    Some("type a file path in the composer, then press Ctrl-O".into());
            } else {
                return vec![Command::LoadFile(PathBuf::from(path))];
            }
        }
        Action::ToggleStore => app.composer.store = !app.composer.store,
        Action::CycleLane => {
            app.composer.lane = match app.composer.lane.as_deref() {
                None => Some("lane-1".into()),
                Some("lane-1") => Some("lane-2".into()),
                Some(_) => None,
            };
        }
        Action::ToggleWarmup => app.composer.warmup = !app.composer.warmup,
        Action::ToggleSteer => app.composer.steer = !app.composer.steer,
        Action::Reconnect => {
            app.set_message(Level::Info, "reconnecting: opening a new connection…");
            return vec![Command::Reconnect];
        }
        Action::ResendFullContext => {
            if let Some(Offer::Resume {
                turn, items, bytes, ..
            }) = app.offer.take()
            {
                let context = chain::as_input(chain::context_after(&app.ledger, &app.frames, turn));
                app.resend = Some(context);
                app.focus = Focus::Composer;
                app.set_message(
                    Level::Info,
                    format!(
                        "the next turn resends the full context: {}, {}",
                        counted(items, "item"),
                        fmt_bytes(bytes)
                    ),
                );
            }
        }
        Action::StartFresh => {
            app.offer = None;
            app.resend = None;
            app.fresh_from = app.ledger.turns().len();
            app.composer.outputs.clear();
            switch_mode(app, ComposerMode::Message);
            app.focus = Focus::Composer;
            app.set_message(
                Level::Info,
                "fresh start: the next message begins a new chain",
            );
        }
        Action::DismissOffer => app.offer = None,
        Action::Clicked { column, row } => on_click(app, column, row),
        Action::Scrolled { column, row, delta } => {
            let areas = view::layout(app, app.area);
            let at = ratatui::layout::Position::new(column, row);
            if areas.list.contains(at) {
                move_selection(app, delta);
            } else if areas.detail.contains(at) {
                scroll_detail(app, delta * 3);
            }
        }
    }
    Vec::new()
}

/// How a status message names the reconnect key: the global binding, as remapped.
fn reconnect_key(app: &App) -> String {
    view::key_for(
        app,
        &[super::keymap::Scope::Global],
        super::action::Action::Reconnect,
    )
}
