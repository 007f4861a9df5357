//! The inspector view of a replay (what it opens on): the live App, fed every frame up to the
//! time cursor, so the screen at cursor t is what the live screen showed at t (turns not started
//! yet are absent, the age gauge reads the age at t, a streaming turn shows its partial output).
//! Three things differ, each saying it is a recording: the header's `replay +t` mark, the
//! read-only composer, and the bottom line (time cursor, prompt or message instead of the live
//! key hints). A diff is drawn over the detail pane.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::app::ReplayApp;
use crate::frame::{self, Dir};
use crate::replay::Index;
use crate::transcript::Header;
use crate::tui::app::{App, ConnState, Focus, ReplayMark, SessionInfo};
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use crate::tui::{Action, update::update, view};

/// The live App as it stood after the first `fed` positions of the recording.
#[derive(Debug)]
pub struct Inspector {
    /// The inspector's state.
    pub app: App,
    /// Positions (frame lines) fed so far.
    pub fed: u64,
    /// Positions it is being brought to (the cursor's); more than `fed` while catching up.
    pub target: u64,
}

impl Inspector {
    /// A fresh App with nothing fed yet.
    pub fn new(app: App) -> Self {
        Inspector {
            app,
            fed: 0,
            target: 0,
        }
    }

    /// `(fed, target)` while frames up to the cursor are still being fed in chunks.
    pub fn catching_up(&self) -> Option<(u64, u64)> {
        (self.fed < self.target).then_some((self.fed, self.target))
    }
}

/// The live App a recording with `header` starts from: what its live screen started as, with
/// the turn list focused (the composer is read-only), on the replay's keymap.
pub fn start_app(header: &Header, theme: Theme, keymap: Arc<Keymap>) -> App {
    let info = SessionInfo {
        url: header.url.clone().unwrap_or_default(),
        model: header.model.clone().unwrap_or_default(),
        emulated: false,
        key_hint: None,
    };
    let mut app = App::new(info, theme);
    app.keymap = keymap;
    app.focus = Focus::Turns;
    app
}

/// The link state a session reports beside a recorded connect or close (the session's state
/// events are not recorded; these meta frames are).
pub fn link_of(frame: &frame::Frame) -> Option<ConnState> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        event: String,
        #[serde(default)]
        code: Option<u16>,
        #[serde(default)]
        reason: Option<String>,
    }
    if frame.dir != Dir::Meta {
        return None;
    }
    let meta: Meta = serde_json::from_str(frame.payload.json()?).ok()?;
    let conn = frame.conn;
    match meta.event.as_str() {
        "connect" => Some(ConnState::Connected { conn }),
        "close" => Some(ConnState::Closed {
            conn,
            code: meta.code,
            reason: meta.reason.unwrap_or_default(),
        }),
        _ => None,
    }
}

/// `j steps, ] jumps to the first turn` in the replay's own keys, for the empty turn list;
/// what `?` lists when a remap left stepping without a key.
fn move_hint(app: &ReplayApp) -> String {
    use super::app::ReplayAction as A;
    let key = |action: A| app.keys.hint(&[super::keys::Scope::Cursor], &[action], "");
    match (key(A::StepFrame(1)), key(A::StepTurn(1))) {
        (Some(step), Some(turn)) => format!("{step} steps, {turn} jumps to the first turn"),
        (Some(step), None) => format!("{step} steps"),
        _ => "? lists the keys".to_owned(),
    }
}

/// Brings the inspector toward the cursor: feeds the frames after the last fed one, or starts
/// over when the cursor moved back (the App only moves forward, like the session it shows).
/// At most `app.feed_chunk` frames per call, so a jump to the end of a large recording never
/// holds the screen: the loop comes back (a clock tick while [`Inspector::catching_up`]) for
/// the next chunk, drawing the progress and reading keys in between.
pub fn sync(app: &mut ReplayApp, index: &Index) {
    let target = if index.is_empty() { 0 } else { app.cursor + 1 };
    if app.inspector.as_ref().is_none_or(|i| i.fed > target) {
        let mut fresh = start_app(&app.header, app.theme.clone(), app.keymap.clone());
        if let Some(old) = &app.inspector {
            // Moving back rebuilds the App: keep what the user chose to look at.
            fresh.tab = old.app.tab;
            fresh.follow = old.app.follow;
            fresh.selected = old.app.selected;
            fresh.detail_scroll = old.app.detail_scroll;
        }
        app.inspector = Some(Inspector::new(fresh));
    }
    let (width, height) = app.size;
    let mark = ReplayMark {
        file: app.name.clone(),
        t0_us: app.t0,
        move_hint: move_hint(app),
    };
    let chunk = app.feed_chunk.max(1);
    let Some(ins) = app.inspector.as_mut() else {
        return;
    };
    ins.app.replay = Some(mark);
    ins.target = target;
    let end = target.min(ins.fed.saturating_add(chunk));
    let mut now_us = None;
    for pos in ins.fed..end {
        // A line that is not a frame is skipped here as the live session never saw it.
        if let Ok(entry) = index.get(pos) {
            now_us = Some(entry.frame.t_us);
            let link = link_of(&entry.frame);
            update(&mut ins.app, Action::FrameReceived(entry.frame));
            if let Some(link) = link {
                update(&mut ins.app, Action::LinkChanged(link));
            }
        }
    }
    ins.fed = end;
    if let Some(now_us) = now_us {
        update(&mut ins.app, Action::Ticked { now_us });
    }
    update(&mut ins.app, Action::Resized { width, height });
    // A turn selected before the App was rebuilt may not have started at this cursor (known
    // only once every frame up to it is in).
    let turns = ins.app.ledger.turns().len();
    if end == target && ins.app.selected.is_some_and(|s| s >= turns) {
        ins.app.selected = turns.checked_sub(1);
        ins.app.follow = true;
    }
}

/// Draws the inspector, a diff over its detail pane, then the bottom line: the open prompt, the
/// replay's message, or the time cursor with the keys.
pub fn render(app: &ReplayApp, ins: &Inspector, frame: &mut Frame<'_>) {
    view::render(&ins.app, frame);
    let area = frame.area();
    if area.height == 0 {
        return;
    }
    if let Some(d) = &app.diff {
        let detail = view::layout(&ins.app, area).detail;
        frame.render_widget(Clear, detail);
        view::replay::diff(app, d, frame, detail);
    }
    let bar = Rect {
        y: area.y + area.height - 1,
        height: 1,
        ..area
    };
    let line = view::replay::prompt_or_message(app).unwrap_or_else(|| cursor_line(app, ins));
    frame.render_widget(Clear, bar);
    frame.render_widget(Paragraph::new(line), bar);
}

/// `replay ⏸ ×1 frame #12/30 · turn 3/5 · filter all   ? keys · v frames · …`
fn cursor_line(app: &ReplayApp, ins: &Inspector) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(" replay ", t.badge),
        Span::styled(
            format!(
                " {} {} frame #{}/{} · turn {}/{} ",
                if app.play.playing { "▶" } else { "⏸" },
                app.play.speed.label(),
                view::thousands(app.cursor + 1),
                view::thousands(app.progress.frames),
                ins.app.ledger.turns().len(),
                app.turns
            ),
            t.text,
        ),
    ];
    if app.filter != crate::replay::filter::Filter::All {
        spans.push(Span::styled(
            format!("· filter {} ", app.filter.label()),
            t.accent,
        ));
    }
    if app.tail {
        spans.push(Span::styled("· tail -f ", t.accent));
    }
    if let Some((fed, target)) = ins.catching_up() {
        spans.push(Span::styled(
            format!("· catching up {}% ", fed * 100 / target.max(1)),
            t.accent,
        ));
    }
    if let Some(m) = app.mark {
        spans.push(Span::styled(format!("· marked turn {} ", m + 1), t.accent));
    }
    spans.push(Span::raw(" "));
    use super::app::{PromptKind, ReplayAction as A};
    spans.extend(
        view::replay::replay_hints(
            app,
            &[super::keys::Scope::Cursor],
            &[
                (&[A::ToggleHelp], "", "keys"),
                (&[A::ToggleInspect], "", "frames"),
                (&[A::StepFrame(1), A::StepFrame(-1)], "/", "frame"),
                (&[A::StepTurn(-1), A::StepTurn(1)], "/", "turn"),
                (&[A::TogglePlay], "", "play"),
                (&[A::OpenPrompt(PromptKind::Search)], "", "search"),
                (&[A::OpenPrompt(PromptKind::Jump)], "", "jump"),
            ],
        )
        .spans,
    );
    Line::from(spans)
}
