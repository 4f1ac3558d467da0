//! The lock type parameter: `Completion<L>` behaves the same with every [`Lock`].
//!
//! One deterministic scenario (FIFO hand-off, wake counts, cancel forwarding, a batched
//! `complete_all` over more than 32 waiters, `reinit`, `wait_or`) runs once per lock type
//! available in the build, plus thread-based checks for the locks that are `Sync`.
//! `cargo test --all-features --test locks` covers every lock, embassy's included.

mod common;

use core::pin::pin;
use std::pin::Pin;
use std::sync::Arc;
use std::thread;

use async_completion::{Completion, DefaultLock, Lock, SpinLock, Wait};

use common::{counting_waker, poll_once};

/// Deterministic single-threaded run of the core rules on a `Completion<L>`.
fn core_rules<L: Lock>(c: &Completion<L>) {
    // Banked, then taken.
    c.complete();
    assert!(c.is_done());
    assert!(c.try_wait());
    assert!(!c.try_wait());

    // FIFO hand-off: three queued waiters, two completions go to the two oldest.
    let (wakes, wakers): (Vec<_>, Vec<_>) = (0..3).map(|_| counting_waker()).unzip();
    let mut waits: Vec<_> = (0..3).map(|_| Box::pin(c.wait())).collect();
    for (w, k) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(w.as_mut(), k).is_pending());
    }
    c.complete();
    c.complete();
    assert_eq!(
        wakes.iter().map(|w| w.wakes()).collect::<Vec<_>>(),
        [1, 1, 0]
    );
    assert!(!c.try_wait(), "nothing banked: both were handed off");

    // The second waiter is cancelled after its hand-off: the third one gets it.
    assert!(poll_once(waits[0].as_mut(), &wakers[0]).is_ready());
    drop(waits.remove(1));
    assert_eq!(wakes[2].wakes(), 1);
    assert!(poll_once(waits[1].as_mut(), &wakers[2]).is_ready());
    drop(waits);

    // complete_all over more than one batch (32) of queued waiters; sticky until reinit.
    let (all_wake, all_waker) = counting_waker();
    let mut many: Vec<Pin<Box<Wait<'_, L>>>> = (0..40).map(|_| Box::pin(c.wait())).collect();
    for w in &mut many {
        assert!(poll_once(w.as_mut(), &all_waker).is_pending());
    }
    c.complete_all();
    assert_eq!(all_wake.wakes(), 40);
    for w in &mut many {
        assert!(poll_once(w.as_mut(), &all_waker).is_ready());
    }
    assert!(c.try_wait() && c.try_wait(), "complete_all is sticky");
    c.reinit();
    assert!(!c.is_done());

    // wait_or: a ready other wins when nothing is posted, and leaves no waiter behind.
    let (_, k) = counting_waker();
    let raced = pin!(c.wait_or(async { 7 }));
    assert_eq!(poll_once(raced, &k), std::task::Poll::Ready(Err(7)));
    c.complete();
    assert!(
        c.try_wait(),
        "the finished wait_or did not keep the completion"
    );

    // Debug shows the state whatever the lock.
    c.complete_n(2);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 2, completed_all: false, waiters: false }"
    );
}

/// Two consumer threads each wait for 500 completions that the main thread posts: every
/// completion is consumed exactly once, and nothing is left banked.
fn across_threads<L: Lock + Send + Sync + 'static>(c: Arc<Completion<L>>) {
    const PER_CONSUMER: usize = 500;
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                for _ in 0..PER_CONSUMER {
                    futures::executor::block_on(c.wait());
                }
            })
        })
        .collect();
    for _ in 0..2 * PER_CONSUMER {
        c.complete();
    }
    for t in consumers {
        t.join().unwrap();
    }
    assert!(
        !c.try_wait(),
        "a completion was consumed twice or left over"
    );
}

#[test]
fn default_lock() {
    core_rules(&Completion::<DefaultLock>::with_lock());
    core_rules(&Completion::new());
}

#[test]
fn spin_lock() {
    static C: Completion<SpinLock> = Completion::with_lock();
    core_rules(&C);
}

#[cfg(feature = "std")]
#[test]
fn std_lock() {
    core_rules(&Completion::<async_completion::StdLock>::with_lock());
}

#[cfg(feature = "critical-section")]
#[test]
fn critical_section_lock() {
    static C: Completion<async_completion::CriticalSectionLock> = Completion::with_lock();
    core_rules(&C);
}

#[cfg(feature = "embassy-sync")]
mod embassy {
    use super::*;
    use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex};

    /// A `RawMutex` that counts its acquisitions (a thread-local count: one thread only).
    /// Not `Sync` (the marker), so neither is a completion with it: it stays on the thread
    /// that counts.
    struct CountingMutex(core::marker::PhantomData<std::cell::Cell<()>>);

    std::thread_local! {
        static LOCKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn locks() -> usize {
        LOCKS.with(|l| l.get())
    }

    // SAFETY: `Completion<CountingMutex>` is `!Sync` (the mutex is `!Sync`: see below), so
    // only one thread ever locks it, and `lock` runs `f` without re-entering: exclusion
    // holds trivially.
    unsafe impl embassy_sync::blocking_mutex::raw::RawMutex for CountingMutex {
        #[allow(clippy::declare_interior_mutable_const)]
        const INIT: Self = CountingMutex(core::marker::PhantomData);
        fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
            LOCKS.with(|l| l.set(l.get() + 1));
            f()
        }
    }

    /// Crate docs, "Semantics" ("A wait holds its place"): a re-poll of a queued wait with the same waker takes no lock; with
    /// another waker it locks once.
    ///
    /// Not under Miri, which gives each use of a `RawWakerVTable` constant an address of
    /// its own (as `Waker::will_wake`'s docs allow): a clone of the same waker then
    /// compares unequal, and the re-poll takes the lock, correctly but not lock-free.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_repoll_with_the_same_waker_takes_no_lock() {
        let c: Completion<CountingMutex> = Completion::with_lock();
        let (k, waker) = counting_waker();
        let (_, other) = counting_waker();
        let mut w = pin!(c.wait());
        assert!(poll_once(w.as_mut(), &waker).is_pending());
        assert_eq!(locks(), 1, "the first poll queues under the lock");
        for _ in 0..8 {
            assert!(poll_once(w.as_mut(), &waker).is_pending());
        }
        assert_eq!(locks(), 1, "re-polls with the same waker");
        assert!(poll_once(w.as_mut(), &other).is_pending());
        // Stored in one lock hold (the waker is cloned before locking, as it is known to
        // differ).
        assert_eq!(locks(), 2, "a new waker is stored under the lock");
        assert!(poll_once(w.as_mut(), &other).is_pending());
        assert_eq!(locks(), 2, "then its re-polls are lock-free again");
        c.complete();
        assert_eq!(k.wakes(), 0, "the newest waker is the one woken");
        assert!(poll_once(w.as_mut(), &other).is_ready());
    }

    /// Method docs of `complete`, `try_wait`, `is_done` and `reinit` ("lock-free", "one
    /// atomic compare-and-swap"): the lock-free paths take no lock: banked `complete()` / `complete_n()`,
    /// `complete_all()` and `complete_waiters()` with nobody queued, `try_wait`, `is_done`,
    /// `reinit`, and a first poll that finds a completion banked.
    #[test]
    fn the_lock_free_paths_take_no_lock() {
        let c: Completion<CountingMutex> = Completion::with_lock();
        let (_, waker) = counting_waker();
        let before = locks();
        c.complete();
        c.complete_n(3);
        c.complete_n(0);
        c.complete_waiters();
        assert!(c.is_done());
        assert!(c.try_wait());
        let mut w = pin!(c.wait());
        assert!(poll_once(w.as_mut(), &waker).is_ready());
        c.reinit();
        c.complete_all();
        c.complete_all();
        assert!(c.try_wait());
        c.reinit();
        c.complete_n(2);
        assert!(c.try_wait());
        // `enable()` on a banked completion takes it without the lock, too.
        let mut e = pin!(c.wait());
        assert!(e.as_mut().enable());
        assert!(poll_once(e.as_mut(), &waker).is_ready());
        assert!(!c.try_wait());
        assert_eq!(locks(), before, "no lock taken");
    }

    /// `Completion::complete_waiters` docs ("with nobody queued it is one atomic
    /// read-modify-write and takes no lock"): also once the queue has emptied again, by a
    /// hand-off or a cancelled wait; and it releases no wait that is not queued.
    #[test]
    fn a_pulse_after_the_queue_emptied_takes_no_lock_and_releases_nobody() {
        let c: Completion<CountingMutex> = Completion::with_lock();
        let (_, waker) = counting_waker();
        let mut existing = Box::pin(c.wait()); // not polled until the queue emptied
        let mut handed = pin!(c.wait());
        assert!(poll_once(handed.as_mut(), &waker).is_pending());
        c.complete(); // hands off: the queue is empty again
        assert!(poll_once(handed.as_mut(), &waker).is_ready());
        let mut dropped = Box::pin(c.wait());
        assert!(poll_once(dropped.as_mut(), &waker).is_pending());
        drop(dropped); // cancelled: empty again
        assert!(
            poll_once(existing.as_mut(), &waker).is_pending(),
            "no release happened: the existing wait queues"
        );
        drop(existing);
        let mut unpolled = pin!(c.wait());
        let before = locks();
        c.complete_waiters();
        assert_eq!(locks(), before, "nobody queued: no lock");
        assert!(
            poll_once(unpolled.as_mut(), &waker).is_pending(),
            "and it did not reach the unpolled wait"
        );
    }

    /// Method docs of `Completion::wait_or` ("an `other` that is ready at once costs no
    /// lock and no queueing"): `wait_or` / `wait_timeout` whose other future is ready at once never queue:
    /// no lock, no waker clone, and the result is the other future's (nothing banked).
    #[test]
    fn a_race_whose_other_future_is_ready_at_once_never_queues() {
        let c: Completion<CountingMutex> = Completion::with_lock();
        let (k, waker) = counting_waker();
        let before = locks();
        let mut or = pin!(c.wait_or(core::future::ready(7)));
        assert_eq!(
            poll_once(or.as_mut(), &waker),
            core::task::Poll::Ready(Err(7))
        );
        let expired = |_: std::time::Duration| core::future::ready(());
        let mut timed = pin!(c.wait_timeout(expired, std::time::Duration::from_secs(1)));
        assert_eq!(
            poll_once(timed.as_mut(), &waker),
            core::task::Poll::Ready(Err(async_completion::TimedOut))
        );
        assert_eq!(locks(), before, "neither queued");
        // A banked completion still wins the tie, lock-free.
        c.complete();
        let mut or = pin!(c.wait_or(core::future::ready(7)));
        assert_eq!(
            poll_once(or.as_mut(), &waker),
            core::task::Poll::Ready(Ok(()))
        );
        assert_eq!(locks(), before);
        assert_eq!(k.wakes(), 0);
        assert!(!c.try_wait());
    }

    #[test]
    fn critical_section_raw_mutex() {
        static C: Completion<CriticalSectionRawMutex> = Completion::with_lock();
        core_rules(&C);
    }

    /// Compiles only if the type is not `Sync`: for a `Sync` type both impls apply and
    /// `some_item` is ambiguous (the type must be concrete, hence a macro).
    macro_rules! assert_not_sync {
        ($t:ty) => {{
            trait AmbiguousIfSync<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfSync<()> for T {}
            impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
            <$t as AmbiguousIfSync<_>>::some_item();
        }};
    }

    #[test]
    fn sync_exactly_when_the_lock_allows() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Completion<CriticalSectionRawMutex>>();
        send_sync::<Wait<'static, CriticalSectionRawMutex>>();
        send::<Completion<NoopRawMutex>>();
        assert_not_sync!(Completion<NoopRawMutex>);
    }

    #[test]
    fn noop_raw_mutex_on_one_thread() {
        // `NoopRawMutex` is not `Sync`, so neither is this completion: it can only be
        // used from one thread (one executor), which is what makes the no-op lock sound.
        let c: Completion<NoopRawMutex> = Completion::with_lock();
        core_rules(&c);
        futures::executor::block_on(async {
            let waiter = c.wait();
            c.complete();
            waiter.await;
        });
    }

    #[cfg_attr(miri, ignore = "1000 completions across threads: slow under Miri")]
    #[test]
    fn critical_section_raw_mutex_across_threads() {
        across_threads(Arc::new(Completion::<CriticalSectionRawMutex>::with_lock()));
    }
}

#[cfg_attr(miri, ignore = "1000 completions across threads: slow under Miri")]
#[test]
fn spin_lock_across_threads() {
    across_threads(Arc::new(Completion::<SpinLock>::with_lock()));
}

#[cfg_attr(miri, ignore = "1000 completions across threads: slow under Miri")]
#[test]
fn default_lock_across_threads() {
    across_threads(Arc::new(Completion::new()));
}

/// A spin lock held by one thread for a few instructions while another wants it: the
/// other spins until it is free, and only a spin that cannot end (a debug build's 2^26
/// checks, the `SpinLock` docs) panics. Two threads queue, complete and drop waits on one
/// `Completion<SpinLock>` so that each often finds the lock held by the other.
#[cfg_attr(miri, ignore = "tens of thousands of lock holds across threads")]
#[test]
fn a_spin_lock_held_briefly_by_another_thread_is_waited_for_without_a_panic() {
    const ROUNDS: usize = 20_000;
    let c = Arc::new(Completion::<SpinLock>::with_lock());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                let (_, waker) = counting_waker();
                let mut consumed = 0;
                for _ in 0..ROUNDS {
                    let mut w = pin!(c.wait());
                    let first = poll_once(w.as_mut(), &waker).is_ready(); // queues: the lock
                    c.complete(); // hands off to the oldest queued wait: the lock
                    let second = poll_once(w.as_mut(), &waker).is_ready();
                    consumed += usize::from(first || second);
                    // a wait still queued leaves the queue in its drop: the lock
                }
                consumed
            })
        })
        .collect();
    let consumed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut banked = 0;
    while c.try_wait() {
        banked += 1;
    }
    assert_eq!(consumed + banked, 2 * ROUNDS, "posted = consumed + banked");
}

#[test]
fn few_completions_across_threads_for_miri() {
    let c = Arc::new(Completion::<SpinLock>::with_lock());
    let t = thread::spawn({
        let c = c.clone();
        move || futures::executor::block_on(c.wait())
    });
    c.complete();
    t.join().unwrap();
    assert!(!c.try_wait());
}

#[cfg(all(feature = "alloc", feature = "std"))]
#[test]
fn owned_and_blocking_waits_with_another_lock() {
    let c = Arc::new(Completion::<SpinLock>::with_lock());
    let owned: async_completion::OwnedWait<SpinLock> = c.clone().wait_owned();
    let blocked = thread::spawn({
        let c = c.clone();
        move || c.wait_blocking()
    });
    c.complete();
    c.complete();
    futures::executor::block_on(owned);
    blocked.join().unwrap();
    assert!(!c.try_wait());
}

#[test]
fn sizes_with_each_lock() {
    use std::mem::size_of;
    // The state word and head pointer, plus the lock (1 byte for the spinlock).
    assert!(size_of::<Completion<SpinLock>>() <= 24);
    assert!(size_of::<Completion>() <= 32);
    assert_eq!(size_of::<Wait<'_, SpinLock>>(), size_of::<Wait<'_>>());
}
