//! The state word: one `AtomicU32` that makes every fast path a single atomic operation.
//!
//! | value                    | meaning                                                    |
//! |--------------------------|------------------------------------------------------------|
//! | `0 ..= MAX_COUNT`        | that many banked completions, no waiter queued             |
//! | `WAITERS`                | no banked completion, at least one waiter queued           |
//! | `ALL`                    | `complete_all()` happened (sticky until `reinit()`)        |
//!
//! A banked count and a queued waiter never coexist: that is what makes the hand-off
//! direct (FIFO, no barging). Moving into or out of `WAITERS` happens only with the lock
//! held; counts and `ALL` change lock-free, by compare-and-swap.

/// No completion banked, nobody queued.
pub(crate) const ZERO: u32 = 0;
/// The largest banked count; `complete()` saturates here.
pub(crate) const MAX_COUNT: u32 = u32::MAX - 2;
/// Count 0 and the main queue is non-empty.
pub(crate) const WAITERS: u32 = u32::MAX - 1;
/// Completed for all.
pub(crate) const ALL: u32 = u32::MAX;

/// Whether `state` holds a banked completion (`1 ..= MAX_COUNT`).
#[inline(always)]
pub(crate) const fn has_count(state: u32) -> bool {
    state.wrapping_sub(1) < MAX_COUNT
}
