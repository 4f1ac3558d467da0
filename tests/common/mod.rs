//! Helpers shared by the integration tests: wakers that count their wakes (and may run a
//! closure or panic when woken) and a one-shot poll.
#![allow(dead_code)]

pub mod faults;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

type Hook = Box<dyn Fn() + Send + Sync>;

/// The inside of a test waker: how often it was woken, and what it does when woken.
pub struct TestWaker {
    wakes: AtomicUsize,
    hook: Option<Hook>,
    panics: bool,
}

impl TestWaker {
    /// How many times `wake`/`wake_by_ref` was called so far.
    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for TestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
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
        panics,
    });
    (inner.clone(), Waker::from(inner))
}

/// A waker that only counts its wakes.
pub fn counting_waker() -> (Arc<TestWaker>, Waker) {
    make(None, false)
}

/// A counting waker whose every wake also runs `hook` (for re-entrancy tests).
pub fn hook_waker(hook: impl Fn() + Send + Sync + 'static) -> (Arc<TestWaker>, Waker) {
    make(Some(Box::new(hook)), false)
}

/// A counting waker that panics when woken (after counting the wake).
pub fn panicking_waker() -> (Arc<TestWaker>, Waker) {
    make(None, true)
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
