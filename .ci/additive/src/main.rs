//! See `Cargo.toml`: `critical-section` is on (as if another crate enabled it), `std` too,
//! and no critical-section implementation is linked.

use std::sync::Arc;

use async_completion::{Completion, CriticalSectionLock, DefaultLock, StdLock};

static SETUP_DONE: Completion = Completion::new();

/// Only accepts the std lock: `Completion::new()` must still be one.
fn std_only(c: &Completion<StdLock>) -> &Completion<DefaultLock> {
    c
}

fn main() {
    // The annotations a user wrote before the feature was turned on still hold.
    let explicit: Completion<StdLock> = Completion::new();
    let inferred = Completion::default();
    std_only(&inferred).complete();
    std_only(&SETUP_DONE);
    assert!(inferred.try_wait());
    explicit.complete();
    assert!(explicit.try_wait());

    // The std lock at work, across threads.
    let done = Arc::new(Completion::new());
    let worker = std::thread::spawn({
        let done = done.clone();
        move || done.complete()
    });
    done.wait_blocking();
    worker.join().unwrap();
    SETUP_DONE.complete_all();
    SETUP_DONE.wait_blocking();

    // The feature only *adds* `CriticalSectionLock`. Naming the type links nothing; only
    // code that locks it would need a critical-section implementation.
    println!(
        "additive: Completion = Completion<StdLock> ({} bytes); \
         Completion<CriticalSectionLock> exists ({} bytes) and was never locked",
        std::mem::size_of::<Completion>(),
        std::mem::size_of::<Completion<CriticalSectionLock>>(),
    );
}
