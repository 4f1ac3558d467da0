//! The completion guards of issue 16 (method docs of `Completion::complete_on_drop`): `complete_on_drop`, `complete_all_on_drop`
//! and their owned forms, the kernel's `complete_and_exit()`.
//!
//! Every exit path is covered: a normal return, an early `?` return, a panic unwinding
//! (`catch_unwind`), and on tokio a task that is aborted (before and after it started), a
//! task that panics, and a `tokio::select!` that drops the branch holding the guard; on a
//! std thread a normal end and a panic. `disarm()` completes nothing and gives the
//! completion back; `completion()` names it. The counts are exact: `complete_on_drop`
//! posts exactly one completion, handed FIFO to the oldest queued waiter;
//! `complete_all_on_drop` makes the completion sticky.

mod common;

use std::fmt;
use std::num::ParseIntError;
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;

#[cfg(feature = "alloc")]
use std::sync::Arc;

use async_completion::{CompleteAllOnDrop, CompleteOnDrop, Completion, SpinLock};
#[cfg(feature = "alloc")]
use async_completion::{OwnedCompleteAllOnDrop, OwnedCompleteOnDrop};

use common::{block_on, counting_waker, expect_panic, poll_once, snapshot, state};

// ---------------------------------------------------------------------------------------
// complete_on_drop: every exit path posts exactly one completion
// ---------------------------------------------------------------------------------------

#[test]
fn complete_on_drop_completes_on_a_normal_return() {
    fn work(c: &Completion) -> u32 {
        let _guard = c.complete_on_drop();
        assert_eq!(
            snapshot(c),
            state(0, false, false),
            "nothing before the drop"
        );
        7
    }
    let c = Completion::new();
    assert_eq!(work(&c), 7);
    assert_eq!(snapshot(&c), state(1, false, false), "exactly one, banked");
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn complete_on_drop_completes_on_an_early_question_mark_return() {
    fn parse(c: &Completion, input: &str) -> Result<u32, ParseIntError> {
        let _guard = c.complete_on_drop();
        let n: u32 = input.parse()?;
        Ok(n + 1)
    }
    let c = Completion::new();
    assert!(parse(&c, "not a number").is_err());
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the `?` exit completed once"
    );
    assert_eq!(parse(&c, "41"), Ok(42));
    assert_eq!(
        snapshot(&c),
        state(2, false, false),
        "the `Ok` exit completed once"
    );
    assert!(c.try_wait() && c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn complete_on_drop_completes_on_an_early_question_mark_return_in_an_async_fn() {
    async fn step(fail: bool) -> Result<(), &'static str> {
        if fail {
            Err("step failed")
        } else {
            Ok(())
        }
    }
    async fn work(c: &Completion, fail: bool) -> Result<(), &'static str> {
        let _guard = c.complete_on_drop();
        step(fail).await?;
        Ok(())
    }
    let c = Completion::new();
    assert_eq!(block_on(work(&c, true)), Err("step failed"));
    assert_eq!(snapshot(&c), state(1, false, false));
    assert_eq!(block_on(work(&c, false)), Ok(()));
    assert_eq!(snapshot(&c), state(2, false, false));
}

#[test]
fn complete_on_drop_completes_when_a_panic_unwinds() {
    let c = Completion::new();
    expect_panic(|| {
        let _guard = c.complete_on_drop();
        panic!("the worker failed half-way");
    });
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "exactly one completion"
    );
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn complete_on_drop_hands_its_completion_to_the_oldest_queued_waiter() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let (kb, wb) = counting_waker();
    let (kc, wc) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    let mut w3 = Box::pin(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(w3.as_mut(), &wc).is_pending());

    expect_panic(|| {
        let _guard = c.complete_on_drop();
        panic!("boom");
    });
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 0, 0), "only A");
    assert!(!c.try_wait(), "the completion belongs to A: nothing banked");
    assert_eq!(snapshot(&c), state(0, false, true), "B and C still queued");
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));

    {
        let _guard = c.complete_on_drop();
    }
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 1, 0), "then B");
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert!(poll_once(w3.as_mut(), &wc).is_pending());
    drop(w3);
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn complete_on_drop_after_complete_all_changes_nothing() {
    let c = Completion::new();
    c.complete_all();
    {
        let _guard = c.complete_on_drop();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    assert!(c.try_wait() && c.try_wait(), "still sticky");
}

#[test]
fn several_guards_post_one_completion_each() {
    let c = Completion::new();
    {
        let _a = c.complete_on_drop();
        let _b = c.complete_on_drop();
        let _c = c.complete_on_drop();
    }
    assert_eq!(snapshot(&c), state(3, false, false));
}

// ---------------------------------------------------------------------------------------
// complete_all_on_drop: every exit path makes the completion sticky
// ---------------------------------------------------------------------------------------

#[test]
fn complete_all_on_drop_completes_for_all_on_a_normal_return() {
    let c = Completion::new();
    {
        let _guard = c.complete_all_on_drop();
        assert!(!c.is_done());
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    for _ in 0..3 {
        assert!(c.try_wait(), "sticky: nothing consumed");
    }
    block_on(c.wait());
    block_on(c.wait());
}

#[test]
fn complete_all_on_drop_completes_for_all_on_an_early_question_mark_return() {
    fn setup(c: &Completion, port: &str) -> Result<u16, ParseIntError> {
        let _guard = c.complete_all_on_drop();
        port.parse()
    }
    let c = Completion::new();
    assert!(setup(&c, "eighty").is_err());
    assert_eq!(snapshot(&c), state(0, true, false));
    c.reinit();
    assert_eq!(setup(&c, "80"), Ok(80));
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn complete_all_on_drop_releases_every_queued_waiter_when_a_panic_unwinds() {
    let c = Completion::new();
    let wakers: Vec<_> = (0..5).map(|_| counting_waker()).collect();
    let mut waits: Vec<_> = (0..5).map(|_| Box::pin(c.wait())).collect();
    for (w, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(w.as_mut(), waker).is_pending());
    }
    expect_panic(|| {
        let _guard = c.complete_all_on_drop();
        panic!("the supervisor crashed");
    });
    for (w, (k, waker)) in waits.iter_mut().zip(&wakers) {
        assert_eq!(k.wakes(), 1, "each waiter woken exactly once");
        assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()));
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    // A wait that arrives later is ready at once.
    let (k, waker) = counting_waker();
    let mut late = pin!(c.wait());
    assert_eq!(poll_once(late.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(k.wakes(), 0);
}

#[test]
fn complete_all_on_drop_is_idempotent() {
    let c = Completion::new();
    c.complete_all();
    {
        let _a = c.complete_all_on_drop();
        let _b = c.complete_all_on_drop();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn complete_all_on_drop_keeps_nothing_of_the_banked_count() {
    // complete_all is sticky; reinit afterwards clears the count too, as the kernel's.
    let c = Completion::new();
    c.complete_n(2);
    {
        let _guard = c.complete_all_on_drop();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    c.reinit();
    assert_eq!(snapshot(&c), state(0, false, false));
}

// ---------------------------------------------------------------------------------------
// disarm() and completion()
// ---------------------------------------------------------------------------------------

#[test]
fn disarm_completes_nothing_and_returns_the_completion() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());

    let guard = c.complete_on_drop();
    let back: &Completion = guard.disarm();
    assert!(std::ptr::eq(back, &c));
    assert_eq!(k.wakes(), 0, "the queued waiter was not served");
    assert_eq!(snapshot(&c), state(0, false, true));

    let guard = c.complete_all_on_drop();
    let back: &Completion = guard.disarm();
    assert!(std::ptr::eq(back, &c));
    assert_eq!(k.wakes(), 0);
    assert_eq!(snapshot(&c), state(0, false, true), "not completed for all");

    // The disarmed guard's completion is usable as before.
    back.complete();
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn disarm_on_the_success_path_only() {
    // The "complete only on failure" pattern (tokio #6956): disarm once the work succeeded.
    fn work(c: &Completion, fail: bool) -> Result<(), &'static str> {
        let guard = c.complete_all_on_drop();
        if fail {
            return Err("failed");
        }
        guard.disarm();
        Ok(())
    }
    let c = Completion::new();
    assert_eq!(work(&c, false), Ok(()));
    assert!(!c.is_done());
    assert_eq!(work(&c, true), Err("failed"));
    assert!(c.is_done());
}

#[test]
fn completion_accessor_names_the_guarded_completion() {
    let c = Completion::new();
    let guard = c.complete_on_drop();
    assert!(std::ptr::eq(guard.completion(), &c));
    // The accessor can be used while the guard is armed; the drop still completes once.
    guard.completion().complete();
    assert_eq!(snapshot(&c), state(1, false, false));
    drop(guard);
    assert_eq!(snapshot(&c), state(2, false, false));

    let guard = c.complete_all_on_drop();
    assert!(std::ptr::eq(guard.completion(), &c));
    assert!(guard.completion().try_wait());
    drop(guard);
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn guards_show_their_completion_in_debug() {
    let c = Completion::new();
    let guard = c.complete_on_drop();
    assert_eq!(
        format!("{guard:?}"),
        format!(
            "CompleteOnDrop {{ completion: {} }}",
            state(0, false, false)
        )
    );
    guard.disarm();
    let guard = c.complete_all_on_drop();
    assert_eq!(
        format!("{guard:?}"),
        format!(
            "CompleteAllOnDrop {{ completion: {} }}",
            state(0, false, false)
        )
    );
    guard.disarm();
}

#[test]
fn guards_work_with_another_lock() {
    let c: Completion<SpinLock> = Completion::with_lock();
    {
        let guard: CompleteOnDrop<'_, SpinLock> = c.complete_on_drop();
        assert!(std::ptr::eq(guard.completion(), &c));
    }
    assert!(c.try_wait());
    {
        let _guard: CompleteAllOnDrop<'_, SpinLock> = c.complete_all_on_drop();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
}

// ---------------------------------------------------------------------------------------
// Send / 'static (compile-time)
// ---------------------------------------------------------------------------------------

fn assert_send<T: Send>(_: &T) {}
#[cfg(feature = "alloc")]
fn assert_static_send<T: Send + 'static>(_: &T) {}

#[test]
fn borrowed_guards_are_send() {
    let c = Completion::new();
    let a = c.complete_on_drop();
    let b = c.complete_all_on_drop();
    assert_send(&a);
    assert_send(&b);
    // So they move into scoped threads.
    std::thread::scope(|s| {
        s.spawn(move || drop(a));
        s.spawn(move || drop(b));
    });
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[cfg(feature = "alloc")]
#[test]
fn owned_guards_are_static_and_send() {
    let c = Arc::new(Completion::new());
    let a: OwnedCompleteOnDrop = c.clone().complete_on_drop_owned();
    let b: OwnedCompleteAllOnDrop = c.clone().complete_all_on_drop_owned();
    assert_static_send(&a);
    assert_static_send(&b);
    fn spawnable<T: Send + 'static>(t: T) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || drop(t))
    }
    spawnable(a).join().unwrap();
    assert_eq!(snapshot(&c), state(1, false, false));
    spawnable(b).join().unwrap();
    assert_eq!(snapshot(&c), state(0, true, false));
}

// ---------------------------------------------------------------------------------------
// Owned guards: the same exit paths, disarm gives the Arc back
// ---------------------------------------------------------------------------------------

#[cfg(feature = "alloc")]
#[test]
fn owned_guards_complete_on_return_question_mark_and_panic() {
    fn work(guard: OwnedCompleteOnDrop, input: &str) -> Result<u8, ParseIntError> {
        let _guard = guard;
        input.parse()
    }
    let c = Arc::new(Completion::new());
    assert_eq!(work(c.clone().complete_on_drop_owned(), "8"), Ok(8));
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(work(c.clone().complete_on_drop_owned(), "x").is_err());
    assert_eq!(snapshot(&c), state(2, false, false));
    let guard = c.clone().complete_on_drop_owned();
    expect_panic(move || {
        let _guard = guard;
        panic!("boom");
    });
    assert_eq!(snapshot(&c), state(3, false, false));
    assert_eq!(Arc::strong_count(&c), 1, "every guard let its Arc go");

    let guard = c.clone().complete_all_on_drop_owned();
    expect_panic(move || {
        let _guard = guard;
        panic!("boom");
    });
    assert_eq!(snapshot(&c), state(0, true, false));
    assert_eq!(Arc::strong_count(&c), 1);
}

#[cfg(feature = "alloc")]
#[test]
fn owned_guard_keeps_the_completion_alive() {
    let c = Arc::new(Completion::new());
    let guard = c.clone().complete_on_drop_owned();
    let weak = Arc::downgrade(&c);
    drop(c);
    assert!(weak.upgrade().is_some(), "the guard holds the completion");
    assert!(!guard.completion().is_done());
    let back = guard.disarm();
    assert!(!back.is_done(), "disarmed: nothing posted");
    drop(back);
    assert!(
        weak.upgrade().is_none(),
        "disarm gave back the guard's only Arc"
    );
}

#[cfg(feature = "alloc")]
#[test]
fn owned_disarm_returns_the_same_arc_and_completes_nothing() {
    let c = Arc::new(Completion::new());
    let (k, waker) = counting_waker();
    let mut w = Box::pin(c.clone().wait_owned());
    assert!(poll_once(w.as_mut(), &waker).is_pending());

    let guard = c.clone().complete_on_drop_owned();
    assert!(std::ptr::eq(guard.completion(), &*c));
    let back: Arc<Completion> = guard.disarm();
    assert!(Arc::ptr_eq(&back, &c));
    assert_eq!(
        Arc::strong_count(&c),
        3,
        "c, the wait, and the Arc given back"
    );
    drop(back);

    let guard = c.clone().complete_all_on_drop_owned();
    assert!(std::ptr::eq(guard.completion(), &*c));
    let back: Arc<Completion> = guard.disarm();
    assert!(Arc::ptr_eq(&back, &c));
    drop(back);

    assert_eq!(k.wakes(), 0);
    assert_eq!(snapshot(&c), state(0, false, true));
    drop(w);
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[cfg(feature = "alloc")]
#[test]
fn owned_guards_show_their_completion_in_debug() {
    let c = Arc::new(Completion::new());
    let g = c.clone().complete_on_drop_owned();
    assert_eq!(
        format!("{g:?}"),
        format!(
            "OwnedCompleteOnDrop {{ completion: {} }}",
            state(0, false, false)
        )
    );
    g.disarm();
    let g = c.clone().complete_all_on_drop_owned();
    assert_eq!(
        format!("{g:?}"),
        format!(
            "OwnedCompleteAllOnDrop {{ completion: {} }}",
            state(0, false, false)
        )
    );
    g.disarm();
}

// ---------------------------------------------------------------------------------------
// std threads
// ---------------------------------------------------------------------------------------

#[cfg(feature = "alloc")]
#[test]
fn owned_guard_in_a_thread_completes_when_the_thread_panics() {
    let c = Arc::new(Completion::new());
    let guard = c.clone().complete_on_drop_owned();
    let worker = std::thread::spawn(move || {
        let _guard = guard;
        panic!("the worker thread failed");
    });
    assert!(worker.join().is_err(), "the thread panicked");
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[cfg(feature = "std")]
#[test]
fn owned_guard_releases_a_blocked_waiter_however_the_thread_ends() {
    for panics in [false, true] {
        let c = Arc::new(Completion::new());
        let waiter = std::thread::spawn({
            let c = c.clone();
            move || c.wait_blocking()
        });
        let worker = std::thread::spawn({
            let guard = c.clone().complete_on_drop_owned();
            move || {
                let _guard = guard;
                if panics {
                    panic!("the worker thread failed");
                }
            }
        });
        assert_eq!(worker.join().is_err(), panics);
        waiter.join().unwrap();
        assert_eq!(
            snapshot(&c),
            state(0, false, false),
            "consumed by the waiter"
        );
    }
}

#[cfg(feature = "std")]
#[test]
fn owned_all_guard_in_a_thread_releases_every_blocked_waiter_on_panic() {
    let c = Arc::new(Completion::new());
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || c.wait_blocking())
        })
        .collect();
    let worker = std::thread::spawn({
        let guard = c.clone().complete_all_on_drop_owned();
        move || {
            let _guard = guard;
            panic!("the supervisor thread crashed");
        }
    });
    assert!(worker.join().is_err());
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn borrowed_guard_in_a_scoped_thread_that_panics() {
    let c = Completion::new();
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let _guard = c.complete_on_drop();
            panic!("the scoped worker failed");
        });
        assert!(worker.join().is_err());
    });
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// The documented pattern: a result slot written before the completion
// ---------------------------------------------------------------------------------------

struct Setup {
    done: Completion,
    result: Mutex<Option<Result<u16, String>>>,
}

impl Setup {
    fn new() -> Self {
        Self {
            done: Completion::new(),
            result: Mutex::new(None),
        }
    }

    /// The worker: the guard completes on every exit; the slot says how it ended.
    fn run(&self, input: &str, panic: bool) -> Result<(), String> {
        let _guard = self.done.complete_all_on_drop();
        if panic {
            panic!("setup crashed before reporting");
        }
        let port: u16 = input.parse().map_err(|e| format!("{e}"))?;
        *self.result.lock().unwrap() = Some(Ok(port));
        Ok(())
    }

    /// The waiter: waits, then reads the slot.
    fn outcome(&self) -> Outcome {
        block_on(self.done.wait());
        match self.result.lock().unwrap().clone() {
            Some(Ok(port)) => Outcome::Ready(port),
            Some(Err(e)) => Outcome::Failed(e),
            None => Outcome::NeverReported,
        }
    }
}

#[derive(PartialEq)]
enum Outcome {
    Ready(u16),
    Failed(String),
    NeverReported,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ready(p) => write!(f, "Ready({p})"),
            Outcome::Failed(e) => write!(f, "Failed({e})"),
            Outcome::NeverReported => f.write_str("NeverReported"),
        }
    }
}

#[test]
fn a_waiter_released_by_the_guard_reads_the_result_slot() {
    // Success: the slot holds the port.
    let setup = Setup::new();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| setup.outcome());
        s.spawn(|| setup.run("8080", false))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(waiter.join().unwrap(), Outcome::Ready(8080));
    });

    // An early `?` return: the slot is empty, the waiter is released all the same.
    let setup = Setup::new();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| setup.outcome());
        assert!(s
            .spawn(|| setup.run("http", false))
            .join()
            .unwrap()
            .is_err());
        assert_eq!(waiter.join().unwrap(), Outcome::NeverReported);
    });

    // A panic: the same.
    let setup = Setup::new();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| setup.outcome());
        assert!(s.spawn(|| setup.run("80", true)).join().is_err());
        assert_eq!(waiter.join().unwrap(), Outcome::NeverReported);
    });

    // A worker that records its error before returning: the waiter sees it.
    let setup = Setup::new();
    {
        let _guard = setup.done.complete_on_drop();
        *setup.result.lock().unwrap() = Some(Err("no such interface".into()));
    }
    assert_eq!(setup.outcome(), Outcome::Failed("no such interface".into()));
}

// ---------------------------------------------------------------------------------------
// tokio: task abort, task panic, cancellation by select!
// ---------------------------------------------------------------------------------------

#[cfg(feature = "alloc")]
#[tokio::test]
async fn owned_guard_completes_when_a_started_task_is_aborted() {
    let c = Arc::new(Completion::new());
    let started = Arc::new(Completion::new());
    let waiter = tokio::spawn(c.clone().wait_owned());
    let task = tokio::spawn({
        let guard = c.clone().complete_on_drop_owned();
        let started = started.clone();
        async move {
            let _guard = guard;
            started.complete();
            std::future::pending::<()>().await;
        }
    });
    started.wait().await;
    assert!(!c.is_done());
    assert!(!waiter.is_finished());
    task.abort();
    let err = task.await.unwrap_err();
    assert!(err.is_cancelled());
    waiter.await.unwrap();
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "one completion, consumed"
    );
    assert_eq!(Arc::strong_count(&c), 1);
}

#[cfg(feature = "alloc")]
#[tokio::test]
async fn owned_guard_completes_when_a_task_is_aborted_before_it_ever_ran() {
    let c = Arc::new(Completion::new());
    let task = tokio::spawn({
        let guard = c.clone().complete_on_drop_owned();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
    });
    task.abort(); // on this current-thread runtime the task has not been polled yet
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[cfg(feature = "alloc")]
#[tokio::test]
async fn owned_guard_completes_when_a_task_panics() {
    let c = Arc::new(Completion::new());
    let waiter = tokio::spawn(c.clone().wait_owned());
    let task = tokio::spawn({
        let guard = c.clone().complete_on_drop_owned();
        async move {
            let _guard = guard;
            tokio::task::yield_now().await;
            panic!("the task failed");
        }
    });
    assert!(task.await.unwrap_err().is_panic());
    waiter.await.unwrap();
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[cfg(feature = "alloc")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_all_guard_releases_every_waiting_task_when_its_task_is_aborted() {
    let c = Arc::new(Completion::new());
    let waiters: Vec<_> = (0..8)
        .map(|_| tokio::spawn(c.clone().wait_owned()))
        .collect();
    let task = tokio::spawn({
        let guard = c.clone().complete_all_on_drop_owned();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
    });
    tokio::task::yield_now().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    for w in waiters {
        w.await.unwrap();
    }
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[cfg(feature = "alloc")]
#[tokio::test]
async fn owned_all_guard_releases_every_waiting_task_when_its_task_panics() {
    let c = Arc::new(Completion::new());
    let waiters: Vec<_> = (0..4)
        .map(|_| tokio::spawn(c.clone().wait_owned()))
        .collect();
    let task = tokio::spawn({
        let guard = c.clone().complete_all_on_drop_owned();
        async move {
            let _guard = guard;
            tokio::task::yield_now().await;
            panic!("the supervisor task crashed");
        }
    });
    assert!(task.await.unwrap_err().is_panic());
    for w in waiters {
        w.await.unwrap();
    }
    assert!(c.is_done());
}

#[tokio::test]
async fn borrowed_guard_completes_when_select_drops_its_branch() {
    let c = Completion::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let work = async {
        let _guard = c.complete_on_drop();
        std::future::pending::<()>().await;
    };
    tx.send(()).unwrap();
    tokio::select! {
        biased;
        _ = work => unreachable!("never finishes"),
        _ = rx => {}
    }
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the cancelled branch completed"
    );
}

#[tokio::test]
async fn borrowed_all_guard_completes_when_select_drops_its_branch() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut queued = pin!(c.wait());
    assert!(poll_once(queued.as_mut(), &waker).is_pending());
    tokio::select! {
        _ = async {
            let _guard = c.complete_all_on_drop();
            tokio::task::yield_now().await; // started, then cancelled
            std::future::pending::<()>().await;
        } => unreachable!(),
        _ = tokio::task::yield_now() => {}
    }
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(queued.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[cfg(feature = "alloc")]
#[tokio::test]
async fn owned_guard_completes_when_select_drops_its_branch_in_a_loop() {
    // A worker loop that races each job against a tick; every cancelled job completes.
    let c = Arc::new(Completion::new());
    for i in 1..=3u32 {
        let guard = c.clone().complete_on_drop_owned();
        tokio::select! {
            biased;
            _ = async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            } => unreachable!(),
            _ = std::future::ready(()) => {}
        }
        assert_eq!(snapshot(&c), state(i, false, false));
    }
    assert_eq!(Arc::strong_count(&c), 1);
}

#[tokio::test]
async fn a_guard_in_a_finished_select_branch_completes_once() {
    let c = Completion::new();
    let r = tokio::select! {
        v = async {
            let _guard = c.complete_on_drop();
            5
        } => v,
        _ = std::future::pending::<()>() => unreachable!(),
    };
    assert_eq!(r, 5);
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[cfg(feature = "alloc")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_slot_pattern_with_a_panicking_task() {
    struct Shared {
        done: Completion,
        result: Mutex<Option<Result<u32, String>>>,
    }
    let shared = Arc::new(Shared {
        done: Completion::new(),
        result: Mutex::new(None),
    });
    let waiter = tokio::spawn({
        let shared = shared.clone();
        async move {
            shared.done.wait().await;
            shared.result.lock().unwrap().clone()
        }
    });
    let worker = tokio::spawn({
        let shared = shared.clone();
        async move {
            let _guard = shared.done.complete_all_on_drop();
            tokio::task::yield_now().await;
            panic!("the worker panicked before writing its result");
        }
    });
    assert!(worker.await.unwrap_err().is_panic());
    assert_eq!(
        waiter.await.unwrap(),
        None,
        "the waiter can tell: nothing reported"
    );
}
