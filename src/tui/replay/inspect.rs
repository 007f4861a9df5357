//! The inspector view of a replay: the live App, fed every frame up to the time cursor, so the
//! screen at cursor t is what the live screen showed at t (turns not started yet are absent,
//! the age gauge reads the age at t, a streaming turn shows its partial output). Only the
//! bottom line differs: it shows the time cursor instead of the live key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::app::ReplayApp;
use crate::frame::{self, Dir};
use crate::replay::Index;
use crate::transcript::Header;
use crate::tui::app::{App, LinkState, SessionInfo};
use crate::tui::theme::Theme;
use crate::tui::{Action, update::update, view};

/// The live App as it stood after the first `fed` positions of the recording.
#[derive(Debug)]
pub struct Inspector {
    /// The inspector's state.
    pub app: App,
    /// Positions (frame lines) fed so far.
    pub fed: u64,
}

/// The live App a recording with `header` starts from: what its live screen started as.
pub fn start_app(header: &Header, theme: Theme) -> App {
    let info = SessionInfo {
        url: header.url.clone().unwrap_or_default(),
        model: header.model.clone().unwrap_or_default(),
        emulated: false,
        key_hint: None,
    };
    App::new(info, theme)
}

/// The link state a session reports beside a recorded connect or close (the session's state
/// events are not recorded; these meta frames are).
pub fn link_of(frame: &frame::Frame) -> Option<LinkState> {
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
        "connect" => Some(LinkState::Connected { conn }),
        "close" => Some(LinkState::Closed {
            conn,
            code: meta.code,
            reason: meta.reason.unwrap_or_default(),
        }),
        _ => None,
    }
}

/// Brings the inspector to the cursor: feeds the frames after the last fed one, or starts over
/// when the cursor moved back (the App only moves forward, like the session it shows).
pub fn sync(app: &mut ReplayApp, index: &Index) {
    let target = if index.is_empty() { 0 } else { app.cursor + 1 };
    if app.inspector.as_ref().is_none_or(|i| i.fed > target) {
        app.inspector = Some(Inspector {
            app: start_app(&app.header, app.theme.clone()),
            fed: 0,
        });
    }
    let (width, height) = app.size;
    let Some(ins) = app.inspector.as_mut() else {
        return;
    };
    let mut now_us = None;
    for pos in ins.fed..target {
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
    ins.fed = target;
    if let Some(now_us) = now_us {
        update(&mut ins.app, Action::Ticked { now_us });
    }
    update(&mut ins.app, Action::Resized { width, height });
}

/// Draws the inspector, then the time cursor over its bottom line.
pub fn render(app: &ReplayApp, ins: &Inspector, frame: &mut Frame<'_>) {
    view::render(&ins.app, frame);
    let area = frame.area();
    if area.height == 0 {
        return;
    }
    let bar = Rect {
        y: area.y + area.height - 1,
        height: 1,
        ..area
    };
    let t = &app.theme;
    let at = ins.app.now_us.saturating_sub(app.t0);
    let line = Line::from(vec![
        Span::styled(" replay ", t.badge),
        Span::styled(
            format!(
                " {} frame #{}/{} · +{}.{:03}s · turn {}/{} ",
                if app.play.playing { "▶" } else { "⏸" },
                app.cursor + 1,
                app.progress.frames,
                at / 1_000_000,
                (at / 1_000) % 1_000,
                ins.app.ledger.turns().len(),
                app.turns
            ),
            t.text,
        ),
        Span::styled(
            "j/k frame · [/] turn · space play · : jump · Tab tab · v timeline",
            t.muted,
        ),
    ]);
    frame.render_widget(Clear, bar);
    frame.render_widget(Paragraph::new(line), bar);
}
