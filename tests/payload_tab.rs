//! The Payload tab's long strings (issue 16 item 12): folded at 160 characters, one shown whole
//! with `e` (the one marked ▸), all with `E`, and the pane scrolled sideways with H/L.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screens.rs"]
mod screens;

use crossterm::event::KeyCode;
use screens::{key, keys, screen};

/// The rows of the pane below the tab bar.
fn pane(out: &str) -> Vec<&str> {
    out.lines()
        .skip_while(|l| !l.contains("1 Payload"))
        .skip(1)
        .collect()
}

#[test]
fn long_strings_expand_one_or_all_and_scroll_sideways() {
    let mut app = screens::app_from("cause_instructions_changed.tsjsonl", None);
    app.focus = turnscope::tui::app::Focus::Turns;
    // The first turn's Payload: the head counts the long strings and names the keys.
    keys(
        &mut app,
        &[key(KeyCode::Char('g')), key(KeyCode::Char('1'))],
    );
    let top = screen(&mut app, 80, 24);
    assert!(
        top.contains("long strings 0 of 1 whole · e the ▸ one · E all · H L sideways"),
        "{top}"
    );
    // Scrolled (J) down to the long message: folded, and marked as the one `e` acts on.
    keys(&mut app, &[key(KeyCode::Char('J')); 3]);
    let folded = screen(&mut app, 80, 24);
    assert!(
        pane(&folded)
            .iter()
            .any(|l| l.starts_with("\"▸") && l.contains("\"content\": \"Please")),
        "the folded string is marked:\n{folded}"
    );
    insta::assert_snapshot!("payload_folded_80x24", folded);

    // e: the marked string whole, on one line that runs past the edge.
    keys(&mut app, &[key(KeyCode::Char('e'))]);
    let whole = screen(&mut app, 80, 24);
    assert_eq!(app.payload_view.expanded.len(), 1);
    assert!(!pane(&whole).iter().any(|l| l.contains("…(+")), "{whole}");
    let row = pane(&whole)
        .into_iter()
        .find(|l| l.contains("\"content\": \"Please"))
        .unwrap_or_else(|| panic!("{whole}"));
    assert!(!row.contains('…'), "{row}");

    // L scrolls sideways: the key is out of view on the left, the string runs on; H comes back.
    keys(&mut app, &[key(KeyCode::Char('L')); 8]);
    let right = screen(&mut app, 80, 24);
    assert_eq!(app.payload_view.sideways, 64);
    assert!(
        !pane(&right).iter().any(|l| l.contains("\"content\"")),
        "{right}"
    );
    assert!(
        pane(&right)
            .iter()
            .any(|l| l.contains("test. Please review this repository")),
        "{right}"
    );
    insta::assert_snapshot!("payload_whole_scrolled_80x24", right);
    keys(&mut app, &[key(KeyCode::Char('H')); 8]);
    assert_eq!(screen(&mut app, 80, 24), whole);

    // E shows every string whole; e then folds the marked one, as it was.
    keys(&mut app, &[key(KeyCode::Char('E'))]);
    assert!(app.payload_view.all);
    keys(&mut app, &[key(KeyCode::Char('e'))]);
    assert!(!app.payload_view.for_turn(app.selected).is_expanded(0));
    let again = screen(&mut app, 80, 24);
    assert_eq!(again, folded, "folded as before");

    // Another turn starts folded and unscrolled.
    keys(
        &mut app,
        &[key(KeyCode::Char('e')), key(KeyCode::Char('L'))],
    );
    keys(&mut app, &[key(KeyCode::Char('j'))]);
    assert_eq!(app.payload_view.for_turn(app.selected).sideways, 0);
    assert!(!app.payload_view.for_turn(app.selected).is_expanded(0));
    keys(&mut app, &[key(KeyCode::Char('k'))]);
    assert!(
        app.payload_view.for_turn(app.selected).is_expanded(0),
        "back on the turn, its state is still there (no other turn was touched)"
    );
}

/// The keys belong to the Payload tab (another tab gives them no meaning), and the help lists
/// them while it is shown, the way it lists the Frames tab's keys.
#[test]
fn payload_keys_belong_to_the_tab_and_the_help_lists_them() {
    let mut app = screens::app_from("cause_instructions_changed.tsjsonl", None);
    app.focus = turnscope::tui::app::Focus::Turns;
    keys(&mut app, &[key(KeyCode::Char('6'))]);
    for c in ['e', 'E', 'H', 'L'] {
        assert_eq!(
            turnscope::tui::keymap::resolve(&app, key(KeyCode::Char(c))),
            None,
            "{c} in Insight"
        );
    }
    keys(&mut app, &[key(KeyCode::Char('1')), key(KeyCode::F(1))]);
    let shot = screen(&mut app, 80, 24);
    for label in [
        "Payload tab",
        "show/fold the ▸ string",
        "show/fold all long strings",
        "scroll sideways",
    ] {
        assert!(shot.contains(label), "{label}:\n{shot}");
    }
    insta::assert_snapshot!("help_in_the_payload_tab", shot);
}
