//! What sources report: frames into the ledger, link changes, the clock; the messages and
//! resume offers they lead to.

use super::composer::switch_mode;
use crate::frame::{Dir, Frame, Payload, Recorded};
use crate::ledger::context as chain;
use crate::ledger::{AgeLevel, NoteLevel, TurnStatus};
use crate::protocol::server::explain_error_code;
use crate::tui::app::{App, ComposerMode, ConnState, Level, Offer};

/// Folds `frame` into the ledger and keeps it; `recorded`: where its body is in the recording,
/// read back from there rather than kept a second time.
pub(super) fn on_frame(app: &mut App, frame: Frame, recorded: Option<&Recorded>) {
    app.now_us = app.now_us.max(frame.t_us);
    let dir = frame.dir;
    let notes_before = app.ledger.notes().len();
    let touched = app.ledger.push(&frame);
    // Errors that belong to no turn (client-side, or a server error with nothing in flight).
    if let Some(note) = app.ledger.notes().get(notes_before..).and_then(<[_]>::last) {
        let level = match note.level {
            NoteLevel::Error => Level::Error,
            NoteLevel::Warn => Level::Warn,
        };
        let text = match note.error_code.as_deref().and_then(explain_error_code) {
            Some(why) => format!("{} — {why}", note.text),
            None => note.text.clone(),
        };
        app.set_message(level, text);
    }
    if dir == Dir::Sent && app.message.as_ref().is_some_and(|m| m.level == Level::Info) {
        // A new request makes the previous turn's hints stale.
        app.message = None;
    }
    if dir == Dir::Recv && !matches!(frame.payload, Payload::Json(_)) {
        let kind = match frame.payload {
            Payload::Binary(_) => "a binary frame",
            _ => "a frame that is not JSON",
        };
        app.set_message(
            Level::Warn,
            format!(
                "connection #{}: received {kind} ({} bytes); kept in the transcript, the turn goes on",
                frame.conn,
                frame.payload.as_bytes().len()
            ),
        );
    }
    app.frames_tab.push(&frame, app.frames.len());
    let spool_ok = app.frames.spool_error().is_none();
    match recorded {
        Some(at) => app.frames.push_recorded(frame, at),
        None => app.frames.push(frame),
    }
    // Said once, when it happens: from then on frames stay in memory (the screen goes on).
    if let Some(why) = app.frames.spool_error().filter(|_| spool_ok) {
        let why = why.to_owned();
        app.set_message(Level::Warn, why);
    }
    retire_past_window(app);
    let count = app.ledger.turns().len();
    if app.follow && count > 0 && app.selected != Some(count - 1) {
        app.selected = Some(count - 1);
        app.detail_scroll = 0;
    }
    // Proxy mode: the agent answers its own tool calls; no composer hints or offers.
    // The ledger numbers turns from the first ever; the screens index the listed ones.
    let touched = touched.and_then(|t| t.checked_sub(app.ledger.retired()));
    let Some(t) = touched.filter(|_| dir == Dir::Recv && app.proxy.is_none()) else {
        return;
    };
    let turn = &app.ledger.turns()[t];
    let this_frame = app.frames.len() as u64 - 1;
    if turn.frames.last() != Some(this_frame) || !turn.status.is_final() {
        return;
    }
    match turn.status.clone() {
        TurnStatus::Error { code, message } => {
            let explain = code.as_deref().and_then(explain_error_code);
            let text = match (&code, explain) {
                (Some(c), Some(e)) => format!("turn {}: {c}: {message} — {e}", t + 1),
                (Some(c), None) => format!("turn {}: {c}: {message}", t + 1),
                _ => format!("turn {}: error: {message}", t + 1),
            };
            app.set_message(Level::Error, text);
            if code.as_deref() == Some("previous_response_not_found") {
                offer_resume(
                    app,
                    "the server no longer has the previous response (previous_response_not_found)",
                );
            }
        }
        TurnStatus::Completed | TurnStatus::Incomplete { .. } => {
            let calls = app.ledger.turns()[t].tool_calls.len();
            if calls > 0 && app.head_turn() == Some(t) {
                app.composer.outputs.clear();
                app.composer.call = 0;
                match app.composer.mode {
                    // New calls: the old call's output text is stale.
                    ComposerMode::ToolOutputs => app.composer.set_text(""),
                    // Do not take the composer away from a message being typed.
                    _ if app.composer.text().trim().is_empty() => {
                        switch_mode(app, ComposerMode::ToolOutputs);
                    }
                    _ => {}
                }
                app.set_message(
                    Level::Info,
                    format!(
                        "turn {}: {} waiting for an output",
                        t + 1,
                        crate::report::counted(calls, "function call")
                    ),
                );
            } else if app.composer.mode == ComposerMode::ToolOutputs
                && app.pending_calls().is_empty()
            {
                switch_mode(app, ComposerMode::Message);
            }
        }
        TurnStatus::Failed => {
            app.set_message(Level::Error, format!("turn {}: response.failed", t + 1))
        }
        TurnStatus::Dropped | TurnStatus::NotSent | TurnStatus::Queued | TurnStatus::InFlight => {}
    }
}

/// Finished turns past [`App::turn_window`] leave the ledger into [`App::earlier`]; positions
/// that index the list move with them. They go in batches of an eighth of the window (each
/// retirement shifts the list), never the selected turn or one after it unless the list is four
/// windows long (someone parked on an old turn must not hold a day of turns).
fn retire_past_window(app: &mut App) {
    let Some(window) = app.turn_window else {
        return;
    };
    let live = app.ledger.turns().len();
    if live <= window + window / 8 {
        return;
    }
    let keep = match app.selected.filter(|_| !app.follow) {
        Some(s) if live < 4 * window => window.max(live - s),
        _ => window,
    };
    let gone = app.ledger.retire_finished_beyond(keep);
    if gone.is_empty() {
        return;
    }
    for turn in &gone {
        app.earlier.totals.add_turn(turn);
        app.earlier.cost.add_turn(&app.prices, turn);
    }
    let n = gone.len();
    if let Some(s) = app.selected {
        if s < n {
            app.set_message(
                Level::Info,
                format!("the selected turn left the list; {}", earlier_hint(app)),
            );
        }
        app.selected = Some(s.saturating_sub(n));
    }
    app.list_offset = app.list_offset.saturating_sub(n);
    app.fresh_from = app.fresh_from.saturating_sub(n);
}

/// Where the turns that left the list can still be seen: the command first, so a narrow status
/// line still shows it (the message log keeps the whole text).
pub(crate) fn earlier_hint(app: &App) -> String {
    let n = app.ledger.retired();
    let which = if n == 1 {
        "turn 1".to_owned()
    } else {
        format!("turns 1-{n}")
    };
    let keeps = app.turn_window.unwrap_or(0);
    match &app.recording {
        crate::tui::app::Recording::To(path) => format!(
            "turnscope replay {} shows {which} (this list keeps the newest {keeps}; the 'earlier' row sums the rest)",
            path.display()
        ),
        _ => format!(
            "{which} left this list (it keeps the newest {keeps}) and were not recorded (--no-record): the 'earlier' row keeps their totals"
        ),
    }
}

pub(super) fn on_link(app: &mut App, state: ConnState) {
    match &state {
        ConnState::Closed { conn, code, reason } => {
            let code = code.map_or_else(|| "no close frame".to_owned(), |c| c.to_string());
            let key = super::reconnect_key(app);
            app.set_message(
                Level::Warn,
                format!("connection #{conn} closed ({code}): {reason} — {key} reconnects"),
            );
        }
        ConnState::Failed { message } => app.set_message(Level::Error, message.clone()),
        ConnState::Connected { conn } if *conn > 0 => {
            let head = app.head_turn().map(|i| (i, app.ledger.turns()[i].store));
            match head {
                Some((_, Some(true))) => {
                    let id = app.head_id().unwrap_or_default().to_owned();
                    app.set_message(
                        Level::Info,
                        format!("connection #{conn} open; store=true: continuing by id {id}"),
                    );
                }
                Some(_) => {
                    app.link = state.clone();
                    offer_resume(
                        app,
                        "new connection: its cache is empty and the chain was not stored (store=false)",
                    );
                }
                None => app.set_message(Level::Info, format!("connection #{conn} open")),
            }
        }
        _ => {}
    }
    app.link = state;
}

/// Offers to resend the head's full context, once per connection.
pub(super) fn offer_resume(app: &mut App, why: &str) {
    // A replay cannot take the offer: the recording shows what the client chose.
    if app.replay.is_some() {
        return;
    }
    let conn = app.current_conn().unwrap_or(0);
    let Some(turn) = app.head_turn() else {
        return;
    };
    if app.resume_offered == Some(conn) && app.offer.is_some() {
        return;
    }
    app.resume_offered = Some(conn);
    let items = chain::as_input(chain::context_after(&app.ledger, &app.frames, turn));
    let (bytes, tokens) = chain::items_size(&items);
    app.offer = Some(Offer::Resume {
        why: why.to_owned(),
        turn,
        items: items.len(),
        bytes,
        tokens,
    });
}

/// A response with nothing from the server for this long is shown as stalled (µs).
pub const STALL_US: u64 = 30_000_000;

pub(super) fn on_tick(app: &mut App, now_us: u64) {
    app.now_us = app.now_us.max(now_us);
    let ConnState::Connected { conn } = app.link else {
        return;
    };
    warn_if_stalled(app, conn);
    let Some(c) = app.ledger.connections().get(conn as usize) else {
        return;
    };
    if c.age_level(app.now_us) >= AgeLevel::Rotate && app.rotation_offered != Some(conn) {
        app.rotation_offered = Some(conn);
        let turns_key = crate::tui::view::key_for(
            app,
            &[crate::tui::keymap::Scope::Turns],
            crate::tui::action::Action::Reconnect,
        );
        let global_key = super::reconnect_key(app);
        app.set_message(
            Level::Warn,
            format!("connection #{conn} is 55 min old and closes at 60: press {turns_key} (or {global_key}) to rotate now"),
        );
    }
}

/// Once per silence: a turn in flight on `conn` whose last frame is [`STALL_US`] old.
pub(super) fn warn_if_stalled(app: &mut App, conn: u32) {
    if app.stall_warned == Some(app.frames.len()) {
        return;
    }
    let Some(turn) = app
        .ledger
        .turns()
        .iter()
        .rev()
        .find(|t| t.conn == conn && t.status == TurnStatus::InFlight)
    else {
        return;
    };
    let index = turn.index;
    let Some(last) = app.frames.last_wire_t_us(conn) else {
        return;
    };
    let idle = app.now_us.saturating_sub(last);
    if idle >= STALL_US {
        app.stall_warned = Some(app.frames.len());
        let key = super::reconnect_key(app);
        app.set_message(
            Level::Warn,
            format!(
                "turn {index}: no data from the server for {} s: the stream looks stalled; {key} reconnects (nothing is resent)",
                idle / 1_000_000
            ),
        );
    }
}
