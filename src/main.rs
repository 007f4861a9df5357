//! The `turnscope` binary.
fn main() {}
