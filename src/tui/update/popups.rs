//! The help and message-log popups: which one is open and how far it is scrolled.

use crate::tui::action::Action;
use crate::tui::app::App;

/// Opens, closes or scrolls a popup. One popup at a time: opening one closes the other.
pub fn update(app: &mut App, action: &Action) {
    match action {
        // Esc, ? and q close whichever popup is open; from none, they open the help.
        Action::ToggleHelp if app.log_open => app.log_open = false,
        Action::ToggleHelp => {
            app.help = !app.help;
            app.popup_scroll = 0;
        }
        Action::ToggleLog => {
            app.log_open = !app.log_open;
            app.help = false;
            app.popup_scroll = 0;
        }
        Action::ScrollPopup(n) => {
            let v = i32::from(app.popup_scroll) + i32::from(*n);
            app.popup_scroll = u16::try_from(v.max(0)).unwrap_or(u16::MAX);
        }
        _ => {}
    }
}
