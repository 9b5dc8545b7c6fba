//! The bulk fuzz run of the INFO byte path (issue 8.1): not a CI test, a program that prints
//! figures. Each input is one to three generated replies (random bytes, INFO-shaped lines with
//! hostile values, mutated recorded fixtures; framed right, wrong or not at all) run through
//! reply bytes -> RESP parser -> lossy INFO -> topology -> printed text, with every property
//! of `tests/common/byte_path.rs` checked. A panic aborts the run with its seed and index.
//!
//! ```text
//! cargo run --release --example fuzz_info -- [INPUTS=10000000] [SEED=1]
//! ```
//!
//! Seeds 2k and 2k+1 replay the same inputs (the generator's state is `seed | 1`).

// A program that prints its figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/byte_path.rs"]
mod byte_path;

use std::time::{Duration, Instant};

/// An input slower than this is run again to tell a slow input from a busy machine.
const SLOW: Duration = Duration::from_millis(20);

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let inputs: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let config = byte_path::config();
    let mut g = byte_path::Gen::new(seed);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    // The slowest input once re-run, among those that took more than SLOW the first time.
    let mut slowest_again = Duration::ZERO;
    let mut retimed = 0u64;
    let mut replies = 0u64;
    let mut bytes = 0u64;
    for i in 0..inputs {
        let n = 1 + usize::try_from(g.next_u64() % 3).unwrap_or(0);
        let batch: Vec<Vec<u8>> = (0..n).map(|_| g.reply()).collect();
        replies += n as u64;
        bytes += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        let run = std::panic::catch_unwind(|| byte_path::check(&config, &refs));
        let took = t.elapsed();
        slowest = slowest.max(took);
        if run.is_err() {
            eprintln!("input {i} (seed {seed}) panicked; replies: {batch:?}");
            std::process::exit(1);
        }
        if took > SLOW {
            // A slow input or a busy machine? Run it again: the fastest of three is the input's.
            let again = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    byte_path::check(&config, &refs);
                    t.elapsed()
                })
                .min()
                .unwrap_or(took);
            slowest_again = slowest_again.max(again);
            retimed += 1;
        }
        if (i + 1) % 1_000_000 == 0 {
            println!(
                "{} inputs, {:.0} s, peak RSS {} KiB",
                i + 1,
                started.elapsed().as_secs_f64(),
                peak_rss_kib().unwrap_or(0)
            );
        }
    }
    println!(
        "done: {inputs} inputs ({replies} replies, {bytes} bytes) in {:.1} s, seed {seed}, \
         no panic; slowest input {:.1} ms wall ({retimed} over {} ms re-run: slowest of those \
         {:.1} ms); peak RSS {} KiB",
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0,
        SLOW.as_millis(),
        slowest_again.as_secs_f64() * 1000.0,
        peak_rss_kib().unwrap_or(0)
    );
}
