//! `cargo bench --manifest-path benches/Cargo.toml`: every scenario on `async-completion` and on
//! each peer that offers the same operation, in one run.
//!
//! Peers: `tokio::sync::Notify`, `tokio::sync::Semaphore`, `event-listener` 5 (alone, and
//! with an `AtomicUsize` count as a counting signal), `maitake-sync`'s `WaitQueue`,
//! `async-lock`'s `Semaphore`, and for the fast paths a floor: the bare atomics a banked
//! completion needs (`fetch_add` to post, CAS-decrement to take). For blocking threads:
//! `std` and `parking_lot` `Mutex` + `Condvar`.
//!
//! Each group is one scenario; each benchmark id in it is one implementation. A peer is
//! absent from a group when it does not offer the operation; the group's doc comment says
//! why. Single-threaded scenarios are polled by hand with `Waker::noop()` (see `ops`);
//! multi-threaded ones run on a 2-worker tokio runtime or on two OS threads.
//!
//! Results and the machine they were measured on: `BENCHMARKS.md`.

mod ops;

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use async_completion::Completion;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use ops::threads::{
    contended_threads_run, ping_pong_threads_run, ParkingLotCondvar, StdCondvar, WAITERS,
};
use ops::{poll, EventCounter};

/// Names of the benchmark ids (the rows of `BENCHMARKS.md`).
const OURS: &str = "async_completion";
const NOTIFY: &str = "tokio_notify";
const TOKIO_SEM: &str = "tokio_semaphore";
const ASYNC_LOCK_SEM: &str = "async_lock_semaphore";
const MAITAKE: &str = "maitake_waitqueue";
const EVENT: &str = "event_listener";
const EVENT_COUNTER: &str = "event_listener_counter";
const FLOOR: &str = "floor_atomics";

// ---------------------------------------------------------------------------------------
// Single-threaded fast paths
// ---------------------------------------------------------------------------------------

/// `complete()` with nobody waiting, then a `wait()` whose first poll is `Ready`.
///
/// Absent: `event_listener` alone (`notify` stores nothing, so there is nothing to take
/// when no listener is queued; its row is `event_listener_counter`, the `AtomicUsize` +
/// `Event` pair its users build). Present with a caveat: `Notify` and `WaitQueue` store at
/// most one permit/wakeup (they coalesce), which this scenario does not exercise.
fn bank_then_take(c: &mut Criterion) {
    let mut g = c.benchmark_group("bank_then_take");
    let ours = Completion::new();
    g.bench_function(OURS, |b| {
        b.iter(|| ops::ours::bank_then_take(black_box(&ours)))
    });
    let notify = tokio::sync::Notify::new();
    g.bench_function(NOTIFY, |b| {
        b.iter(|| ops::tokio_notify::bank_then_take(black_box(&notify)))
    });
    let sem = tokio::sync::Semaphore::new(0);
    g.bench_function(TOKIO_SEM, |b| {
        b.iter(|| ops::tokio_semaphore::bank_then_take(black_box(&sem)))
    });
    let sem = async_lock::Semaphore::new(0);
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter(|| ops::async_lock_semaphore::bank_then_take(black_box(&sem)))
    });
    let queue = maitake_sync::WaitQueue::new();
    g.bench_function(MAITAKE, |b| {
        b.iter(|| ops::maitake_waitqueue::bank_then_take(black_box(&queue)))
    });
    let ev = EventCounter::new();
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter(|| ops::event_listener_counter::bank_then_take(black_box(&ev)))
    });
    let floor = AtomicU32::new(0);
    g.bench_function(FLOOR, |b| {
        b.iter(|| ops::floor::post_take(black_box(&floor)))
    });
    g.finish();
}

/// `complete()` then `try_wait()` (true).
///
/// Absent: `Notify` and `WaitQueue` (no non-waiting take), `event_listener` alone (stores
/// nothing; see `event_listener_counter`).
fn complete_try_wait(c: &mut Criterion) {
    let mut g = c.benchmark_group("complete_try_wait");
    let ours = Completion::new();
    g.bench_function(OURS, |b| {
        b.iter(|| ops::ours::complete_try_wait(black_box(&ours)))
    });
    let sem = tokio::sync::Semaphore::new(0);
    g.bench_function(TOKIO_SEM, |b| {
        b.iter(|| ops::tokio_semaphore::complete_try_wait(black_box(&sem)))
    });
    let sem = async_lock::Semaphore::new(0);
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter(|| ops::async_lock_semaphore::complete_try_wait(black_box(&sem)))
    });
    let ev = EventCounter::new();
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter(|| ops::event_listener_counter::complete_try_wait(black_box(&ev)))
    });
    let floor = AtomicU32::new(0);
    g.bench_function(FLOOR, |b| {
        b.iter(|| ops::floor::post_take(black_box(&floor)))
    });
    g.finish();
}

/// One waiter polled once (`Pending`, queued), `complete()`, poll again (`Ready`).
///
/// Every peer offers it: `event_listener` alone fits here (the listener is queued before
/// `notify(1)`); its stack listener (`listener!`) is used, which allocates nothing. No
/// floor: a queued hand-off needs a lock or a lock-free list, not one atomic.
fn handoff_one(c: &mut Criterion) {
    let mut g = c.benchmark_group("handoff_one");
    let ours = Completion::new();
    g.bench_function(OURS, |b| {
        b.iter(|| ops::ours::handoff_one(black_box(&ours)))
    });
    let notify = tokio::sync::Notify::new();
    g.bench_function(NOTIFY, |b| {
        b.iter(|| ops::tokio_notify::handoff_one(black_box(&notify)))
    });
    let sem = tokio::sync::Semaphore::new(0);
    g.bench_function(TOKIO_SEM, |b| {
        b.iter(|| ops::tokio_semaphore::handoff_one(black_box(&sem)))
    });
    let sem = async_lock::Semaphore::new(0);
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter(|| ops::async_lock_semaphore::handoff_one(black_box(&sem)))
    });
    let queue = maitake_sync::WaitQueue::new();
    g.bench_function(MAITAKE, |b| {
        b.iter(|| ops::maitake_waitqueue::handoff_one(black_box(&queue)))
    });
    let event = event_listener::Event::new();
    g.bench_function(EVENT, |b| {
        b.iter(|| ops::event_listener_raw::handoff_one(black_box(&event)))
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Re-polls and races of a single wait (the paths of `select!` loops, `join!` siblings,
// spurious wake-ups, `wait_or` / `wait_timeout`), polled by hand
// ---------------------------------------------------------------------------------------

/// One group: the single-threaded `$scenario` of `ops` on `async-completion` and on every
/// peer that queues a waiter (all of them offer the four scenarios below).
macro_rules! every_queue_peer {
    ($c:expr, $group:expr, $scenario:ident) => {{
        let mut g = $c.benchmark_group($group);
        let ours = Completion::new();
        g.bench_function(OURS, |b| b.iter(|| ops::ours::$scenario(black_box(&ours))));
        let notify = tokio::sync::Notify::new();
        g.bench_function(NOTIFY, |b| {
            b.iter(|| ops::tokio_notify::$scenario(black_box(&notify)))
        });
        let sem = tokio::sync::Semaphore::new(0);
        g.bench_function(TOKIO_SEM, |b| {
            b.iter(|| ops::tokio_semaphore::$scenario(black_box(&sem)))
        });
        let sem = async_lock::Semaphore::new(0);
        g.bench_function(ASYNC_LOCK_SEM, |b| {
            b.iter(|| ops::async_lock_semaphore::$scenario(black_box(&sem)))
        });
        let queue = maitake_sync::WaitQueue::new();
        g.bench_function(MAITAKE, |b| {
            b.iter(|| ops::maitake_waitqueue::$scenario(black_box(&queue)))
        });
        let event = event_listener::Event::new();
        g.bench_function(EVENT, |b| {
            b.iter(|| ops::event_listener_raw::$scenario(black_box(&event)))
        });
        g.finish();
    }};
}

/// A wait polled once (`Pending`, queued), re-polled `ops::REPOLLS` (8) times with the same
/// waker (`Pending`), then handed its completion and polled (`Ready`): time per whole
/// sequence. The cost of one re-poll is `(repoll_queued - handoff_one) / 8`, both from the
/// same run (`benches/report.py` computes it).
///
/// Every peer offers it: each re-polls its queued future (`event_listener` alone with the
/// stack listener, as in `handoff_one`). No floor: the waiter is queued.
fn repoll_queued(c: &mut Criterion) {
    every_queue_peer!(c, "repoll_queued", repoll_queued);
}

/// A wait raced against a future that is ready at once, nothing banked: ours is
/// `wait_or(ready(()))`; each peer's is `ops::race` (poll the wait, then the ready future;
/// drop the wait, which leaves its queue), the shape of `futures::select_biased!`.
fn wait_or_ready(c: &mut Criterion) {
    every_queue_peer!(c, "wait_or_ready", wait_or_ready);
}

/// `wait_timeout` with a timer whose sleep is ready at once (a closure timer, non-zero
/// timeout), nothing banked: `Err(TimedOut)`. The peers have no timed wait other than a
/// race with a sleep, so theirs is `ops::race` against the same ready sleep (the same
/// code as their `wait_or_ready`).
fn wait_timeout_ready(c: &mut Criterion) {
    every_queue_peer!(c, "wait_timeout_ready", wait_timeout_ready);
}

/// A wait pinned once before a `tokio::select! { biased; ... }` loop whose second branch
/// (a ready future) wins `ops::SELECT_WINS` (8) times; its last win posts the completion,
/// which the next turn takes (time per whole loop). The pattern the crate docs recommend
/// for `select!` in a loop; every peer offers it.
fn select_loop(c: &mut Criterion) {
    every_queue_peer!(c, "select_loop", select_loop);
}

// ---------------------------------------------------------------------------------------
// The same re-polls in a task of tokio's current-thread runtime
// ---------------------------------------------------------------------------------------

/// Runs `scenario` `iters` times inside one `block_on` of tokio's current-thread runtime
/// (what `#[tokio::main(flavor = "current_thread")]` and `#[tokio::test]` run), every poll
/// made with the task's own waker: a real executor's waker, whose clone may not compare
/// equal to it, instead of `Waker::noop`. Returns the time of the iterations alone. The
/// task runs `unconstrained`: all the iterations are one poll of the task, whose budget of
/// tokio's cooperative scheduling would otherwise run out and make tokio's own primitives
/// return `Pending` with a permit available (a real task gets a fresh budget each poll).
fn in_current_thread_task(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    scenario: impl Fn(&Waker),
) -> Duration {
    rt.block_on(tokio::task::unconstrained(std::future::poll_fn(|cx| {
        let start = Instant::now();
        for _ in 0..iters {
            scenario(cx.waker());
        }
        Poll::Ready(start.elapsed())
    })))
}

/// One group: `$scenario` (a `_with` scenario of `ops`) in a current-thread runtime's task,
/// on `async-completion` and every peer that queues a waiter.
macro_rules! every_queue_peer_in_task {
    ($c:expr, $group:expr, $scenario:ident) => {{
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut g = $c.benchmark_group($group);
        let ours = Completion::new();
        g.bench_function(OURS, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| ops::ours::$scenario(black_box(&ours), w))
            })
        });
        let notify = tokio::sync::Notify::new();
        g.bench_function(NOTIFY, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| {
                    ops::tokio_notify::$scenario(black_box(&notify), w)
                })
            })
        });
        let sem = tokio::sync::Semaphore::new(0);
        g.bench_function(TOKIO_SEM, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| {
                    ops::tokio_semaphore::$scenario(black_box(&sem), w)
                })
            })
        });
        let sem = async_lock::Semaphore::new(0);
        g.bench_function(ASYNC_LOCK_SEM, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| {
                    ops::async_lock_semaphore::$scenario(black_box(&sem), w)
                })
            })
        });
        let queue = maitake_sync::WaitQueue::new();
        g.bench_function(MAITAKE, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| {
                    ops::maitake_waitqueue::$scenario(black_box(&queue), w)
                })
            })
        });
        let event = event_listener::Event::new();
        g.bench_function(EVENT, |b| {
            b.iter_custom(|n| {
                in_current_thread_task(&rt, n, |w| {
                    ops::event_listener_raw::$scenario(black_box(&event), w)
                })
            })
        });
        g.finish();
    }};
}

/// `repoll_queued` in a task of tokio's current-thread runtime: the 8 re-polls use the
/// task's waker (the crate's lock-free re-poll must recognise it: issue 23).
fn repoll_queued_current_thread(c: &mut Criterion) {
    every_queue_peer_in_task!(c, "repoll_queued_current_thread", repoll_queued_with);
}

/// `select_loop` in a task of tokio's current-thread runtime.
fn select_loop_current_thread(c: &mut Criterion) {
    every_queue_peer_in_task!(c, "select_loop_current_thread", select_loop_with);
}

// ---------------------------------------------------------------------------------------
// Many queued waiters, polled by hand
// ---------------------------------------------------------------------------------------

/// A reusable buffer of futures that are polled in place.
///
/// All `n` futures are pushed before any of them is pinned, the buffer never grows while
/// they live, and [`clear`](Self::clear) drops them in place: that is the pinning contract.
/// Reusing the buffer keeps allocation out of the measurement (except where a peer's own
/// future allocates).
struct PinnedSlab<F> {
    futures: Vec<F>,
}

impl<F: Future> PinnedSlab<F> {
    fn with_capacity(n: usize) -> Self {
        Self {
            futures: Vec::with_capacity(n),
        }
    }

    /// Fills the (empty) slab with `n` futures from `make`.
    fn fill(&mut self, n: usize, mut make: impl FnMut() -> F) {
        assert!(self.futures.is_empty() && self.futures.capacity() >= n);
        self.futures.extend((0..n).map(|_| make()));
    }

    fn get(&mut self, i: usize) -> Pin<&mut F> {
        // SAFETY: the futures are never moved out of the buffer: it is filled completely
        // before this is first called, never grows or shrinks while futures are in it
        // (so it does not reallocate), and `clear` drops them in place.
        unsafe { Pin::new_unchecked(&mut self.futures[i]) }
    }

    fn poll_all_pending(&mut self) {
        for i in 0..self.futures.len() {
            assert!(poll(self.get(i)).is_pending(), "waiter {i} was not queued");
        }
    }

    fn expect_ready(&mut self, i: usize) -> F::Output {
        match poll(self.get(i)) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("waiter {i} was not released"),
        }
    }

    fn clear(&mut self) {
        self.futures.clear();
    }
}

/// `n` waiters queued in order, then released one by one: post one completion, poll the
/// oldest waiter (`Ready`). Measures queueing, hand-off and the final poll of each waiter.
fn fifo_chain<F: Future>(
    slab: &mut PinnedSlab<F>,
    n: usize,
    make: impl FnMut() -> F,
    mut release_one: impl FnMut(),
    mut consume: impl FnMut(F::Output),
) {
    slab.fill(n, make);
    slab.poll_all_pending();
    for i in 0..n {
        release_one();
        consume(slab.expect_ready(i));
    }
    slab.clear();
}

const FIFO_N: usize = 1000;

/// `fifo_chain_1000`: 1000 queued waiters released one by one (throughput: per waiter).
///
/// Every peer serves its waiters in FIFO order here. `event_listener` alone uses the
/// heap-allocated `Event::listen()` (a stack listener cannot be kept in a collection), so
/// its row includes one allocation per waiter; `async_lock_semaphore` allocates one too,
/// inside `Acquire`, when it has to wait.
fn fifo_chain_1000(c: &mut Criterion) {
    let mut g = c.benchmark_group("fifo_chain_1000");
    g.throughput(Throughput::Elements(FIFO_N as u64));

    let ours = Completion::new();
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(OURS, |b| {
        b.iter(|| {
            let c = black_box(&ours);
            fifo_chain(&mut slab, FIFO_N, || c.wait(), || c.complete(), drop)
        })
    });

    let notify = tokio::sync::Notify::new();
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(NOTIFY, |b| {
        b.iter(|| {
            let n = black_box(&notify);
            fifo_chain(&mut slab, FIFO_N, || n.notified(), || n.notify_one(), drop)
        })
    });

    let sem = tokio::sync::Semaphore::new(0);
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(TOKIO_SEM, |b| {
        b.iter(|| {
            let s = black_box(&sem);
            fifo_chain(
                &mut slab,
                FIFO_N,
                || s.acquire(),
                || s.add_permits(1),
                |permit| permit.expect("open").forget(),
            )
        })
    });

    let sem = async_lock::Semaphore::new(0);
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter(|| {
            let s = black_box(&sem);
            fifo_chain(
                &mut slab,
                FIFO_N,
                || s.acquire(),
                || s.add_permits(1),
                |guard| guard.forget(),
            )
        })
    });

    let queue = maitake_sync::WaitQueue::new();
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(MAITAKE, |b| {
        b.iter(|| {
            let q = black_box(&queue);
            fifo_chain(
                &mut slab,
                FIFO_N,
                || q.wait(),
                || q.wake(),
                |r| r.expect("open"),
            )
        })
    });

    let event = event_listener::Event::new();
    let mut slab = PinnedSlab::with_capacity(FIFO_N);
    g.bench_function(EVENT, |b| {
        b.iter(|| {
            let e = black_box(&event);
            fifo_chain(
                &mut slab,
                FIFO_N,
                || e.listen(),
                || {
                    e.notify(1);
                },
                drop,
            )
        })
    });
    g.finish();
}

/// `n` waiters queued, one broadcast, then every waiter polled (`Ready`).
fn broadcast<F: Future>(
    slab: &mut PinnedSlab<F>,
    n: usize,
    make: impl FnMut() -> F,
    release_all: impl FnOnce(),
) {
    slab.fill(n, make);
    slab.poll_all_pending();
    release_all();
    for i in 0..n {
        slab.expect_ready(i);
    }
    slab.clear();
}

/// `broadcast_1000` / `broadcast_10000`: `complete_all()` over queued waiters, including
/// the polls that observe it (throughput: per waiter); `reinit()` after each iteration.
///
/// Peers: `Notify::notify_waiters`, `WaitQueue::wake_all`, `Event::notify(usize::MAX)`
/// (heap listeners, one allocation per waiter; see `fifo_chain_1000`). Absent: both
/// semaphores, which have no broadcast (`add_permits(n)` is `complete_n`, and `close()`
/// is terminal). Those peers need no reset: their broadcast is not sticky.
fn broadcast_n(c: &mut Criterion, n: usize) {
    let mut g = c.benchmark_group(format!("broadcast_{n}"));
    g.throughput(Throughput::Elements(n as u64));

    let ours = Completion::new();
    let mut slab = PinnedSlab::with_capacity(n);
    g.bench_function(OURS, |b| {
        b.iter(|| {
            let c = black_box(&ours);
            broadcast(&mut slab, n, || c.wait(), || c.complete_all());
            c.reinit();
        })
    });

    let notify = tokio::sync::Notify::new();
    let mut slab = PinnedSlab::with_capacity(n);
    g.bench_function(NOTIFY, |b| {
        b.iter(|| {
            let x = black_box(&notify);
            broadcast(&mut slab, n, || x.notified(), || x.notify_waiters())
        })
    });

    let queue = maitake_sync::WaitQueue::new();
    let mut slab = PinnedSlab::with_capacity(n);
    g.bench_function(MAITAKE, |b| {
        b.iter(|| {
            let q = black_box(&queue);
            broadcast(&mut slab, n, || q.wait(), || q.wake_all())
        })
    });

    let event = event_listener::Event::new();
    let mut slab = PinnedSlab::with_capacity(n);
    g.bench_function(EVENT, |b| {
        b.iter(|| {
            let e = black_box(&event);
            broadcast(
                &mut slab,
                n,
                || e.listen(),
                || {
                    e.notify(usize::MAX);
                },
            )
        })
    });
    g.finish();
}

fn broadcast_1000(c: &mut Criterion) {
    broadcast_n(c, 1000);
}

fn broadcast_10000(c: &mut Criterion) {
    broadcast_n(c, 10_000);
}

// ---------------------------------------------------------------------------------------
// Tasks on a multi-thread tokio runtime
// ---------------------------------------------------------------------------------------

/// A counting signal used from async tasks: post one, wait for one.
trait Signal: Send + Sync + 'static {
    fn new() -> Self;
    fn post(&self);
    fn take(&self) -> impl Future<Output = ()> + Send + '_;
}

impl Signal for Completion {
    fn new() -> Self {
        Completion::new()
    }
    fn post(&self) {
        self.complete();
    }
    fn take(&self) -> impl Future<Output = ()> + Send + '_ {
        self.wait()
    }
}

impl Signal for tokio::sync::Notify {
    fn new() -> Self {
        tokio::sync::Notify::new()
    }
    fn post(&self) {
        self.notify_one();
    }
    fn take(&self) -> impl Future<Output = ()> + Send + '_ {
        self.notified()
    }
}

impl Signal for tokio::sync::Semaphore {
    fn new() -> Self {
        tokio::sync::Semaphore::new(0)
    }
    fn post(&self) {
        self.add_permits(1);
    }
    async fn take(&self) {
        self.acquire().await.expect("open").forget();
    }
}

impl Signal for async_lock::Semaphore {
    fn new() -> Self {
        async_lock::Semaphore::new(0)
    }
    fn post(&self) {
        self.add_permits(1);
    }
    async fn take(&self) {
        self.acquire().await.forget();
    }
}

impl Signal for maitake_sync::WaitQueue {
    fn new() -> Self {
        maitake_sync::WaitQueue::new()
    }
    fn post(&self) {
        self.wake();
    }
    async fn take(&self) {
        self.wait().await.expect("open");
    }
}

impl Signal for EventCounter {
    fn new() -> Self {
        EventCounter::new()
    }
    fn post(&self) {
        self.complete();
    }
    fn take(&self) -> impl Future<Output = ()> + Send + '_ {
        self.wait()
    }
}

/// The runtime of the task scenarios: multi-thread, 2 workers (this machine has 2 cores).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime")
}

/// Two tasks, `iters` round trips: A posts to `ping` and waits on `pong`; B waits on
/// `ping` and posts to `pong`.
fn ping_pong<S: Signal>(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let ping = Arc::new(S::new());
    let pong = Arc::new(S::new());
    rt.block_on(async {
        let start = Instant::now();
        let a = tokio::spawn({
            let (ping, pong) = (ping.clone(), pong.clone());
            async move {
                for _ in 0..iters {
                    ping.post();
                    pong.take().await;
                }
            }
        });
        let b = tokio::spawn(async move {
            for _ in 0..iters {
                ping.take().await;
                pong.post();
            }
        });
        a.await.expect("task A");
        b.await.expect("task B");
        start.elapsed()
    })
}

/// `ping_pong_tasks`: two tasks on a 2-worker runtime completing each other in turn
/// (time per round trip).
///
/// Every peer offers it: each side posts once and waits once per round, so the coalescing
/// of `Notify`/`WaitQueue` (one stored permit) does not matter, and `event_listener` runs
/// as `event_listener_counter`.
fn ping_pong_tasks(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping_pong_tasks");
    let rt = runtime();
    g.bench_function(OURS, |b| b.iter_custom(|n| ping_pong::<Completion>(&rt, n)));
    g.bench_function(NOTIFY, |b| {
        b.iter_custom(|n| ping_pong::<tokio::sync::Notify>(&rt, n))
    });
    g.bench_function(TOKIO_SEM, |b| {
        b.iter_custom(|n| ping_pong::<tokio::sync::Semaphore>(&rt, n))
    });
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter_custom(|n| ping_pong::<async_lock::Semaphore>(&rt, n))
    });
    g.bench_function(MAITAKE, |b| {
        b.iter_custom(|n| ping_pong::<maitake_sync::WaitQueue>(&rt, n))
    });
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter_custom(|n| ping_pong::<EventCounter>(&rt, n))
    });
    g.finish();
}

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 4;
/// Completions per iteration of `contended` (divisible by both task counts).
const CONTENDED_N: usize = 10_000;

/// One iteration of `contended`: 2 producer tasks post `CONTENDED_N` completions in all,
/// 4 consumer tasks consume them all.
async fn contended_once<S: Signal>() -> Duration {
    let signal = Arc::new(S::new());
    let start = Instant::now();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let signal = signal.clone();
            tokio::spawn(async move {
                for _ in 0..CONTENDED_N / CONSUMERS {
                    signal.take().await;
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let signal = signal.clone();
            tokio::spawn(async move {
                for _ in 0..CONTENDED_N / PRODUCERS {
                    signal.post();
                }
            })
        })
        .collect();
    for task in consumers.into_iter().chain(producers) {
        task.await.expect("task");
    }
    start.elapsed()
}

fn contended_run<S: Signal>(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += contended_once::<S>().await;
        }
        total
    })
}

/// `contended`: 2 producer and 4 consumer tasks on a 2-worker runtime, 10 000 completions
/// per iteration (throughput: per completion).
///
/// Absent: `Notify` and `WaitQueue`: they keep at most one permit/wakeup, so completions
/// posted while nobody waits are merged and the consumers would never get them all (the
/// scenario would hang); they are not counting primitives. `event_listener` runs as
/// `event_listener_counter`.
fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended");
    g.throughput(Throughput::Elements(CONTENDED_N as u64));
    let rt = runtime();
    g.bench_function(OURS, |b| {
        b.iter_custom(|n| contended_run::<Completion>(&rt, n))
    });
    g.bench_function(TOKIO_SEM, |b| {
        b.iter_custom(|n| contended_run::<tokio::sync::Semaphore>(&rt, n))
    });
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter_custom(|n| contended_run::<async_lock::Semaphore>(&rt, n))
    });
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter_custom(|n| contended_run::<EventCounter>(&rt, n))
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------
// OS threads
// ---------------------------------------------------------------------------------------

// The scenarios: `ops/threads.rs` (shared with `src/bin/threads.rs`, which `ping_pong.sh`
// runs under `perf stat`).

/// `ping_pong_threads`: two OS threads completing each other in turn (time per round
/// trip): `wait_blocking` against `Mutex` + `Condvar` (std and `parking_lot`),
/// `async-lock`'s `acquire_blocking` and `event_listener_counter`'s blocking listener.
///
/// Absent: `Notify`, tokio's `Semaphore` and `WaitQueue`, which have no blocking wait.
fn ping_pong_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping_pong_threads");
    #[cfg(feature = "std")]
    g.bench_function(OURS, |b| b.iter_custom(ping_pong_threads_run::<Completion>));
    g.bench_function("std_mutex_condvar", |b| {
        b.iter_custom(ping_pong_threads_run::<StdCondvar>)
    });
    g.bench_function("parking_lot_mutex_condvar", |b| {
        b.iter_custom(ping_pong_threads_run::<ParkingLotCondvar>)
    });
    g.bench_function(ASYNC_LOCK_SEM, |b| {
        b.iter_custom(ping_pong_threads_run::<async_lock::Semaphore>)
    });
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter_custom(ping_pong_threads_run::<EventCounter>)
    });
    g.finish();
}

/// `contended_threads`: [`WAITERS`] OS threads blocking for completions, one thread
/// completing: per round one completion per waiter, then the completer blocks until every
/// waiter has posted back (throughput: per completion handed to a waiter). Beside
/// `Mutex` + `Condvar` (std and `parking_lot`), `async-lock`'s `acquire_blocking` and
/// `event_listener_counter`.
fn contended_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended_threads");
    g.throughput(Throughput::Elements(WAITERS as u64));
    #[cfg(feature = "std")]
    g.bench_function(OURS, |b| b.iter_custom(contended_threads_run::<Completion>));
    g.bench_function("std_mutex_condvar", |b| {
        b.iter_custom(contended_threads_run::<StdCondvar>)
    });
    g.bench_function("parking_lot_mutex_condvar", |b| {
        b.iter_custom(contended_threads_run::<ParkingLotCondvar>)
    });
    // No async-lock row: with 4 threads in `acquire_blocking` its `Semaphore` hangs here
    // (the full run at `69e02ff`, twice in a row: the posting thread and one waiter both
    // parked in event-listener's `wait_with_parker`, a permit posted and not taken). Its
    // `add_permits(n)` calls `event.notify(n)`, which notifies no one while n listeners
    // are notified and not yet run; `EventCounter` below uses `notify(1.additional())`.
    g.bench_function(EVENT_COUNTER, |b| {
        b.iter_custom(contended_threads_run::<EventCounter>)
    });
    g.finish();
}

/// Short enough that the whole run stays well under 15 minutes on 2 cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(40)
        .without_plots()
}

criterion_group! {
    name = fast_paths;
    config = config();
    targets = bank_then_take, complete_try_wait, handoff_one
}
criterion_group! {
    name = repolls;
    config = config();
    targets = repoll_queued, wait_or_ready, wait_timeout_ready, select_loop,
        repoll_queued_current_thread, select_loop_current_thread
}
criterion_group! {
    name = queued;
    config = config();
    targets = fifo_chain_1000, broadcast_1000, broadcast_10000
}
criterion_group! {
    name = threaded;
    config = config();
    targets = ping_pong_tasks, contended, ping_pong_threads, contended_threads
}
criterion_main!(fast_paths, repolls, queued, threaded);
