//! Proxy mode in the TUI: frames held by breakpoints, the editor for the front one, and the
//! decisions (forward, forward edited, drop). Pure state and update; the proxy is reached
//! only through [`ProxyCommand`]s.

use std::collections::VecDeque;

use crossterm::event::KeyEvent;
use tui_textarea::TextArea;

use super::action::Command;
use super::app::{App, Level};
use crate::frame::Dir;
use crate::proxy::BreakpointDecision;

/// A frame the proxy holds until it is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The proxy's id for it.
    pub id: u64,
    /// Agent connection.
    pub conn: u32,
    /// `Sent` = agent → upstream, `Recv` = upstream → agent.
    pub dir: Dir,
    /// The frame as it arrived.
    pub text: String,
}

/// Inputs of the breakpoint panel.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakpointAction {
    /// The proxy holds a frame.
    Held(Held),
    /// The proxy released a frame (decided, or its connection closed).
    Released {
        /// The frame's id.
        id: u64,
    },
    /// The proxy reported a problem.
    Notice(String),
    /// A key typed into the editor.
    EditorInput(KeyEvent),
    /// Forward the front frame as the editor holds it (edited when changed).
    Forward,
    /// Forward the front frame unchanged, whatever the editor holds.
    ForwardOriginal,
    /// Forward every held frame unchanged (the front one too, whatever the editor holds).
    ForwardAll,
    /// Drop the front frame.
    Drop,
    /// Hold every frame going agent → upstream, or stop doing so.
    TogglePauseClient,
    /// Hold every frame going upstream → agent, or stop doing so.
    TogglePauseServer,
}

/// What the panel asks of the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyCommand {
    /// Release a held frame.
    Decide {
        /// The frame's id.
        id: u64,
        /// What to do with it.
        decision: BreakpointDecision,
    },
    /// Hold all frames one way or both (on top of the `--break` rules).
    PauseAll {
        /// Agent → upstream.
        client: bool,
        /// Upstream → agent.
        server: bool,
    },
}

/// The panel's state; present only in proxy mode.
#[derive(Debug, Default)]
pub struct ProxyPanel {
    /// Held frames, oldest first; the front one is in the editor.
    pub held: VecDeque<Held>,
    /// The front frame, pretty-printed for editing.
    pub editor: TextArea<'static>,
    /// Why the last forward was refused.
    pub error: Option<String>,
    /// Every agent → upstream frame is held.
    pub pause_client: bool,
    /// Every upstream → agent frame is held.
    pub pause_server: bool,
    /// Frames forwarded edited so far.
    pub edited: u64,
    /// Frames dropped so far.
    pub dropped: u64,
    /// The base URL agents are pointed at (`http://127.0.0.1:8788/v1`), for the empty screen.
    pub base_url: String,
}

impl ProxyPanel {
    /// True while a frame waits for a decision (the editor popup is shown and takes the keys).
    pub fn is_open(&self) -> bool {
        !self.held.is_empty()
    }

    fn load_front(&mut self) {
        self.error = None;
        let text = self.held.front().map_or(String::new(), |h| pretty(&h.text));
        self.editor = TextArea::new(text.split('\n').map(str::to_owned).collect());
    }
}

/// Applies one panel action.
pub fn update(app: &mut App, action: BreakpointAction) -> Vec<Command> {
    let Some(panel) = app.proxy.as_mut() else {
        if !matches!(action, BreakpointAction::Notice(_)) {
            app.set_message(
                Level::Warn,
                "breakpoints work in proxy mode (turnscope proxy)",
            );
        }
        return Vec::new();
    };
    match action {
        BreakpointAction::Held(held) => {
            panel.held.push_back(held);
            if panel.held.len() == 1 {
                panel.load_front();
            }
        }
        BreakpointAction::Released { id } => {
            let front = panel.held.front().map(|h| h.id);
            let before = panel.held.len();
            panel.held.retain(|h| h.id != id);
            if panel.held.len() < before {
                if front == Some(id) {
                    panel.load_front();
                }
                app.set_message(
                    Level::Warn,
                    format!("held frame {id} released: its connection closed"),
                );
            }
        }
        BreakpointAction::Notice(text) => app.set_message(Level::Error, text),
        BreakpointAction::EditorInput(key) => {
            panel.editor.input(key);
            panel.error = None;
        }
        BreakpointAction::Forward => return forward(app),
        BreakpointAction::ForwardOriginal => return decide(app, BreakpointDecision::Forward),
        BreakpointAction::ForwardAll => {
            let ids: Vec<u64> = panel.held.drain(..).map(|h| h.id).collect();
            panel.load_front();
            app.set_message(
                Level::Info,
                format!(
                    "forwarded {} held frame{} unchanged",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
                ),
            );
            return ids
                .into_iter()
                .map(|id| {
                    Command::Proxy(ProxyCommand::Decide {
                        id,
                        decision: BreakpointDecision::Forward,
                    })
                })
                .collect();
        }
        BreakpointAction::Drop => return decide(app, BreakpointDecision::Drop),
        BreakpointAction::TogglePauseClient | BreakpointAction::TogglePauseServer => {
            if action == BreakpointAction::TogglePauseClient {
                panel.pause_client = !panel.pause_client;
            } else {
                panel.pause_server = !panel.pause_server;
            }
            let (client, server) = (panel.pause_client, panel.pause_server);
            let on_off = |b: bool| if b { "on" } else { "off" };
            app.set_message(
                Level::Info,
                format!(
                    "pause agent→upstream: {} · pause upstream→agent: {}",
                    on_off(client),
                    on_off(server)
                ),
            );
            return vec![Command::Proxy(ProxyCommand::PauseAll { client, server })];
        }
    }
    Vec::new()
}

/// Forwards the editor's JSON: the original bytes when nothing changed, else the edit, minified.
fn forward(app: &mut App) -> Vec<Command> {
    let Some(panel) = app.proxy.as_mut() else {
        return Vec::new();
    };
    let Some(front) = panel.held.front() else {
        return Vec::new();
    };
    let typed = panel.editor.lines().join("\n");
    if minify(&typed) == minify(&front.text) {
        return decide(app, BreakpointDecision::Forward);
    }
    if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(&typed) {
        panel.error = Some(format!(
            "not valid JSON: {e} — fix it, Ctrl-F forwards the original"
        ));
        return Vec::new();
    }
    let edited = minify(&typed);
    decide(app, BreakpointDecision::Edit(edited))
}

fn decide(app: &mut App, decision: BreakpointDecision) -> Vec<Command> {
    let Some(panel) = app.proxy.as_mut() else {
        return Vec::new();
    };
    let Some(held) = panel.held.pop_front() else {
        return Vec::new();
    };
    panel.load_front();
    let way = if held.dir == Dir::Sent {
        "agent→upstream"
    } else {
        "upstream→agent"
    };
    let what = match &decision {
        BreakpointDecision::Forward => "forwarded unchanged",
        BreakpointDecision::Edit(_) => {
            panel.edited += 1;
            "forwarded EDITED (the original is kept in the transcript)"
        }
        BreakpointDecision::Drop => {
            panel.dropped += 1;
            "DROPPED (kept in the transcript as a dropped meta frame)"
        }
    };
    app.set_message(
        Level::Info,
        format!("conn {} {way} frame {what}", held.conn),
    );
    vec![Command::Proxy(ProxyCommand::Decide {
        id: held.id,
        decision,
    })]
}

/// Removes whitespace outside strings, keeping key order and every other byte.
pub fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Indents JSON two spaces per level, keeping key order; non-JSON text is returned as is.
pub fn pretty(text: &str) -> String {
    if serde_json::from_str::<&serde_json::value::RawValue>(text).is_err() {
        return text.to_owned();
    }
    let compact = minify(text);
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::action::Action;
    use crate::tui::app::SessionInfo;
    use crate::tui::theme::Theme;
    use crossterm::event::{KeyCode, KeyModifiers};

    const FRAME: &str = r#"{"type":"response.create","z":1,"a":{"s":"x, y: {\"q\"}","e":[]}}"#;

    fn app() -> App {
        let mut app = App::new(SessionInfo::default(), Theme::default());
        app.proxy = Some(ProxyPanel::default());
        app
    }

    fn held(id: u64) -> Action {
        Action::Breakpoint(BreakpointAction::Held(Held {
            id,
            conn: 0,
            dir: Dir::Sent,
            text: FRAME.into(),
        }))
    }

    fn key(c: char, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), mods)
    }

    #[test]
    fn pretty_and_minify_round_trip_keeping_key_order() {
        let p = pretty(FRAME);
        assert!(
            p.starts_with("{\n  \"type\": \"response.create\",\n  \"z\": 1,"),
            "{p}"
        );
        assert!(p.contains("\"e\": []"));
        assert_eq!(minify(&p), FRAME);
        assert_eq!(pretty("not json"), "not json");
    }

    /// Presses a key while a frame is held: what it does comes from the App's keymap.
    fn press(app: &mut App, key: KeyEvent) -> Vec<Command> {
        let action = crate::tui::keymap::resolve(app, key).unwrap();
        crate::tui::update::update(app, action)
    }

    #[test]
    fn unchanged_frames_forward_the_original_bytes_and_edits_are_validated() {
        let mut app = app();
        crate::tui::update::update(&mut app, held(1));
        crate::tui::update::update(&mut app, held(2));
        assert!(app.proxy.as_ref().unwrap().is_open());
        let cmds = press(&mut app, key('s', KeyModifiers::CONTROL));
        assert_eq!(
            cmds,
            vec![Command::Proxy(ProxyCommand::Decide {
                id: 1,
                decision: BreakpointDecision::Forward
            })]
        );
        // Frame 2 is in the editor now; break it, then fix it.
        let panel = app.proxy.as_mut().unwrap();
        panel.editor.move_cursor(tui_textarea::CursorMove::Top);
        panel.editor.move_cursor(tui_textarea::CursorMove::Head);
        crate::tui::update::update(
            &mut app,
            Action::Breakpoint(BreakpointAction::EditorInput(KeyEvent::new(
                KeyCode::Delete,
                KeyModifiers::NONE,
            ))),
        );
        let cmds = press(&mut app, key('s', KeyModifiers::CONTROL));
        assert!(cmds.is_empty());
        assert!(
            app.proxy
                .as_ref()
                .unwrap()
                .error
                .as_ref()
                .unwrap()
                .contains("not valid JSON")
        );
        // Put the brace back, then change a value.
        press(&mut app, key('{', KeyModifiers::NONE));
        let panel = app.proxy.as_mut().unwrap();
        let text = panel
            .editor
            .lines()
            .join("\n")
            .replace("\"z\": 1", "\"z\": 2");
        panel.editor = TextArea::new(text.split('\n').map(str::to_owned).collect());
        let cmds = press(&mut app, key('s', KeyModifiers::CONTROL));
        assert_eq!(
            cmds,
            vec![Command::Proxy(ProxyCommand::Decide {
                id: 2,
                decision: BreakpointDecision::Edit(FRAME.replace("\"z\":1", "\"z\":2")),
            })]
        );
        assert!(!app.proxy.as_ref().unwrap().is_open());
        assert_eq!(app.proxy.as_ref().unwrap().edited, 1);
    }

    #[test]
    fn drop_release_and_pause_toggles() {
        let mut app = app();
        crate::tui::update::update(&mut app, held(1));
        crate::tui::update::update(&mut app, held(2));
        let cmds = press(&mut app, key('d', KeyModifiers::CONTROL));
        assert!(matches!(
            cmds.as_slice(),
            [Command::Proxy(ProxyCommand::Decide {
                id: 1,
                decision: BreakpointDecision::Drop
            })]
        ));
        crate::tui::update::update(
            &mut app,
            Action::Breakpoint(BreakpointAction::Released { id: 2 }),
        );
        assert!(!app.proxy.as_ref().unwrap().is_open());
        let cmds = crate::tui::update::update(
            &mut app,
            Action::Breakpoint(BreakpointAction::TogglePauseServer),
        );
        assert_eq!(
            cmds,
            vec![Command::Proxy(ProxyCommand::PauseAll {
                client: false,
                server: true
            })]
        );
    }
}
