//! Where turnscope keeps its files: the per-user data directory from `directories`.

use std::path::PathBuf;

/// The user's turnscope data directory (e.g. `~/.local/share/turnscope`), if the OS has one.
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "turnscope", "turnscope").map(|d| d.data_dir().to_owned())
}

/// A fresh transcript path for a live session: `<data dir>/sessions/<UTC timestamp>.tsjsonl`.
///
/// The timestamp has millisecond precision and no `:` so the name is portable and two
/// sessions started in the same second do not collide.
pub fn default_record_path() -> Option<PathBuf> {
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace([':', '.'], "-");
    data_dir().map(|d| d.join("sessions").join(format!("{stamp}.tsjsonl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_record_path_is_a_tsjsonl_under_sessions() {
        // Some CI sandboxes have no home directory; then there is simply no default.
        if let Some(path) = default_record_path() {
            assert_eq!(path.extension().and_then(|e| e.to_str()), Some("tsjsonl"));
            let parent = path.parent().and_then(|p| p.file_name());
            assert_eq!(parent.and_then(|p| p.to_str()), Some("sessions"));
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(!name.contains(':'), "{name}");
        }
    }
}
