//! The session task: one loop that owns the socket, the lanes and the recorder.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::connect::{self, Ws};
use super::head::Head;
use super::lanes::{Lanes, Offer};
use super::{ConnState, SessionCommand, SessionConfig, SessionEvent};
use crate::endpoint::display_url;
use crate::frame::{Dir, Frame, Payload, wall_now};
use crate::transcript::{Header, Writer, redact};

/// How long a clean close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a connect attempt came to.
enum Connect {
    /// Open; these sends arrived while connecting.
    Open(Box<Ws>, Vec<String>),
    /// Failed (already reported); these sends arrived while connecting.
    Failed(Vec<String>),
    /// Close or cancel arrived while connecting.
    Stop(Vec<String>),
}

/// What one turn of the loop decided.
enum Step {
    Cancelled,
    Keepalive,
    Command(Option<SessionCommand>),
    Message(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The session's state, owned by its task.
pub(crate) struct Actor {
    config: SessionConfig,
    url: String,
    secrets: Vec<String>,
    start: Instant,
    /// Index of the current (or next) connection.
    conn: u32,
    /// Whether connection `conn` was ever open (a failed attempt keeps its index for the retry).
    opened: bool,
    recorder: Option<Writer>,
    events: UnboundedSender<SessionEvent>,
    lanes: Lanes,
    cancel: CancellationToken,
    /// When the current connection last received anything.
    last_rx: tokio::time::Instant,
    /// When an unanswered keepalive ping went out.
    ping_sent: Option<tokio::time::Instant>,
}

impl Actor {
    pub(crate) fn new(
        config: SessionConfig,
        events: UnboundedSender<SessionEvent>,
        cancel: CancellationToken,
    ) -> Self {
        Actor {
            url: display_url(&config.url),
            secrets: config.api_key.iter().cloned().collect(),
            config,
            start: Instant::now(),
            conn: 0,
            opened: false,
            recorder: None,
            events,
            lanes: Lanes::default(),
            cancel,
            last_rx: tokio::time::Instant::now(),
            ping_sent: None,
        }
    }

    pub(crate) async fn run(mut self, mut commands: UnboundedReceiver<SessionCommand>) {
        let cancel = self.cancel.clone();
        self.start_recording();
        let mut socket: Option<Box<Ws>> = None;
        let mut connect_now = true;
        loop {
            if connect_now {
                connect_now = false;
                match self.connect(&mut commands, &cancel).await {
                    Connect::Open(mut ws, pending) => {
                        let mut alive = true;
                        for (i, text) in pending.iter().enumerate() {
                            if let Err(why) = self.submit(&mut ws, text.clone()).await {
                                self.dropped(None, why, pending[i..].to_vec());
                                alive = false;
                                break;
                            }
                        }
                        socket = alive.then_some(ws);
                    }
                    Connect::Failed(pending) => self.unsent(pending, "the connection is not open"),
                    Connect::Stop(pending) => {
                        self.unsent(pending, "the session was closed");
                        return;
                    }
                }
            }
            let Some(ws) = socket.as_mut() else {
                let step = tokio::select! {
                    () = cancel.cancelled() => Step::Cancelled,
                    cmd = commands.recv() => Step::Command(cmd),
                };
                match step {
                    Step::Command(Some(SessionCommand::Send(text))) => self.not_connected(text),
                    Step::Command(Some(SessionCommand::Reconnect)) => {
                        self.next_conn("requested after close");
                        connect_now = true;
                    }
                    _ => return,
                }
                continue;
            };
            let keepalive = self.keepalive_deadline();
            let step = tokio::select! {
                () = cancel.cancelled() => Step::Cancelled,
                cmd = commands.recv() => Step::Command(cmd),
                msg = ws.next() => Step::Message(msg),
                () = sleep_until(keepalive) => Step::Keepalive,
            };
            match step {
                Step::Cancelled | Step::Command(None | Some(SessionCommand::Close)) => {
                    self.close(ws, "session closed").await;
                    return;
                }
                Step::Command(Some(SessionCommand::Reconnect)) => {
                    self.close(ws, "reconnect requested").await;
                    socket = None;
                    self.next_conn("requested");
                    connect_now = true;
                }
                Step::Command(Some(SessionCommand::Send(text))) => {
                    if let Err(why) = self.submit(ws, text).await {
                        self.dropped(None, why, Vec::new());
                        socket = None;
                    }
                }
                Step::Keepalive => {
                    if let Err(why) = self.keepalive(ws).await {
                        self.dropped(None, why, Vec::new());
                        socket = None;
                    }
                }
                Step::Message(Some(Ok(message))) => {
                    self.last_rx = tokio::time::Instant::now();
                    self.ping_sent = None;
                    if let Err(ended) = self.receive(ws, message).await {
                        if let Some(why) = ended {
                            self.dropped(None, why, Vec::new());
                        }
                        socket = None;
                    }
                }
                Step::Message(Some(Err(e))) => {
                    let why = super::receive_error(&e);
                    self.dropped(None, format!("connection dropped: {why}"), Vec::new());
                    socket = None;
                }
                Step::Message(None) => {
                    self.dropped(None, "connection dropped".into(), Vec::new());
                    socket = None;
                }
            }
        }
    }

    /// When the keepalive must act next: ping after a quiet spell, or give up on an unanswered ping.
    fn keepalive_deadline(&self) -> Option<tokio::time::Instant> {
        let every = self.config.keepalive?;
        Some(self.ping_sent.unwrap_or(self.last_rx) + every)
    }

    /// Sends a keepalive ping, or reports the connection dead when the last one went unanswered.
    async fn keepalive(&mut self, ws: &mut Ws) -> Result<(), String> {
        let every = self.config.keepalive.unwrap_or_default();
        if self.ping_sent.is_some() {
            return Err(format!(
                "no answer to a keepalive ping within {} s: the network or the server is gone",
                every.as_secs_f64()
            ));
        }
        self.ping_sent = Some(tokio::time::Instant::now());
        ws.send(Message::Ping(Default::default()))
            .await
            .map_err(|e| format!("connection dropped sending a keepalive ping: {e}"))
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn emit(&self, event: SessionEvent) {
        // A gone UI is not an error here: cancellation or Close ends the task.
        let _ = self.events.send(event);
    }

    fn clean(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    fn start_recording(&mut self) {
        let Some(path) = self.config.record.clone() else {
            return;
        };
        let header = Header::new(
            &self.config.source,
            Some(self.url.clone()),
            self.config.model.clone(),
        );
        match Writer::create(&path, &header, &self.secrets) {
            Ok(writer) => {
                self.recorder = Some(writer);
                self.emit(SessionEvent::Recording(Ok(path)));
            }
            Err(e) => self.emit(SessionEvent::Recording(Err(format!(
                "cannot record to {}: {e}; pass --record PATH or --no-record",
                path.display()
            )))),
        }
    }

    /// Writes the frame to the transcript first, then tells the UI.
    fn record(&mut self, frame: Frame) {
        if let Some(writer) = &mut self.recorder
            && let Err(e) = writer.write(&frame)
        {
            let message = format!(
                "recording to {} stopped: {e}; free disk space or pass --record PATH",
                writer.path().display()
            );
            self.recorder = None;
            self.emit(SessionEvent::Recording(Err(message)));
        }
        self.emit(SessionEvent::Frame(frame));
    }

    fn meta(&mut self, body: &Value) {
        let frame = Frame::meta(self.now_us(), wall_now(), self.conn, body);
        self.record(frame);
    }

    fn state(&self, state: ConnState) {
        // Safe to log: states hold indices, close codes and reasons, never keys or payloads.
        tracing::debug!(?state, "connection state");
        self.emit(SessionEvent::State(state));
    }

    fn unsent(&self, events: Vec<String>, why: &str) {
        if !events.is_empty() {
            tracing::warn!(count = events.len(), why, "client events not sent");
            self.emit(SessionEvent::Unsent {
                events,
                why: why.to_owned(),
            });
        }
    }

    fn not_connected(&mut self, text: String) {
        let message = format!(
            "not sent: connection {} to {} is not open; reconnect first",
            self.conn, self.url
        );
        self.meta(&json!({"event": "error", "message": message}));
        self.unsent(vec![text], &message);
    }

    /// Moves to the next connection index if the current one was ever open.
    fn next_conn(&mut self, why: &str) {
        if self.opened {
            let from = self.conn;
            self.meta(&json!({"event": "reconnect", "from": from, "to": from + 1, "why": why}));
            self.conn += 1;
            self.opened = false;
        }
    }

    async fn connect(
        &mut self,
        commands: &mut UnboundedReceiver<SessionCommand>,
        cancel: &CancellationToken,
    ) -> Connect {
        self.state(ConnState::Connecting { conn: self.conn });
        let config = self.config.clone();
        let attempt = connect::open(&config);
        tokio::pin!(attempt);
        let mut pending = Vec::new();
        let result = loop {
            tokio::select! {
                result = &mut attempt => break result,
                () = cancel.cancelled() => return Connect::Stop(pending),
                cmd = commands.recv() => match cmd {
                    None | Some(SessionCommand::Close) => return Connect::Stop(pending),
                    Some(SessionCommand::Send(text)) => pending.push(text),
                    // Already connecting.
                    Some(SessionCommand::Reconnect) => {}
                },
            }
        };
        match result {
            Ok((ws, opened)) => {
                self.opened = true;
                self.last_rx = tokio::time::Instant::now();
                self.ping_sent = None;
                let mut body = json!({"event": "connect", "url": self.url, "store": null});
                if let Some(id) = opened.request_id {
                    body["request_id"] = Value::String(id);
                }
                if let Some(version) = opened.emulator {
                    body["turnscope_emulator"] = Value::String(version);
                }
                self.meta(&body);
                if let Some(client) = &opened.client {
                    self.meta(client);
                }
                self.state(ConnState::Connected { conn: self.conn });
                Connect::Open(Box::new(ws), pending)
            }
            Err(e) => {
                let message = self.clean(&e.to_string());
                self.meta(&json!({"event": "error", "message": message}));
                self.state(ConnState::Failed { message });
                Connect::Failed(pending)
            }
        }
    }

    /// Sends a client event now, or queues a create behind its lane's in-flight response.
    async fn submit(&mut self, ws: &mut Ws, text: String) -> Result<(), String> {
        if text.len() > self.config.max_message_size {
            let message = format!(
                "not sent: {}",
                crate::endpoint::oversized_message(
                    "event",
                    text.len(),
                    self.config.max_message_size
                )
            );
            self.meta(&json!({"event": "error", "message": message}));
            self.unsent(vec![text], &message);
            return Ok(());
        }
        let head = Head::parse(&text);
        if !head.is_create() {
            return self.transmit(ws, text).await;
        }
        let lane = head.lane();
        match self.lanes.offer(lane.clone(), text) {
            Offer::SendNow(text) => self.transmit(ws, text).await,
            Offer::Queued { depth } => {
                self.emit(SessionEvent::Queued { lane, depth });
                Ok(())
            }
        }
    }

    /// Puts one text frame on the wire, then records it. On failure returns why (the frame is unsent).
    async fn transmit(&mut self, ws: &mut Ws, text: String) -> Result<(), String> {
        let t_us = self.now_us();
        let wall = wall_now();
        let sent = tokio::select! {
            sent = ws.send(Message::text(text.clone())) => sent.map_err(|e| e.to_string()),
            // A server that stops reading must not keep the session from shutting down.
            () = self.cancel.cancelled() => Err("the session was cancelled".to_owned()),
        };
        match sent {
            Ok(()) => {
                self.record(Frame {
                    t_us,
                    wall,
                    conn: self.conn,
                    dir: Dir::Sent,
                    payload: Payload::from_text(text),
                });
                Ok(())
            }
            Err(e) => {
                let why = format!("connection dropped while sending: {e}");
                self.unsent(vec![text], &why);
                Err(why)
            }
        }
    }

    /// Handles one received message. `Err(Some(why))`: the connection broke; `Err(None)`: it
    /// closed and that is already reported.
    async fn receive(&mut self, ws: &mut Ws, message: Message) -> Result<(), Option<String>> {
        let t_us = self.now_us();
        let (payload, head) = match message {
            Message::Text(text) => Head::classify(text.as_str()),
            Message::Binary(bytes) => (Payload::Binary(bytes.to_vec()), None),
            Message::Ping(_) => {
                // tungstenite queued the pong; flush it now rather than on the next write.
                return ws
                    .flush()
                    .await
                    .map_err(|e| Some(format!("connection dropped answering a ping: {e}")));
            }
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.as_str().to_owned())
                });
                self.meta(
                    &json!({"event": "close", "code": code, "reason": reason, "by": "server"}),
                );
                self.state(ConnState::Closed {
                    conn: self.conn,
                    code: Some(code),
                    reason,
                });
                self.release_lanes("the server closed the connection");
                // Let tungstenite send its close reply and see the TCP close.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
                return Err(None);
            }
        };
        self.record(Frame {
            t_us,
            wall: wall_now(),
            conn: self.conn,
            dir: Dir::Recv,
            payload,
        });
        let Some(head) = head.filter(Head::frees_lane) else {
            return Ok(());
        };
        let lane = head.lane();
        if let Some((next, depth)) = self.lanes.finish(&lane) {
            self.emit(SessionEvent::Queued {
                lane: lane.clone(),
                depth,
            });
            self.transmit(ws, next).await.map_err(Some)?;
        }
        Ok(())
    }

    /// Closes the connection cleanly (code 1000), recording frames that still arrive.
    async fn close(&mut self, ws: &mut Ws, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: reason.into(),
        };
        if ws.close(Some(frame)).await.is_ok() {
            let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
            while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
                let payload = match message {
                    Message::Text(text) => Payload::from_text(text.as_str()),
                    Message::Binary(bytes) => Payload::Binary(bytes.to_vec()),
                    _ => continue,
                };
                self.record(Frame {
                    t_us: self.now_us(),
                    wall: wall_now(),
                    conn: self.conn,
                    dir: Dir::Recv,
                    payload,
                });
            }
        }
        self.meta(&json!({"event": "close", "code": 1000, "reason": reason, "by": "client"}));
        self.state(ConnState::Closed {
            conn: self.conn,
            code: Some(1000),
            reason: reason.to_owned(),
        });
        self.release_lanes("the connection was closed");
    }

    /// The connection broke without a close handshake.
    fn dropped(&mut self, code: Option<u16>, why: String, unsent: Vec<String>) {
        let why = self.clean(&why);
        self.meta(&json!({"event": "close", "code": code, "reason": why, "by": "drop"}));
        self.state(ConnState::Closed {
            conn: self.conn,
            code,
            reason: why.clone(),
        });
        self.unsent(unsent, &why);
        self.release_lanes(&why);
    }

    /// Forgets in-flight responses; reports creates that were queued and never sent.
    fn release_lanes(&mut self, why: &str) {
        let mut never_sent = Vec::new();
        for (lane, events) in self.lanes.drain() {
            self.emit(SessionEvent::Queued { lane, depth: 0 });
            never_sent.extend(events);
        }
        self.unsent(never_sent, why);
    }
}
