//! Picks the o200k tokenizer: tiktoken-rs vs bpe-openai on the same 10 MB of text.
use std::time::Instant;

fn corpus(bytes: usize) -> String {
    // A realistic agent mix: prose, code, JSON tool output.
    let chunk = concat!(
        "The function `parse_frame` reads one JSON event per WebSocket text frame and returns it.\n",
        "fn main() { let x: Vec<u32> = (0..100).map(|i| i * 2).collect(); println!(\"{x:?}\"); }\n",
        "{\"type\":\"function_call_output\",\"call_id\":\"call_8f2a\",\"output\":\"test result: ok. 42 passed; 0 failed\"}\n",
        "Résumé naïve café — 東京 データ 12345 67890 ok!!\n",
    );
    let mut s = String::with_capacity(bytes + chunk.len());
    let mut i = 0u64;
    while s.len() < bytes {
        s.push_str(chunk);
        s.push_str(&i.to_string());
        i += 1;
    }
    s
}

fn main() {
    let text = corpus(10 * 1024 * 1024);
    let mb = text.len() as f64 / 1e6;
    let lines: Vec<&str> = text.lines().collect();

    let tik = tiktoken_rs::o200k_base_singleton();
    let bpe = bpe_openai::o200k_base();
    // Warm both (lazy tables).
    let _ = tik.encode_ordinary("warm up");
    let _ = bpe.count("warm up");

    let start = Instant::now();
    let n_tik: usize = lines.iter().map(|l| tik.encode_ordinary(l).len()).sum();
    let t_tik = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let n_bpe: usize = lines.iter().map(|l| bpe.count(*l)).sum();
    let t_bpe = start.elapsed().as_secs_f64();

    println!("corpus: {mb:.1} MB, {} lines", lines.len());
    println!(
        "tiktoken-rs : {n_tik} tokens in {t_tik:.3}s = {:.1} MB/s",
        mb / t_tik
    );
    println!(
        "bpe-openai  : {n_bpe} tokens in {t_bpe:.3}s = {:.1} MB/s",
        mb / t_bpe
    );
    println!("ratio tiktoken/bpe time: {:.2}x", t_tik / t_bpe);
}
