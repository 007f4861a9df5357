//! What tokens cost: the server's usage figures × a per-model price table (USD per 1M tokens).
//!
//! The one cost function every screen and report calls. The bill is the same arithmetic in
//! both modes: the price per token does not depend on the transport; only the tokens change
//! it — uncached input (`input_tokens − cached_tokens`), prompt-cache hits (`cached_tokens`,
//! billed at the cached rate) and output (`output_tokens`, which includes reasoning tokens).
//! A model without a price is never guessed: its cost is "n/a" and says how to add one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Turn;
use crate::protocol::Usage;

/// The built-in table, each price dated and sourced in the file.
const BUILTIN: &str = include_str!("prices.toml");

/// One model's list prices, USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Uncached input tokens.
    pub input: f64,
    /// Input tokens served from the prompt cache.
    pub cached_input: f64,
    /// Output tokens (reasoning included).
    pub output: f64,
    /// When the price was checked against its source (`YYYY-MM-DD`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Where the price was read, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Price {
    /// Why the price cannot be used, if it cannot (negative or not a number).
    pub fn problem(&self) -> Option<String> {
        [
            ("input", self.input),
            ("cached_input", self.cached_input),
            ("output", self.output),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite() || *v < 0.0)
        .map(|(k, v)| format!("`{k}` is {v}; give USD per 1M tokens, 0 or more"))
    }
}

/// Why a price table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The TOML is malformed or a price is unusable.
    #[error("price table {origin}: {message}")]
    Table {
        /// Which table.
        origin: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prices {
    table: BTreeMap<String, Price>,
}

impl Prices {
    /// The built-in table (`src/ledger/prices.toml`).
    pub fn builtin() -> Self {
        // The file is tested to parse; an empty table only ever shows "n/a".
        Prices {
            table: parse(BUILTIN, "built-in").unwrap_or_default(),
        }
    }

    /// This table with `overrides` (from `config.toml`) replacing or adding models.
    #[must_use]
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, Price>) -> Self {
        for (model, price) in overrides {
            self.table.insert(model.clone(), price.clone());
        }
        self
    }

    /// The price of `model`: its own entry, else the entry of its undated name
    /// (`gpt-4.1-2025-04-14` → `gpt-4.1`).
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.table
            .get(model)
            .or_else(|| self.table.get(crate::emulator::models::undated(model)))
    }

    /// Every model with a price.
    pub fn models(&self) -> impl Iterator<Item = (&String, &Price)> {
        self.table.iter()
    }

    /// Number of models with a price.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no model has a price.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// Parses a price table: `["model"]` tables with `input`, `cached_input`, `output`.
pub fn parse(text: &str, origin: &str) -> Result<BTreeMap<String, Price>, CostError> {
    let table: BTreeMap<String, Price> = toml::from_str(text).map_err(|e| CostError::Table {
        origin: origin.to_owned(),
        message: e.message().to_owned(),
    })?;
    for (model, price) in &table {
        if let Some(problem) = price.problem() {
            return Err(CostError::Table {
                origin: origin.to_owned(),
                message: format!("model `{model}`: {problem}"),
            });
        }
    }
    Ok(table)
}

/// The tokens a bill is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Billed {
    /// Input tokens not served from the prompt cache.
    pub uncached_input: u64,
    /// Input tokens served from the prompt cache.
    pub cached_input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
}

impl Billed {
    /// The billed tokens of a server-reported usage.
    pub fn of(usage: &Usage) -> Self {
        let cached = usage
            .input_tokens_details
            .cached_tokens
            .min(usage.input_tokens);
        Billed {
            uncached_input: usage.input_tokens - cached,
            cached_input: cached,
            // `output_tokens` already counts `output_tokens_details.reasoning_tokens`.
            output: usage.output_tokens,
        }
    }

    /// Adds another bill's tokens.
    pub fn add(&mut self, other: Billed) {
        self.uncached_input += other.uncached_input;
        self.cached_input += other.cached_input;
        self.output += other.output;
    }
}

/// A bill, USD, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Uncached input tokens × input price.
    pub uncached_input_usd: f64,
    /// Cached input tokens × cached-input price.
    pub cached_input_usd: f64,
    /// Output tokens × output price.
    pub output_usd: f64,
    /// The sum.
    pub total_usd: f64,
}

impl Cost {
    /// Adds another bill.
    pub fn add(&mut self, other: Cost) {
        self.uncached_input_usd += other.uncached_input_usd;
        self.cached_input_usd += other.cached_input_usd;
        self.output_usd += other.output_usd;
        self.total_usd += other.total_usd;
    }
}

/// The one cost function: `tokens` at `price`.
#[allow(clippy::cast_precision_loss)]
pub fn cost(price: &Price, tokens: Billed) -> Cost {
    let usd = |n: u64, per_million: f64| n as f64 * per_million / 1e6;
    let uncached_input_usd = usd(tokens.uncached_input, price.input);
    let cached_input_usd = usd(tokens.cached_input, price.cached_input);
    let output_usd = usd(tokens.output, price.output);
    Cost {
        uncached_input_usd,
        cached_input_usd,
        output_usd,
        total_usd: uncached_input_usd + cached_input_usd + output_usd,
    }
}

/// What one turn cost.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnCost {
    /// Its usage at its model's price.
    Priced(Cost),
    /// The server reported no usage (an error, a dropped stream): nothing to bill from.
    NoUsage,
    /// No price for the model (`None`: the request named no model).
    NoPrice(Option<String>),
}

/// The cost of `turn`, from its server-reported usage and its model's price.
pub fn turn_cost(prices: &Prices, turn: &Turn) -> TurnCost {
    let Some(usage) = &turn.usage else {
        return TurnCost::NoUsage;
    };
    match turn.model.as_deref().and_then(|m| prices.get(m)) {
        Some(price) => TurnCost::Priced(cost(price, Billed::of(usage))),
        None => TurnCost::NoPrice(turn.model.clone()),
    }
}

/// What a session cost: the priced turns summed, and what could not be priced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionCost {
    /// Sum over the priced turns.
    pub cost: Cost,
    /// Their tokens.
    pub billed: Billed,
    /// Turns priced.
    pub priced_turns: usize,
    /// Turns without usage (not billed from anything).
    pub no_usage_turns: usize,
    /// Models of turns with usage but no price (`?` when the request named none).
    pub unpriced: BTreeSet<String>,
}

impl SessionCost {
    /// The session's cost over `turns`.
    pub fn of<'a>(prices: &Prices, turns: impl IntoIterator<Item = &'a Turn>) -> Self {
        let mut out = SessionCost::default();
        for turn in turns {
            out.add_turn(prices, turn);
        }
        out
    }

    /// Adds one turn: in turn order, a running sum is `of` the same turns, to the last bit.
    pub fn add_turn(&mut self, prices: &Prices, turn: &Turn) {
        match turn_cost(prices, turn) {
            TurnCost::Priced(c) => {
                self.cost.add(c);
                if let Some(u) = &turn.usage {
                    self.billed.add(Billed::of(u));
                }
                self.priced_turns += 1;
            }
            TurnCost::NoUsage => self.no_usage_turns += 1,
            TurnCost::NoPrice(model) => {
                self.unpriced.insert(model.unwrap_or_else(|| "?".into()));
            }
        }
    }

    /// Adds another session (for summaries over many recordings).
    pub fn add(&mut self, other: &SessionCost) {
        self.cost.add(other.cost);
        self.billed.add(other.billed);
        self.priced_turns += other.priced_turns;
        self.no_usage_turns += other.no_usage_turns;
        self.unpriced.extend(other.unpriced.iter().cloned());
    }

    /// The total in USD, or `None` when a turn with usage had no price (a partial sum would
    /// understate the bill).
    pub fn total_usd(&self) -> Option<f64> {
        self.unpriced.is_empty().then_some(self.cost.total_usd)
    }

    /// `$0.001234`, or the n/a text naming the models without a price.
    pub fn text(&self) -> String {
        if self.unpriced.is_empty() {
            fmt_usd(self.cost.total_usd)
        } else {
            no_price_text(&self.unpriced.iter().cloned().collect::<Vec<_>>().join(", "))
        }
    }
}

impl TurnCost {
    /// `$0.001234`, `n/a (no usage reported)`, or the n/a text naming the model.
    pub fn text(&self) -> String {
        match self {
            TurnCost::Priced(c) => fmt_usd(c.total_usd),
            TurnCost::NoUsage => "n/a (no usage reported)".into(),
            TurnCost::NoPrice(model) => no_price_text(model.as_deref().unwrap_or("?")),
        }
    }
}

/// The one wording for a model without a price.
pub fn no_price_text(model: &str) -> String {
    format!("n/a (no price for {model}; add it under [prices] in config.toml)")
}

/// What differs in the bill between WebSocket and HTTP mode, in one sentence (README, Usage
/// tab, `whatif`): the same price per token; only prompt-cache hits and the tokens processed.
pub const MODES_NOTE: &str = "The price per token is the same in WebSocket and HTTP mode; only prompt-cache hits and the tokens actually processed change the bill.";

/// USD with enough digits for one turn: `$12.35`, `$0.1234`, `$0.001234`, `$0`.
pub fn fmt_usd(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "$0".into()
    } else if a >= 1.0 {
        format!("${v:.2}")
    } else if a >= 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::server::{InputTokensDetails, OutputTokensDetails};

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Usage {
        Usage {
            input_tokens: input,
            input_tokens_details: InputTokensDetails {
                cached_tokens: cached,
                cache_write_tokens: None,
            },
            output_tokens: output,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: reasoning,
            },
            total_tokens: input + output,
        }
    }

    #[test]
    fn the_builtin_table_parses_and_every_entry_is_dated_and_sourced() {
        let table = parse(BUILTIN, "built-in").unwrap();
        assert!(table.len() >= 10, "{}", table.len());
        for (model, p) in &table {
            let date = p.as_of.as_deref().unwrap_or_default();
            assert_eq!(date.len(), 10, "{model}: as_of {date:?}");
            let source = p.source.as_deref().unwrap_or_default();
            assert!(
                source.starts_with("official: ") || source.starts_with("secondary: "),
                "{model}: {source}"
            );
            assert!(p.cached_input <= p.input && p.input <= p.output, "{model}");
        }
        assert_eq!(Prices::builtin().len(), table.len());
    }

    #[test]
    fn a_gpt_5_1_turn_worked_by_hand() {
        // gpt-5.1: $1.25 in, $0.125 cached, $10 out per 1M.
        // 12,000 input of which 8,192 cached, 900 output (300 reasoning among them):
        // 3,808 × 1.25e-6 = 0.00476; 8,192 × 0.125e-6 = 0.001024; 900 × 10e-6 = 0.009.
        let p = Prices::builtin();
        let price = p.get("gpt-5.1").unwrap();
        let b = Billed::of(&usage(12_000, 8_192, 900, 300));
        assert_eq!(
            b,
            Billed {
                uncached_input: 3_808,
                cached_input: 8_192,
                output: 900
            }
        );
        let c = cost(price, b);
        assert!((c.uncached_input_usd - 0.00476).abs() < 1e-12, "{c:?}");
        assert!((c.cached_input_usd - 0.001024).abs() < 1e-12, "{c:?}");
        assert!((c.output_usd - 0.009).abs() < 1e-12, "{c:?}");
        assert!((c.total_usd - 0.014784).abs() < 1e-12, "{c:?}");
        assert_eq!(fmt_usd(c.total_usd), "$0.0148");
    }

    #[test]
    fn dated_snapshots_use_their_models_price_and_overrides_win() {
        let p = Prices::builtin();
        assert_eq!(p.get("gpt-4.1-2025-04-14"), p.get("gpt-4.1"));
        assert!(p.get("gpt-4.1-2025-04-14").is_some());
        assert!(p.get("my-model").is_none());
        let mut over = BTreeMap::new();
        over.insert(
            "gpt-5.1".to_owned(),
            Price {
                input: 2.0,
                cached_input: 0.0,
                output: 4.0,
                as_of: None,
                source: None,
            },
        );
        let p = p.with_overrides(&over);
        let c = cost(
            p.get("gpt-5.1").unwrap(),
            Billed::of(&usage(1_000_000, 500_000, 1_000_000, 0)),
        );
        // 500k uncached × $2 + 500k cached × $0 + 1M out × $4 = $1 + $0 + $4.
        assert_eq!(c.total_usd, 5.0);
        assert_eq!(fmt_usd(c.total_usd), "$5.00");
    }

    #[test]
    fn an_unknown_model_is_never_guessed() {
        let t = TurnCost::NoPrice(Some("my-model".into()));
        assert_eq!(
            t.text(),
            "n/a (no price for my-model; add it under [prices] in config.toml)"
        );
        let s = SessionCost {
            unpriced: BTreeSet::from(["my-model".to_owned()]),
            priced_turns: 3,
            ..SessionCost::default()
        };
        assert_eq!(s.total_usd(), None);
        assert!(
            s.text().starts_with("n/a (no price for my-model;"),
            "{}",
            s.text()
        );
    }

    #[test]
    fn bad_prices_are_refused_with_the_model_and_key() {
        let err = parse("[m]\ninput = -1.0\ncached_input = 0.0\noutput = 1.0\n", "t").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("model `m`") && msg.contains("`input` is -1"),
            "{msg}"
        );
        let err = parse("[m]\ninput = 1.0\noutput = 1.0\n", "t").unwrap_err();
        assert!(err.to_string().contains("cached_input"), "{err}");
    }

    #[test]
    fn usd_formats() {
        assert_eq!(fmt_usd(0.0), "$0");
        assert_eq!(fmt_usd(0.000_123_4), "$0.000123");
        assert_eq!(fmt_usd(0.5), "$0.5000");
        assert_eq!(fmt_usd(12.5), "$12.50");
    }
}
