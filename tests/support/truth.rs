//! The known latency profile the calibrate tests record sessions under and expect back.
#![allow(dead_code)]

use turnscope::emulator::LatencyProfile;

/// The profile, its noise seeded with `seed`. The fixed waits (overheads, TTFT) are hundreds of
/// ms, upload and validation hundreds of ms on the big HTTP bodies, the noise ±25 ms, so the
/// scheduling delay a loaded 2-core machine adds to every wait (measured at 8-17 ms per wait at
/// load ~10 with earlier tens-of-ms terms, which then came out 10-25 % high) stays inside 10 %.
pub fn truth(seed: u64) -> LatencyProfile {
    LatencyProfile {
        name: "truth".into(),
        rtt_ms: 20.0,
        request_bytes_per_s: 200_000.0,
        uncached_input_token_us: 40.0,
        ttft_ms: 250.0,
        output_tokens_per_s: 100.0,
        request_overhead_websocket_ms: 150.0,
        request_overhead_http_ms: 350.0,
        request_validation_token_us: 20.0,
        state_load_token_us: 8.0,
        jitter_ms: 25.0,
        jitter_seed: seed,
    }
}
