//! Where operations meet: the combinations a user writes, each reproducing a way the crate
//! once lost, stranded or duplicated a completion (issue 20, items 1 to 5), checked against
//! the crate's docs: `Completion::complete_waiters`, `Wait::enable`, `Completion::complete_all`
//! and the `Lock` docs, "A lock that panics".
//!
//! The lock-fault tests use [`AfterLock`], an embassy `RawMutex` (feature `embassy-sync`)
//! that can panic *after* running its closure, as a release-side assertion would.

#[cfg(feature = "embassy-sync")]
#[path = "faults/harness/child.rs"]
mod child;
mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::task::Poll;

use async_completion::Completion;
#[cfg(any(feature = "alloc", feature = "embassy-sync"))]
use common::hook_waker;
use common::{counting_waker, poll_once};

// --- item 1: a pulse is never lost between a waiter's registration and its flag check ----

/// `Wait::enable` docs: register, then check the condition, then await; a
/// `complete_waiters()` sent after the condition was written reaches the wait. Two threads
/// run the idiom for many rounds: before the release epoch, `complete_waiters()` decided
/// "nobody waits" with a plain load, and 20 to 450 of 200 000 rounds hung.
#[test]
#[cfg_attr(miri, ignore)] // a stress: many rounds on two threads
fn item_1_enable_then_check_a_flag_never_misses_the_pulse() {
    use std::sync::atomic::AtomicUsize;
    const ROUNDS: usize = 100_000;
    let c = Arc::new(Completion::new());
    let flag = Arc::new(AtomicBool::new(false));
    // Rounds are started and ended by spinning on counters (no futex, no fence of a
    // `Barrier` between the two sides), so both run their steps at the same moment.
    let (start, end) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let notifier = std::thread::spawn({
        let (c, flag, start, end) = (c.clone(), flag.clone(), start.clone(), end.clone());
        move || {
            for round in 1..=ROUNDS {
                while start.load(Acquire) != round {
                    std::hint::spin_loop();
                }
                flag.store(true, Release);
                c.complete_waiters();
                end.store(round, Release);
            }
        }
    });
    let (_, waker) = counting_waker();
    let mut missed = 0;
    for round in 1..=ROUNDS {
        flag.store(false, Relaxed);
        let mut w = pin!(c.wait());
        start.store(round, Release);
        let reached = w.as_mut().enable() || flag.load(Acquire);
        while end.load(Acquire) != round {
            std::hint::spin_loop(); // the notifier's call has returned
        }
        if !reached && poll_once(w.as_mut(), &waker).is_pending() {
            missed += 1;
        }
    }
    notifier.join().unwrap();
    assert_eq!(
        missed, 0,
        "rounds of {ROUNDS} where the waiter was left queued"
    );
    assert!(!c.is_done(), "a pulse banks nothing");
}

// --- item 4: a release is atomic to polls ---------------------------------------------

/// `Completion::complete_waiters` docs: once one wait released by a call polls `Ready`,
/// every wait that call released does. 40 queued waits (two batches natively): while the
/// first batch is woken, a wait of the second batch, not yet drained, is re-polled with
/// the waker it queued with (the lock-free re-poll) and must be `Ready`; before, it was
/// `Pending` until the drain reached it (16 310 of 20 000 rounds).
#[test]
#[cfg(feature = "alloc")] // `wait_owned`
fn item_4_a_released_wait_polls_ready_before_the_drain_reaches_it() {
    for all in [false, true] {
        let c = Arc::new(Completion::new());
        let (late_k, late_waker) = counting_waker();
        let late = Arc::new(std::sync::Mutex::new(Box::pin(c.clone().wait_owned())));
        let seen = Arc::new(std::sync::Mutex::new(None));
        let (_, first_waker) = hook_waker({
            let (late, late_waker, seen) = (late.clone(), late_waker.clone(), seen.clone());
            move || {
                let mut late = late.lock().unwrap();
                let first = seen.lock().unwrap().is_none();
                if first {
                    // Still in the drain circle: `Debug` already says so.
                    let shown = format!("{:?}", *late);
                    assert!(shown.contains("\"released\""), "{shown}");
                    *seen.lock().unwrap() = Some(poll_once(late.as_mut(), &late_waker));
                }
            }
        });
        let mut first = Box::pin(c.wait());
        assert!(poll_once(first.as_mut(), &first_waker).is_pending());
        let mut middle: Vec<_> = (0..38).map(|_| Box::pin(c.wait())).collect();
        let (_, other) = counting_waker();
        for w in &mut middle {
            assert!(poll_once(w.as_mut(), &other).is_pending());
        }
        assert!(poll_once(late.lock().unwrap().as_mut(), &late_waker).is_pending());
        if all {
            c.complete_all();
        } else {
            c.complete_waiters();
        }
        assert_eq!(*seen.lock().unwrap(), Some(Poll::Ready(())), "all: {all}");
        // It left the drain when it was polled: the drain never wakes it.
        assert_eq!(late_k.wakes(), 0, "all: {all}");
        assert_eq!(poll_once(first.as_mut(), &first_waker), Poll::Ready(()));
        for w in &mut middle {
            assert_eq!(poll_once(w.as_mut(), &other), Poll::Ready(()));
        }
    }
}

/// `Completion::complete_all` docs: `is_done()` saying `true` means every wait the call
/// released polls `Ready`, drained yet or not (the bump of the release count is visible
/// before `ALL`).
#[test]
#[cfg(feature = "alloc")] // `wait_owned`
fn item_4_is_done_after_complete_all_means_every_released_wait_is_ready() {
    let c = Arc::new(Completion::new());
    let late = Arc::new(std::sync::Mutex::new(Box::pin(c.clone().wait_owned())));
    let (_, late_waker) = counting_waker();
    let checked = Arc::new(AtomicBool::new(false));
    let (_, first_waker) = hook_waker({
        let (c, late, late_waker, checked) =
            (c.clone(), late.clone(), late_waker.clone(), checked.clone());
        move || {
            if !checked.swap(true, SeqCst) {
                assert!(c.is_done());
                let mut late = late.lock().unwrap();
                assert_eq!(poll_once(late.as_mut(), &late_waker), Poll::Ready(()));
            }
        }
    });
    let mut first = Box::pin(c.wait());
    assert!(poll_once(first.as_mut(), &first_waker).is_pending());
    let (_, other) = counting_waker();
    let mut middle: Vec<_> = (0..40).map(|_| Box::pin(c.wait())).collect();
    for w in &mut middle {
        assert!(poll_once(w.as_mut(), &other).is_pending());
    }
    assert!(poll_once(late.lock().unwrap().as_mut(), &late_waker).is_pending());
    c.complete_all();
    assert!(checked.load(SeqCst));
}

// --- item 5: which waits a pulse reaches ----------------------------------------------

/// tokio's own `Notify::notify_waiters` example, ported the way the migration guide says
/// (`docs/from_other_crates.md`: a wait receives a pulse once it is queued, so `enable()`
/// the waits before the pulse can be sent): both receive it.
#[tokio::test]
async fn item_5_tokios_notify_waiters_example_ported() {
    let notify = Arc::new(Completion::new());
    let notify2 = notify.clone();
    let mut notified1 = pin!(notify.wait());
    let mut notified2 = pin!(notify.wait());
    assert!(!notified1.as_mut().enable());
    assert!(!notified2.as_mut().enable());
    let handle = tokio::spawn(async move {
        notify2.complete_waiters();
    });
    notified1.await;
    notified2.await;
    handle.await.unwrap();
    assert!(!notify.is_done());
}

/// `Completion::complete_waiters` docs: the pulse reaches every kind of wait future that is
/// queued at the call (`wait`, `wait_owned`, `wait_or`, `wait_timeout`, each polled once),
/// wakes each once, and reaches neither a wait created and never polled nor one created
/// after the call.
#[test]
#[cfg(feature = "alloc")] // `wait_owned`
fn item_5_every_kind_of_queued_wait_receives_the_pulse() {
    let c = Arc::new(Completion::new());
    let (k, waker) = counting_waker();
    let mut plain = pin!(c.wait());
    let mut owned = Box::pin(c.clone().wait_owned());
    let mut or = pin!(c.wait_or(std::future::pending::<()>()));
    let mut timed = pin!(c.wait_timeout(
        |_| std::future::pending::<()>(),
        std::time::Duration::from_secs(1)
    ));
    let mut unpolled = pin!(c.wait());
    assert!(poll_once(plain.as_mut(), &waker).is_pending());
    assert!(poll_once(owned.as_mut(), &waker).is_pending());
    assert!(poll_once(or.as_mut(), &waker).is_pending());
    assert!(poll_once(timed.as_mut(), &waker).is_pending());
    c.complete_waiters();
    assert_eq!(k.wakes(), 4, "each queued wait woken once");
    let mut after = pin!(c.wait());
    assert_eq!(poll_once(plain.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(poll_once(owned.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(poll_once(or.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(poll_once(timed.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(
        poll_once(unpolled.as_mut(), &waker).is_pending(),
        "never queued"
    );
    assert!(poll_once(after.as_mut(), &waker).is_pending());
    assert!(!c.is_done(), "nothing banked");
}

/// `Completion::complete_all` docs: it releases every queued wait (here an enabled one),
/// which stays released after `reinit()`; a wait not queued at the call (created, never
/// polled) and first polled after `reinit()` waits for the next completion, as one
/// created after `reinit()` does.
#[test]
fn item_5_complete_all_releases_queued_waits_and_they_stay_released_after_reinit() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut before = pin!(c.wait());
    let mut enabled = pin!(c.wait());
    assert!(!enabled.as_mut().enable());
    c.complete_all();
    c.reinit();
    let mut after = pin!(c.wait());
    assert!(enabled.as_mut().enable());
    assert_eq!(poll_once(enabled.as_mut(), &waker), Poll::Ready(()));
    assert!(poll_once(before.as_mut(), &waker).is_pending());
    assert!(poll_once(after.as_mut(), &waker).is_pending());
    c.complete();
    assert_eq!(poll_once(before.as_mut(), &waker), Poll::Ready(()));
    c.complete();
    assert_eq!(poll_once(after.as_mut(), &waker), Poll::Ready(()));
    assert!(!c.is_done());
}

// --- items 2 and 3: a lock that panics after its closure -------------------------------

#[cfg(feature = "embassy-sync")]
mod after_lock {
    use super::*;
    use std::cell::Cell;

    /// When this thread's [`AfterLock`] panics: at its k-th acquisition from now, before
    /// (`false`) or after (`true`) running the closure.
    #[derive(Clone, Copy)]
    struct Plan {
        k: usize,
        after: bool,
    }

    thread_local! {
        static PLAN: Cell<Option<Plan>> = const { Cell::new(None) };
    }

    /// Arms this thread's lock faults: the `k`-th acquisition from now panics, after its
    /// closure ran if `after`.
    pub fn arm(k: usize, after: bool) {
        PLAN.with(|p| p.set(Some(Plan { k, after })));
    }

    /// Counts one acquisition; returns `Some(after)` if it is the armed one (then disarms).
    fn tick() -> Option<bool> {
        PLAN.with(|p| match p.get() {
            Some(plan) if plan.k == 1 => {
                p.set(None);
                Some(plan.after)
            }
            Some(plan) => {
                p.set(Some(Plan {
                    k: plan.k - 1,
                    ..plan
                }));
                None
            }
            None => None,
        })
    }

    /// A spin lock (real mutual exclusion) that panics where [`arm`] says.
    pub struct AfterLock(AtomicBool);

    // SAFETY: the closure runs with the flag held; no other thread can take it meanwhile,
    // and the flag is released also when the closure or the lock panics.
    unsafe impl embassy_sync::blocking_mutex::raw::RawMutex for AfterLock {
        #[allow(clippy::declare_interior_mutable_const)]
        const INIT: Self = AfterLock(AtomicBool::new(false));

        fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
            let fault = tick();
            if fault == Some(false) {
                panic!("AfterLock: before its closure");
            }
            struct Unlock<'a>(&'a AtomicBool);
            impl Drop for Unlock<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Release);
                }
            }
            while self
                .0
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_err()
            {
                std::hint::spin_loop();
            }
            let unlock = Unlock(&self.0);
            let r = f();
            drop(unlock);
            if fault == Some(true) {
                panic!("AfterLock: after its closure");
            }
            r
        }
    }

    type C = Completion<AfterLock>;

    fn caught<R>(f: impl FnOnce() -> R) -> Result<R, String> {
        common::catch_panic(f)
    }

    /// A waker that runs `hook` whenever it is cloned (the slow poll clones the task's
    /// waker just before it takes the lock), and does nothing when woken.
    fn clone_hook_waker(hook: impl Fn() + Send + Sync + 'static) -> std::task::Waker {
        use std::task::{RawWaker, RawWakerVTable, Waker};
        type Hook = Arc<dyn Fn() + Send + Sync>;
        unsafe fn clone(data: *const ()) -> RawWaker {
            // SAFETY: `data` is a leaked `Box<Hook>` (see below), alive for the test.
            let hook = unsafe { &*data.cast::<Hook>() };
            hook();
            RawWaker::new(data, &VTABLE)
        }
        unsafe fn noop(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
        /// Keeps every hook reachable from a static (so Miri does not count it as a leak):
        /// every clone of the waker shares it, and the test process is short-lived.
        #[allow(dead_code)] // only held, to keep the hook reachable
        struct Keep(*mut Hook);
        // SAFETY: only stored, never dereferenced through `Keep`.
        unsafe impl Send for Keep {}
        static KEEP: std::sync::Mutex<Vec<Keep>> = std::sync::Mutex::new(Vec::new());
        let hook: Hook = Arc::new(hook);
        let raw = Box::into_raw(Box::new(hook));
        KEEP.lock().unwrap().push(Keep(raw));
        let data = raw.cast::<()>();
        // SAFETY: the vtable's functions only read the leaked hook, which is never freed.
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    /// `Lock` docs: `complete()` hands off to a queued wait and then the lock panics: the
    /// hand-off stands and the wait is woken during the unwinding (it was left handed but
    /// never woken: stranded).
    #[test]
    fn item_2_complete_handing_off_then_the_lock_panics_still_wakes_the_waiter() {
        let c = C::with_lock();
        let (k, waker) = counting_waker();
        let mut w = pin!(c.wait());
        assert!(poll_once(w.as_mut(), &waker).is_pending());
        arm(1, true);
        assert!(caught(|| c.complete()).is_err());
        assert_eq!(k.wakes(), 1, "woken by the unwinding");
        assert!(!c.try_wait(), "handed, not banked");
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
        assert!(!c.is_done());
    }

    /// `Lock` docs: a `wait_or` whose other future won passes on the completion handed to
    /// it, and the lock panics after that: it is passed on exactly once (the wait's drop
    /// passed it on a second time: one `complete()`, two consumptions).
    #[test]
    fn item_2_wait_or_passing_on_then_the_lock_panics_passes_it_on_once() {
        let c = C::with_lock();
        // The other future is pending at first; at its second poll it completes `c` (which
        // hands the completion to the racing wait, queued first) and wins.
        let mut polls = 0;
        let other = std::future::poll_fn(|_| {
            polls += 1;
            if polls == 1 {
                return Poll::Pending;
            }
            c.complete(); // the 1st lock hold of this poll: handed to the racing wait
            Poll::Ready("other")
        });
        let (_, waker) = counting_waker();
        let mut racing = Box::pin(c.wait_or(other));
        assert!(poll_once(racing.as_mut(), &waker).is_pending());
        let (k_next, waker_next) = counting_waker();
        let mut next = pin!(c.wait());
        assert!(poll_once(next.as_mut(), &waker_next).is_pending());
        // The pass-on to `next` is the 2nd lock hold of the poll; the lock panics after it.
        arm(2, true);
        assert!(caught(|| poll_once(racing.as_mut(), &waker)).is_err());
        assert_eq!(k_next.wakes(), 1, "passed on, and woken by the unwinding");
        drop(racing); // it passed its completion on already: nothing more
        assert_eq!(poll_once(next.as_mut(), &waker_next), Poll::Ready(()));
        assert!(!c.try_wait(), "passed on once, not banked as well");
    }

    /// `Lock` docs: a first poll takes a completion banked a moment earlier (here by the
    /// waker's `clone`, which runs just before the lock) under the lock, and then the lock
    /// panics: the wait holds that completion (the count was gone and the wait was still
    /// idle: lost). Its next poll is `Ready`; dropped instead, it passes it on.
    #[test]
    fn item_2_a_first_poll_taking_a_banked_completion_then_the_lock_panics_holds_it() {
        for poll_again in [true, false] {
            let c = Arc::new(C::with_lock());
            let waker = clone_hook_waker({
                let c = c.clone();
                move || {
                    c.complete(); // banked: lock-free, no lock hold
                    arm(1, true); // the first poll's one lock hold
                }
            });
            let mut w = Box::pin(c.wait());
            assert!(caught(|| poll_once(w.as_mut(), &waker)).is_err());
            assert!(!c.is_done(), "the wait took it");
            if poll_again {
                let (_, plain) = counting_waker();
                assert_eq!(poll_once(w.as_mut(), &plain), Poll::Ready(()));
                assert!(!c.try_wait());
            } else {
                drop(w);
                assert!(c.try_wait(), "passed back to the count");
                assert!(!c.try_wait());
            }
        }
    }

    /// Each abort names the operation that was running: a waker panics while a
    /// `complete_waiters()` wakes its first batch, and the lock then panics when the
    /// unwinding releases the rest (its list lives on the unwinding stack): the process
    /// aborts saying `complete_waiters()`, not `complete_all()`.
    #[test]
    #[cfg_attr(miri, ignore)] // a child process
    fn item_3_the_abort_names_complete_waiters() {
        if child::child_arg().is_some() {
            let c = C::with_lock();
            let (_, bad) = hook_waker(|| {
                arm(1, false); // the drain's next lock hold, during the unwinding
                panic!("a waker that panics when woken");
            });
            let (_, good) = counting_waker();
            let mut first = Box::pin(c.wait());
            assert!(poll_once(first.as_mut(), &bad).is_pending());
            // More than one batch (32 natively), so waiters are left when it panics.
            let mut rest: Vec<_> = (0..40).map(|_| Box::pin(c.wait())).collect();
            for w in &mut rest {
                assert!(poll_once(w.as_mut(), &good).is_pending());
            }
            c.complete_waiters();
            unreachable!("the process aborts");
        }
        let end = child::run_child(item_3_the_abort_names_complete_waiters, "1");
        end.assert_aborted_naming("item 3", "complete_waiters() was releasing waiters");
    }
}
