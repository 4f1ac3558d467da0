//! `defmt::Format` (feature `defmt`): each impl writes the same snapshot as `Debug` (the
//! crate docs, "Feature flags"). A host logger records defmt's encoded frames; the values a
//! snapshot holds (a count, flags, a wait's state) appear in them, little-endian, after the
//! interned format string's index.
#![cfg(all(feature = "defmt", feature = "alloc"))] // `wait_owned` needs `alloc`

use std::sync::{Arc, Mutex, MutexGuard};

use async_completion::Completion;

/// Every byte defmt wrote, and the lock that keeps one test's frames together.
static BYTES: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[defmt::global_logger]
struct Recorder;

// No timestamp in the frames (the linker wants the symbol).
defmt::timestamp!("");

// SAFETY: defmt calls `acquire`, then `write`s, then `release`, never nested (its
// contract for a logger); `write` appends to a `Mutex`-guarded buffer, which is sound
// from any thread, and nothing else is shared.
unsafe impl defmt::Logger for Recorder {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(bytes: &[u8]) {
        BYTES.lock().unwrap().extend_from_slice(bytes);
    }
}

/// Runs `log` (which logs one frame) and returns the frame's bytes.
fn frame(log: impl FnOnce()) -> Vec<u8> {
    let _one: MutexGuard<'_, ()> = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    BYTES.lock().unwrap().clear();
    log();
    std::mem::take(&mut *BYTES.lock().unwrap())
}

/// The bytes of `value` formatted, after the frame of an empty `println!` with one `{}`.
fn formatted<T: defmt::Format>(value: &T) -> Vec<u8> {
    frame(|| defmt::println!("{}", value))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_completion_logs_its_count_and_flags() {
    let c = Completion::new();
    c.complete_n(0x0102_0304);
    let bytes = formatted(&c);
    assert!(
        contains(&bytes, &0x0102_0304_u32.to_le_bytes()),
        "{bytes:?}"
    );
    c.complete_all();
    let done = formatted(&c);
    assert_ne!(done, bytes, "the sticky flag changes the frame");
}

#[test]
fn every_wait_future_and_guard_logs_its_state() {
    let c = Arc::new(Completion::new());
    let never = || core::future::pending::<()>();
    // A `{=str}` is written as its bytes: each frame holds the state of the wait inside.
    let frames = [
        formatted(&c.wait()),
        formatted(&c.clone().wait_owned()),
        formatted(&c.wait_or(never())),
        formatted(&c.wait_timeout(|_| never(), core::time::Duration::from_secs(1))),
        formatted(&c.run_until_done(never())),
    ];
    for (i, bytes) in frames.iter().enumerate() {
        assert!(contains(bytes, b"idle"), "item {i}: {bytes:?}");
    }
    c.complete_n(0x0A0B_0C0D);
    let guard = c.complete_on_drop();
    let bytes = formatted(&guard);
    assert!(contains(&bytes, b"CompleteOnDrop"), "{bytes:?}");
    assert!(
        contains(&bytes, &0x0A0B_0C0D_u32.to_le_bytes()),
        "{bytes:?}"
    );
}
