//! Wires the app to a live session: session events become actions, commands go to the session.

use std::io;
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::app::{App, Recording};
use super::run::{forward, run_on_terminal};
use super::{Action, AppScreen, Command, Effects, LoopStats};
use crate::session::{self, SessionCommand, SessionConfig, SessionEvent};

/// Turns one session event into an action.
pub fn session_action(event: SessionEvent) -> Action {
    match event {
        SessionEvent::Frame(frame) => Action::FrameReceived(frame),
        SessionEvent::State(state) => Action::LinkChanged(state),
        SessionEvent::Queued { lane, depth } => Action::LaneQueued { lane, depth },
        SessionEvent::Recording(result) => Action::RecordingStarted(result),
        SessionEvent::Unsent { events, why } => Action::SendFailed {
            count: events.len(),
            why,
        },
    }
}

/// Performs commands against a session; file reads answer through the action channel.
pub struct SessionEffects {
    /// The session's command channel.
    pub commands: UnboundedSender<SessionCommand>,
    /// Where loaded files are reported.
    pub actions: UnboundedSender<Action>,
}

impl Effects for SessionEffects {
    fn perform(&mut self, command: Command) {
        match command {
            Command::Send(json) => {
                if self.commands.send(SessionCommand::Send(json)).is_err() {
                    let _ = self.actions.send(Action::SendFailed {
                        count: 1,
                        why: "the session has ended".into(),
                    });
                }
            }
            Command::Reconnect => {
                let _ = self.commands.send(SessionCommand::Reconnect);
            }
            Command::LoadFile(path) => super::load_file(&self.actions, path),
            Command::Quit | Command::Proxy(_) => {}
        }
    }
}

/// Runs the TUI on the real terminal against a session until the user quits.
pub async fn run(
    mut app: App,
    config: SessionConfig,
    cancel: CancellationToken,
) -> io::Result<LoopStats> {
    if config.record.is_none() {
        app.recording = Recording::Off;
    }
    let session = session::spawn(config, cancel.child_token());
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(forward(
        session.events,
        tx.clone(),
        |e| Some(session_action(e)),
        cancel.child_token(),
    ));
    let effects = SessionEffects {
        commands: session.commands.clone(),
        actions: tx,
    };
    let mut screen = AppScreen::new(app, effects);
    let stats = run_on_terminal(&mut screen, &mut rx, &cancel).await;
    tracing::info!(?stats, "live TUI loop ended");
    let _ = session.commands.send(SessionCommand::Close);
    let _ = tokio::time::timeout(Duration::from_secs(2), session.task).await;
    cancel.cancel();
    stats
}
