//! An append-only byte log on an unlinked temporary file, its newest bytes in memory: the
//! frame store keeps its bodies and its per-frame records in two of them, so what a screen has
//! seen lives on disk and its memory does not grow with the frame count.
//!
//! If the file cannot be made or written, every byte stays in memory (as before there was a
//! spool) and [`Spool::error`] says why, once, in words the user can act on.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// An append-only log: `on_disk` bytes in the file, then `tail` in memory.
#[derive(Debug)]
pub(super) struct Spool {
    /// What it holds, for the error message ("frame bodies").
    what: &'static str,
    /// Where the file is made (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
    file: Option<File>,
    on_disk: u64,
    tail: Vec<u8>,
    /// The tail is written out once it holds this many bytes.
    limit: usize,
    /// Why the bytes stay in memory.
    error: Option<String>,
}

impl Spool {
    /// An empty log holding `what`, written out in blocks of `limit` bytes.
    pub(super) fn new(what: &'static str, dir: Option<PathBuf>, limit: usize) -> Self {
        Spool {
            what,
            dir,
            file: None,
            on_disk: 0,
            tail: Vec::new(),
            limit: limit.max(1),
            error: None,
        }
    }

    /// A log on an already open `file` (tests: a file whose writes fail).
    #[cfg(test)]
    pub(super) fn on(what: &'static str, file: File, limit: usize) -> Self {
        Spool {
            file: Some(file),
            ..Self::new(what, None, limit)
        }
    }

    /// Bytes appended so far.
    pub(super) fn len(&self) -> u64 {
        self.on_disk + self.tail.len() as u64
    }

    /// Bytes on disk (the rest are in memory); they never change once written.
    pub(super) fn on_disk(&self) -> u64 {
        self.on_disk
    }

    /// Bytes held in memory now.
    pub(super) fn resident(&self) -> usize {
        self.tail.len()
    }

    /// Why the bytes stay in memory, if they do.
    pub(super) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Appends `bytes`; writes the tail out once it is full.
    pub(super) fn append(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() >= self.limit {
            self.write_out();
        }
    }

    /// Appends the tail to the file; on failure the bytes stay in memory, from then on.
    fn write_out(&mut self) {
        if self.error.is_some() {
            return;
        }
        if self.file.is_none() {
            let made = match &self.dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            };
            match made {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
                    self.error = Some(format!(
                        "cannot create a spool file for {} in {} ({e}): they stay in memory; set TMPDIR to a writable directory",
                        self.what,
                        dir.display()
                    ));
                    return;
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(&self.tail) {
            Ok(()) => {
                self.on_disk += self.tail.len() as u64;
                self.tail.clear();
                // A burst of huge frames must not leave a huge buffer behind.
                self.tail.shrink_to(self.limit);
            }
            Err(e) => {
                // The file may hold part of the tail now; those bytes are never read.
                let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
                self.error = Some(format!(
                    "cannot write the spool file for {} ({e}): they stay in memory; free space in {}",
                    self.what,
                    dir.display()
                ));
            }
        }
    }

    /// The bytes `at..at+len`, from the file, the tail, or both; `None` past the end or if the
    /// file cannot be read.
    pub(super) fn read(&self, at: u64, len: usize) -> Option<Cow<'_, [u8]>> {
        let end = at.checked_add(len as u64)?;
        if end > self.len() {
            return None;
        }
        if at >= self.on_disk {
            let start = usize::try_from(at - self.on_disk).ok()?;
            return self.tail.get(start..start + len).map(Cow::Borrowed);
        }
        let mut buf = vec![0; len];
        let from_file = usize::try_from(end.min(self.on_disk) - at).ok()?;
        self.file
            .as_ref()?
            .read_exact_at(&mut buf[..from_file], at)
            .ok()?;
        // A range that runs on past the file continues in the tail.
        let rest = len - from_file;
        buf[from_file..].copy_from_slice(self.tail.get(..rest)?);
        Some(Cow::Owned(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte reads back, whether in the file, the tail or across both.
    #[test]
    fn bytes_read_back_from_file_tail_and_across() {
        let mut spool = Spool::new("test bytes", None, 10);
        let data: Vec<u8> = (0..=255).collect();
        for chunk in data.chunks(7) {
            spool.append(chunk);
        }
        assert!(spool.on_disk() > 0 && spool.resident() < 10);
        for at in 0..256u64 {
            for len in [0, 1, 5, 13] {
                let end = usize::try_from(at).unwrap() + len;
                let got = spool.read(at, len);
                if end <= 256 {
                    assert_eq!(got.as_deref(), Some(&data[at as usize..end]), "{at}+{len}");
                } else {
                    assert_eq!(got, None);
                }
            }
        }
        assert_eq!(spool.error(), None);
    }

    /// A directory where no file can be made: the bytes stay in memory, read back, and the
    /// error names the directory and the fix.
    #[test]
    fn a_spool_that_cannot_be_made_keeps_bytes_in_memory_and_says_so() {
        let missing = PathBuf::from("/nonexistent/turnscope-spool");
        let mut spool = Spool::new("frame bodies", Some(missing), 4);
        spool.append(b"hello world");
        spool.append(b"!");
        assert_eq!(spool.read(0, 12).as_deref(), Some(&b"hello world!"[..]));
        assert_eq!(spool.resident(), 12);
        let error = spool.error().unwrap();
        assert!(
            error.contains("cannot create a spool file for frame bodies in /nonexistent")
                && error.contains("TMPDIR"),
            "{error}"
        );
    }

    /// A file whose writes fail (a full disk: /dev/full): the same.
    #[test]
    fn a_spool_that_cannot_be_written_keeps_bytes_in_memory_and_says_so() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .open("/dev/full")
            .unwrap();
        let mut spool = Spool::on("frame records", full, 4);
        spool.append(b"abcdef");
        spool.append(b"gh");
        assert_eq!(spool.read(2, 6).as_deref(), Some(&b"cdefgh"[..]));
        assert_eq!(spool.on_disk(), 0);
        let error = spool.error().unwrap();
        assert!(
            error.starts_with("cannot write the spool file for frame records")
                && error.contains("free space"),
            "{error}"
        );
    }
}
