//! The replay screen's state, its actions, and the pure `update` that records intents.
//!
//! `update` never touches the file: moves that need data (step through a filter, search,
//! jump, play) become [`Pending`] intents that [`super::resolve::resolve`] carries out
//! against the index, which then refreshes the caches the view draws from.

use std::path::PathBuf;
use std::sync::Arc;

use super::keys::ReplayKeys;

use crate::ledger::Turn;
use crate::replay::Progress;
use crate::replay::context::Diff;
use crate::replay::filter::{Filter, Head};
use crate::transcript::{Entry, Header, LineError};
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// Frames fed into the inspector per draw: 55 ms on average, 108 ms at most, in a release build
/// here under load 14 (README, Performance), so keys stay answered during a jump to the end of
/// a large file.
pub const FEED_CHUNK: u64 = 2_000;

/// Playback speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speed {
    /// The original timing.
    #[default]
    X1,
    /// Ten times faster.
    X10,
    /// As fast as the screen can follow.
    Max,
}

impl Speed {
    /// Label for the header.
    pub fn label(self) -> &'static str {
        match self {
            Speed::X1 => "×1",
            Speed::X10 => "×10",
            Speed::Max => "max",
        }
    }
}

/// What a prompt line is typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `/` search text.
    Search,
    /// `:` jump target: a turn number, `#frame`, a response id or a time.
    Jump,
    /// `w` export file name (also reopened, with the name, when that file exists).
    Export(ExportKind),
}

/// An open prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What it is for.
    pub kind: PromptKind,
    /// Text typed so far.
    pub text: String,
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The selected frame's payload.
    Frame,
    /// The selected frame's turn: ledger figures, request and every event.
    Turn,
    /// The response object of the selected frame's turn.
    Response,
}

/// Which filter to take from the selected frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterFrom {
    /// Its event type.
    Kind,
    /// Its connection.
    Conn,
    /// Its lane.
    Lane,
}

/// A move or job that needs the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Step `n` shown rows (negative = back).
    Step(i64),
    /// Step `n` turns.
    Turn(i64),
    /// First shown row.
    First,
    /// Last shown row.
    Last,
    /// The next (or previous) line matching the search.
    Search {
        /// Direction.
        forward: bool,
    },
    /// Jump to what the text names.
    Jump(String),
    /// Advance playback to this time on the frames' clock (µs), or by frames at max speed.
    PlayTo(u64),
    /// Advance playback by this many frames.
    PlayFrames(u64),
    /// Filter by a fact of the selected frame.
    FilterFrom(FilterFrom),
    /// Build the diff of the marked and the selected turn, or the selected turn vs HTTP mode.
    Diff {
        /// Request vs HTTP mode instead of two contexts.
        http: bool,
    },
    /// Write the selection to a JSON file (name, or a default when empty).
    Export(ExportKind, String),
}

/// A row of the timeline, as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Position (0 = first frame line).
    pub pos: u64,
    /// Its head, or why the line is not a frame.
    pub head: Result<Head, String>,
}

/// The selected frame and its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The frame, or why the line is not one.
    pub entry: Result<Entry, LineError>,
    /// The turn it belongs to (0-based) and its figures.
    pub turn: Option<(usize, Turn)>,
}

/// Playback state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Play {
    /// Playing (ticks advance the cursor).
    pub playing: bool,
    /// Speed.
    pub speed: Speed,
    /// (screen clock µs, frame clock µs) when playback started or changed speed.
    pub anchor: Option<(u64, u64)>,
}

/// How serious a status message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Informational.
    Info,
    /// Something did not work.
    Error,
}

/// Everything the replay screen knows.
#[derive(Debug)]
pub struct ReplayApp {
    /// The transcript's name.
    pub name: String,
    /// Its header.
    pub header: Header,
    /// Selected position.
    pub cursor: u64,
    /// First position drawn in the timeline.
    pub top: u64,
    /// Which rows are shown.
    pub filter: Filter,
    /// Last search text.
    pub search: Option<String>,
    /// Prompt being typed.
    pub prompt: Option<Prompt>,
    /// Playback.
    pub play: Play,
    /// Turn marked for a context diff (0-based).
    pub mark: Option<usize>,
    /// Diff shown instead of the frame.
    pub diff: Option<Diff>,
    /// Detail or diff scroll, lines.
    pub scroll: u16,
    /// Help shown.
    pub help: bool,
    /// Keep the cursor on the newest frame while the file grows.
    pub tail: bool,
    /// Intents for `resolve`.
    pub pending: Vec<Pending>,
    /// Status message.
    pub message: Option<(Level, String)>,
    /// Screen size.
    pub size: (u16, u16),
    /// Where exports are written.
    pub export_dir: PathBuf,
    /// An export path the user was told exists: exporting to it once more overwrites it.
    pub overwrite: Option<PathBuf>,
    /// Styles.
    pub theme: Theme,
    /// The replay screen's own keys, and the help drawn from them.
    pub keys: Arc<ReplayKeys>,
    /// The live keymap (the config's remaps included) the inspector and its Frames tab use.
    pub keymap: Arc<Keymap>,
    /// Cache: timeline rows from `top`.
    pub rows: Vec<Row>,
    /// Cache: the selected frame.
    pub selection: Option<Selection>,
    /// Cache: index and ledger progress.
    pub progress: Progress,
    /// Cache: turns in the ledger so far.
    pub turns: usize,
    /// Cache: `t_us` of the first frame (times are shown relative to it).
    pub t0: u64,
    /// Show the live inspector at the cursor (the default) instead of the frames timeline.
    pub inspect: bool,
    /// Cache: the live App at the cursor (built while `inspect` is on).
    pub inspector: Option<super::inspect::Inspector>,
    /// Most frames fed into the inspector per draw (see [`super::inspect::sync`]).
    pub feed_chunk: u64,
}

impl ReplayApp {
    /// A replay of `name` with `header`.
    pub fn new(name: String, header: Header, theme: Theme) -> Self {
        ReplayApp {
            name,
            header,
            cursor: 0,
            top: 0,
            filter: Filter::All,
            search: None,
            prompt: None,
            play: Play::default(),
            mark: None,
            diff: None,
            scroll: 0,
            help: false,
            tail: false,
            pending: Vec::new(),
            message: None,
            size: (80, 24),
            export_dir: PathBuf::from("."),
            overwrite: None,
            theme,
            keys: Arc::default(),
            keymap: Arc::default(),
            rows: Vec::new(),
            selection: None,
            progress: Progress::default(),
            turns: 0,
            t0: 0,
            inspect: true,
            inspector: None,
            feed_chunk: FEED_CHUNK,
        }
    }

    /// Timeline rows that fit on screen.
    pub fn timeline_rows(&self) -> usize {
        let body = self.size.1.saturating_sub(3);
        usize::from((body * 2 / 5).max(3).saturating_sub(1))
    }

    /// The turn (0-based) marks, diffs and turn exports act on: the one selected in the
    /// inspector's turn list, or in the frames view the selected frame's turn.
    pub fn chosen_turn(&self) -> Option<usize> {
        match (&self.inspector, self.inspect) {
            (Some(ins), true) => ins.app.selected,
            _ => self.selection.as_ref()?.turn.as_ref().map(|(i, _)| *i),
        }
    }

    /// Sets the status line.
    pub fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some((level, text.into()));
    }
}

/// Everything that can happen to the replay screen.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayAction {
    /// Leave.
    Quit,
    /// Step `n` shown frames (negative = back).
    StepFrame(i64),
    /// Step `n` turns.
    StepTurn(i64),
    /// Go to the first shown frame.
    First,
    /// Go to the last shown frame.
    Last,
    /// Start or pause playback.
    TogglePlay,
    /// Set the playback speed.
    SetSpeed(Speed),
    /// The screen clock moved (playback), µs.
    Ticked {
        /// Screen clock, µs.
        now_us: u64,
    },
    /// Open a prompt.
    OpenPrompt(PromptKind),
    /// A character typed into the prompt.
    PromptChar(char),
    /// Delete the prompt's last character.
    PromptBackspace,
    /// Run the prompt.
    PromptSubmit,
    /// Close the prompt.
    PromptCancel,
    /// Next search match.
    SearchNext,
    /// Previous search match.
    SearchPrev,
    /// Cycle the quick filters (all, errors, sent, received, meta).
    CycleFilter,
    /// Filter by the selected frame's type, connection or lane (again: clear).
    FilterBySelected(FilterFrom),
    /// Show every frame again.
    ClearFilter,
    /// Mark the selected frame's turn for a context diff.
    MarkTurn,
    /// Diff the marked turn's context with the selected turn's (or request vs HTTP mode).
    ShowDiff {
        /// Request vs HTTP mode.
        http: bool,
    },
    /// Close the diff, prompt or help.
    Back,
    /// Export the selection to a JSON file (default name).
    Export(ExportKind),
    /// Scroll the detail or diff pane.
    Scroll(i32),
    /// Show or hide the key help.
    ToggleHelp,
    /// Follow the end of a growing file.
    ToggleTail,
    /// The terminal was resized.
    Resized {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// The background index or ledger advanced.
    Progressed,
    /// Switch between the live inspector at the cursor and the frames timeline.
    ToggleInspect,
    /// A view action (tab, selection, scroll) for the live inspector.
    Inspect(crate::tui::Action),
}

/// Applies one action; true when the app should quit.
pub fn update(app: &mut ReplayApp, action: ReplayAction) -> bool {
    use ReplayAction as A;
    if !matches!(action, A::Ticked { .. } | A::Progressed | A::Resized { .. }) {
        app.message = None;
    }
    match action {
        A::Quit => return true,
        A::StepFrame(n) => push_move(app, Pending::Step(n)),
        A::StepTurn(n) => push_move(app, Pending::Turn(n)),
        A::First => push_move(app, Pending::First),
        A::Last => push_move(app, Pending::Last),
        A::TogglePlay => {
            app.play.playing = !app.play.playing;
            app.play.anchor = None;
        }
        A::SetSpeed(speed) => {
            app.play.speed = speed;
            app.play.anchor = None;
            app.play.playing = true;
        }
        A::Ticked { now_us } => on_tick(app, now_us),
        A::OpenPrompt(kind) => {
            app.overwrite = None;
            app.prompt = Some(Prompt {
                kind,
                text: String::new(),
            });
        }
        A::PromptChar(c) => {
            if let Some(p) = &mut app.prompt {
                p.text.push(c);
            }
        }
        A::PromptBackspace => {
            if let Some(p) = &mut app.prompt {
                p.text.pop();
            }
        }
        A::PromptSubmit => submit(app),
        A::PromptCancel => {
            app.prompt = None;
            app.overwrite = None;
        }
        A::SearchNext | A::SearchPrev => {
            if app.search.is_some() {
                let forward = action == A::SearchNext;
                app.pending.push(Pending::Search { forward });
            } else {
                app.say(Level::Error, "no search yet: press / and type what to find");
            }
        }
        A::CycleFilter => {
            app.filter = app.filter.cycle();
            app.top = app.cursor;
            app.pending.push(Pending::Step(0));
        }
        A::FilterBySelected(from) => app.pending.push(Pending::FilterFrom(from)),
        A::ClearFilter => {
            app.filter = Filter::All;
            app.top = app.cursor;
        }
        A::MarkTurn => match app.chosen_turn() {
            Some(i) => {
                app.mark = Some(i);
                app.say(
                    Level::Info,
                    format!("marked turn {}: select another turn and press d", i + 1),
                );
            }
            None => app.say(
                Level::Error,
                "this frame belongs to no turn; select a turn's frame",
            ),
        },
        A::ShowDiff { http } => app.pending.push(Pending::Diff { http }),
        A::Back => {
            if app.help {
                app.help = false;
            } else if app.diff.is_some() {
                app.diff = None;
                app.scroll = 0;
            } else {
                app.prompt = None;
                app.overwrite = None;
            }
        }
        A::Export(kind) => app.pending.push(Pending::Export(kind, String::new())),
        A::Scroll(n) => {
            let v = i64::from(app.scroll) + i64::from(n);
            app.scroll = u16::try_from(v.max(0)).unwrap_or(u16::MAX);
        }
        A::ToggleHelp => app.help = !app.help,
        A::ToggleTail => {
            app.tail = !app.tail;
            if app.tail {
                app.pending.push(Pending::Last);
            }
        }
        A::Resized { width, height } => app.size = (width, height),
        A::ToggleInspect => app.inspect = !app.inspect,
        A::Inspect(action) => {
            if let Some(ins) = &mut app.inspector {
                crate::tui::update::update(&mut ins.app, action);
            }
        }
        A::Progressed => {
            if app.tail {
                app.pending.push(Pending::Last);
            }
        }
    }
    false
}

/// A manual move stops playback and closes the diff.
fn push_move(app: &mut ReplayApp, pending: Pending) {
    app.play.playing = false;
    app.diff = None;
    app.scroll = 0;
    app.pending.push(pending);
}

fn on_tick(app: &mut ReplayApp, now_us: u64) {
    if !app.play.playing {
        return;
    }
    let frame_t = app
        .selection
        .as_ref()
        .and_then(|s| s.entry.as_ref().ok())
        .map_or(app.t0, |e| e.frame.t_us);
    match app.play.speed {
        Speed::Max => app.pending.push(Pending::PlayFrames(25)),
        speed => {
            let (start_now, start_t) = *app.play.anchor.get_or_insert((now_us, frame_t));
            let factor = if speed == Speed::X10 { 10 } else { 1 };
            let target = start_t + now_us.saturating_sub(start_now) * factor;
            app.pending.push(Pending::PlayTo(target));
        }
    }
}

fn submit(app: &mut ReplayApp) {
    let Some(prompt) = app.prompt.take() else {
        return;
    };
    let text = prompt.text.trim().to_owned();
    if text.is_empty() && !matches!(prompt.kind, PromptKind::Export(_)) {
        return;
    }
    match prompt.kind {
        PromptKind::Search => {
            app.search = Some(text);
            app.pending.push(Pending::Search { forward: true });
        }
        PromptKind::Jump => push_move(app, Pending::Jump(text)),
        PromptKind::Export(kind) => app.pending.push(Pending::Export(kind, text)),
    }
}
