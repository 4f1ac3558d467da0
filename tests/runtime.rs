//! Integration on real executors and threads: every posted completion is consumed exactly
//! once, under contention and under cancellation (timeouts, `select!`, task abort).
//!
//! The big runs are skipped under Miri (which cannot run tokio's or async-std's reactors
//! in reasonable time); each has a scaled-down twin on plain threads that Miri runs.
//! No test asserts anything about elapsed time.

mod common;

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_completion::Completion;

use common::{counting_waker, poll_once};

/// Yields once to the executor (any executor).
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Counting: `total` completions, consumed by looping waiters
// ---------------------------------------------------------------------------------------

struct Counting {
    c: Completion,
    total: usize,
    consumed: AtomicUsize,
    /// Set once all `total` were consumed; the completions posted after it are "stop" pills.
    stop: AtomicBool,
    /// Completed by the consumer that consumed the last of `total`.
    all_consumed: Completion,
}

impl Counting {
    fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            c: Completion::new(),
            total,
            consumed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            all_consumed: Completion::new(),
        })
    }

    /// Loops on `wait().await`, counting, until it consumes a stop pill. Returns how many
    /// of the `total` it consumed.
    async fn consumer(self: Arc<Self>) -> usize {
        let mut mine = 0;
        loop {
            self.c.wait().await;
            // The pill's complete() happened after the store: visible here.
            if self.stop.load(Ordering::Relaxed) {
                return mine;
            }
            mine += 1;
            // AcqRel: whoever sees the last count happens after every consumer's wait,
            // so the final checks see the state those waits left.
            let consumed = self.consumed.fetch_add(1, Ordering::AcqRel) + 1;
            assert!(consumed <= self.total, "more waits than completions");
            if consumed == self.total {
                self.all_consumed.complete();
            }
        }
    }

    /// Posts `n` completions from a task, yielding now and then.
    async fn produce(&self, n: usize) {
        for i in 0..n {
            self.c.complete();
            if i % 64 == 0 {
                yield_now().await;
            }
        }
    }

    /// Posts `n` completions from a thread, partly in `complete_n` batches.
    fn produce_blocking(&self, n: usize) {
        let mut left = n;
        let mut i = 0;
        while left > 0 {
            let batch = (i % 4 + 1).min(left);
            if batch == 1 {
                self.c.complete();
            } else {
                self.c.complete_n(batch as u32);
            }
            left -= batch;
            i += 1;
            if i % 32 == 0 {
                std::thread::yield_now();
            }
        }
    }

    /// After `all_consumed`: checks nothing is left, then sends one stop pill per consumer.
    fn stop_consumers(&self, consumers: usize) {
        assert_eq!(self.consumed.load(Ordering::Relaxed), self.total);
        assert!(!self.c.is_done(), "a completion was left banked");
        assert!(!self.c.try_wait(), "a completion was left banked");
        self.stop.store(true, Ordering::Relaxed);
        self.c.complete_n(consumers as u32);
    }

    /// After every consumer returned, with `per_consumer` their results.
    fn check_end(&self, per_consumer: &[usize]) {
        assert_eq!(per_consumer.iter().sum::<usize>(), self.total);
        assert_eq!(self.consumed.load(Ordering::Relaxed), self.total);
        assert!(!self.c.try_wait(), "every stop pill was consumed once");
        assert!(!self.c.is_done());
    }
}

const GUARD: Duration = Duration::from_secs(300);

#[cfg_attr(miri, ignore)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_100k_completions_8_consumers() {
    const TOTAL: usize = 100_000;
    const CONSUMERS: usize = 8;
    let s = Counting::new(TOTAL);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| tokio::spawn(s.clone().consumer()))
        .collect();
    let task = tokio::spawn({
        let s = s.clone();
        async move { s.produce(TOTAL / 2).await }
    });
    let thread = std::thread::spawn({
        let s = s.clone();
        move || s.produce_blocking(TOTAL - TOTAL / 2)
    });

    tokio::time::timeout(GUARD, s.all_consumed.wait())
        .await
        .expect("stuck: not every completion was consumed");
    task.await.unwrap();
    thread.join().unwrap();
    s.stop_consumers(CONSUMERS);
    let mut per_consumer = Vec::new();
    for consumer in consumers {
        per_consumer.push(consumer.await.unwrap());
    }
    s.check_end(&per_consumer);
}

#[cfg_attr(miri, ignore)]
#[async_std::test]
async fn async_std_20k_completions_8_consumers() {
    const TOTAL: usize = 20_000;
    const CONSUMERS: usize = 8;
    let s = Counting::new(TOTAL);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| async_std::task::spawn(s.clone().consumer()))
        .collect();
    let task = async_std::task::spawn({
        let s = s.clone();
        async move { s.produce(TOTAL / 2).await }
    });
    let thread = std::thread::spawn({
        let s = s.clone();
        move || s.produce_blocking(TOTAL - TOTAL / 2)
    });

    async_std::future::timeout(GUARD, s.all_consumed.wait())
        .await
        .expect("stuck: not every completion was consumed");
    task.await;
    thread.join().unwrap();
    s.stop_consumers(CONSUMERS);
    let mut per_consumer = Vec::new();
    for consumer in consumers {
        per_consumer.push(consumer.await);
    }
    s.check_end(&per_consumer);
}

/// The scaled-down twin of the two above, on plain threads with `block_on`.
#[test]
fn threads_200_completions_4_consumers() {
    const TOTAL: usize = 200;
    const CONSUMERS: usize = 4;
    let s = Counting::new(TOTAL);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || futures::executor::block_on(s.consumer()))
        })
        .collect();
    let task = std::thread::spawn({
        let s = s.clone();
        move || futures::executor::block_on(s.produce(TOTAL / 2))
    });
    let thread = std::thread::spawn({
        let s = s.clone();
        move || s.produce_blocking(TOTAL - TOTAL / 2)
    });

    futures::executor::block_on(s.all_consumed.wait());
    task.join().unwrap();
    thread.join().unwrap();
    s.stop_consumers(CONSUMERS);
    let per_consumer: Vec<_> = consumers.into_iter().map(|t| t.join().unwrap()).collect();
    s.check_end(&per_consumer);
}

// ---------------------------------------------------------------------------------------
// Cancel storm: waits cancelled in every way while completions are posted
// ---------------------------------------------------------------------------------------

struct Storm {
    c: Completion,
    /// Waits that returned `Ready`.
    successes: AtomicUsize,
    stop: AtomicBool,
}

impl Storm {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            c: Completion::new(),
            successes: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        })
    }

    fn success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// With every wait gone: successes plus what is still banked must be `posted`.
    fn check_end(&self, posted: usize) {
        let mut drained = 0;
        while self.c.try_wait() {
            drained += 1;
        }
        let successes = self.successes.load(Ordering::Relaxed);
        assert_eq!(
            successes + drained,
            posted,
            "{successes} successful waits + {drained} banked != {posted} posted"
        );
        assert!(!self.c.is_done());
    }
}

/// A short, varying timeout (50 µs to ~1 ms).
fn short(i: u64) -> Duration {
    Duration::from_micros(50 + (i * 37) % 1000)
}

#[cfg_attr(miri, ignore)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_cancel_storm() {
    const POSTED: usize = 20_000;
    let s = Storm::new();
    let mut waiters = Vec::new();

    // `tokio::time::timeout` around the wait.
    for t in 0..4u64 {
        let s = s.clone();
        waiters.push(tokio::spawn(async move {
            let mut i = t;
            while !s.stopped() {
                i += 1;
                if tokio::time::timeout(short(i), s.c.wait()).await.is_ok() {
                    s.success();
                }
            }
        }));
    }
    // `select!` against a sleep, fair and sleep-first (a handed wait then loses).
    for t in 0..4u64 {
        let s = s.clone();
        waiters.push(tokio::spawn(async move {
            let mut i = t;
            while !s.stopped() {
                i += 1;
                if t % 2 == 0 {
                    tokio::select! {
                        () = s.c.wait() => s.success(),
                        () = tokio::time::sleep(short(i)) => {}
                    }
                } else {
                    tokio::select! {
                        biased;
                        () = tokio::time::sleep(short(i)) => {}
                        () = s.c.wait() => s.success(),
                    }
                }
            }
        }));
    }
    // Tasks aborted while queued (or just handed a completion).
    for t in 0..2u64 {
        let s = s.clone();
        waiters.push(tokio::spawn(async move {
            let mut i = t;
            while !s.stopped() {
                i += 1;
                let victim = tokio::spawn({
                    let s = s.clone();
                    async move {
                        loop {
                            s.c.wait().await;
                            s.success();
                        }
                    }
                });
                if i % 3 == 0 {
                    tokio::time::sleep(short(i)).await;
                } else {
                    for _ in 0..i % 5 {
                        tokio::task::yield_now().await;
                    }
                }
                victim.abort();
                let _ = victim.await;
            }
        }));
    }

    // Producers: two tasks and a thread.
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                // Bursts of 1 to 16, with pauses in which waits time out.
                let mut left = POSTED / 4;
                let mut i = 0;
                while left > 0 {
                    i += 1;
                    for _ in 0..(i % 16 + 1).min(left) {
                        s.c.complete();
                        left -= 1;
                    }
                    if i % 2 == 0 {
                        tokio::time::sleep(short(i as u64)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let thread = std::thread::spawn({
        let s = s.clone();
        move || {
            for i in 0..POSTED - 2 * (POSTED / 4) {
                s.c.complete();
                if i % 8 == 0 {
                    std::thread::sleep(short(i as u64));
                }
            }
        }
    });

    for task in tasks {
        task.await.unwrap();
    }
    thread.join().unwrap();
    s.stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(GUARD, async {
        for waiter in waiters {
            waiter.await.unwrap();
        }
    })
    .await
    .expect("stuck: a waiter did not finish");
    s.check_end(POSTED);
}

/// The scaled-down twin of `tokio_cancel_storm`, on plain threads polling by hand: each
/// wait is polled a few times and then dropped, often after it was handed a completion.
#[test]
fn threads_cancel_storm_small() {
    const POSTED: usize = 200;
    let s = Storm::new();
    let waiters: Vec<_> = (0..3u64)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let (_, waker) = counting_waker();
                let mut i = t;
                while !s.stopped() {
                    i += 1;
                    let mut wait = pin!(s.c.wait());
                    for _ in 0..i % 4 + 1 {
                        if poll_once(wait.as_mut(), &waker).is_ready() {
                            s.success();
                            break;
                        }
                        std::thread::yield_now();
                    }
                    // Dropped here: queued, handed or finished.
                }
            })
        })
        .collect();
    // A waiter racing its wait against a future that gives up after a few polls.
    let racer = std::thread::spawn({
        let s = s.clone();
        move || {
            let mut i = 0u64;
            while !s.stopped() {
                i += 1;
                let mut polls = i % 3;
                let give_up = poll_fn(|cx| {
                    if polls == 0 {
                        Poll::Ready(())
                    } else {
                        polls -= 1;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                });
                if futures::executor::block_on(s.c.wait_or(give_up)).is_ok() {
                    s.success();
                }
            }
        }
    });
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..POSTED / 2 {
                    s.c.complete();
                    std::thread::yield_now();
                }
            })
        })
        .collect();

    for producer in producers {
        producer.join().unwrap();
    }
    s.stop.store(true, Ordering::Relaxed);
    for waiter in waiters {
        waiter.join().unwrap();
    }
    racer.join().unwrap();
    s.check_end(POSTED);
}

/// A select between a completion and a future already ready: with the wait polled first
/// (`wait_or`), a completion wins; with `futures::select_biased!` the other way round, a
/// handed completion is passed on when the wait loses.
#[test]
fn losing_a_race_after_the_hand_off_passes_the_completion_on() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut loser = Box::pin(c.wait());
    assert!(poll_once(loser.as_mut(), &waker).is_pending());
    let (kn, wn) = counting_waker();
    let mut next = pin!(c.wait());
    assert!(poll_once(next.as_mut(), &wn).is_pending());
    c.complete(); // handed to `loser`
    let outcome = futures::executor::block_on(async {
        futures::select_biased! {
            () = futures::future::ready(()) => "other",
            () = loser.as_mut() => "wait",
        }
    });
    assert_eq!(outcome, "other");
    drop(loser);
    assert_eq!(kn.wakes(), 1);
    assert!(poll_once(next.as_mut(), &wn).is_ready());
    assert!(!c.try_wait());

    c.complete();
    let won = futures::executor::block_on(c.wait_or(futures::future::ready(())));
    assert_eq!(won, Ok(()), "the wait is polled first");
    assert!(!c.try_wait());
}
