//! The test kit shared by every integration test (`mod common;`), so that a test body is a
//! few lines, as with `tokio-test`:
//!
//! - wakers that count their wakes: [`counting_waker`], [`hook_waker`] (runs a closure on
//!   every wake, for re-entrancy), [`panicking_waker`] (panics when woken), and
//!   [`TestWaker::on_next_wake`] (a one-shot hook);
//! - [`poll_once`], [`queue_waits`] (`n` waits queued in order, each with its own counting
//!   waker) and a minimal [`block_on`] (no dev-dependency: the MSRV runs them);
//! - [`spawn`]: a future pinned next to its own counting waker, polled by hand
//!   ([`Task::poll`], [`Task::is_woken`], [`Task::wakes`]), with [`assert_pending!`],
//!   [`assert_ready!`] and [`assert_ready_eq!`];
//! - the `Debug` snapshot of a completion: [`snapshot`] and the expected [`state`];
//! - panics: [`catch_panic`] (the message of a caught panic), [`expect_panic`],
//!   [`panic_message`].
//!
//! The loom models (`tests/loom.rs`) keep their own counting waker: its count must be a
//! loom atomic, for loom to explore the interleavings of the wake with the test's reads.
#![allow(dead_code, unused_macros, unused_imports)]

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use async_completion::{Completion, Lock, Wait};

// ---------------------------------------------------------------------------------------
// Wakers.

type Hook = Box<dyn Fn() + Send + Sync>;
type OnceHook = Box<dyn FnOnce() + Send>;

/// The inside of a test waker: how often it was woken, and what it does when woken.
pub struct TestWaker {
    wakes: AtomicUsize,
    hook: Option<Hook>,
    next: Mutex<Option<OnceHook>>,
    panics: bool,
}

impl TestWaker {
    /// How many times `wake`/`wake_by_ref` was called so far.
    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    /// Runs `hook` (once) at the next wake, before the waker's own hook.
    pub fn on_next_wake(&self, hook: impl FnOnce() + Send + 'static) {
        *self.next.lock().unwrap() = Some(Box::new(hook));
    }
}

impl fmt::Debug for TestWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestWaker")
            .field("wakes", &self.wakes())
            .field("panics", &self.panics)
            .finish_non_exhaustive()
    }
}

impl Wake for TestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let next = self.next.lock().unwrap().take();
        if let Some(hook) = next {
            hook();
        }
        if let Some(hook) = &self.hook {
            hook();
        }
        assert!(!self.panics, "this test waker panics when woken");
    }
}

fn make(hook: Option<Hook>, panics: bool) -> (Arc<TestWaker>, Waker) {
    let inner = Arc::new(TestWaker {
        wakes: AtomicUsize::new(0),
        hook,
        next: Mutex::new(None),
        panics,
    });
    (inner.clone(), Waker::from(inner))
}

/// A waker that only counts its wakes. Cloning and dropping it only touch a reference
/// count, and waking it allocates nothing (as for the `Arc` wakers of real executors).
pub fn counting_waker() -> (Arc<TestWaker>, Waker) {
    make(None, false)
}

/// A counting waker whose every wake also runs `hook` (for re-entrancy tests).
pub fn hook_waker(hook: impl Fn() + Send + Sync + 'static) -> (Arc<TestWaker>, Waker) {
    make(Some(Box::new(hook)), false)
}

/// A counting waker that panics when woken (after counting the wake and running a
/// [`TestWaker::on_next_wake`] hook).
pub fn panicking_waker() -> (Arc<TestWaker>, Waker) {
    make(None, true)
}

/// The wake counts of `wakers`, in order.
pub fn wakes(wakers: &[(Arc<TestWaker>, Waker)]) -> Vec<usize> {
    wakers.iter().map(|(k, _)| k.wakes()).collect()
}

// ---------------------------------------------------------------------------------------
// Polling.

/// `n` boxed waits on `c`, each polled once in order (so queued in that order if nothing
/// is banked), with their own counting wakers.
#[allow(clippy::type_complexity)]
pub fn queue_waits<L: Lock>(
    c: &Completion<L>,
    n: usize,
) -> (Vec<Pin<Box<Wait<'_, L>>>>, Vec<(Arc<TestWaker>, Waker)>) {
    let wakers: Vec<_> = (0..n).map(|_| counting_waker()).collect();
    let waits = wakers
        .iter()
        .map(|(_, waker)| {
            let mut wait = Box::pin(c.wait());
            assert!(poll_once(wait.as_mut(), waker).is_pending());
            wait
        })
        .collect();
    (waits, wakers)
}

/// Polls `fut` once with `waker`.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Runs `fut` to completion on the current thread, parking between polls: a minimal
/// executor, so the tests that use it need no dev-dependency (they run on the MSRV).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(output) = poll_once(fut.as_mut(), &waker) {
            return output;
        }
        std::thread::park();
    }
}

/// A future pinned in a box next to its own counting waker, polled by hand: `tokio-test`'s
/// `task::spawn`. Derefs to the future (for `Debug`, `is_terminated`, ...).
pub struct Task<F: ?Sized> {
    waker: Arc<TestWaker>,
    handle: Waker,
    seen: usize,
    fut: Pin<Box<F>>,
}

/// Pins `fut` next to a fresh counting waker.
pub fn spawn<F: Future>(fut: F) -> Task<F> {
    let (waker, handle) = counting_waker();
    Task {
        waker,
        handle,
        seen: 0,
        fut: Box::pin(fut),
    }
}

impl<F: Future + ?Sized> Task<F> {
    /// Polls the future once with the task's waker.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.seen = self.waker.wakes();
        poll_once(self.fut.as_mut(), &self.handle)
    }

    /// Polls the future once with another waker.
    pub fn poll_with(&mut self, waker: &Waker) -> Poll<F::Output> {
        poll_once(self.fut.as_mut(), waker)
    }

    /// Whether the task's waker was woken since the last [`poll`](Self::poll).
    pub fn is_woken(&self) -> bool {
        self.waker.wakes() > self.seen
    }

    /// How often the task's waker was woken in all.
    pub fn wakes(&self) -> usize {
        self.waker.wakes()
    }

    /// The task's waker.
    pub fn waker(&self) -> &Waker {
        &self.handle
    }

    /// The pinned future (for `enable()` and the like).
    pub fn as_mut(&mut self) -> Pin<&mut F> {
        self.fut.as_mut()
    }
}

impl<F: ?Sized> std::ops::Deref for Task<F> {
    type Target = F;
    fn deref(&self) -> &F {
        &self.fut
    }
}

impl<F: ?Sized + fmt::Debug> fmt::Debug for Task<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fut.fmt(f)
    }
}

/// Asserts that a `Poll` is `Pending`.
macro_rules! assert_pending {
    ($e:expr) => {
        assert_pending!($e, "")
    };
    ($e:expr, $($msg:tt)+) => {
        match $e {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(v) => panic!(
                "expected Pending, got Ready({:?}): {}", v, format_args!($($msg)+)
            ),
        }
    };
}

/// Asserts that a `Poll` is `Ready`, and returns the value.
macro_rules! assert_ready {
    ($e:expr) => {
        assert_ready!($e, "")
    };
    ($e:expr, $($msg:tt)+) => {
        match $e {
            ::std::task::Poll::Ready(v) => v,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending: {}", format_args!($($msg)+)),
        }
    };
}

/// Asserts that a `Poll` is `Ready(value)`.
macro_rules! assert_ready_eq {
    ($e:expr, $want:expr) => {
        assert_eq!($e, ::std::task::Poll::Ready($want))
    };
    ($e:expr, $want:expr, $($msg:tt)+) => {
        assert_eq!($e, ::std::task::Poll::Ready($want), $($msg)+)
    };
}

pub(crate) use {assert_pending, assert_ready, assert_ready_eq};

// ---------------------------------------------------------------------------------------
// The `Debug` snapshot of a completion.

/// `format!("{c:?}")`: the completion's state snapshot (`count`, `completed_all`,
/// `waiters`; `Debug` of `Completion`).
pub fn snapshot<L: Lock>(c: &Completion<L>) -> String {
    format!("{c:?}")
}

/// The documented `Debug` snapshot `Completion { count, completed_all, waiters }`.
pub fn state(count: u32, completed_all: bool, waiters: bool) -> String {
    format!("Completion {{ count: {count}, completed_all: {completed_all}, waiters: {waiters} }}")
}

// ---------------------------------------------------------------------------------------
// Panics.

/// The message of a panic payload (`panic!` with a literal or a format string); `"<non-
/// string payload>"` for `panic_any` with anything else.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// Runs `f`: `Ok` with its result, or `Err` with the message of its panic.
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// Runs `f`, which must panic; returns the panic's message.
#[track_caller]
pub fn expect_panic<R>(f: impl FnOnce() -> R) -> String {
    match catch_panic(f) {
        Ok(_) => panic!("expected a panic"),
        Err(message) => message,
    }
}
