//! The app's whole state: the ledger and its frames, what is selected, the composer.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::layout::Rect;
use serde_json::Value;
use tui_textarea::TextArea;

use super::theme::Theme;
use crate::frame::FrameStore;
use crate::ledger::{Ledger, ToolCall, Turn, TurnStatus};
pub use crate::session::ConnState;

/// Detail tabs of the selected turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// The exact request sent.
    #[default]
    Payload,
    /// Frames received, with time since send.
    Events,
    /// The reconstructed full context along the chain.
    Context,
    /// Text and function calls.
    Output,
    /// Usage and the ledger's numbers.
    Usage,
    /// The ledger's verdict: send mode, cache outcome and causes, events, prefix.
    Insight,
    /// Every frame of the connection, searchable and filtered, with its JSON.
    Frames,
}

impl Tab {
    /// All tabs in display order.
    pub const ALL: [Tab; 7] = [
        Tab::Payload,
        Tab::Events,
        Tab::Context,
        Tab::Output,
        Tab::Usage,
        Tab::Insight,
        Tab::Frames,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Payload => "Payload",
            Tab::Events => "Events",
            Tab::Context => "Context",
            Tab::Output => "Output",
            Tab::Usage => "Usage",
            Tab::Insight => "Insight",
            Tab::Frames => "Frames",
        }
    }

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Where keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Browsing turns and their detail.
    #[default]
    Turns,
    /// Typing in the composer.
    Composer,
}

/// What the composer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComposerMode {
    /// A user message, chained to the last response.
    #[default]
    Message,
    /// Outputs for the pending function calls, all in one continuation.
    ToolOutputs,
    /// Any client event, typed as JSON.
    Raw,
}

impl ComposerMode {
    /// Label for the composer title.
    pub fn label(self) -> &'static str {
        match self {
            ComposerMode::Message => "message",
            ComposerMode::ToolOutputs => "tool outputs",
            ComposerMode::Raw => "raw JSON",
        }
    }
}

/// The composer: text area, mode and request toggles.
#[derive(Debug, Clone)]
pub struct Composer {
    /// The text being typed.
    pub textarea: TextArea<'static>,
    /// What it sends.
    pub mode: ComposerMode,
    /// `store` on new requests.
    pub store: bool,
    /// `stream_id` lane, `None` = default lane.
    pub lane: Option<String>,
    /// Next request is a `generate: false` warm-up.
    pub warmup: bool,
    /// A message sent while a response runs becomes `response.steer`.
    pub steer: bool,
    /// Which pending call is picked (index into the pending calls).
    pub call: usize,
    /// Outputs typed so far, by `call_id`.
    pub outputs: BTreeMap<String, String>,
    /// The last validation error, shown inline.
    pub error: Option<String>,
    /// Message text kept while another mode is shown.
    pub message_draft: String,
    /// Raw JSON text kept while another mode is shown.
    pub raw_draft: String,
}

impl Default for Composer {
    fn default() -> Self {
        Composer {
            textarea: TextArea::default(),
            mode: ComposerMode::Message,
            store: false,
            lane: None,
            warmup: false,
            steer: false,
            call: 0,
            outputs: BTreeMap::new(),
            error: None,
            message_draft: String::new(),
            raw_draft: String::new(),
        }
    }
}

impl Composer {
    /// The text area's content as one string.
    pub fn text(&self) -> String {
        self.textarea.lines().join("\n")
    }

    /// Replaces the text area's content.
    pub fn set_text(&mut self, text: &str) {
        self.textarea = TextArea::new(text.split('\n').map(str::to_owned).collect());
        self.textarea.move_cursor(tui_textarea::CursorMove::Bottom);
        self.textarea.move_cursor(tui_textarea::CursorMove::End);
    }
}

/// A choice the app offers in a popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// The cache is gone (new connection, `store=false`): resend the full context or start fresh.
    Resume {
        /// Why the offer appears.
        why: String,
        /// The turn whose chain would be resent (0-based).
        turn: usize,
        /// Items along the chain.
        items: usize,
        /// Their bytes as JSON.
        bytes: u64,
        /// Their o200k tokens.
        tokens: u64,
    },
}

/// How serious a status message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Informational.
    Info,
    /// Needs attention.
    Warn,
    /// Something failed.
    Error,
}

/// A one-line status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
}

/// Where the session records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Recording {
    /// Not reported yet.
    #[default]
    Unknown,
    /// `--no-record`.
    Off,
    /// Writing this file.
    To(PathBuf),
    /// Cannot record.
    Failed(String),
}

/// Status messages the message log keeps.
pub const LOG_LIMIT: usize = 200;

/// Fixed facts about the session shown in the header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionInfo {
    /// WebSocket URL.
    pub url: String,
    /// Model for new requests.
    pub model: String,
    /// True when talking to the built-in emulator.
    pub emulated: bool,
    /// The API key, masked (`sk-…abcd`), if any.
    pub key_hint: Option<String>,
}

/// A replay draws the App at a time cursor over a recording: what the header says instead of a
/// live link, and why the composer sends nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayMark {
    /// The recording's name as the user gave it.
    pub file: String,
    /// `t_us` of the recording's first frame: the cursor shows as `+secs` from it.
    pub t0_us: u64,
    /// How the empty turn list says to move the cursor, in the replay's keys (remaps
    /// included): `j steps, ] jumps to the first turn`.
    pub move_hint: String,
}

/// Why a replay ignores a key that would send or type.
pub const REPLAY_READ_ONLY: &str = "a recording is read-only: nothing is sent from replay";

/// The whole app state.
#[derive(Debug)]
pub struct App {
    /// Turns and metrics.
    pub ledger: Ledger,
    /// Every frame, in push order (the ledger's frame indices point here); bodies are spooled
    /// to disk (or, recording in the proxy, left in the recording) and read back on demand, so a
    /// long proxy session does not keep them in memory.
    pub frames: FrameStore,
    /// Header facts.
    pub info: SessionInfo,
    /// Connection state.
    pub link: ConnState,
    /// Now, µs on the frames' clock.
    pub now_us: u64,
    /// Transcript.
    pub recording: Recording,
    /// Client-side queue depth per lane.
    pub queued: BTreeMap<Option<String>, usize>,
    /// Selected turn (0-based).
    pub selected: Option<usize>,
    /// Select each new turn as it arrives.
    pub follow: bool,
    /// First turn row shown.
    pub list_offset: usize,
    /// Detail tab shown.
    pub tab: Tab,
    /// Detail pane scroll, lines.
    pub detail_scroll: u16,
    /// Keyboard focus.
    pub focus: Focus,
    /// The composer.
    pub composer: Composer,
    /// Key help popup shown.
    pub help: bool,
    /// Message log popup shown.
    pub log_open: bool,
    /// The open popup's scroll, lines.
    pub popup_scroll: u16,
    /// Every status message so far, oldest first (the last [`LOG_LIMIT`]): a long error cut at
    /// the terminal's width can be read whole in the message log.
    pub log: std::collections::VecDeque<Message>,
    /// A choice being offered.
    pub offer: Option<Offer>,
    /// Status line message.
    pub message: Option<Message>,
    /// Screen size.
    pub area: Rect,
    /// Turns before this index belong to an abandoned chain ("start fresh").
    pub fresh_from: usize,
    /// Full context (items) to send, instead of chaining, with the next turn.
    pub resend: Option<Vec<Value>>,
    /// The connection for which the 55-minute rotation was offered.
    pub rotation_offered: Option<u32>,
    /// The frame count when the stall warning was shown (shown once per silence).
    pub stall_warned: Option<usize>,
    /// The connection for which a resume was offered.
    pub resume_offered: Option<u32>,
    /// Tool definitions sent with each request (`--tools`).
    pub tools: Vec<Value>,
    /// No `--tools` was given: send the emulator's demo tools when the server is turnscope's
    /// emulator (see [`App::request_tools`]).
    pub demo_tools: bool,
    /// Instructions sent with each request (`--instructions`).
    pub instructions: Option<String>,
    /// Styles.
    pub theme: Theme,
    /// What each key does, and the help drawn from it (the defaults, or the config's remaps).
    pub keymap: std::sync::Arc<super::keymap::Keymap>,
    /// Proxy mode: held frames and breakpoint toggles (`None` in a live session).
    pub proxy: Option<super::breakpoint::ProxyPanel>,
    /// Replay: the App shows a recording at a time cursor and sends nothing (`None` otherwise).
    pub replay: Option<ReplayMark>,
    /// The Frames tab: heads of `frames`, selection, search and filter.
    pub frames_tab: super::frames::FramesTab,
    /// The Payload tab's expanded strings and sideways scroll.
    pub payload_view: super::payload::PayloadView,
    /// Model prices for the Usage tab's cost lines (built-in, with config.toml's `[prices]`).
    pub prices: crate::ledger::cost::Prices,
    /// List at most this many turns; finished turns older than that leave the ledger and are
    /// folded into [`App::earlier`] (the proxy TUI: a day of turns must not grow its memory).
    /// `None` keeps every turn (live sessions, and replay, whose keys jump to any turn).
    pub turn_window: Option<usize>,
    /// The figures of the turns that left the list.
    pub earlier: Earlier,
}

/// The turns that left the list ([`App::turn_window`]): their number is
/// [`crate::ledger::Ledger::retired`], their figures are summed as the header's totals are.
#[derive(Debug, Default)]
pub struct Earlier {
    /// Their totals ([`crate::ledger::Totals::add_turn`]).
    pub totals: crate::ledger::Totals,
    /// Their cost, for the Usage tab's session line.
    pub cost: crate::ledger::cost::SessionCost,
}

/// The proxy TUI's [`App::turn_window`]: ~1.3 KB a turn, so ~1.3 MB of turns listed.
pub const PROXY_TURN_WINDOW: usize = 1000;

impl App {
    /// A fresh app for a session.
    pub fn new(info: SessionInfo, theme: Theme) -> Self {
        App {
            ledger: Ledger::for_screens(),
            frames: FrameStore::new(),
            info,
            link: ConnState::Idle,
            now_us: 0,
            recording: Recording::Unknown,
            queued: BTreeMap::new(),
            selected: None,
            follow: true,
            list_offset: 0,
            tab: Tab::Payload,
            detail_scroll: 0,
            focus: Focus::Composer,
            composer: Composer::default(),
            help: false,
            log_open: false,
            popup_scroll: 0,
            log: std::collections::VecDeque::new(),
            offer: None,
            message: None,
            area: Rect::new(0, 0, 80, 24),
            fresh_from: 0,
            resend: None,
            rotation_offered: None,
            stall_warned: None,
            resume_offered: None,
            tools: Vec::new(),
            demo_tools: false,
            instructions: None,
            theme,
            keymap: std::sync::Arc::default(),
            proxy: None,
            replay: None,
            frames_tab: super::frames::FramesTab::default(),
            payload_view: super::payload::PayloadView::default(),
            prices: crate::ledger::cost::Prices::builtin(),
            turn_window: None,
            earlier: Earlier::default(),
        }
    }

    /// The selected turn.
    pub fn selected_turn(&self) -> Option<&Turn> {
        self.selected.and_then(|i| self.ledger.turns().get(i))
    }

    /// The newest connection's index, if any.
    pub fn current_conn(&self) -> Option<u32> {
        match &self.link {
            ConnState::Connecting { conn } | ConnState::Connected { conn } => Some(*conn),
            _ => self.ledger.current_connection().map(|c| c.index),
        }
    }

    /// The server is turnscope's emulator: the built-in one, or one that announced itself on
    /// the current connection's upgrade (`--url`, also through `turnscope proxy`).
    pub fn on_emulator(&self) -> bool {
        self.info.emulated
            || self
                .ledger
                .current_connection()
                .is_some_and(|c| c.emulator.is_some())
    }

    /// The tool definitions a new request carries: `--tools`, else the emulator's demo tools
    /// when the server is turnscope's emulator (the real API knows nothing of them).
    pub fn request_tools(&self) -> Vec<Value> {
        if self.tools.is_empty() && self.demo_tools && self.on_emulator() {
            crate::emulator::demo_tools()
        } else {
            self.tools.clone()
        }
    }

    /// Why no tools go out although none were given: the server is not turnscope's emulator,
    /// so the README's "name a tool" tip cannot work. `None` once that is not the case.
    pub fn demo_tools_off(&self) -> Option<String> {
        // Known only once a connection opened and its upgrade answer had no emulator header.
        self.ledger.current_connection()?;
        (self.demo_tools && self.tools.is_empty() && !self.on_emulator()).then(|| {
            "demo tools off: not turnscope's emulator (--tools FILE sends tools)".to_owned()
        })
    }

    /// The turn a new request on the composer's lane continues: the newest finished turn on
    /// that lane with a response id (0-based index).
    pub fn head_turn(&self) -> Option<usize> {
        let lane = &self.composer.lane;
        let turns = self.ledger.turns();
        (self.fresh_from..turns.len()).rev().find(|&i| {
            let t = &turns[i];
            &t.lane == lane
                && t.response_id.is_some()
                && matches!(
                    t.status,
                    TurnStatus::Completed | TurnStatus::Incomplete { .. }
                )
        })
    }

    /// The response id new requests chain to.
    pub fn head_id(&self) -> Option<&str> {
        self.head_turn()
            .and_then(|i| self.ledger.turns()[i].response_id.as_deref())
    }

    /// The running turn on the composer's lane (for steering), 0-based.
    pub fn running_turn(&self) -> Option<usize> {
        let lane = &self.composer.lane;
        let turns = self.ledger.turns();
        (0..turns.len())
            .rev()
            .take(64)
            .find(|&i| &turns[i].lane == lane && turns[i].status == TurnStatus::InFlight)
    }

    /// Function calls of the head response that still need an output.
    pub fn pending_calls(&self) -> &[ToolCall] {
        match self.head_turn() {
            Some(i) if self.running_turn().is_none_or(|r| r < i) => {
                &self.ledger.turns()[i].tool_calls
            }
            _ => &[],
        }
    }

    /// Status text for a message line.
    pub fn set_message(&mut self, level: Level, text: impl Into<String>) {
        let message = Message {
            level,
            text: text.into(),
        };
        // A message repeated at once (a stall warning re-shown) is logged once.
        if self.log.back() != Some(&message) {
            if self.log.len() == LOG_LIMIT {
                self.log.pop_front();
            }
            self.log.push_back(message.clone());
        }
        self.message = Some(message);
    }
}
