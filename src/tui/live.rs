//! Wires the app to a live session: session events become actions, commands go to the session.

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::EventStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::app::{App, LinkState, Recording};
use super::terminal::TerminalGuard;
use super::{Action, Command, Effects, LoopStats, run_loop};
use crate::session::{self, ConnState, SessionCommand, SessionConfig, SessionEvent};

/// Turns one session event into an action; `epoch` pins the frames' clock to `Instant`s.
pub fn session_action(event: SessionEvent, epoch: &mut Option<Instant>) -> Action {
    match event {
        SessionEvent::Frame(frame) => {
            if epoch.is_none() {
                *epoch = Instant::now().checked_sub(Duration::from_micros(frame.t_us));
            }
            Action::FrameReceived(frame)
        }
        SessionEvent::State(state) => Action::LinkChanged(match state {
            ConnState::Connecting { conn } => LinkState::Connecting { conn },
            ConnState::Connected { conn, .. } => LinkState::Connected { conn },
            ConnState::Closed { conn, code, reason } => LinkState::Closed { conn, code, reason },
            ConnState::Failed { message } => LinkState::Failed { message },
        }),
        SessionEvent::Queued { lane, depth } => Action::LaneQueued { lane, depth },
        SessionEvent::Recording(result) => Action::RecordingStarted(result),
        SessionEvent::Unsent { events, why } => Action::SendFailed {
            count: events.len(),
            why,
        },
    }
}

/// Forwards session events as actions, and ticks once a second for the age gauge.
pub async fn forward(
    mut events: UnboundedReceiver<SessionEvent>,
    actions: UnboundedSender<Action>,
    cancel: CancellationToken,
) {
    let mut epoch: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let action = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            ev = events.recv() => match ev {
                Some(ev) => session_action(ev, &mut epoch),
                None => return,
            },
            _ = tick.tick() => match epoch {
                Some(e) => Action::Ticked { now_us: u64::try_from(e.elapsed().as_micros()).unwrap_or(u64::MAX) },
                None => continue,
            },
        };
        if actions.send(action).is_err() {
            return;
        }
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
            Command::LoadFile(path) => {
                let actions = self.actions.clone();
                tokio::spawn(async move {
                    let result = tokio::fs::read_to_string(&path)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = actions.send(Action::FileLoaded { path, result });
                });
            }
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
    tokio::spawn(forward(session.events, tx.clone(), cancel.child_token()));
    let mut effects = SessionEffects {
        commands: session.commands.clone(),
        actions: tx,
    };
    let stats = {
        let mut guard = TerminalGuard::enter()?;
        let terminal = guard.terminal();
        let size = terminal.size()?;
        super::update::update(
            &mut app,
            Action::Resized {
                width: size.width,
                height: size.height,
            },
        );
        let mut input = EventStream::new();
        run_loop(
            terminal,
            &mut app,
            &mut rx,
            &mut input,
            &mut effects,
            &cancel,
        )
        .await
        // The guard drops here: the terminal is restored before anything else happens.
    };
    tracing::info!(?stats, "live TUI loop ended");
    let _ = session.commands.send(SessionCommand::Close);
    let _ = tokio::time::timeout(Duration::from_secs(2), session.task).await;
    cancel.cancel();
    stats
}
