//! turnscope: an inspector and debugger for OpenAI Responses API WebSocket sessions.
//!
//! Sources produce [`frame::Frame`]s; the [`ledger`] folds them into turns and metrics;
//! the TUI and the reports only render the ledger.

pub mod bench;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod endpoint;
pub mod frame;
pub mod har;
pub mod latency;
pub mod ledger;
pub mod otel;
pub mod protocol;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod secrets;
pub mod session;
pub mod tokens;
pub mod transcript;
pub mod tui;
pub mod whatif;
