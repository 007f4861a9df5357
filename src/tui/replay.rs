//! The replay screen over a recorded transcript: its state, keys, the bridge that reads what
//! it shows from the index, and its loop. The data work (index, filter, context) is `crate::replay`.

pub mod app;
pub mod inspect;
pub mod keys;
pub mod resolve;
pub mod run;
