//! The honest floor for anything that reads a transcript line by line: a bare newline count of
//! the same file (stats and replay benches print their ratios against it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::time::Instant;

/// Seconds to count the newlines of `path`, and the count.
pub fn count_newlines(path: &Path) -> (f64, u64) {
    let start = Instant::now();
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = file.read(&mut buf).unwrap();
        if got == 0 {
            break;
        }
        n += buf[..got].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    (start.elapsed().as_secs_f64(), n)
}
