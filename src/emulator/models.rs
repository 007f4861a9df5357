//! The models the emulator answers for, and which of them reason. Unknown names get the real
//! API's `model_not_found`; `--allow-model NAME` (or `*`) and a scenario's own `model` let
//! new or made-up names through.

/// Model names the emulator knows, as the public model list had them in 2026. Dated snapshots
/// (`NAME-YYYY-MM-DD`) of these are accepted too.
pub const KNOWN_MODELS: &[&str] = &[
    // Reasoning models.
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5-pro",
    "gpt-5-codex",
    "gpt-5.1",
    "gpt-5.1-codex",
    "gpt-5.1-codex-mini",
    "gpt-5.1-codex-max",
    "gpt-5.2",
    "gpt-5.2-pro",
    "gpt-5.2-codex",
    "gpt-5.3-codex",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5.5",
    "o1",
    "o1-pro",
    "o3",
    "o3-mini",
    "o3-pro",
    "o4-mini",
    "codex-mini-latest",
    // Models without reasoning.
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "chatgpt-4o-latest",
    "gpt-4-turbo",
    "gpt-4",
    "gpt-3.5-turbo",
];

/// The undated name: `gpt-4.1-2025-04-14` → `gpt-4.1`.
pub fn undated(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() > 11 {
        let (head, tail) = name.split_at(name.len() - 11);
        let t = tail.as_bytes();
        let dated = t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && t[1..5]
                .iter()
                .chain(&t[6..8])
                .chain(&t[9..])
                .all(u8::is_ascii_digit);
        if dated {
            return head;
        }
    }
    name
}

/// True when `name` is a known model or a dated snapshot of one.
pub fn is_known(name: &str) -> bool {
    KNOWN_MODELS.contains(&undated(name))
}

/// True for reasoning models: the gpt-5 family, the o-series and codex-mini (by name, so a
/// newer name let through with `--allow-model` is classed the same way).
pub fn is_reasoning(name: &str) -> bool {
    let n = undated(name);
    n.starts_with("gpt-5")
        || n.starts_with("codex-")
        || (n.starts_with('o') && n[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The reasoning effort a model uses when the request names none: `none` for gpt-5.1 and
/// gpt-5.2 (documented: they reason only when asked), `medium` for the rest (gpt-5, the
/// codex models, the o-series; a public gpt-5.5 capture echoes `medium` too).
pub fn default_effort(name: &str) -> &'static str {
    match undated(name) {
        "gpt-5.1" | "gpt-5.2" => "none",
        _ => "medium",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_snapshots_and_reasoning() {
        assert!(is_known("gpt-4.1") && is_known("gpt-4.1-2025-04-14"));
        assert!(!is_known("gpt-test") && !is_known("gpt-4.1-2025-04"));
        assert!(is_reasoning("gpt-5.1") && is_reasoning("o3-mini") && is_reasoning("o1"));
        assert!(!is_reasoning("gpt-4o") && !is_reasoning("omni-x"));
        assert_eq!(default_effort("gpt-5"), "medium");
        assert_eq!(default_effort("gpt-5-mini"), "medium");
        assert_eq!(default_effort("gpt-5.1"), "none");
        assert_eq!(default_effort("gpt-5.5-2026-04-23"), "medium");
        assert_eq!(default_effort("o3"), "medium");
    }
}
