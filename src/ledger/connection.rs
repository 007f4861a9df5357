//! A connection's life: when it opened and closed, and its age against the 60-minute limit.

use serde::Serialize;

/// The server closes a connection after this long.
pub const MAX_AGE_US: u64 = 60 * 60 * 1_000_000;
/// First warning.
pub const WARN_AGE_US: u64 = 50 * 60 * 1_000_000;
/// Rotate-now warning.
pub const ROTATE_AGE_US: u64 = 55 * 60 * 1_000_000;

/// How close a connection is to the 60-minute limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeLevel {
    /// Under 50 minutes.
    Fresh,
    /// 50 minutes or more.
    Warn,
    /// 55 minutes or more: rotate now.
    Rotate,
    /// 60 minutes or more: the server closes it.
    Expired,
}

/// One WebSocket connection of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// Index (0, 1, … in connect order).
    pub index: u32,
    /// URL, when a connect meta frame named it.
    pub url: Option<String>,
    /// Opened at, µs.
    pub opened_us: u64,
    /// Closed at, µs.
    pub closed_us: Option<u64>,
    /// WebSocket close code.
    pub close_code: Option<u16>,
    /// Close reason.
    pub close_reason: Option<String>,
    /// Why it was opened, when it replaced another (`reconnect` meta).
    pub reconnect_reason: Option<String>,
    /// Turns sent on it.
    pub turns: usize,
    /// The version turnscope's emulator announced on the upgrade, when the server is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
}

impl Connection {
    /// A connection opened at `opened_us`.
    pub fn new(index: u32, opened_us: u64) -> Self {
        Connection {
            index,
            url: None,
            opened_us,
            closed_us: None,
            close_code: None,
            close_reason: None,
            reconnect_reason: None,
            turns: 0,
            emulator: None,
        }
    }

    /// Age at `now_us` (or at close, if closed).
    pub fn age_us(&self, now_us: u64) -> u64 {
        self.closed_us
            .unwrap_or(now_us)
            .saturating_sub(self.opened_us)
    }

    /// Whether the connection is still open.
    pub fn is_open(&self) -> bool {
        self.closed_us.is_none()
    }

    /// Age level at `now_us`.
    pub fn age_level(&self, now_us: u64) -> AgeLevel {
        age_level(self.age_us(now_us))
    }
}

/// Classifies an age against the 50/55/60-minute marks.
pub fn age_level(age_us: u64) -> AgeLevel {
    match age_us {
        a if a >= MAX_AGE_US => AgeLevel::Expired,
        a if a >= ROTATE_AGE_US => AgeLevel::Rotate,
        a if a >= WARN_AGE_US => AgeLevel::Warn,
        _ => AgeLevel::Fresh,
    }
}
