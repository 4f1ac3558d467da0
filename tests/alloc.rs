//! No heap allocation on any wait, complete, complete_all or drop path (crate docs,
//! "Semantics": "No allocation on any path of `wait`, `complete`, ...").
//!
//! A counting `#[global_allocator]` counts allocations (`alloc`, `alloc_zeroed`,
//! `realloc`) and frees (`dealloc`) made by the *current thread* while it is armed by
//! [`heap_ops`]. Counting per thread keeps the test harness (and tests running in
//! parallel on other threads) out of the numbers, so the tests need no serialisation.
//! Everything a test needs (wakers, boxes, threads) is made before arming; each measured
//! closure is one operation of the crate, and must make no heap operation at all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use async_completion::{Completion, TimedOut, Wait};

mod common;

use common::{counting_waker, poll_once};

/// Counts the heap operations of armed threads; delegates everything to `System`.
struct CountingAllocator;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static FREES: Cell<usize> = const { Cell::new(0) };
}

/// Adds one to `counter` if this thread is armed. `try_with`: never panics, even while
/// thread-local storage is being torn down (const-initialised, so it never allocates).
fn note(counter: &'static std::thread::LocalKey<Cell<usize>>) {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = counter.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only
// const-initialised thread-locals, which neither allocate nor re-enter the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&FREES);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` with this thread armed; returns its result and the number of heap
/// operations (allocations + reallocations + frees) it made on this thread.
fn heap_ops<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCS.with(|n| n.set(0));
    FREES.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    let result = f();
    ARMED.with(|a| a.set(false));
    (result, ALLOCS.with(Cell::get) + FREES.with(Cell::get))
}

/// Asserts that `f` makes no heap operation; returns its result.
#[track_caller]
fn no_heap<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let (result, ops) = heap_ops(f);
    assert_eq!(ops, 0, "{what}: {ops} heap operations, expected none");
    result
}

/// `n` waits on `c` in boxes made up front; `Option` so a wait can be dropped in place
/// (`set(None)`) without freeing its box inside a measured closure.
fn boxed_waits(c: &Completion, n: usize) -> Vec<Pin<Box<Option<Wait<'_>>>>> {
    (0..n).map(|_| Box::pin(Some(c.wait()))).collect()
}

fn poll_slot(slot: &mut Pin<Box<Option<Wait<'_>>>>, waker: &Waker) -> Poll<()> {
    poll_once(slot.as_mut().as_pin_mut().expect("wait present"), waker)
}

#[test]
fn the_counter_sees_heap_operations() {
    let (boxed, ops) = heap_ops(|| Box::new(7_u64));
    assert_eq!((*boxed, ops), (7, 1), "one allocation");
    let ((), ops) = heap_ops(|| drop(boxed));
    assert_eq!(ops, 1, "one free");
    let (v, ops) = heap_ops(|| {
        let mut v = std::hint::black_box(Vec::with_capacity(1));
        v.extend_from_slice(&[1_u8, 2]);
        v
    });
    assert_eq!((v.len(), ops), (2, 2), "an allocation and a reallocation");
    // Another thread's heap operations are not counted here.
    let step = Arc::new(AtomicUsize::new(0));
    let other = std::thread::spawn({
        let step = step.clone();
        move || {
            while step.load(Ordering::SeqCst) == 0 {
                std::hint::spin_loop();
            }
            let len = std::hint::black_box(vec![0_u8; 64]).len();
            step.store(2, Ordering::SeqCst);
            len
        }
    });
    let ((), ops) = heap_ops(|| {
        step.store(1, Ordering::SeqCst);
        while step.load(Ordering::SeqCst) != 2 {
            std::hint::spin_loop();
        }
    });
    assert_eq!(ops, 0, "the other thread's allocation was not counted here");
    assert_eq!(other.join().expect("thread"), 64);
}

#[test]
fn fast_paths_make_no_heap_operation() {
    let c = Completion::new();
    let (w, waker) = counting_waker();

    no_heap("complete() banking", || c.complete());
    no_heap("is_done()", || assert!(c.is_done()));
    no_heap("wait() ready at once, created, polled and dropped", || {
        let wait = pin!(c.wait());
        assert_eq!(poll_once(wait, &waker), Poll::Ready(()));
    });
    no_heap("complete_n(3) banking", || c.complete_n(3));
    no_heap("try_wait() taking a banked completion", || {
        assert!(c.try_wait());
    });
    no_heap("a Ready wait polled again and dropped", || {
        let mut wait = pin!(c.wait());
        assert_eq!(
            poll_once(wait.as_mut(), futures::task::noop_waker_ref()),
            Poll::Ready(())
        );
        assert_eq!(
            poll_once(wait.as_mut(), futures::task::noop_waker_ref()),
            Poll::Ready(())
        );
    });
    no_heap("try_wait() with nothing banked", || {
        assert!(c.try_wait());
        assert!(!c.try_wait());
    });
    no_heap("a wait dropped before its first poll", || drop(c.wait()));
    no_heap("complete_all() with nobody queued", || c.complete_all());
    no_heap("wait() and try_wait() after complete_all()", || {
        let wait = pin!(c.wait());
        assert_eq!(poll_once(wait, &waker), Poll::Ready(()));
        assert!(c.try_wait());
    });
    no_heap("reinit()", || c.reinit());
    no_heap("saturating complete_n", || {
        c.complete_n(u32::MAX);
        c.complete();
    });
    assert_eq!(w.wakes(), 0, "no waker was involved");
}

#[test]
fn queued_wait_and_hand_off_make_no_heap_operation() {
    let c = Completion::new();
    let (w1, waker1) = counting_waker();
    let (w2, waker2) = counting_waker();
    let mut wait = Box::pin(Some(c.wait()));

    no_heap("first poll queueing the wait (clones the waker)", || {
        assert_eq!(poll_slot(&mut wait, &waker1), Poll::Pending);
    });
    no_heap("re-poll with the same waker", || {
        assert_eq!(poll_slot(&mut wait, &waker1), Poll::Pending);
    });
    no_heap("re-poll with another waker (swaps the stored one)", || {
        assert_eq!(poll_slot(&mut wait, &waker2), Poll::Pending);
    });
    no_heap("try_wait() and is_done() with a waiter queued", || {
        assert!(!c.try_wait() && !c.is_done());
    });
    no_heap(
        "complete() handing off to the queued wait and waking it",
        || {
            c.complete();
        },
    );
    assert_eq!(
        (w1.wakes(), w2.wakes()),
        (0, 1),
        "the newest waker was woken"
    );
    no_heap("poll of the handed wait (Ready)", || {
        assert_eq!(poll_slot(&mut wait, &waker2), Poll::Ready(()));
    });
    no_heap("drop of the finished wait", || wait.as_mut().set(None));
    assert!(!c.is_done(), "the completion was consumed");

    // The same with the no-op waker, the waker benchmarks use.
    let mut wait = Box::pin(Some(c.wait()));
    no_heap("queue, hand off, Ready, drop (no-op waker)", || {
        assert_eq!(
            poll_slot(&mut wait, futures::task::noop_waker_ref()),
            Poll::Pending
        );
        c.complete();
        assert_eq!(
            poll_slot(&mut wait, futures::task::noop_waker_ref()),
            Poll::Ready(())
        );
        wait.as_mut().set(None);
    });
}

#[test]
fn complete_all_over_100_queued_waiters_makes_no_heap_operation() {
    let c = Completion::new();
    let (w, waker) = counting_waker();
    let mut waits = boxed_waits(&c, 100);
    no_heap("queueing 100 waits", || {
        for wait in &mut waits {
            assert_eq!(poll_slot(wait, &waker), Poll::Pending);
        }
    });
    no_heap("complete_all() releasing 100 queued waits", || {
        c.complete_all()
    });
    assert_eq!(w.wakes(), 100, "every waiter woken once");
    no_heap("polling the 100 released waits", || {
        for wait in &mut waits {
            assert_eq!(poll_slot(wait, &waker), Poll::Ready(()));
        }
    });
    no_heap("dropping the 100 finished waits", || {
        for wait in &mut waits {
            wait.as_mut().set(None);
        }
    });
    no_heap("complete_all() again (idempotent) and reinit()", || {
        c.complete_all();
        c.reinit();
    });

    // Released but dropped before being polled: nothing to pass on, nothing allocated.
    let mut waits = boxed_waits(&c, 100);
    no_heap("queue 100, complete_all, drop them unpolled", || {
        for wait in &mut waits {
            assert_eq!(poll_slot(wait, &waker), Poll::Pending);
        }
        c.complete_all();
        for wait in &mut waits {
            wait.as_mut().set(None);
        }
    });
    assert_eq!(w.wakes(), 200);
}

#[test]
fn complete_n_over_queued_waiters_makes_no_heap_operation() {
    let c = Completion::new();
    let (w, waker) = counting_waker();
    let mut waits = boxed_waits(&c, 40);
    no_heap(
        "queue 40, complete_n(45): 40 hand-offs in two batches, 5 banked",
        || {
            for wait in &mut waits {
                assert_eq!(poll_slot(wait, &waker), Poll::Pending);
            }
            c.complete_n(45);
            for wait in &mut waits {
                assert_eq!(poll_slot(wait, &waker), Poll::Ready(()));
                wait.as_mut().set(None);
            }
        },
    );
    assert_eq!(w.wakes(), 40);
    let banked = (0..6).filter(|_| c.try_wait()).count();
    assert_eq!(banked, 5);
}

#[test]
fn cancelling_waits_makes_no_heap_operation() {
    let c = Completion::new();
    let (w, waker) = counting_waker();
    let mut waits = boxed_waits(&c, 3);
    for wait in &mut waits {
        assert_eq!(poll_slot(wait, &waker), Poll::Pending);
    }
    let [a, b, d] = &mut waits[..] else {
        unreachable!("three waits")
    };

    no_heap("drop of a queued wait that was handed nothing", || {
        b.as_mut().set(None);
    });
    no_heap("complete() handing off to the oldest", || c.complete());
    assert_eq!(w.wakes(), 1);
    no_heap(
        "drop of a handed, unpolled wait: passed on to the next waiter",
        || {
            a.as_mut().set(None);
        },
    );
    assert_eq!(w.wakes(), 2, "the next waiter was woken");
    no_heap(
        "drop of a handed, unpolled wait with nobody left: banked",
        || {
            d.as_mut().set(None);
        },
    );
    assert!(c.try_wait(), "the completion went back to the count");
    assert!(!c.try_wait());
}

#[test]
fn wait_or_and_wait_timeout_make_no_heap_operation() {
    let c = Completion::new();
    let (_w, waker) = counting_waker();
    let expired = |_: Duration| async {};
    let never = |_: Duration| std::future::pending::<()>();

    no_heap("wait_timeout ready at once", || {
        c.complete();
        let wait = pin!(c.wait_timeout(never, Duration::from_secs(1)));
        assert_eq!(poll_once(wait, &waker), Poll::Ready(Ok(())));
    });
    no_heap("wait_timeout queued, then handed a completion", || {
        let mut wait = pin!(c.wait_timeout(never, Duration::from_secs(1)));
        assert_eq!(poll_once(wait.as_mut(), &waker), Poll::Pending);
        c.complete();
        assert_eq!(poll_once(wait, &waker), Poll::Ready(Ok(())));
    });
    no_heap("wait_timeout timing out", || {
        let wait = pin!(c.wait_timeout(expired, Duration::from_secs(1)));
        assert_eq!(poll_once(wait, &waker), Poll::Ready(Err(TimedOut)));
    });
    no_heap("wait_or queued, then the other future wins", || {
        let mut other_done = false;
        let other = std::future::poll_fn(|_| {
            if other_done {
                Poll::Ready("interrupted")
            } else {
                other_done = true;
                Poll::Pending
            }
        });
        let mut wait = pin!(c.wait_or(other));
        assert_eq!(poll_once(wait.as_mut(), &waker), Poll::Pending);
        assert_eq!(poll_once(wait, &waker), Poll::Ready(Err("interrupted")));
    });
    assert!(!c.is_done());
}

#[cfg(feature = "alloc")]
#[test]
fn owned_waits_make_no_heap_operation() {
    let c = Arc::new(Completion::new());
    let (_w, waker) = counting_waker();
    no_heap("wait_owned: queue, hand off, Ready, drop", || {
        let mut wait = pin!(c.clone().wait_owned());
        assert_eq!(poll_once(wait.as_mut(), &waker), Poll::Pending);
        c.complete();
        assert_eq!(poll_once(wait, &waker), Poll::Ready(()));
    });
    no_heap("wait_owned ready at once", || {
        c.complete();
        let wait = pin!(c.clone().wait_owned());
        assert_eq!(poll_once(wait, &waker), Poll::Ready(()));
    });
    assert_eq!(
        Arc::strong_count(&c),
        1,
        "the owned waits released their Arc"
    );
}

#[cfg(feature = "std")]
#[test]
fn blocking_waits_make_no_heap_operation_after_the_first() {
    let c = Arc::new(Completion::new());
    let queued = Arc::new(AtomicUsize::new(0));
    let waiter = std::thread::spawn({
        let (c, queued) = (c.clone(), queued.clone());
        move || {
            // Round 0 warms up: the first blocking wait of a thread that has to park
            // makes the thread's waker (documented). The rest must make none.
            let mut ops = Vec::with_capacity(6);
            for _ in 0..5 {
                let ((), n) = heap_ops(|| {
                    queued.fetch_add(1, Ordering::SeqCst);
                    c.wait_blocking();
                });
                ops.push(n);
            }
            let ((), n) = heap_ops(|| {
                c.complete();
                c.wait_blocking();
                assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Err(TimedOut));
            });
            ops.push(n);
            ops
        }
    });
    for round in 1..=5 {
        // Let the waiter park (or not: both paths must be allocation-free).
        while queued.load(Ordering::SeqCst) < round {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(2));
        c.complete();
    }
    let ops = waiter.join().expect("waiter thread");
    assert_eq!(
        ops[1..],
        [0; 5],
        "heap operations per blocking wait after round 0"
    );
}
