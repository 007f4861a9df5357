//! Files that may hold a conversation (transcripts, exports, HARs, charts, logs) are readable by
//! their owner only: mode 0600, like the transcripts they come from.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates or truncates `path` with mode 0600. An existing regular file is narrowed to 0600 too
/// (the mode given to `open` applies only to a file it creates); other files (`/dev/stdout`, a
/// FIFO) keep theirs.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = open(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    narrow(&file)?;
    Ok(file)
}

/// Opens `path` for appending, creating it with mode 0600 (an existing file keeps its mode: the
/// user made it, e.g. `--log /dev/null`).
pub fn append_private(path: &Path) -> io::Result<File> {
    open(path, OpenOptions::new().create(true).append(true))
}

fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options.open(path)
}

fn narrow(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_overwritten_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        create_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600, "an overwritten 0644 file is narrowed");
        let log = dir.path().join("run.log");
        append_private(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
    }
}
