//! Everything that can happen to the app (`Action`) and every side effect it can ask for (`Command`).

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use super::app::{ConnState, Tab};
use crate::frame::{Frame, Recorded};

/// One input to [`super::update::update`]: a fact (past tense) or an intent (imperative).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    // ---- facts from the session and the runtime ----
    /// A frame was sent, received or noted by the session (already recorded).
    FrameReceived(Frame),
    /// A frame the proxy recorded, its wall time and body in the recording where it says.
    FrameRecorded(Frame, Recorded),
    /// The connection state changed.
    LinkChanged(ConnState),
    /// The session's client-side queue for a lane changed length.
    LaneQueued {
        /// Lane (`stream_id`), `None` = default lane.
        lane: Option<String>,
        /// Creates waiting on it.
        depth: usize,
    },
    /// The session reported its transcript path, or why it cannot record.
    RecordingStarted(Result<PathBuf, String>),
    /// Client events were not sent because the connection was not open.
    SendFailed {
        /// How many events.
        count: usize,
        /// Why.
        why: String,
    },
    /// The clock moved (drives the age gauge); µs on the frames' clock.
    Ticked {
        /// Now, µs since the session started.
        now_us: u64,
    },
    /// The terminal was resized.
    Resized {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// A file asked for by [`Command::LoadFile`] was read (or not).
    FileLoaded {
        /// The path.
        path: PathBuf,
        /// Its text, or the error.
        result: Result<String, String>,
    },
    /// Text was pasted into the terminal.
    Pasted(String),

    /// Proxy mode: a held frame, its release, a decision, a pause toggle.
    Breakpoint(super::breakpoint::BreakpointAction),
    /// The Frames tab: select, search, filter.
    Frames(super::frames::FramesAction),
    /// Something the Payload tab does: show long strings whole, scroll sideways.
    Payload(super::payload::PayloadAction),

    // ---- intents ----
    /// Leave the app (restores the terminal).
    Quit,
    /// Show or hide the key help popup (closes the message log when that is open).
    ToggleHelp,
    /// Show or hide the message log: every status message, newest first, wrapped.
    ToggleLog,
    /// Scroll the open popup (help or message log) by lines (negative = up).
    ScrollPopup(i16),
    /// Clear the status line message.
    DismissMessage,
    /// Select the next turn.
    SelectNext,
    /// Select the previous turn.
    SelectPrev,
    /// Select the first turn.
    SelectFirst,
    /// Select the newest turn and follow new ones.
    SelectLast,
    /// Move the selection by a page of rows (negative = up).
    PageTurns(i32),
    /// Show the next detail tab.
    NextTab,
    /// Show the previous detail tab.
    PrevTab,
    /// Show one detail tab.
    ShowTab(Tab),
    /// Scroll the detail pane by lines (negative = up).
    ScrollDetail(i32),
    /// Move keyboard focus into the composer.
    FocusComposer,
    /// Move keyboard focus back to the turn list.
    FocusTurns,
    /// A key typed into the composer's text area.
    ComposerInput(KeyEvent),
    /// Insert a line break in the composer.
    ComposerNewline,
    /// Delete the composer's current line up to the cursor (readline's Ctrl-U).
    ComposerDeleteLine,
    /// Send what the composer holds (message, tool outputs or raw event).
    SendTurn,
    /// Switch the composer between message, tool outputs and raw JSON.
    CycleComposerMode,
    /// Pick the next pending function call to answer.
    NextPendingCall,
    /// Pick the previous pending function call to answer.
    PrevPendingCall,
    /// Replace the picked call's output with the file named in the composer.
    LoadOutputFile,
    /// Toggle `store` on new requests.
    ToggleStore,
    /// Cycle the `stream_id` lane of new requests (default, lane-1, lane-2).
    CycleLane,
    /// Toggle `generate: false` (warm-up) on the next request.
    ToggleWarmup,
    /// Toggle steering: a message sent while a response runs becomes `response.steer`.
    ToggleSteer,
    /// Close the connection and open a new one.
    Reconnect,
    /// After a reconnect with `store=false`: resend the full context with the next turn.
    ResendFullContext,
    /// After a reconnect: forget the chain and start a new conversation.
    StartFresh,
    /// Close the offer popup without choosing.
    DismissOffer,
    /// A mouse click at a screen cell.
    Clicked {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
    /// The mouse wheel turned over a screen cell (negative = up).
    Scrolled {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
        /// Lines.
        delta: i32,
    },
}

impl Action {
    /// The frame a source sent, if this is one ([`Action::FrameReceived`] or
    /// [`Action::FrameRecorded`]).
    pub fn frame(&self) -> Option<&Frame> {
        match self {
            Action::FrameReceived(frame) | Action::FrameRecorded(frame, _) => Some(frame),
            _ => None,
        }
    }

    /// Whether it writes to the session or the composer: a replay has neither.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::FocusComposer
                | Action::SendTurn
                | Action::Pasted(_)
                | Action::ComposerInput(_)
                | Action::Reconnect
                | Action::ResendFullContext
                | Action::StartFresh
        )
    }
}

/// A side effect `update` asks the runtime to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send one client event (raw JSON text) on the session.
    Send(String),
    /// Close the connection and open a new one.
    Reconnect,
    /// Read a text file and answer with [`Action::FileLoaded`].
    LoadFile(PathBuf),
    /// Proxy mode: decide a held frame or change the breakpoints.
    Proxy(super::breakpoint::ProxyCommand),
    /// End the app.
    Quit,
}
