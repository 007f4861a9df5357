//! The composer's jobs: sending a turn, switching modes, tool outputs, pasted and loaded text.

use crate::report::fmt_bytes;
use crate::tui::action::Command;
use crate::tui::app::{App, ComposerMode, ConnState, Level};
use crate::tui::compose;

pub(super) fn on_file(app: &mut App, path: &std::path::Path, result: Result<String, String>) {
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

pub(super) fn send(app: &mut App) -> Vec<Command> {
    // Live session with no open connection: keep the text and say how to get one, once.
    if app.proxy.is_none()
        && matches!(
            app.link,
            ConnState::Closed { .. } | ConnState::Failed { .. }
        )
    {
        app.composer.error = Some(format!(
            "not sent: the connection is closed; {} reconnects, then Enter sends this",
            super::reconnect_key(app)
        ));
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
pub(super) fn paste_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Switches composer mode, keeping each mode's text apart.
pub(super) fn switch_mode(app: &mut App, next: ComposerMode) {
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

pub(super) fn save_output(app: &mut App, text: String) {
    let id = app
        .pending_calls()
        .get(app.composer.call)
        .map(|c| c.call_id.clone());
    if let Some(id) = id {
        app.composer.outputs.insert(id, text);
    }
}

pub(super) fn picked_output(app: &App) -> String {
    app.pending_calls()
        .get(app.composer.call)
        .and_then(|c| app.composer.outputs.get(&c.call_id))
        .cloned()
        .unwrap_or_default()
}

pub(super) fn pick_call(app: &mut App, step: i32) {
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
