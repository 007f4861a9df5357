//! Conversation context the emulated model holds: response chains, token sizes, the
//! process-wide store and the HTTP-mode prompt (prefix) cache.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

/// One response's slice of a conversation: its new input items and its output items,
/// linked to its parent. Chains share their prefix, so caching every response is linear.
#[derive(Debug)]
pub(crate) struct Node {
    pub parent: Option<Arc<Node>>,
    /// New input items followed by output items.
    pub items: Vec<Value>,
    /// Per-item (token count, content hash).
    pub sizes: Vec<(usize, u64)>,
    /// Tokens of the whole chain up to and including this node.
    pub total_tokens: usize,
    /// Items in the whole chain.
    pub total_items: usize,
    /// Model turns in the whole chain (runs of model-produced items).
    pub model_turns: usize,
    /// Whether the chain's last item was produced by the model.
    pub ends_with_model: bool,
}

fn is_model_item(item: &Value) -> bool {
    match item["type"].as_str() {
        Some("function_call" | "reasoning" | "custom_tool_call") => true,
        Some("message") | None => item["role"] == "assistant",
        _ => false,
    }
}

impl Node {
    /// Builds a node from items, continuing `parent`.
    pub fn new(parent: Option<Arc<Node>>, items: Vec<Value>, tokens: &TokenMemo) -> Arc<Node> {
        let sizes: Vec<(usize, u64)> = items.iter().map(|i| tokens.measure(i)).collect();
        let (mut total_tokens, mut total_items, mut model_turns, mut ends) = match &parent {
            Some(p) => (
                p.total_tokens,
                p.total_items,
                p.model_turns,
                p.ends_with_model,
            ),
            None => (0, 0, 0, false),
        };
        for (item, (t, _)) in items.iter().zip(&sizes) {
            total_tokens += t;
            total_items += 1;
            let model = is_model_item(item);
            if model && !ends {
                model_turns += 1;
            }
            ends = model;
        }
        Arc::new(Node {
            parent,
            items,
            sizes,
            total_tokens,
            total_items,
            model_turns,
            ends_with_model: ends,
        })
    }

    /// Model turns counted over `parent` plus `items`, without building a node.
    pub fn model_turns_with(parent: Option<&Node>, items: &[Value]) -> usize {
        let (mut turns, mut ends) =
            parent.map_or((0, false), |p| (p.model_turns, p.ends_with_model));
        for item in items {
            let model = is_model_item(item);
            if model && !ends {
                turns += 1;
            }
            ends = model;
        }
        turns
    }

    /// All (token, hash) sizes of the chain in order, oldest first.
    pub fn chain_sizes(&self) -> Vec<(usize, u64)> {
        let mut nodes = Vec::new();
        let mut cur = Some(self);
        while let Some(n) = cur {
            nodes.push(n);
            cur = n.parent.as_deref();
        }
        nodes
            .iter()
            .rev()
            .flat_map(|n| n.sizes.iter().copied())
            .collect()
    }

    /// Finds a `function_call` item with `call_id` anywhere in the chain.
    pub fn has_call(&self, call_id: &str) -> bool {
        let mut cur = Some(self);
        while let Some(n) = cur {
            if n.items
                .iter()
                .any(|i| i["type"] == "function_call" && i["call_id"] == call_id)
            {
                return true;
            }
            cur = n.parent.as_deref();
        }
        false
    }
}

/// Token counts of items, memoized by content hash (HTTP mode resends the same items).
#[derive(Debug, Default)]
pub(crate) struct TokenMemo {
    map: Mutex<HashMap<u64, usize>>,
}

/// Hash of a string, for prefix matching and memoization.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

const MEMO_CAP: usize = 200_000;

impl TokenMemo {
    /// (o200k tokens of the compact JSON of `item`, content hash).
    pub fn measure(&self, item: &Value) -> (usize, u64) {
        let text = item.to_string();
        self.measure_str(&text)
    }

    /// (o200k tokens of `text`, content hash).
    pub fn measure_str(&self, text: &str) -> (usize, u64) {
        let h = hash_str(text);
        if let Some(t) = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&h)
        {
            return (*t, h);
        }
        let t = crate::tokens::count(text);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MEMO_CAP {
            map.clear();
        }
        map.insert(h, t);
        (t, h)
    }
}

/// HTTP-mode prompt caching, modelled like the API documents it: a request whose prefix
/// (instructions, tools, then items, compared item by item) repeats an earlier request's
/// prefix of at least 1024 tokens gets that prefix cached, counted in 128-token steps.
#[derive(Debug, Default)]
pub(crate) struct PrefixCache {
    seen: Mutex<HashSet<u64>>,
}

const PREFIX_CAP: usize = 1_000_000;

/// The minimum cacheable prefix.
pub(crate) const CACHE_MIN_TOKENS: usize = 1024;
/// Cache hits grow in steps of this many tokens.
pub(crate) const CACHE_STEP_TOKENS: usize = 128;

impl PrefixCache {
    /// Records the segments of one request and returns its cached tokens.
    pub fn lookup_and_insert(&self, segments: &[(usize, u64)]) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rolling: u64 = 0xcbf2_9ce4_8422_2325;
        let mut matched_tokens = 0;
        let mut running = 0;
        let mut still_matching = true;
        let mut keys = Vec::with_capacity(segments.len());
        for (tokens, h) in segments {
            let mut hasher = DefaultHasher::new();
            (rolling, h).hash(&mut hasher);
            rolling = hasher.finish();
            running += tokens;
            if still_matching && seen.contains(&rolling) {
                matched_tokens = running;
            } else {
                still_matching = false;
            }
            keys.push(rolling);
        }
        if seen.len() + keys.len() > PREFIX_CAP {
            seen.clear();
        }
        seen.extend(keys);
        cacheable(matched_tokens)
    }
}

/// Rounds a matched prefix down to what the API would report as cached.
pub(crate) fn cacheable(tokens: usize) -> usize {
    if tokens < CACHE_MIN_TOKENS {
        0
    } else {
        tokens / CACHE_STEP_TOKENS * CACHE_STEP_TOKENS
    }
}

/// A response kept in the process-wide store (`store=true`).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub node: Arc<Node>,
    pub response: Value,
}

/// The process-wide store of `store=true` responses.
#[derive(Debug, Default)]
pub(crate) struct Store {
    map: Mutex<HashMap<String, Stored>>,
}

impl Store {
    pub fn get(&self, id: &str) -> Option<Stored> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub fn put(&self, id: String, stored: Stored) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_counts_model_turns_and_tokens() {
        let memo = TokenMemo::default();
        let a = Node::new(
            None,
            vec![
                json!({"type":"message","role":"user","content":"hi"}),
                json!({"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}),
            ],
            &memo,
        );
        let b = Node::new(
            Some(a.clone()),
            vec![
                json!({"type":"function_call_output","call_id":"c1","output":"x"}),
                json!({"type":"message","role":"assistant","content":[]}),
            ],
            &memo,
        );
        assert_eq!(a.model_turns, 1);
        assert_eq!(b.model_turns, 2);
        assert_eq!(b.total_items, 4);
        assert_eq!(b.chain_sizes().len(), 4);
        assert!(b.has_call("c1") && !b.has_call("c2"));
        assert_eq!(
            b.total_tokens,
            b.chain_sizes().iter().map(|s| s.0).sum::<usize>()
        );
    }

    #[test]
    fn prefix_cache_needs_1024_tokens_and_counts_in_128_steps() {
        let cache = PrefixCache::default();
        let segs = vec![(1000, 1), (100, 2), (50, 3)];
        assert_eq!(cache.lookup_and_insert(&segs), 0);
        // Same first two segments, different third: 1100 matched -> 1024.
        assert_eq!(
            cache.lookup_and_insert(&[(1000, 1), (100, 2), (7, 9)]),
            1024
        );
        assert_eq!(cache.lookup_and_insert(&segs), 1150 / 128 * 128);
        assert_eq!(cache.lookup_and_insert(&[(1000, 1)]), 0);
    }
}
