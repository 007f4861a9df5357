//! The live and proxy screens' built-in key table. Order is help order; keys of one row sit
//! together, in the order the row writes them.

use crossterm::event::{KeyCode, KeyModifiers};

use super::{Binding, Scope};
use crate::tui::action::Action;
use crate::tui::app::Tab;
use crate::tui::breakpoint::BreakpointAction;
use crate::tui::frames::FramesAction;
use crate::tui::payload::{PayloadAction, SIDEWAYS_STEP};

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;

fn bind(
    scope: Scope,
    code: KeyCode,
    mods: KeyModifiers,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        scope,
        code,
        mods,
        action,
        help,
    }
}

/// The built-in bindings.
pub fn defaults() -> Vec<Binding> {
    use Action as A;
    use FramesAction as Fr;
    use KeyCode::{
        BackTab, Backspace, Char, Down, End, Enter, Esc, F, Home, Left, PageDown, PageUp, Right,
        Tab as TabKey, Up,
    };
    use Scope::{Composer, Frames, Global, Held, Help, Log, Offer, Payload, Proxy, Search, Turns};
    let bp = A::Breakpoint;
    vec![
        bind(Global, Char('c'), CTRL, A::Quit, "quit"),
        bind(Global, F(1), NONE, A::ToggleHelp, "show all keys"),
        bind(Global, Char('r'), CTRL, A::Reconnect, "reconnect"),
        bind(Global, F(8), NONE, A::ToggleLog, "message log"),
        bind(
            Proxy,
            F(6),
            NONE,
            bp(BreakpointAction::TogglePauseClient),
            "hold sent / received",
        ),
        bind(
            Proxy,
            F(7),
            NONE,
            bp(BreakpointAction::TogglePauseServer),
            "hold sent / received",
        ),
        bind(Help, Esc, NONE, A::ToggleHelp, "close"),
        bind(Help, Char('?'), NONE, A::ToggleHelp, "close"),
        bind(Help, Char('q'), NONE, A::ToggleHelp, "close"),
        bind(Help, Char('j'), NONE, A::ScrollPopup(1), "scroll"),
        bind(Help, Char('k'), NONE, A::ScrollPopup(-1), "scroll"),
        bind(Help, Down, NONE, A::ScrollPopup(1), "scroll"),
        bind(Help, Up, NONE, A::ScrollPopup(-1), "scroll"),
        bind(Help, PageDown, NONE, A::ScrollPopup(10), "page"),
        bind(Help, PageUp, NONE, A::ScrollPopup(-10), "page"),
        // The message log's keys: the same as the help's today, kept apart so either can change.
        bind(Log, Esc, NONE, A::ToggleLog, "close"),
        bind(Log, Char('?'), NONE, A::ToggleLog, "close"),
        bind(Log, Char('q'), NONE, A::ToggleLog, "close"),
        bind(Log, Char('j'), NONE, A::ScrollPopup(1), "scroll"),
        bind(Log, Char('k'), NONE, A::ScrollPopup(-1), "scroll"),
        bind(Log, Down, NONE, A::ScrollPopup(1), "scroll"),
        bind(Log, Up, NONE, A::ScrollPopup(-1), "scroll"),
        bind(Log, PageDown, NONE, A::ScrollPopup(10), "page"),
        bind(Log, PageUp, NONE, A::ScrollPopup(-10), "page"),
        bind(
            Offer,
            Char('r'),
            NONE,
            A::ResendFullContext,
            "resend full context",
        ),
        bind(Offer, Char('f'), NONE, A::StartFresh, "start fresh"),
        bind(Offer, Esc, NONE, A::DismissOffer, "decide later"),
        bind(Turns, Char('q'), NONE, A::Quit, "quit"),
        bind(Turns, Esc, NONE, A::DismissMessage, "clear the status line"),
        bind(Turns, Char('?'), NONE, A::ToggleHelp, "show all keys"),
        bind(Turns, Char('j'), NONE, A::SelectNext, "next turn"),
        bind(Turns, Down, NONE, A::SelectNext, "next turn"),
        bind(Turns, Char('k'), NONE, A::SelectPrev, "previous turn"),
        bind(Turns, Up, NONE, A::SelectPrev, "previous turn"),
        bind(Turns, Char('g'), NONE, A::SelectFirst, "first turn"),
        bind(Turns, Home, NONE, A::SelectFirst, "first turn"),
        bind(Turns, Char('G'), NONE, A::SelectLast, "newest turn, follow"),
        bind(Turns, End, NONE, A::SelectLast, "newest turn, follow"),
        bind(
            Turns,
            PageDown,
            NONE,
            A::PageTurns(10),
            "page through turns",
        ),
        bind(Turns, PageUp, NONE, A::PageTurns(-10), "page through turns"),
        bind(Turns, TabKey, NONE, A::NextTab, "next detail tab"),
        bind(Turns, Right, NONE, A::NextTab, "next detail tab"),
        bind(Turns, Char('l'), NONE, A::NextTab, "next detail tab"),
        bind(Turns, BackTab, NONE, A::PrevTab, "previous detail tab"),
        bind(Turns, Left, NONE, A::PrevTab, "previous detail tab"),
        bind(Turns, Char('h'), NONE, A::PrevTab, "previous detail tab"),
        bind(
            Turns,
            Char('1'),
            NONE,
            A::ShowTab(Tab::Payload),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('2'),
            NONE,
            A::ShowTab(Tab::Events),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('3'),
            NONE,
            A::ShowTab(Tab::Context),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('4'),
            NONE,
            A::ShowTab(Tab::Output),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('5'),
            NONE,
            A::ShowTab(Tab::Usage),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('6'),
            NONE,
            A::ShowTab(Tab::Insight),
            "jump to a detail tab",
        ),
        bind(
            Turns,
            Char('7'),
            NONE,
            A::ShowTab(Tab::Frames),
            "jump to a detail tab",
        ),
        bind(Turns, Char('J'), NONE, A::ScrollDetail(5), "scroll detail"),
        bind(Turns, Char('K'), NONE, A::ScrollDetail(-5), "scroll detail"),
        bind(Turns, Char('i'), NONE, A::FocusComposer, "write a message"),
        bind(Turns, Enter, NONE, A::FocusComposer, "write a message"),
        bind(Turns, Char('R'), NONE, A::Reconnect, "reconnect / rotate"),
        // H and L scroll the Payload sideways as J and K scroll it down and up; ← → h l stay
        // the tab keys.
        bind(
            Payload,
            Char('H'),
            NONE,
            A::Payload(PayloadAction::Sideways(-SIDEWAYS_STEP)),
            "scroll sideways",
        ),
        bind(
            Payload,
            Char('L'),
            NONE,
            A::Payload(PayloadAction::Sideways(SIDEWAYS_STEP)),
            "scroll sideways",
        ),
        bind(
            Payload,
            Char('e'),
            NONE,
            A::Payload(PayloadAction::ToggleString),
            "show/fold the ▸ string",
        ),
        bind(
            Payload,
            Char('E'),
            NONE,
            A::Payload(PayloadAction::ToggleAll),
            "show/fold all long strings",
        ),
        bind(
            Frames,
            Char('J'),
            NONE,
            A::Frames(Fr::Step(1)),
            "next / previous frame",
        ),
        bind(
            Frames,
            Char('K'),
            NONE,
            A::Frames(Fr::Step(-1)),
            "next / previous frame",
        ),
        bind(
            Frames,
            PageDown,
            NONE,
            A::ScrollDetail(5),
            "scroll the frame's JSON",
        ),
        bind(
            Frames,
            PageUp,
            NONE,
            A::ScrollDetail(-5),
            "scroll the frame's JSON",
        ),
        bind(
            Frames,
            Char('/'),
            NONE,
            A::Frames(Fr::OpenSearch),
            "search the frames",
        ),
        bind(
            Frames,
            Char('n'),
            NONE,
            A::Frames(Fr::NextMatch),
            "next / previous match",
        ),
        bind(
            Frames,
            Char('N'),
            NONE,
            A::Frames(Fr::PrevMatch),
            "next / previous match",
        ),
        bind(
            Frames,
            Char('f'),
            NONE,
            A::Frames(Fr::CycleFilter),
            "filter errors/sent/recv/meta",
        ),
        bind(
            Frames,
            Char('t'),
            NONE,
            A::Frames(Fr::FilterKind),
            "only this frame's type",
        ),
        bind(
            Frames,
            Char('L'),
            NONE,
            A::Frames(Fr::FilterLane),
            "only this frame's lane",
        ),
        bind(
            Frames,
            Char('F'),
            NONE,
            A::Frames(Fr::ClearFilter),
            "show every frame",
        ),
        // Typing a Frames search: these three, and every other character goes into the text.
        bind(Search, Enter, NONE, A::Frames(Fr::SearchSubmit), "finds"),
        bind(Search, Esc, NONE, A::Frames(Fr::SearchCancel), "stops"),
        bind(
            Search,
            Backspace,
            NONE,
            A::Frames(Fr::SearchBackspace),
            "deletes",
        ),
        bind(Composer, Esc, NONE, A::FocusTurns, "back to turns"),
        bind(Composer, Enter, NONE, A::SendTurn, "send"),
        bind(Composer, Char('j'), CTRL, A::ComposerNewline, "new line"),
        bind(Composer, Enter, ALT, A::ComposerNewline, "new line"),
        bind(
            Composer,
            Char('u'),
            CTRL,
            A::ComposerDeleteLine,
            "delete to line start",
        ),
        bind(
            Composer,
            Char('t'),
            CTRL,
            A::CycleComposerMode,
            "message/raw mode",
        ),
        bind(
            Composer,
            Char('n'),
            CTRL,
            A::NextPendingCall,
            "next/prev pending call",
        ),
        bind(
            Composer,
            Char('p'),
            CTRL,
            A::PrevPendingCall,
            "next/prev pending call",
        ),
        bind(
            Composer,
            Char('o'),
            CTRL,
            A::LoadOutputFile,
            "load output from file",
        ),
        bind(Composer, F(2), NONE, A::ToggleStore, "toggle store"),
        bind(Composer, Char('s'), ALT, A::ToggleStore, "toggle store"),
        bind(Composer, F(3), NONE, A::CycleLane, "cycle stream_id lane"),
        bind(
            Composer,
            Char('l'),
            ALT,
            A::CycleLane,
            "cycle stream_id lane",
        ),
        bind(
            Composer,
            F(4),
            NONE,
            A::ToggleWarmup,
            "warm-up generate:false",
        ),
        bind(
            Composer,
            Char('w'),
            ALT,
            A::ToggleWarmup,
            "warm-up generate:false",
        ),
        bind(Composer, F(5), NONE, A::ToggleSteer, "steer while running"),
        bind(
            Composer,
            Char('t'),
            ALT,
            A::ToggleSteer,
            "steer while running",
        ),
        bind(
            Composer,
            PageDown,
            NONE,
            A::ScrollDetail(5),
            "scroll detail",
        ),
        bind(Composer, PageUp, NONE, A::ScrollDetail(-5), "scroll detail"),
        bind(Composer, Up, ALT, A::SelectPrev, "select turns"),
        bind(Composer, Down, ALT, A::SelectNext, "select turns"),
        // A held frame's editor (proxy): these four, and every other key edits the JSON.
        bind(
            Held,
            Char('s'),
            CTRL,
            bp(BreakpointAction::Forward),
            "forward",
        ),
        bind(
            Held,
            Char('f'),
            CTRL,
            bp(BreakpointAction::ForwardOriginal),
            "original",
        ),
        bind(Held, Char('d'), CTRL, bp(BreakpointAction::Drop), "drop"),
        bind(
            Held,
            Char('a'),
            CTRL,
            bp(BreakpointAction::ForwardAll),
            "forward all",
        ),
    ]
}
