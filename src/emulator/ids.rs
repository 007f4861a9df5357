//! Opaque ids in the real API's formats (`resp_`/`msg_`/`fc_`/`rs_` + 50 hex digits,
//! `call_` + 24 alphanumerics, `req_` + 32 hex for `x-request-id`), from a seeded generator
//! so a run with a fixed seed repeats its ids.

use std::sync::atomic::{AtomicU64, Ordering};

/// Hex digits after `resp_`, `msg_`, `fc_`, `rs_` (as in public captures, e.g.
/// `rs_00288ba3a95e1f77016a1f91ac88448191b18d9cb239c29752`).
pub(crate) const ITEM_HEX: usize = 50;
/// Alphanumerics after `call_` (e.g. `call_ZSaeHlIE0WtDHW2HCMa3Xy8g`).
pub(crate) const CALL_CHARS: usize = 24;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// SplitMix64 over an atomic counter: lock-free, and every draw is distinct.
#[derive(Debug)]
pub(crate) struct IdGen {
    state: AtomicU64,
}

impl IdGen {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        IdGen {
            state: AtomicU64::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `prefix_` followed by `len` lowercase hex digits.
    pub fn hex(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + 1 + len);
        out.push_str(prefix);
        out.push('_');
        while out.len() < prefix.len() + 1 + len {
            let word = format!("{:016x}", self.next_u64());
            let need = prefix.len() + 1 + len - out.len();
            out.push_str(&word[..need.min(16)]);
        }
        out
    }

    /// `prefix_` followed by `len` characters of `[A-Za-z0-9]`.
    pub fn alnum(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + 1 + len);
        out.push_str(prefix);
        out.push('_');
        for _ in 0..len {
            let i = (self.next_u64() % ALNUM.len() as u64) as usize;
            out.push(char::from(ALNUM[i]));
        }
        out
    }

    /// A uniform draw in [0, 1) (53 random bits), for modelled noise.
    pub fn unit(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 exactly
        let v = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        v
    }

    /// A response, message, function-call or reasoning item id (`prefix` without `_`).
    pub fn item(&self, prefix: &str) -> String {
        self.hex(prefix, ITEM_HEX)
    }

    /// A function call's `call_id`.
    pub fn call(&self) -> String {
        self.alnum("call", CALL_CHARS)
    }

    /// An `x-request-id` value.
    pub fn request(&self) -> String {
        self.hex("req", 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_real_shapes_and_repeat_with_the_seed() {
        let g = IdGen::new(7);
        let r = g.item("resp");
        assert_eq!(r.len(), 5 + ITEM_HEX);
        assert!(
            r[5..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let c = g.call();
        assert_eq!(c.len(), 5 + CALL_CHARS);
        assert!(c[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(g.item("resp"), r);
        let (a, b) = (IdGen::new(9), IdGen::new(9));
        assert_eq!(a.item("msg"), b.item("msg"));
        assert_eq!(a.request().len(), 4 + 32);
    }
}
