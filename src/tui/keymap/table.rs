//! A key table: the one list a screen dispatches keys from and draws its help from, so the
//! two cannot drift. Generic over the screen's scopes and actions (live, replay, bench).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding<S, A> {
    /// Where it applies.
    pub scope: S,
    /// The key.
    pub code: KeyCode,
    /// Modifiers that must be held (Shift is ignored for characters).
    pub mods: KeyModifiers,
    /// What it does.
    pub action: A,
    /// What help says it does. Bindings of one scope with the same text share one help row,
    /// whose keys are theirs in table order: an alias repeats its action's text.
    pub help: &'static str,
}

impl<S, A> Binding<S, A> {
    /// Whether this binding is what `key` means (Shift is part of the character itself).
    pub fn matches(&self, key: &KeyEvent) -> bool {
        let mods = match key.code {
            KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        self.code == key.code && self.mods == mods
    }

    /// The key as help writes it.
    pub fn label(&self) -> String {
        key_label(self.code, self.mods)
    }
}

/// One help row: the keys, as written, and what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    /// `j ↓`, `1-7`, `Ctrl-N Ctrl-P`.
    pub keys: String,
    /// What they do.
    pub help: &'static str,
}

/// A screen's bindings, in the order help lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTable<S, A> {
    bindings: Vec<Binding<S, A>>,
}

impl<S: Copy + PartialEq, A: Clone> KeyTable<S, A> {
    /// A table of `bindings`.
    pub fn new(bindings: Vec<Binding<S, A>>) -> Self {
        KeyTable { bindings }
    }

    /// Every binding, in help order.
    pub fn bindings(&self) -> &[Binding<S, A>] {
        &self.bindings
    }

    /// The action `key` means in `scope`.
    pub fn lookup(&self, scope: S, key: &KeyEvent) -> Option<A> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.matches(key))
            .map(|b| b.action.clone())
    }

    /// The first of `scopes` that binds `key`, with what it means there.
    pub fn lookup_in(&self, scopes: &[S], key: &KeyEvent) -> Option<(S, A)> {
        scopes
            .iter()
            .find_map(|&s| self.lookup(s, key).map(|a| (s, a)))
    }

    /// Help rows of `scope`, leaving out keys an earlier scope of `before` takes first (they
    /// would not do what the row says).
    pub fn rows(&self, scope: S, before: &[S]) -> Vec<HelpRow> {
        let mut rows: Vec<(&'static str, Vec<&Binding<S, A>>)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.scope == scope) {
            let shadowed = self
                .bindings
                .iter()
                .any(|o| before.contains(&o.scope) && o.code == b.code && o.mods == b.mods);
            if shadowed || b.help.is_empty() {
                continue;
            }
            match rows.iter_mut().find(|(h, _)| *h == b.help) {
                Some((_, keys)) => keys.push(b),
                None => rows.push((b.help, vec![b])),
            }
        }
        rows.into_iter()
            .map(|(help, keys)| HelpRow {
                keys: keys_label(&keys.iter().map(|b| b.label()).collect::<Vec<_>>()),
                help,
            })
            .collect()
    }

    /// How a footer names the keys of `actions`: each one's first key in the first of `scopes`
    /// that binds it, as help writes it, joined by `sep` (`j/k`, `F2-F5`); `None` when one is
    /// unbound (a remap took its keys to another action). Footers read it so a remap shows.
    pub fn hint(&self, scopes: &[S], actions: &[A], sep: &str) -> Option<String>
    where
        A: PartialEq,
    {
        let labels: Option<Vec<String>> = actions
            .iter()
            .map(|a| {
                scopes.iter().find_map(|&s| {
                    self.bindings
                        .iter()
                        .find(|b| b.scope == s && b.action == *a)
                        .map(Binding::label)
                })
            })
            .collect();
        labels.map(|l| l.join(sep))
    }

    /// Replaces the bindings of `scope` whose action is `action` with `new`, where the first
    /// of them stood (so help keeps its order).
    pub fn replace(&mut self, scope: S, is_action: impl Fn(&A) -> bool, new: Vec<Binding<S, A>>) {
        // Nothing before the first match is removed, so its index stays the place to insert.
        let at = self
            .bindings
            .iter()
            .position(|b| b.scope == scope && is_action(&b.action))
            .unwrap_or(usize::MAX);
        self.bindings
            .retain(|b| !(b.scope == scope && is_action(&b.action)));
        let at = at.min(self.bindings.len());
        self.bindings.splice(at..at, new);
    }
}

/// Keys of one row: `j ↓`; a run of three or more consecutive digits is written `1-7`.
fn keys_label(labels: &[String]) -> String {
    let digit = |s: &str| {
        let mut c = s.chars();
        match (c.next(), c.next()) {
            (Some(d), None) => d.to_digit(10),
            _ => None,
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < labels.len() {
        let mut j = i;
        if let Some(first) = digit(&labels[i]) {
            while j + 1 < labels.len()
                && digit(&labels[j + 1]) == Some(first + u32::try_from(j + 1 - i).unwrap_or(0))
            {
                j += 1;
            }
        }
        if j >= i + 2 {
            out.push(format!("{}-{}", labels[i], labels[j]));
        } else {
            out.extend(labels[i..=j].iter().cloned());
        }
        i = j + 1;
    }
    out.join(" ")
}

/// How help writes a key: `Ctrl-R`, `Alt-Enter`, `F2`, `↓`, `j`, `Space`.
pub fn key_label(code: KeyCode, mods: KeyModifiers) -> String {
    let key = match code {
        KeyCode::Char(' ') => "Space".into(),
        KeyCode::Char(c) if mods.is_empty() => c.to_string(),
        KeyCode::Char(c) => c.to_ascii_uppercase().to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::BackTab => "S-Tab".into(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for (m, name) in [
        (KeyModifiers::CONTROL, "Ctrl-"),
        (KeyModifiers::ALT, "Alt-"),
        (KeyModifiers::SHIFT, "Shift-"),
    ] {
        if mods.contains(m) {
            out.push_str(name);
        }
    }
    out + &key
}

/// Every key a test presses to find what a screen dispatches: printable ASCII, function and
/// navigation keys, each bare and with Ctrl and Alt (and Shift for the non-characters).
pub fn every_key() -> Vec<KeyEvent> {
    let mut keys = Vec::new();
    let plain = [KeyModifiers::NONE, KeyModifiers::CONTROL, KeyModifiers::ALT];
    for c in ' '..='~' {
        for m in plain {
            keys.push(KeyEvent::new(KeyCode::Char(c), m));
        }
    }
    let mut named: Vec<KeyCode> = (1..=12).map(KeyCode::F).collect();
    named.extend([
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Insert,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ]);
    for code in named {
        for m in plain.into_iter().chain([KeyModifiers::SHIFT]) {
            keys.push(KeyEvent::new(code, m));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_are_written_as_ranges() {
        let l = |v: &[&str]| keys_label(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(l(&["1", "2", "3", "4", "5", "6", "7"]), "1-7");
        assert_eq!(l(&["1", "2"]), "1 2");
        assert_eq!(l(&["j", "↓"]), "j ↓");
        assert_eq!(l(&["0", "1", "2", "x", "5"]), "0-2 x 5");
    }
}
