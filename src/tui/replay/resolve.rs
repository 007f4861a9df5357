//! Carries out the replay screen's pending intents against the index, then refreshes the
//! caches the view draws from. The only replay code that reads the file after opening it.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::app::{
    ExportKind, FilterFrom, Level, Pending, Prompt, PromptKind, ReplayApp, Row, Selection,
};
use crate::ledger::{Ledger, Turn};
use crate::replay::Index;
use crate::replay::context;
use crate::replay::filter::{self, Filter};

/// Most lines one search, filter step or playback tick looks at.
const BUDGET: u64 = u64::MAX;
/// Most frames one playback tick advances at original speed.
const PLAY_STEP_LIMIT: usize = 10_000;

/// Runs every pending intent, then refreshes the caches.
pub fn resolve(app: &mut ReplayApp, index: &Index) {
    for pending in std::mem::take(&mut app.pending) {
        run(app, index, pending);
    }
    refresh(app, index);
    if app.inspect {
        super::inspect::sync(app, index);
    }
}

fn shown(index: &Index, filter: &Filter, from: Option<u64>, forward: bool) -> Option<u64> {
    index.find(from, forward, BUDGET, |_, line| filter.keeps_line(line))
}

fn run(app: &mut ReplayApp, index: &Index, pending: Pending) {
    match pending {
        Pending::Step(0) => {
            let here = index.raw(app.cursor);
            if here.is_some_and(|l| app.filter.keeps_line(&l)) {
                return;
            }
            let next = shown(index, &app.filter, Some(app.cursor), true)
                .or_else(|| shown(index, &app.filter, Some(app.cursor), false));
            match next {
                Some(p) => app.cursor = p,
                None => app.say(
                    Level::Error,
                    format!(
                        "no frame matches filter {}; press F to clear it",
                        app.filter.label()
                    ),
                ),
            }
        }
        Pending::Step(n) => {
            for _ in 0..n.unsigned_abs() {
                match shown(index, &app.filter, Some(app.cursor), n > 0) {
                    Some(p) => app.cursor = p,
                    None => {
                        let end = if n > 0 { "last" } else { "first" };
                        app.say(Level::Info, format!("at the {end} frame"));
                        break;
                    }
                }
            }
        }
        Pending::First => {
            if let Some(p) = shown(index, &app.filter, None, true) {
                app.cursor = p;
            }
        }
        Pending::Last => {
            if let Some(p) = shown(index, &app.filter, None, false) {
                app.cursor = p;
            }
        }
        Pending::Turn(n) => step_turn(app, index, n),
        Pending::Search { forward } => search(app, index, forward),
        Pending::Jump(text) => jump(app, index, &text),
        Pending::PlayTo(target) => play_to(app, index, target),
        Pending::PlayFrames(n) => {
            for _ in 0..n {
                match shown(index, &app.filter, Some(app.cursor), true) {
                    Some(p) => app.cursor = p,
                    None => {
                        stop_playing(app);
                        break;
                    }
                }
            }
        }
        Pending::FilterFrom(from) => filter_from(app, index, from),
        Pending::Diff { http } => diff(app, index, http),
        Pending::Export(kind, name) => export(app, index, kind, &name),
    }
}

fn stop_playing(app: &mut ReplayApp) {
    app.play.playing = false;
    app.say(Level::Info, "end of the recording: playback stopped");
}

fn play_to(app: &mut ReplayApp, index: &Index, target: u64) {
    for _ in 0..PLAY_STEP_LIMIT {
        let Some(next) = shown(index, &app.filter, Some(app.cursor), true) else {
            stop_playing(app);
            return;
        };
        let t = index.get(next).map_or(0, |e| e.frame.t_us);
        if t > target {
            return;
        }
        app.cursor = next;
    }
}

/// The turn (0-based) whose request or events include position `pos`.
fn turn_of(index: &Index, ledger: &Ledger, pos: u64) -> Option<usize> {
    let k = index.frame_of_position(pos)?;
    ledger
        .turns()
        .iter()
        .rposition(|t| t.request_frame == Some(k) || t.frames.contains(k))
}

/// The turn a diff or turn export acts on: the inspector's selected turn, or in the frames
/// view the turn of the frame under the cursor.
fn target_turn(app: &ReplayApp, index: &Index, ledger: &Ledger) -> Option<usize> {
    match (&app.inspector, app.inspect) {
        (Some(ins), true) => ins.app.selected,
        _ => turn_of(index, ledger, app.cursor),
    }
}

/// The position a turn starts at: its request, or its first event for a steered successor.
fn turn_start(index: &Index, turn: &Turn) -> Option<u64> {
    let k = turn.request_frame.or_else(|| turn.frames.first())?;
    Some(index.position_of_frame(k))
}

fn step_turn(app: &mut ReplayApp, index: &Index, n: i64) {
    let target = index.with_ledger(|ledger| {
        let turns = ledger.turns();
        let as_i64 = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
        let current = match turn_of(index, ledger, app.cursor) {
            Some(i) => as_i64(i),
            None => {
                // Between turns (or before the first, after the last): the next turn to start
                // is "current + 1" going forward and "current" going back.
                let after = turns
                    .iter()
                    .position(|t| turn_start(index, t).is_some_and(|p| p > app.cursor))
                    .unwrap_or(turns.len());
                if n > 0 {
                    as_i64(after) - 1
                } else {
                    as_i64(after)
                }
            }
        };
        let last = i64::try_from(turns.len()).unwrap_or(0) - 1;
        if last < 0 {
            return None;
        }
        let want = usize::try_from((current + n).clamp(0, last)).unwrap_or(0);
        turn_start(index, turns.get(want)?).map(|p| (want, p))
    });
    match target {
        Some((_, p)) => {
            app.cursor = p;
            if !app.filter.keeps_line(&index.raw(p).unwrap_or_default()) {
                app.filter = Filter::All;
                app.say(Level::Info, "filter cleared to show the turn's request");
            }
        }
        None => app.say(Level::Info, "no turns yet"),
    }
}

fn search(app: &mut ReplayApp, index: &Index, forward: bool) {
    let Some(query) = app.search.clone() else {
        return;
    };
    let finder = memchr::memmem::Finder::new(query.as_bytes());
    let hit = |_: u64, line: &[u8]| finder.find(line).is_some();
    match index.find(Some(app.cursor), forward, BUDGET, hit) {
        Some(p) => app.cursor = p,
        None => match index.find(None, forward, BUDGET, hit) {
            Some(p) => {
                app.cursor = p;
                app.say(Level::Info, format!("search wrapped: {query:?}"));
            }
            None => app.say(Level::Error, format!("not found: {query:?}")),
        },
    }
    if !app
        .filter
        .keeps_line(&index.raw(app.cursor).unwrap_or_default())
    {
        app.filter = Filter::All;
    }
}

/// Seconds in `12`, `12s`, `1.5s`, `250ms`, `1m30s`.
fn parse_time(text: &str) -> Option<u64> {
    let t = text.trim().trim_start_matches('+');
    if let Ok(secs) = t.trim_end_matches('s').parse::<f64>()
        && !t.ends_with("ms")
        && secs >= 0.0
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some((secs * 1e6) as u64);
    }
    humantime::parse_duration(t)
        .ok()
        .and_then(|d| u64::try_from(d.as_micros()).ok())
}

fn jump(app: &mut ReplayApp, index: &Index, text: &str) {
    let len = index.len();
    let target = if let Some(n) = text.strip_prefix('#') {
        match n.parse::<u64>() {
            Ok(n) if (1..=len).contains(&n) => Ok(n - 1),
            _ => Err(format!("no frame {text}: frames are #1 to #{len}")),
        }
    } else if let Ok(n) = text.parse::<usize>() {
        index.with_ledger(|l| {
            let turns = l.turns().len();
            (1..=turns)
                .contains(&n)
                .then(|| turn_start(index, &l.turns()[n - 1]))
                .flatten()
                .ok_or(format!("no turn {n}: turns are 1 to {turns}"))
        })
    } else if text.starts_with("resp") {
        index.with_ledger(|l| {
            l.turn_by_response(text)
                .and_then(|t| turn_start(index, t))
                .ok_or(format!("no turn produced response {text}"))
        })
    } else if let Some(offset) = parse_time(text) {
        // Saturating: a target like `1e308s` is a valid time past the end, not an overflow.
        Ok(position_at_time(index, app.t0.saturating_add(offset)))
    } else {
        Err(format!(
            "cannot jump to {text:?}: give a turn number, #frame, a response id or a time like 12.5s"
        ))
    };
    match target {
        Ok(p) => {
            app.cursor = p;
            if !app.filter.keeps_line(&index.raw(p).unwrap_or_default()) {
                app.filter = Filter::All;
            }
        }
        Err(e) => app.say(Level::Error, e),
    }
}

/// The first position whose frame time is at or after `t_us` (binary search; times only grow).
fn position_at_time(index: &Index, t_us: u64) -> u64 {
    let (mut lo, mut hi) = (0, index.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = index.get(mid).map_or(0, |e| e.frame.t_us);
        if t < t_us {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo.min(index.len().saturating_sub(1))
}

fn filter_from(app: &mut ReplayApp, index: &Index, from: FilterFrom) {
    let head = index.raw(app.cursor).and_then(|l| filter::head(&l));
    let Some(head) = head else {
        app.say(
            Level::Error,
            "the selected line is not a frame; select a frame first",
        );
        return;
    };
    let lane = head.lane.clone().or_else(|| {
        app.selection
            .as_ref()
            .and_then(|s| s.turn.as_ref())
            .and_then(|(_, t)| t.lane.clone())
    });
    let wanted = match from {
        FilterFrom::Kind => Filter::Kind(head.kind),
        FilterFrom::Conn => Filter::Conn(head.conn),
        FilterFrom::Lane => match lane {
            Some(l) => Filter::Lane(l),
            None => {
                app.say(Level::Error, "this frame names no lane (stream_id)");
                return;
            }
        },
    };
    app.filter = if app.filter == wanted {
        Filter::All
    } else {
        wanted
    };
}

fn diff(app: &mut ReplayApp, index: &Index, http: bool) {
    let result = index.with_ledger(|ledger| {
        let turn = target_turn(app, index, ledger)
            .ok_or("the selected frame belongs to no turn; select a turn's frame")?;
        if http {
            return context::request_vs_http(index, ledger, turn)
                .ok_or("this turn has no request to compare (a steered successor?)");
        }
        match app.mark {
            Some(mark) => Ok(context::contexts(index, ledger, mark, turn)),
            None => context::request_vs_http(index, ledger, turn)
                .ok_or("this turn has no request to compare (a steered successor?)"),
        }
    });
    match result {
        Ok(d) => {
            app.scroll = 0;
            app.diff = Some(d);
        }
        Err(e) => app.say(Level::Error, e),
    }
}

fn export(app: &mut ReplayApp, index: &Index, kind: ExportKind, name: &str) {
    let Some(entry) = index.get(app.cursor).ok() else {
        app.say(
            Level::Error,
            "the selected line is not a frame: nothing to export",
        );
        return;
    };
    let payload = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(json!(text));
    let stem = std::path::Path::new(&app.name).file_stem().map_or_else(
        || "transcript".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let doc: Result<(String, Value), &str> = index.with_ledger(|ledger| {
        let turn = target_turn(app, index, ledger);
        match kind {
            ExportKind::Frame => Ok((
                format!("{stem}.frame{}.json", app.cursor + 1),
                json!({"line": entry.line, "t_us": entry.frame.t_us, "wall": entry.frame.wall,
                    "conn": entry.frame.conn, "dir": entry.frame.dir,
                    "frame": payload(&String::from_utf8_lossy(entry.frame.payload.as_bytes()))}),
            )),
            ExportKind::Turn | ExportKind::Response => {
                let i = turn.ok_or("the selected frame belongs to no turn")?;
                let t = &ledger.turns()[i];
                let events: Vec<Value> = t
                    .frames
                    .iter()
                    .filter_map(|k| context::ledger_frame(index, k))
                    .map(|f| payload(&String::from_utf8_lossy(f.payload.as_bytes())))
                    .collect();
                if kind == ExportKind::Response {
                    let response = events
                        .iter()
                        .rev()
                        .find_map(|e| e.get("response").cloned())
                        .ok_or("this turn has no response object yet")?;
                    let id = t
                        .response_id
                        .clone()
                        .unwrap_or_else(|| format!("turn{}", i + 1));
                    return Ok((format!("{stem}.{id}.json"), response));
                }
                let request =
                    crate::ledger::context::request_text(ledger, index, i).map(|r| payload(&r));
                Ok((
                    format!("{stem}.turn{}.json", i + 1),
                    json!({"turn": t, "request": request, "events": events}),
                ))
            }
        }
    });
    let (default_name, doc) = match doc {
        Ok(d) => d,
        Err(e) => {
            app.say(Level::Error, e);
            return;
        }
    };
    let name = if name.is_empty() {
        default_name
    } else {
        name.to_owned()
    };
    let path: PathBuf = app.export_dir.join(&name);
    // Never overwrite silently: the first time, reopen the prompt with the name and ask.
    if path.exists() && app.overwrite.as_ref() != Some(&path) {
        app.overwrite = Some(path);
        app.prompt = Some(Prompt {
            kind: PromptKind::Export(kind),
            text: name,
        });
        return;
    }
    app.overwrite = None;
    // Transcripts from other tools may hold keys; an export never does.
    let text =
        crate::secrets::redact_json(&serde_json::to_string_pretty(&doc).unwrap_or_default(), &[])
            .into_owned();
    // An export can hold the whole conversation: owner-only, like the transcript.
    let written = crate::secrets::create_private(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, (text + "\n").as_bytes()));
    match written {
        Ok(()) => app.say(Level::Info, format!("wrote {}", path.display())),
        Err(e) => app.say(
            Level::Error,
            format!(
                "cannot write {}: {e}; press w to pick another name",
                path.display()
            ),
        ),
    }
}

/// Reloads what the view shows: progress, timeline window, the selected frame and its turn.
pub fn refresh(app: &mut ReplayApp, index: &Index) {
    app.progress = index.progress();
    let len = index.len();
    if len == 0 {
        app.rows.clear();
        app.selection = None;
        return;
    }
    if app.t0 == 0 {
        app.t0 = (0..len.min(16))
            .find_map(|p| index.get(p).ok())
            .map_or(0, |e| e.frame.t_us);
    }
    app.cursor = app.cursor.min(len - 1);
    let n = app.timeline_rows().max(1);
    if app.cursor < app.top {
        app.top = app.cursor;
    }
    let mut rows = rows_from(index, &app.filter, app.top, n);
    let visible = rows.iter().any(|r| r.pos == app.cursor);
    let below = rows.last().is_some_and(|r| r.pos < app.cursor);
    if !visible && (below || rows.len() < n) {
        // Scroll so the cursor is the last row (or fill the screen above it).
        let mut top = app.cursor;
        let mut count = 1;
        while count < n {
            match shown(index, &app.filter, Some(top), false) {
                Some(p) => top = p,
                None => break,
            }
            count += 1;
        }
        app.top = top;
        rows = rows_from(index, &app.filter, app.top, n);
    }
    app.rows = rows;
    let entry = index.get(app.cursor);
    let turn = index.with_ledger(|l| {
        app.turns = l.turns().len();
        turn_of(index, l, app.cursor).map(|i| (i, l.turns()[i].clone()))
    });
    app.selection = Some(Selection { entry, turn });
}

/// Up to `n` shown rows from position `from` on (the cursor row is always shown).
fn rows_from(index: &Index, filter: &Filter, from: u64, n: usize) -> Vec<Row> {
    let mut rows = Vec::with_capacity(n);
    let start = from.checked_sub(1);
    index.find(start, true, BUDGET, |pos, line| {
        if filter.keeps_line(line) {
            let head = filter::head(line).ok_or_else(|| match index.get(pos) {
                Err(e) => e.to_string(),
                Ok(_) => "not a frame".to_owned(),
            });
            rows.push(Row { pos, head });
        }
        rows.len() >= n
    });
    rows
}
