//! Runs one OS-thread scenario once and prints the time per round, for `perf stat`,
//! `strace -c -f` and `benches/ping_pong.sh` (which also runs the criterion group):
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin threads -- <scenario> <impl> <rounds>
//! ```
//!
//! `<scenario>`: `ping_pong_threads` or `contended_threads`; `<impl>`: `async_completion`,
//! `std_mutex_condvar`, `parking_lot_mutex_condvar`, `async_lock_semaphore`,
//! `event_listener_counter`. The scenario code is the one the criterion benches time
//! (`benches/benches/ops/threads.rs`).

#[path = "../../benches/ops/mod.rs"]
mod ops;

use std::process::ExitCode;
use std::time::Duration;

use async_completion::Completion;
use ops::threads::{
    contended_threads_run, ping_pong_threads_run, BlockingSignal, ParkingLotCondvar, StdCondvar,
};
use ops::EventCounter;

fn run<S: BlockingSignal>(scenario: &str, rounds: u64) -> Option<Duration> {
    match scenario {
        "ping_pong_threads" => Some(ping_pong_threads_run::<S>(rounds)),
        "contended_threads" => Some(contended_threads_run::<S>(rounds)),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, imp, rounds] = &args[..] else {
        eprintln!("usage: threads <ping_pong_threads|contended_threads> <impl> <rounds>");
        return ExitCode::FAILURE;
    };
    let Ok(rounds) = rounds.parse::<u64>() else {
        eprintln!("threads: <rounds> is a number");
        return ExitCode::FAILURE;
    };
    let elapsed = match imp.as_str() {
        "async_completion" => run::<Completion>(scenario, rounds),
        "std_mutex_condvar" => run::<StdCondvar>(scenario, rounds),
        "parking_lot_mutex_condvar" => run::<ParkingLotCondvar>(scenario, rounds),
        "async_lock_semaphore" => run::<async_lock::Semaphore>(scenario, rounds),
        "event_listener_counter" => run::<EventCounter>(scenario, rounds),
        _ => None,
    };
    let Some(elapsed) = elapsed else {
        eprintln!("threads: unknown scenario or implementation: {scenario} {imp}");
        return ExitCode::FAILURE;
    };
    println!(
        "{scenario} {imp} {rounds} rounds: {:.2} us per round",
        elapsed.as_secs_f64() * 1e6 / rounds as f64
    );
    ExitCode::SUCCESS
}
