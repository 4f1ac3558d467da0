//! Guards that complete on drop: the kernel's `complete_and_exit()`, which signals a
//! completion however a thread ends.
//!
//! Four types, one shape: [`CompleteOnDrop`] and [`CompleteAllOnDrop`] borrow the
//! completion; [`OwnedCompleteOnDrop`] and [`OwnedCompleteAllOnDrop`] (feature `alloc`)
//! hold an `Arc` of it, so they are `'static` and move into spawned tasks.

use core::fmt;

use crate::{Completion, DefaultLock, Lock};

/// Declares one guard type: its holder of the completion, what its drop calls, and docs.
macro_rules! guard {
    (
        $(#[$meta:meta])*
        $name:ident<$($lt:lifetime,)? L> holds $holder:ty, drop calls $call:ident
    ) => {
        $(#[$meta])*
        #[must_use = "the guard completes when it is dropped: bind it to a named variable \
                      (`let _guard = ...`); `let _ = ...` drops it, and completes, at once"]
        pub struct $name<$($lt,)? L: Lock = DefaultLock> {
            completion: Option<$holder>,
        }

        impl<$($lt,)? L: Lock> $name<$($lt,)? L> {
            pub(crate) fn new(completion: $holder) -> Self {
                Self {
                    completion: Some(completion),
                }
            }

            /// The completion this guard will complete.
            pub fn completion(&self) -> &Completion<L> {
                match &self.completion {
                    Some(completion) => completion,
                    // Only `disarm` and `drop` take it out, and both consume the guard.
                    None => unreachable!("a guard always holds its completion"),
                }
            }

            /// Consumes the guard without completing anything (the work succeeded and the
            /// caller completes as it sees fit, or someone else will), and gives back what
            /// it held.
            pub fn disarm(mut self) -> $holder {
                match self.completion.take() {
                    Some(completion) => completion,
                    None => unreachable!("a guard always holds its completion"),
                }
            }
        }

        impl<$($lt,)? L: Lock> Drop for $name<$($lt,)? L> {
            fn drop(&mut self) {
                if let Some(completion) = self.completion.take() {
                    completion.$call();
                }
            }
        }

        impl<$($lt,)? L: Lock> fmt::Debug for $name<$($lt,)? L> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("completion", &self.completion())
                    .finish()
            }
        }

        #[cfg(feature = "defmt")]
        impl<$($lt,)? L: Lock> defmt::Format for $name<$($lt,)? L> {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::write!(f, "{=str} {{ completion: {} }}", stringify!($name), self.completion());
            }
        }
    };
}

guard! {
    /// Calls [`complete`](Completion::complete) when dropped, however the scope that holds
    /// it ends: a return, `?`, a panic unwinding, or the task holding it being aborted or
    /// cancelled. Made by [`Completion::complete_on_drop`]; [`disarm`](Self::disarm) it to
    /// complete nothing.
    ///
    /// The kernel's `complete_and_exit()`. See
    /// [`complete_on_drop`](Completion::complete_on_drop) for when waiters need to tell
    /// success from failure.
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// {
    ///     let _guard = c.complete_on_drop();
    ///     // ... work that may return early or panic ...
    /// }
    /// assert!(c.try_wait());
    /// ```
    CompleteOnDrop<'a, L> holds &'a Completion<L>, drop calls complete
}

guard! {
    /// Calls [`complete_all`](Completion::complete_all) when dropped, however the scope
    /// that holds it ends: a return, `?`, a panic unwinding, or the task holding it being
    /// aborted or cancelled. Made by [`Completion::complete_all_on_drop`];
    /// [`disarm`](Self::disarm) it to complete nothing.
    ///
    /// tokio-util's `CancellationToken::drop_guard_ref`, and the kernel's
    /// `complete_and_exit()` for a completion that releases everyone.
    ///
    /// ```
    /// use async_completion::Completion;
    /// let shutdown = Completion::new();
    /// {
    ///     let _guard = shutdown.complete_all_on_drop();
    /// }
    /// assert!(shutdown.is_done());
    /// ```
    CompleteAllOnDrop<'a, L> holds &'a Completion<L>, drop calls complete_all
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
use alloc::sync::Arc;

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
guard! {
    /// [`CompleteOnDrop`] holding an `Arc<Completion>`: `'static`, and `Send` when the
    /// completion is `Send + Sync`, so it moves into a spawned task or thread. Made by
    /// [`Completion::complete_on_drop_owned`]; [`disarm`](Self::disarm) gives the `Arc`
    /// back.
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let done = Arc::new(Completion::new());
    /// let guard = done.clone().complete_on_drop_owned();
    /// std::thread::spawn(move || {
    ///     let _guard = guard; // completes when the thread ends, even by a panic
    ///     // ... work ...
    /// })
    /// .join()
    /// .unwrap();
    /// assert!(done.try_wait());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    OwnedCompleteOnDrop<L> holds Arc<Completion<L>>, drop calls complete
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
guard! {
    /// [`CompleteAllOnDrop`] holding an `Arc<Completion>`: `'static`, and `Send` when the
    /// completion is `Send + Sync`, so it moves into a spawned task or thread. Made by
    /// [`Completion::complete_all_on_drop_owned`]; [`disarm`](Self::disarm) gives the
    /// `Arc` back.
    ///
    /// tokio-util's `CancellationToken::drop_guard`.
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(Completion::new());
    /// let guard = stopped.clone().complete_all_on_drop_owned();
    /// let token = guard.disarm(); // changed our mind: nothing completed, the Arc is back
    /// assert!(!token.is_done());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    OwnedCompleteAllOnDrop<L> holds Arc<Completion<L>>, drop calls complete_all
}

impl<L: Lock> Completion<L> {
    /// Returns a guard that calls [`complete`](Self::complete) when it is dropped, on every
    /// exit of the scope that holds it: a return, `?`, a panic unwinding, or the task
    /// holding it being aborted or cancelled (a dropped future drops its locals).
    /// [`CompleteOnDrop::disarm`] consumes the guard without completing. This is the
    /// kernel's `complete_and_exit()`: a worker that fails half-way still releases the
    /// task waiting for it, instead of leaving it hung.
    ///
    /// # Telling success from failure
    ///
    /// A waiter released by the guard after a failure cannot tell it from success: the
    /// completion carries no value. Write the outcome somewhere the waiter reads after its
    /// wait, *before* the completion is posted (the completion orders that write before
    /// the waiter's read): a `Mutex<Option<Result<..>>>`, an atomic, a `OnceLock`. A slot
    /// left empty then means the worker never got to write it: it failed (or panicked).
    /// With one waiter (this guard releases one) it may `take()` the outcome; with many
    /// (`complete_all_on_drop`), read it without taking it (`clone()`, `OnceLock::get`).
    ///
    /// Bind the guard to a named variable: `let _guard = c.complete_on_drop();` lives to
    /// the end of the scope, while `let _ = c.complete_on_drop();` drops it, and completes,
    /// at once.
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::{Arc, Mutex};
    ///
    /// struct Setup {
    ///     done: Completion,
    ///     result: Mutex<Option<Result<u32, String>>>,
    /// }
    ///
    /// let setup = Arc::new(Setup { done: Completion::new(), result: Mutex::new(None) });
    /// let worker = std::thread::spawn({
    ///     let setup = setup.clone();
    ///     move || {
    ///         let _guard = setup.done.complete_on_drop();
    ///         let port: u32 = "not a number".parse().map_err(|e| format!("{e}"))?;
    ///         *setup.result.lock().unwrap() = Some(Ok(port));
    ///         Ok::<(), String>(())
    ///     } // the guard completes here, on success and on the early `?` return alike
    /// });
    ///
    /// setup.done.wait_blocking();
    /// match setup.result.lock().unwrap().take() {
    ///     Some(Ok(port)) => println!("listening on {port}"),
    ///     Some(Err(e)) => println!("setup failed: {e}"),
    ///     None => println!("setup failed before reporting (an early return or a panic)"),
    /// }
    /// assert!(worker.join().unwrap().is_err());
    /// ```
    ///
    /// # Where it may be called from
    ///
    /// Anywhere; the guard's drop calls `complete()`, which may be called anywhere.
    pub fn complete_on_drop(&self) -> CompleteOnDrop<'_, L> {
        CompleteOnDrop::new(self)
    }

    /// Returns a guard that calls [`complete_all`](Self::complete_all) when it is dropped,
    /// on every exit of the scope that holds it (return, `?`, panic unwinding, task abort
    /// or cancellation). [`CompleteAllOnDrop::disarm`] consumes it without completing.
    /// The sticky form of [`complete_on_drop`](Self::complete_on_drop), whose section on
    /// telling success from failure applies here too: e.g. a shutdown signal that fires
    /// when a supervisor task exits, however it exits.
    ///
    /// ```
    /// use async_completion::Completion;
    ///
    /// let stopped = Completion::new();
    /// let result = std::panic::catch_unwind(|| {
    ///     let _guard = stopped.complete_all_on_drop();
    ///     panic!("the supervisor crashed");
    /// });
    /// assert!(result.is_err());
    /// assert!(stopped.is_done()); // everyone waiting for it is released
    /// ```
    pub fn complete_all_on_drop(&self) -> CompleteAllOnDrop<'_, L> {
        CompleteAllOnDrop::new(self)
    }

    /// [`complete_on_drop`](Self::complete_on_drop) for an `Arc<Completion>`: the guard is
    /// `'static` (and `Send` when the completion is `Send + Sync`), for spawned tasks and
    /// threads. On tokio, a guard moved into a task completes when the task returns,
    /// panics, or is aborted.
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let done = Arc::new(Completion::new());
    /// let guard = done.clone().complete_on_drop_owned();
    /// let task = tokio::spawn(async move {
    ///     let _guard = guard;
    ///     std::future::pending::<()>().await; // never finishes on its own
    /// });
    /// task.abort(); // the task is dropped, and with it the guard
    /// done.wait().await;
    /// # });
    /// ```
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn complete_on_drop_owned(self: Arc<Self>) -> OwnedCompleteOnDrop<L> {
        OwnedCompleteOnDrop::new(self)
    }

    /// [`complete_all_on_drop`](Self::complete_all_on_drop) for an `Arc<Completion>`: a
    /// `'static` guard (`Send` when the completion is `Send + Sync`) to move into a spawned
    /// task or thread. tokio-util's `CancellationToken::drop_guard`.
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let shutdown = Arc::new(Completion::new());
    /// let worker = std::thread::spawn({
    ///     let guard = shutdown.clone().complete_all_on_drop_owned();
    ///     move || {
    ///         let _guard = guard;
    ///         // ... serve until told to stop, or fail ...
    ///     }
    /// });
    /// worker.join().unwrap();
    /// assert!(shutdown.is_done());
    /// ```
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn complete_all_on_drop_owned(self: Arc<Self>) -> OwnedCompleteAllOnDrop<L> {
        OwnedCompleteAllOnDrop::new(self)
    }
}
