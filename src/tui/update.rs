//! The only place app state changes: `update(app, action) -> commands`. Pure: no I/O, no clock.

use std::path::PathBuf;

mod popups;

use super::action::{Action, Command};
use super::app::{
    App, ComposerMode, Focus, Level, LinkState, Offer, REPLAY_READ_ONLY, Recording, Tab,
};
use super::{compose, view};
use crate::frame::{Dir, Frame, Payload};
use crate::ledger::context as chain;
use crate::ledger::{AgeLevel, NoteLevel, TurnStatus};
use crate::protocol::server::explain_error_code;
use crate::report::fmt_bytes;

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
        Action::FrameReceived(frame) => on_frame(app, frame),
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
                format!("{count} event{plural} not sent: {why} — Ctrl-R reconnects"),
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
                let context =
                    chain::as_input(chain::context_after(&app.ledger, &app.frames[..], turn));
                app.resend = Some(context);
                app.focus = Focus::Composer;
                app.set_message(
                    Level::Info,
                    format!(
                        "the next turn resends the full context: {items} items, {}",
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

fn on_frame(app: &mut App, frame: Frame) {
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
    app.frames.push(frame);
    let count = app.ledger.turns().len();
    if app.follow && count > 0 && app.selected != Some(count - 1) {
        app.selected = Some(count - 1);
        app.detail_scroll = 0;
    }
    // Proxy mode: the agent answers its own tool calls; no composer hints or offers.
    let Some(t) = touched.filter(|_| dir == Dir::Recv && app.proxy.is_none()) else {
        return;
    };
    let turn = &app.ledger.turns()[t];
    let this_frame = app.frames.len() as u64 - 1;
    if turn.frames.last() != Some(&this_frame) || !turn.status.is_final() {
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
                        "turn {}: {calls} function call(s) wait for an output",
                        t + 1
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

fn on_link(app: &mut App, state: LinkState) {
    match &state {
        LinkState::Closed { conn, code, reason } => {
            let code = code.map_or_else(|| "no close frame".to_owned(), |c| c.to_string());
            app.set_message(
                Level::Warn,
                format!("connection #{conn} closed ({code}): {reason} — Ctrl-R reconnects"),
            );
        }
        LinkState::Failed { message } => app.set_message(Level::Error, message.clone()),
        LinkState::Connected { conn } if *conn > 0 => {
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
fn offer_resume(app: &mut App, why: &str) {
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
    let items = chain::as_input(chain::context_after(&app.ledger, &app.frames[..], turn));
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

fn on_tick(app: &mut App, now_us: u64) {
    app.now_us = app.now_us.max(now_us);
    let LinkState::Connected { conn } = app.link else {
        return;
    };
    warn_if_stalled(app, conn);
    let Some(c) = app.ledger.connections().get(conn as usize) else {
        return;
    };
    if c.age_level(app.now_us) >= AgeLevel::Rotate && app.rotation_offered != Some(conn) {
        app.rotation_offered = Some(conn);
        app.set_message(
            Level::Warn,
            format!("connection #{conn} is 55 min old and closes at 60: press R (or Ctrl-R) to rotate now"),
        );
    }
}

/// Once per silence: a turn in flight on `conn` whose last frame is [`STALL_US`] old.
fn warn_if_stalled(app: &mut App, conn: u32) {
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
    let Some(last) = app
        .frames
        .iter()
        .rev()
        .find(|f| f.conn == conn && f.dir != Dir::Meta)
        .map(|f| f.t_us)
    else {
        return;
    };
    let idle = app.now_us.saturating_sub(last);
    if idle >= STALL_US {
        app.stall_warned = Some(app.frames.len());
        app.set_message(
            Level::Warn,
            format!(
                "turn {index}: no data from the server for {} s: the stream looks stalled; Ctrl-R reconnects (nothing is resent)",
                idle / 1_000_000
            ),
        );
    }
}

fn on_file(app: &mut App, path: &std::path::Path, result: Result<String, String>) {
    match result {
        Ok(text) => {
            if app.composer.mode != ComposerMode::ToolOutputs {
                switch_mode(app, ComposerMode::ToolOutputs);
            }
            app.composer.set_text(&text);
            app.composer.error = None;
            app.set_message(
                Level::Info,
                format!(
                    "loaded {} from {}",
                    fmt_bytes(text.len() as u64),
                    path.display()
                ),
            );
        }
        Err(e) => app.composer.error = Some(format!("cannot read {}: {e}", path.display())),
    }
}

fn send(app: &mut App) -> Vec<Command> {
    // Live session with no open connection: keep the text and say how to get one, once.
    if app.proxy.is_none()
        && matches!(
            app.link,
            LinkState::Closed { .. } | LinkState::Failed { .. }
        )
    {
        app.composer.error = Some(
            "not sent: the connection is closed; Ctrl-R reconnects, then Enter sends this".into(),
        );
        return Vec::new();
    }
    match compose::build(app) {
        Ok(draft) => {
            let c = &mut app.composer;
            c.set_text("");
            c.error = None;
            match c.mode {
                ComposerMode::ToolOutputs => {
                    c.outputs.clear();
                    c.call = 0;
                    c.mode = ComposerMode::Message;
                }
                ComposerMode::Raw => c.raw_draft.clear(),
                ComposerMode::Message => {}
            }
            if draft.json.contains("\"response.create\"") {
                app.composer.warmup = false;
                app.resend = None;
            }
            app.follow = true;
            app.set_message(Level::Info, format!("sent {}", draft.summary));
            vec![Command::Send(draft.json)]
        }
        Err(e) => {
            app.composer.error = Some(e);
            Vec::new()
        }
    }
}

/// Pasted text as the text area can hold it: terminals send line breaks as `\r` (or `\r\n`),
/// and a control character written to the screen moves the cursor and breaks the box around it.
fn paste_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Switches composer mode, keeping each mode's text apart.
fn switch_mode(app: &mut App, next: ComposerMode) {
    let text = app.composer.text();
    match app.composer.mode {
        ComposerMode::Message => app.composer.message_draft = text,
        ComposerMode::Raw => app.composer.raw_draft = text,
        ComposerMode::ToolOutputs => save_output(app, text),
    }
    if next == ComposerMode::Raw && app.composer.raw_draft.is_empty() {
        // Start raw mode from what message mode would send: edit it, then send.
        app.composer.mode = ComposerMode::Message;
        app.composer.set_text(&app.composer.message_draft.clone());
        if let Ok(draft) = compose::build(app) {
            app.composer.raw_draft = draft.json;
        }
    }
    app.composer.mode = next;
    let load = match next {
        ComposerMode::Message => app.composer.message_draft.clone(),
        ComposerMode::Raw => app.composer.raw_draft.clone(),
        ComposerMode::ToolOutputs => picked_output(app),
    };
    app.composer.set_text(&load);
    app.composer.error = None;
}

fn save_output(app: &mut App, text: String) {
    let id = app
        .pending_calls()
        .get(app.composer.call)
        .map(|c| c.call_id.clone());
    if let Some(id) = id {
        app.composer.outputs.insert(id, text);
    }
}

fn picked_output(app: &App) -> String {
    app.pending_calls()
        .get(app.composer.call)
        .and_then(|c| app.composer.outputs.get(&c.call_id))
        .cloned()
        .unwrap_or_default()
}

fn pick_call(app: &mut App, step: i32) {
    if app.composer.mode != ComposerMode::ToolOutputs {
        switch_mode(app, ComposerMode::ToolOutputs);
        return;
    }
    let n = app.pending_calls().len();
    if n == 0 {
        return;
    }
    let text = app.composer.text();
    save_output(app, text);
    let cur = app.composer.call % n;
    app.composer.call = if step >= 0 {
        (cur + 1) % n
    } else {
        (cur + n - 1) % n
    };
    let load = picked_output(app);
    app.composer.set_text(&load);
}

fn show_tab(app: &mut App, tab: Tab) {
    app.tab = tab;
    app.detail_scroll = 0;
}

fn scroll_detail(app: &mut App, n: i32) {
    let next = i64::from(app.detail_scroll) + i64::from(n);
    app.detail_scroll = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
}

fn move_selection(app: &mut App, delta: i32) {
    let count = app.ledger.turns().len();
    if count == 0 {
        return;
    }
    let cur = app.selected.unwrap_or(count - 1);
    let next = if delta < 0 {
        cur.saturating_sub(delta.unsigned_abs() as usize)
    } else {
        (cur + delta as usize).min(count - 1)
    };
    app.follow = next == count - 1 && delta > 0;
    select(app, next);
}

fn select(app: &mut App, index: usize) {
    if app.ledger.turns().is_empty() {
        return;
    }
    if app.selected != Some(index) {
        app.detail_scroll = 0;
    }
    app.selected = Some(index);
    ensure_visible(app);
}

/// Keeps the selected row inside the list's visible rows, and the list full when it can be.
fn ensure_visible(app: &mut App) {
    let rows = view::layout(app, app.area).list_rows().max(1);
    let count = app.ledger.turns().len();
    app.list_offset = app.list_offset.min(count.saturating_sub(rows));
    let Some(sel) = app.selected else {
        return;
    };
    if sel < app.list_offset {
        app.list_offset = sel;
    } else if sel >= app.list_offset + rows {
        app.list_offset = sel + 1 - rows;
    }
}

fn on_click(app: &mut App, column: u16, row: u16) {
    if app.help || app.log_open {
        app.help = false;
        app.log_open = false;
        return;
    }
    let areas = view::layout(app, app.area);
    let at = ratatui::layout::Position::new(column, row);
    if let Some(i) = view::turns::row_at(app, areas.list, row).filter(|_| areas.list.contains(at)) {
        app.focus = Focus::Turns;
        app.follow = i + 1 == app.ledger.turns().len();
        select(app, i);
    } else if let Some(tab) = view::detail::tab_at(app.tab, areas.detail, column, row) {
        app.focus = Focus::Turns;
        show_tab(app, tab);
    } else if areas.composer.contains(at) && app.replay.is_none() {
        app.focus = Focus::Composer;
    }
}
