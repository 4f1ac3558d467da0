//! What the crate does when user code panics at a point where it cannot go on soundly.
//!
//! Almost every panic in user code (a waker, a timer, `wait_or`'s other future, a lock's
//! acquire) leaves the `Completion` consistent and simply propagates (SPEC §1, "Faults").
//! One cannot: a lock (an embassy `RawMutex` may panic, e.g. `ThreadModeRawMutex` off the
//! main thread) that panics while a wait future is being dropped with its node still
//! linked. Returning from that `Drop` would let the future's memory be freed while the
//! queue still points at it. The crate then aborts the process, naming the cause.

/// Aborts the process if dropped while armed: held across the lock acquisitions inside a
/// `Drop` that must not unwind.
pub(crate) struct AbortOnUnwind {
    cause: &'static str,
    armed: bool,
}

impl AbortOnUnwind {
    /// A guard for `cause` ("the lock panicked while {cause}"); inert unless `armed`.
    #[inline(always)]
    pub(crate) fn new(cause: &'static str, armed: bool) -> Self {
        Self { cause, armed }
    }

    /// The guarded step finished: dropping the guard now does nothing.
    #[inline(always)]
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for AbortOnUnwind {
    #[inline(always)]
    fn drop(&mut self) {
        if self.armed {
            abort(self.cause);
        }
    }
}

/// Stops the process: the lock panicked while `cause`.
///
/// Only ever called while unwinding (an armed [`AbortOnUnwind`] is dropped only then).
#[cold]
#[inline(never)]
fn abort(cause: &'static str) -> ! {
    #[cfg(feature = "std")]
    {
        std::eprintln!(
            "async-completion: the lock panicked while {}; aborting the process \
             (a queued node cannot be unlinked without the lock, and freeing it linked \
             would be undefined behaviour)",
            cause
        );
        std::process::abort()
    }
    #[cfg(not(feature = "std"))]
    {
        // We are unwinding: a panic now is a panic during cleanup, which aborts.
        panic!(
            "async-completion: the lock panicked while {}; aborting the process",
            cause
        )
    }
}
