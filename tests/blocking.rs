//! Blocking waits from OS threads (`wait_blocking`, `wait_blocking_timeout`), threads and
//! async tasks on one `Completion`, and the owned wait (`wait_owned`).
//!
//! A thread is known to be queued when `Debug` shows `waiters: true` and nobody else can
//! be queued. Timing-based pauses only ever make a check stronger; no assertion depends
//! on them.
//!
//! Run with `cargo test --test blocking`.
#![cfg(feature = "std")]

mod common;

use core::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use async_completion::{Completion, OwnedWait, TimedOut};
use futures::future::FusedFuture;

use common::{counting_waker, poll_once, snapshot, state};

/// Generous bound for "this must happen": only reached if the test is failing.
const PATIENCE: Duration = Duration::from_secs(20);
/// Grace period for "this must not happen" checks and to let a thread reach its wait.
const GRACE: Duration = Duration::from_millis(50);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Spins (sleeping a little) until `cond` holds; panics after `PATIENCE`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until some waiter is queued on `c`.
fn wait_until_queued(c: &Completion) {
    wait_until("a queued waiter", || snapshot(c).contains("waiters: true"));
}

/// Spawns a thread that blocks on `c` and then sends `id` on `tx`.
fn blocking_waiter(c: &Arc<Completion>, id: &'static str, tx: &mpsc::Sender<&'static str>) {
    let c = c.clone();
    let tx = tx.clone();
    thread::spawn(move || {
        c.wait_blocking();
        tx.send(id).unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// wait_blocking
// ---------------------------------------------------------------------------------------

#[test]
fn wait_blocking_returns_at_once_when_banked_or_completed_for_all() {
    let c = Completion::new();
    c.complete_n(2);
    c.wait_blocking();
    c.wait_blocking();
    assert!(!c.is_done());
    c.complete_all();
    for _ in 0..3 {
        c.wait_blocking();
    }
    assert!(c.is_done(), "complete_all is sticky");
}

#[test]
fn a_blocked_thread_is_released_by_complete() {
    let c = Arc::new(Completion::new());
    let released = Arc::new(AtomicBool::new(false));
    let waiter = thread::spawn({
        let c = c.clone();
        let released = released.clone();
        move || {
            c.wait_blocking();
            released.store(true, Ordering::SeqCst);
        }
    });
    wait_until_queued(&c);
    thread::sleep(GRACE);
    assert!(
        !released.load(Ordering::SeqCst),
        "returned without a completion"
    );
    c.complete();
    waiter.join().unwrap();
    assert!(released.load(Ordering::SeqCst));
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "consumed exactly once"
    );
}

#[test]
fn complete_all_releases_every_blocked_thread() {
    let c = Arc::new(Completion::new());
    let (tx, rx) = mpsc::channel();
    for id in ["t0", "t1", "t2", "t3", "t4"] {
        blocking_waiter(&c, id, &tx);
    }
    wait_until_queued(&c);
    thread::sleep(GRACE); // let the others queue too (they pass anyway if they do not)
    c.complete_all();
    let mut released: Vec<_> = (0..5).map(|_| rx.recv_timeout(PATIENCE).unwrap()).collect();
    released.sort_unstable();
    assert_eq!(released, ["t0", "t1", "t2", "t3", "t4"]);
    assert!(c.try_wait() && c.try_wait(), "sticky, nothing consumed");
}

#[test]
fn writes_before_complete_are_visible_to_the_blocked_thread() {
    let c = Arc::new(Completion::new());
    let data = Arc::new(AtomicUsize::new(0));
    let waiter = thread::spawn({
        let c = c.clone();
        let data = data.clone();
        move || {
            c.wait_blocking();
            data.load(Ordering::Relaxed)
        }
    });
    wait_until_queued(&c);
    data.store(0xC0FFEE, Ordering::Relaxed);
    c.complete();
    assert_eq!(waiter.join().unwrap(), 0xC0FFEE);
}

// ---------------------------------------------------------------------------------------
// FIFO across threads
// ---------------------------------------------------------------------------------------

/// Thread A is queued (proven by `Debug`) before thread B starts, so one `complete()`
/// must release A, and only A.
#[test]
fn threads_are_served_in_fifo_order_one_per_complete() {
    let c = Arc::new(Completion::new());
    let (tx, rx) = mpsc::channel();
    blocking_waiter(&c, "A", &tx);
    wait_until_queued(&c); // A, and only A, is queued
    blocking_waiter(&c, "B", &tx);
    thread::sleep(GRACE); // B (very likely) queued behind A

    c.complete();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "A");
    assert!(
        rx.recv_timeout(GRACE).is_err(),
        "one complete() released more than one thread"
    );
    wait_until_queued(&c); // now B is queued
    assert_eq!(snapshot(&c), state(0, false, true));

    c.complete();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "B");
    assert_eq!(snapshot(&c), state(0, false, false));
}

/// A blocked thread and a hand-polled async wait: the order they queued in is exactly
/// the order they are served in, both ways round.
#[test]
fn a_thread_and_an_async_wait_share_one_fifo_queue() {
    // Thread first, async second.
    let c = Arc::new(Completion::new());
    let (tx, rx) = mpsc::channel();
    blocking_waiter(&c, "thread", &tx);
    wait_until_queued(&c);
    let (k, waker) = counting_waker();
    let mut task = pin!(c.wait());
    assert!(poll_once(task.as_mut(), &waker).is_pending()); // behind the thread
    c.complete();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "thread");
    assert_eq!(k.wakes(), 0, "the async waiter was not served");
    assert!(poll_once(task.as_mut(), &waker).is_pending());
    c.complete();
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(task.as_mut(), &waker), Poll::Ready(()));

    // Async first, thread second.
    let (k, waker) = counting_waker();
    let mut task = pin!(c.wait());
    assert!(poll_once(task.as_mut(), &waker).is_pending());
    blocking_waiter(&c, "thread", &tx);
    thread::sleep(GRACE);
    c.complete();
    assert_eq!(k.wakes(), 1, "the async waiter, queued first, was served");
    assert!(rx.recv_timeout(GRACE).is_err(), "the thread was not");
    assert_eq!(poll_once(task.as_mut(), &waker), Poll::Ready(()));
    wait_until_queued(&c); // the thread
    c.complete();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "thread");
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn dropping_a_handed_async_wait_passes_the_completion_to_a_blocked_thread() {
    let c = Arc::new(Completion::new());
    let (tx, rx) = mpsc::channel();
    let (_, waker) = counting_waker();
    let mut first = Box::pin(c.wait());
    assert!(poll_once(first.as_mut(), &waker).is_pending());
    blocking_waiter(&c, "thread", &tx);
    thread::sleep(GRACE);
    c.complete(); // handed to `first`
    assert!(rx.recv_timeout(GRACE).is_err());
    drop(first);
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "thread");
    assert_eq!(snapshot(&c), state(0, false, false));
}

// ---------------------------------------------------------------------------------------
// wait_blocking_timeout
// ---------------------------------------------------------------------------------------

#[test]
fn wait_blocking_timeout_times_out_no_earlier_than_the_timeout() {
    let c = Completion::new();
    let start = Instant::now();
    assert_eq!(c.wait_blocking_timeout(ms(30)), Err(TimedOut));
    assert!(start.elapsed() >= ms(30), "{:?}", start.elapsed());
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "the timed-out wait left the queue"
    );
}

#[test]
fn wait_blocking_timeout_zero() {
    let c = Completion::new();
    assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Err(TimedOut));
    c.complete();
    assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Ok(()));
    assert!(!c.is_done());
    c.complete_all();
    assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Ok(()));
    assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Ok(()));
}

/// A zero timeout is a poll: behind a queued waiter it answers `Err` at once, does not
/// join the queue, and the next completion goes to the queued waiter.
#[test]
fn wait_blocking_timeout_zero_never_queues_behind_a_waiter() {
    let c = Completion::new();
    let (wakes, waker) = counting_waker();
    let mut queued = Box::pin(c.wait());
    assert_eq!(poll_once(queued.as_mut(), &waker), Poll::Pending);
    for _ in 0..3 {
        assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Err(TimedOut));
    }
    c.complete();
    assert_eq!(wakes.wakes(), 1);
    assert_eq!(poll_once(queued.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(c.wait_blocking_timeout(Duration::ZERO), Err(TimedOut));
}

#[test]
fn a_timed_out_blocking_wait_keeps_nothing_a_later_complete_is_banked() {
    let c = Completion::new();
    assert_eq!(c.wait_blocking_timeout(ms(5)), Err(TimedOut));
    c.complete();
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn wait_blocking_timeout_is_ok_when_completed_in_time() {
    let c = Arc::new(Completion::new());
    let waiter = thread::spawn({
        let c = c.clone();
        move || c.wait_blocking_timeout(PATIENCE)
    });
    wait_until_queued(&c);
    c.complete();
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn wait_blocking_timeout_with_an_unrepresentable_deadline_waits_forever() {
    let c = Arc::new(Completion::new());
    let waiter = thread::spawn({
        let c = c.clone();
        move || c.wait_blocking_timeout(Duration::MAX)
    });
    wait_until_queued(&c);
    thread::sleep(GRACE);
    assert!(!waiter.is_finished());
    c.complete();
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

/// Thread A gives up (timeout) while queued before thread B; the next completion goes to
/// B and nothing is left over.
#[test]
fn after_a_thread_times_out_the_next_completion_goes_to_the_next_thread() {
    let c = Arc::new(Completion::new());
    let impatient = thread::spawn({
        let c = c.clone();
        // Long enough for the main thread to see it queued, also under Miri, whose
        // virtual clock runs 5 µs per basic block executed.
        move || c.wait_blocking_timeout(ms(if cfg!(miri) { 1_000 } else { 30 }))
    });
    wait_until_queued(&c);
    let (tx, rx) = mpsc::channel();
    blocking_waiter(&c, "patient", &tx);
    assert_eq!(impatient.join().unwrap(), Err(TimedOut));
    wait_until_queued(&c); // the patient thread
    c.complete();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "patient");
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn blocking_timeouts_racing_completes_lose_nothing() {
    // Threads wait with very short timeouts while a producer posts completions: every
    // completion is either consumed by an `Ok` or still banked at the end.
    const THREADS: usize = 4;
    const POSTED: usize = 400;
    let c = Arc::new(Completion::new());
    let ok = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let waiters: Vec<_> = (0..THREADS)
        .map(|i| {
            let (c, ok, stop) = (c.clone(), ok.clone(), stop.clone());
            thread::spawn(move || {
                let mut n = 0_u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let timeout = Duration::from_micros((n * 37 + i as u64 * 11) % 200);
                    if c.wait_blocking_timeout(timeout).is_ok() {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for i in 0..POSTED {
        c.complete();
        if i % 16 == 0 {
            thread::sleep(Duration::from_micros(100));
        }
    }
    stop.store(true, Ordering::SeqCst);
    for w in waiters {
        w.join().unwrap();
    }
    let mut banked = 0;
    while c.try_wait() {
        banked += 1;
    }
    assert_eq!(ok.load(Ordering::SeqCst) + banked, POSTED);
    assert_eq!(snapshot(&c), state(0, false, false));
}

// ---------------------------------------------------------------------------------------
// Threads and tokio tasks on one Completion
// ---------------------------------------------------------------------------------------

/// A multi-thread tokio runtime with tasks awaiting and std threads blocking, all on one
/// completion; completions are posted from threads and from a task. Every consumer takes
/// a fixed quota, so a lost completion hangs a consumer (caught by the timeouts) and a
/// duplicated one leaves a completion banked at the end.
#[test]
fn threads_and_tokio_tasks_consume_every_completion_exactly_once() {
    const TASKS: usize = 4;
    const THREADS: usize = 4;
    const QUOTA: usize = 250;
    const TOTAL: usize = (TASKS + THREADS) * QUOTA;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let c = Arc::new(Completion::new());
    let consumed = Arc::new(AtomicUsize::new(0));

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (c, consumed) = (c.clone(), consumed.clone());
            rt.spawn(async move {
                for _ in 0..QUOTA {
                    c.wait().await;
                    consumed.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let (done_tx, done_rx) = mpsc::channel();
    for _ in 0..THREADS {
        let (c, consumed, done_tx) = (c.clone(), consumed.clone(), done_tx.clone());
        thread::spawn(move || {
            for _ in 0..QUOTA {
                c.wait_blocking();
                consumed.fetch_add(1, Ordering::SeqCst);
            }
            done_tx.send(()).unwrap();
        });
    }

    // Producers: two threads and one task, TOTAL completions between them.
    let per_producer = TOTAL / 4;
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..per_producer {
                    c.complete();
                    if i % 64 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let producer_task = rt.spawn({
        let c = c.clone();
        async move {
            for i in 0..per_producer {
                c.complete();
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    c.complete_n(u32::try_from(TOTAL - 3 * per_producer).unwrap());

    for p in producers {
        p.join().unwrap();
    }
    rt.block_on(async {
        producer_task.await.unwrap();
        for t in tasks {
            tokio::time::timeout(PATIENCE, t)
                .await
                .expect("a task did not get its completions: one was lost")
                .unwrap();
        }
    });
    for _ in 0..THREADS {
        done_rx
            .recv_timeout(PATIENCE)
            .expect("a thread did not get its completions: one was lost");
    }
    assert_eq!(consumed.load(Ordering::SeqCst), TOTAL);
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "nothing duplicated, nothing left"
    );
}

#[test]
fn threads_and_tasks_timing_out_lose_no_completion() {
    // Like the above, but consumers use timeouts (tokio's and the blocking one) and give
    // up after a while; whatever was not consumed must be banked.
    const POSTED: usize = 300;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let c = Arc::new(Completion::new());
    let ok = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let tasks: Vec<_> = (0..3_u64)
        .map(|i| {
            let (c, ok, stop) = (c.clone(), ok.clone(), stop.clone());
            rt.spawn(async move {
                let mut n = 0_u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let d = Duration::from_micros(200 + (n * 131 + i * 17) % 800);
                    if tokio::time::timeout(d, c.wait()).await.is_ok() {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..2_u64)
        .map(|i| {
            let (c, ok, stop) = (c.clone(), ok.clone(), stop.clone());
            thread::spawn(move || {
                let mut n = 0_u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let d = Duration::from_micros((n * 53 + i * 29) % 500);
                    if c.wait_blocking_timeout(d).is_ok() {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for i in 0..POSTED {
        c.complete();
        if i % 8 == 0 {
            thread::sleep(Duration::from_micros(300));
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let mut banked = 0;
    while c.try_wait() {
        banked += 1;
    }
    assert_eq!(ok.load(Ordering::SeqCst) + banked, POSTED);
    assert_eq!(snapshot(&c), state(0, false, false));
}

// ---------------------------------------------------------------------------------------
// wait_owned
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_owned_can_be_spawned() {
    let c = Arc::new(Completion::new());
    let task = tokio::spawn(c.clone().wait_owned());
    tokio::time::timeout(PATIENCE, async {
        while !snapshot(&c).contains("waiters: true") {
            tokio::time::sleep(ms(1)).await;
        }
    })
    .await
    .expect("the spawned wait never queued");
    assert!(!task.is_finished());
    c.complete();
    task.await.unwrap();
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_owned_waits_spawned_and_released_by_complete_n_and_a_thread() {
    let c = Arc::new(Completion::new());
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(c.clone().wait_owned()))
        .collect();
    c.complete_n(10);
    let completer = thread::spawn({
        let c = c.clone();
        move || {
            for _ in 0..10 {
                c.complete();
            }
        }
    });
    for t in tasks {
        tokio::time::timeout(PATIENCE, t).await.unwrap().unwrap();
    }
    completer.join().unwrap();
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn owned_wait_is_send_static_and_fused() {
    fn send_static<T: Send + 'static>(_: &T) {}
    let c = Arc::new(Completion::new());
    let (_, waker) = counting_waker();
    let mut w = Box::pin(c.clone().wait_owned());
    send_static(&w);
    assert!(Arc::ptr_eq(w.completion(), &c));
    assert!(!w.is_terminated());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert!(!w.is_terminated());
    c.complete();
    assert!(!w.is_terminated(), "handed, not yet Ready");
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert!(w.is_terminated());
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert!(!c.try_wait(), "polling again consumed nothing");
    assert_eq!(Arc::strong_count(&c), 2);
    drop(w);
    assert_eq!(Arc::strong_count(&c), 1, "the wait released its Arc");
}

#[test]
fn owned_wait_keeps_the_completion_alive() {
    let c = Arc::new(Completion::new());
    let (k, waker) = counting_waker();
    let mut w: std::pin::Pin<Box<OwnedWait>> = Box::pin(c.clone().wait_owned());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    let handle = w.completion().clone();
    drop(c); // the queued wait (and `handle`) still own it
    handle.complete();
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
}

#[test]
fn dropping_a_handed_owned_wait_passes_the_completion_on() {
    let c = Arc::new(Completion::new());
    let (_, waker_a) = counting_waker();
    let (kb, waker_b) = counting_waker();
    let mut a = Box::pin(c.clone().wait_owned());
    let mut b = Box::pin(c.clone().wait_owned());
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    assert!(poll_once(b.as_mut(), &waker_b).is_pending());
    c.complete(); // handed to `a`
    assert_eq!(kb.wakes(), 0);
    assert!(!c.try_wait());
    drop(a);
    assert_eq!(kb.wakes(), 1, "passed on to `b`");
    assert_eq!(poll_once(b.as_mut(), &waker_b), Poll::Ready(()));
    assert!(!c.try_wait(), "not duplicated");

    // With nobody behind it, a handed owned wait that is dropped banks the completion.
    let mut a = Box::pin(c.clone().wait_owned());
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    c.complete();
    drop(a);
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.try_wait());

    // A queued owned wait that was never handed anything just leaves.
    let mut a = Box::pin(c.clone().wait_owned());
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    drop(a);
    assert_eq!(snapshot(&c), state(0, false, false));
    c.complete();
    assert!(c.try_wait());
}

#[test]
fn dropping_a_handed_owned_wait_passes_the_completion_to_a_blocked_thread() {
    let c = Arc::new(Completion::new());
    let (_, waker) = counting_waker();
    let mut a = Box::pin(c.clone().wait_owned());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    let (tx, rx) = mpsc::channel();
    blocking_waiter(&c, "thread", &tx);
    thread::sleep(GRACE);
    c.complete(); // handed to `a`
    assert!(rx.recv_timeout(GRACE).is_err());
    drop(a);
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "thread");
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_a_spawned_owned_wait_loses_no_completion() {
    // Abort races with the hand-off: either the aborted task consumed the completion (it
    // returned Ready before the abort took effect) or the completion is back in the count.
    for _ in 0..50 {
        let c = Arc::new(Completion::new());
        let consumed = Arc::new(AtomicUsize::new(0));
        let victim = tokio::spawn({
            let (c, consumed) = (c.clone(), consumed.clone());
            async move {
                c.wait_owned().await;
                consumed.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::task::yield_now().await;
        c.complete();
        victim.abort();
        let _ = victim.await;
        // The victim's future has been dropped once its handle resolved.
        let banked = c.try_wait();
        assert_eq!(
            consumed.load(Ordering::SeqCst) + usize::from(banked),
            1,
            "the completion was lost or duplicated"
        );
    }
}

#[test]
fn wait_owned_with_futures_block_on() {
    let c = Arc::new(Completion::new());
    let worker = thread::spawn({
        let c = c.clone();
        move || {
            wait_until_queued(&c);
            c.complete();
        }
    });
    let wait = c.clone().wait_owned();
    futures::executor::block_on(wait);
    worker.join().unwrap();
    assert_eq!(snapshot(&c), state(0, false, false));
}
