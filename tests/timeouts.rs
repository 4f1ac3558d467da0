//! Timed and raced waits (method docs of `Completion::wait_or` and `wait_timeout`): `wait_or`, `wait_timeout`, the `Timer` trait, the
//! `TimedOut` error and the three adapters.
//!
//! The tokio tests run on tokio's paused clock, so instants are exact and nothing depends
//! on the machine's speed. The async-io and embassy tests use real (short) delays and only
//! assert outcomes, never how long anything took beyond "at least the timeout".
//!
//! `cargo test --test timeouts` runs everything but the adapter-specific tests, with tokio's
//! sleep passed as a closure timer; `cargo test --all-features --test timeouts` runs the
//! same tests through `TokioTimer` and adds the `AsyncIoTimer` and `EmbassyTimer` ones.

mod common;

use core::pin::pin;
use std::cell::Cell;
use std::error::Error;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(feature = "async-io")]
use async_completion::AsyncIoTimer;
#[cfg(feature = "embassy-time")]
use async_completion::EmbassyTimer;
#[cfg(feature = "tokio")]
use async_completion::TokioTimer;
use async_completion::{Completion, TimedOut, Timer, WaitOr, WaitTimeout};
use futures::future::FusedFuture;
use tokio::time::Instant;

use common::{counting_waker, poll_once};

/// tokio's (paused) clock as the timer: the `TokioTimer` adapter when the `tokio` feature
/// is on, else the same sleep passed as a closure timer.
#[cfg(feature = "tokio")]
const TOKIO: TokioTimer = TokioTimer;
#[cfg(not(feature = "tokio"))]
const TOKIO: fn(Duration) -> tokio::time::Sleep = tokio::time::sleep;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A future that is `Pending` on its first `pending_polls` polls (waking itself, so an
/// executor keeps polling it), then calls `on_ready` and is `Ready(output)`.
struct Step<F: FnMut() -> T, T> {
    pending_polls: usize,
    on_ready: F,
}

impl<F: FnMut() -> T + Unpin, T> Future for Step<F, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.pending_polls > 0 {
            self.pending_polls -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready((self.on_ready)())
    }
}

fn step<F: FnMut() -> T + Unpin, T>(pending_polls: usize, on_ready: F) -> Step<F, T> {
    Step {
        pending_polls,
        on_ready,
    }
}

fn assert_send<T: Send>(_: &T) {}

// ---------------------------------------------------------------------------------------
// wait_timeout on tokio's paused clock: exact instants
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn times_out_exactly_at_the_deadline() {
    let c = Completion::new();
    for d in [ms(1), ms(10), ms(250), Duration::from_secs(3600)] {
        let start = Instant::now();
        assert_eq!(c.wait_timeout(TOKIO, d).await, Err(TimedOut));
        assert_eq!(start.elapsed(), d);
    }
    assert!(!c.is_done());
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }",
        "the timed-out waits left the queue"
    );
}

#[tokio::test(start_paused = true)]
async fn completion_before_the_deadline_returns_ok_when_it_arrives() {
    let c = Arc::new(Completion::new());
    let start = Instant::now();
    let completer = tokio::spawn({
        let c = c.clone();
        async move {
            tokio::time::sleep(ms(30)).await;
            c.complete();
        }
    });
    assert_eq!(c.wait_timeout(TOKIO, ms(100)).await, Ok(()));
    assert_eq!(start.elapsed(), ms(30));
    completer.await.unwrap();
    assert!(!c.try_wait(), "the completion was consumed by the wait");
}

#[tokio::test(start_paused = true)]
async fn banked_completion_is_ok_at_once_even_with_a_zero_timeout() {
    let c = Completion::new();
    c.complete();
    let start = Instant::now();
    assert_eq!(c.wait_timeout(TOKIO, Duration::ZERO).await, Ok(()));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(c.wait_timeout(TOKIO, Duration::ZERO).await, Err(TimedOut));

    c.complete_all();
    for _ in 0..3 {
        assert_eq!(c.wait_timeout(TOKIO, Duration::ZERO).await, Ok(()));
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// The completion and the deadline in the same instant: the wait is polled first, so the
/// completion wins.
#[tokio::test(start_paused = true)]
async fn completion_in_the_same_instant_as_the_deadline_wins() {
    let c = Completion::new();
    // A twin with the same deadline on a completion nobody completes: proves that the
    // deadline really has passed when `wait` is polled.
    let twin = Completion::new();
    let (_, waker) = counting_waker();
    let start = Instant::now();
    let mut wait = pin!(c.wait_timeout(TOKIO, ms(50)));
    let mut control = pin!(twin.wait_timeout(TOKIO, ms(50)));
    assert!(poll_once(wait.as_mut(), &waker).is_pending());
    assert!(poll_once(control.as_mut(), &waker).is_pending());

    tokio::time::advance(ms(50)).await;
    assert_eq!(start.elapsed(), ms(50));
    assert_eq!(
        poll_once(control.as_mut(), &waker),
        Poll::Ready(Err(TimedOut))
    );

    c.complete(); // handed to `wait`, whose sleep is also over
    assert_eq!(poll_once(wait.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(!c.try_wait(), "consumed exactly once");
}

#[tokio::test(start_paused = true)]
async fn banked_completion_and_an_elapsed_deadline_on_the_first_poll_is_ok() {
    let c = Completion::new();
    let wait = c.wait_timeout(TOKIO, ms(20));
    tokio::time::sleep(ms(20)).await; // the deadline passes before the first poll
    c.complete();
    assert_eq!(wait.await, Ok(()));
    assert!(!c.try_wait());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_counts_from_the_wait_timeout_call_not_the_first_poll() {
    let c = Completion::new();
    let start = Instant::now();
    let wait = c.wait_timeout(TOKIO, ms(100));
    tokio::time::sleep(ms(60)).await;
    let first_poll = Instant::now();
    assert_eq!(wait.await, Err(TimedOut));
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(first_poll.elapsed(), ms(40));
}

#[tokio::test(start_paused = true)]
async fn a_wait_created_after_its_deadline_times_out_on_its_first_poll() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut wait = pin!(c.wait_timeout(TOKIO, ms(10)));
    tokio::time::sleep(ms(10)).await;
    assert_eq!(poll_once(wait.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert!(wait.is_terminated());
    c.complete();
    assert!(
        c.try_wait(),
        "the timed-out wait never queued: the completion is banked"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_waiter_does_not_keep_a_later_completion() {
    let c = Completion::new();
    assert_eq!(c.wait_timeout(TOKIO, ms(10)).await, Err(TimedOut));
    c.complete();
    assert!(c.is_done());
    assert!(
        c.try_wait(),
        "the completion was banked, not given to the timed-out wait"
    );
    assert!(!c.try_wait());
}

#[tokio::test(start_paused = true)]
async fn after_a_timeout_the_next_completion_goes_to_the_next_waiter() {
    let c = Arc::new(Completion::new());
    let start = Instant::now();
    let impatient = tokio::spawn({
        let c = c.clone();
        async move { (c.wait_timeout(TOKIO, ms(10)).await, start.elapsed()) }
    });
    let patient = tokio::spawn({
        let c = c.clone();
        async move { (c.wait_timeout(TOKIO, ms(100)).await, start.elapsed()) }
    });
    tokio::time::sleep(ms(20)).await;
    c.complete();
    assert_eq!(impatient.await.unwrap(), (Err(TimedOut), ms(10)));
    assert_eq!(patient.await.unwrap(), (Ok(()), ms(20)));
    assert!(!c.try_wait());
}

#[tokio::test(start_paused = true)]
async fn timed_out_waiters_in_the_middle_of_the_queue_keep_fifo_order() {
    let c = Arc::new(Completion::new());
    let start = Instant::now();
    // Queued in this order; the ones with 5 ms timeouts leave the queue at 5 ms.
    let timeouts = [ms(1000), ms(5), ms(1000), ms(5), ms(1000)];
    let mut tasks = Vec::new();
    for (i, d) in timeouts.into_iter().enumerate() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.wait_timeout(TOKIO, d).await;
            (i, r, start.elapsed())
        }));
        tokio::task::yield_now().await; // let it queue before the next one
    }
    tokio::time::sleep(ms(10)).await;
    c.complete(); // to task 0
    tokio::time::sleep(ms(10)).await;
    c.complete(); // to task 2
    tokio::time::sleep(ms(10)).await;
    c.complete(); // to task 4
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(
        results,
        [
            (0, Ok(()), ms(10)),
            (1, Err(TimedOut), ms(5)),
            (2, Ok(()), ms(20)),
            (3, Err(TimedOut), ms(5)),
            (4, Ok(()), ms(30)),
        ]
    );
    assert!(!c.try_wait());
}

/// A completion handed to a `WaitTimeout` whose deadline has also passed: polled, it wins;
/// dropped instead, the completion goes to the next waiter.
#[tokio::test(start_paused = true)]
async fn a_completion_handed_to_a_wait_that_then_times_out_is_passed_on() {
    let c = Completion::new();
    let (_, waker_a) = counting_waker();
    let (kb, waker_b) = counting_waker();
    let mut a = Box::pin(c.wait_timeout(TOKIO, ms(50)));
    assert!(poll_once(a.as_mut(), &waker_a).is_pending()); // queued first
    let mut b = pin!(c.wait());
    assert!(poll_once(b.as_mut(), &waker_b).is_pending()); // queued second

    tokio::time::advance(ms(50)).await; // `a`'s timer is now ready
    c.complete(); // handed to `a`, the oldest
    assert_eq!(kb.wakes(), 0, "only the oldest waiter is served");
    assert!(!c.try_wait(), "the completion belongs to `a`");

    drop(a); // gives up without polling again
    assert_eq!(kb.wakes(), 1, "the completion was passed on to `b`");
    assert_eq!(poll_once(b.as_mut(), &waker_b), Poll::Ready(()));
    assert!(!c.try_wait(), "and not duplicated");
}

#[tokio::test(start_paused = true)]
async fn a_handed_wait_timeout_dropped_with_nobody_queued_banks_the_completion() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut a = Box::pin(c.wait_timeout(TOKIO, ms(50)));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    c.complete();
    tokio::time::advance(ms(50)).await;
    drop(a);
    assert!(c.try_wait(), "banked");
    assert!(!c.try_wait());
}

/// The hand-off happens after the wait was polled (`Pending`) and before the timer is
/// polled (`Ready`): a tie. As in the kernel (`do_wait_for_common` checks `x->done` once
/// more after the timeout), the wait takes the completion handed to it: `Ok(())`, and the
/// next waiter is neither woken nor served.
#[test]
fn a_completion_handed_during_the_timer_poll_is_taken_by_the_timed_wait() {
    let c = Completion::new();
    let timer = |_: Duration| step(1, || c.complete());
    let (ka, waker_a) = counting_waker();
    let (kb, waker_b) = counting_waker();
    let mut a = pin!(c.wait_timeout(timer, ms(1)));
    // `a` queues, its timer is pending; then `b` queues behind it.
    assert!(poll_once(a.as_mut(), &waker_a).is_pending());
    let mut b = pin!(c.wait());
    assert!(poll_once(b.as_mut(), &waker_b).is_pending());
    // The wait is still pending; the timer's poll hands the completion to `a`, then
    // reports the deadline.
    assert_eq!(poll_once(a.as_mut(), &waker_a), Poll::Ready(Ok(())));
    assert_eq!(
        ka.wakes(),
        2,
        "once by the pending timer (it wakes itself), once by the hand-off"
    );
    assert_eq!(kb.wakes(), 0);
    assert!(poll_once(b.as_mut(), &waker_b).is_pending());
    assert!(!c.try_wait());
    c.complete();
    assert_eq!(kb.wakes(), 1);
    assert_eq!(poll_once(b.as_mut(), &waker_b), Poll::Ready(()));
}

/// The timer fires with a completion banked (nobody else queued, the wait left the queue
/// as the completion arrived): the timed wait takes it.
#[test]
fn a_completion_banked_when_the_timer_fires_is_taken() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    // The timer's poll: the timed wait is queued; `complete_all` then releases it.
    let timer = |_: Duration| step(1, || c.complete_all());
    let mut a = pin!(c.wait_timeout(timer, ms(1)));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Ok(())));
    c.reinit();
    // With `wait_or` the other future keeps its `Err` and passes the completion on.
    let mut b = pin!(c.wait_or(step(1, || {
        c.complete();
        "other"
    })));
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(Err("other")));
    assert!(c.try_wait(), "passed on: banked");
    assert!(!c.try_wait());
}

#[test]
fn a_completion_handed_during_the_other_poll_is_banked_when_nobody_else_waits() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut a = pin!(c.wait_or(step(0, || {
        c.complete();
        "interrupted"
    })));
    assert_eq!(
        poll_once(a.as_mut(), &waker),
        Poll::Ready(Err("interrupted"))
    );
    assert!(a.is_terminated());
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 1, completed_all: false, waiters: false }"
    );
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// wait_or
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn wait_or_with_a_ready_other_and_nothing_posted_is_err_with_its_output() {
    let c = Completion::new();
    assert_eq!(c.wait_or(async { 42_u8 }).await, Err(42));
    assert_eq!(c.wait_or(std::future::ready("stop")).await, Err("stop"));
    let r: Result<(), Vec<u32>> = c.wait_or(async { vec![1, 2, 3] }).await;
    assert_eq!(r, Err(vec![1, 2, 3]));
    assert!(!c.is_done());
    c.complete();
    assert!(
        c.try_wait(),
        "the lost races left nothing behind in the queue"
    );
}

#[tokio::test]
async fn wait_or_is_ok_when_a_completion_is_there_even_if_other_is_ready() {
    let c = Completion::new();
    c.complete();
    assert_eq!(c.wait_or(async { 42_u8 }).await, Ok(()));
    assert!(!c.try_wait());
    c.complete_all();
    assert_eq!(c.wait_or(async { 42_u8 }).await, Ok(()));
    assert_eq!(c.wait_or(async { 42_u8 }).await, Ok(()));
}

#[test]
fn wait_or_does_not_poll_other_when_the_wait_is_ready() {
    let c = Completion::new();
    c.complete();
    let other = step(0, || -> u8 { panic!("`other` must not be polled") });
    assert_eq!(futures::executor::block_on(c.wait_or(other)), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn wait_or_with_a_pending_other_is_ok_when_completed() {
    let c = Arc::new(Completion::new());
    let start = Instant::now();
    tokio::spawn({
        let c = c.clone();
        async move {
            tokio::time::sleep(ms(5)).await;
            c.complete();
        }
    });
    let never = std::future::pending::<&str>();
    assert_eq!(c.wait_or(never).await, Ok(()));
    assert_eq!(start.elapsed(), ms(5));
}

#[tokio::test(start_paused = true)]
async fn wait_or_with_a_channel_as_the_interruption() {
    let c = Arc::new(Completion::new());
    let (tx, rx) = tokio::sync::oneshot::channel::<&str>();
    tokio::spawn(async move {
        tokio::time::sleep(ms(5)).await;
        tx.send("shutdown").unwrap();
    });
    assert_eq!(c.wait_or(rx).await, Err(Ok("shutdown")));

    let (tx, rx) = tokio::sync::oneshot::channel::<&str>();
    drop(tx);
    let r = c.wait_or(rx).await;
    assert!(matches!(r, Err(Err(_))), "{r:?}");

    let (_tx, rx) = tokio::sync::oneshot::channel::<&str>();
    c.complete();
    assert_eq!(c.wait_or(rx).await, Ok(()));
}

#[tokio::test]
async fn wait_or_accepts_into_future() {
    struct Shutdown(&'static str);
    impl IntoFuture for Shutdown {
        type Output = &'static str;
        type IntoFuture = std::future::Ready<&'static str>;
        fn into_future(self) -> Self::IntoFuture {
            std::future::ready(self.0)
        }
    }
    let c = Completion::new();
    assert_eq!(c.wait_or(Shutdown("bye")).await, Err("bye"));
}

#[tokio::test(start_paused = true)]
async fn wait_or_in_select_style_loops_keeps_fifo_for_the_other_waiters() {
    // An interrupted waiter leaves the queue; a later one is served by the next complete.
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut first = pin!(c.wait_or(tokio::time::sleep(ms(10))));
    let mut second = pin!(c.wait());
    assert!(poll_once(first.as_mut(), &waker).is_pending());
    assert!(poll_once(second.as_mut(), &waker).is_pending());
    tokio::time::advance(ms(10)).await;
    assert_eq!(poll_once(first.as_mut(), &waker), Poll::Ready(Err(())));
    c.complete();
    assert_eq!(poll_once(second.as_mut(), &waker), Poll::Ready(()));
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// FusedFuture, poll after completion
// ---------------------------------------------------------------------------------------

#[test]
fn wait_or_is_terminated_only_after_it_returned_ready() {
    let c = Completion::new();
    let (_, waker) = counting_waker();

    let mut ok = pin!(c.wait_or(std::future::pending::<()>()));
    assert!(!ok.is_terminated());
    assert!(poll_once(ok.as_mut(), &waker).is_pending());
    assert!(!ok.is_terminated());
    c.complete();
    assert!(!ok.is_terminated(), "handed but not yet returned Ready");
    assert_eq!(poll_once(ok.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(ok.is_terminated());

    let mut err = pin!(c.wait_or(std::future::ready(7)));
    assert!(!err.is_terminated());
    assert_eq!(poll_once(err.as_mut(), &waker), Poll::Ready(Err(7)));
    assert!(err.is_terminated());
}

#[test]
fn wait_timeout_is_terminated_only_after_it_returned_ready() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let never = |_: Duration| std::future::pending::<()>();
    let expired = |_: Duration| std::future::ready(());

    let mut ok = pin!(c.wait_timeout(never, ms(1)));
    assert!(!ok.is_terminated());
    assert!(poll_once(ok.as_mut(), &waker).is_pending());
    assert!(!ok.is_terminated());
    c.complete();
    assert_eq!(poll_once(ok.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(ok.is_terminated());

    let mut err = pin!(c.wait_timeout(expired, ms(1)));
    assert!(!err.is_terminated());
    assert_eq!(poll_once(err.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert!(err.is_terminated());
}

#[test]
fn fused_wait_timeout_in_select_loop() {
    // `futures::select!` needs FusedFuture; the terminated branch is skipped afterwards.
    let c = Completion::new();
    c.complete();
    let expired = |_: Duration| std::future::ready(());
    let mut a = pin!(c.wait_timeout(expired, ms(1)));
    let mut b = pin!(c.wait_timeout(expired, ms(1)));
    let mut outcomes = Vec::new();
    futures::executor::block_on(async {
        loop {
            futures::select_biased! {
                r = a => outcomes.push(("a", r)),
                r = b => outcomes.push(("b", r)),
                complete => break,
            }
        }
    });
    assert_eq!(outcomes, [("a", Ok(())), ("b", Err(TimedOut))]);
}

#[test]
#[should_panic(expected = "`WaitOr` polled after it returned `Ready`")]
fn polling_wait_or_after_ready_panics_naming_wait_or() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait_or(std::future::ready(())));
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(())));
    let _ = poll_once(w.as_mut(), &waker);
}

#[test]
fn polling_wait_timeout_after_ready_returns_the_same_result_and_consumes_nothing() {
    let never = |_: Duration| std::future::pending::<()>();
    let expired = |_: Duration| std::future::ready(());
    let c = Completion::new();
    let (_, waker) = counting_waker();

    c.complete();
    let mut ok = pin!(c.wait_timeout(never, ms(1)));
    assert_eq!(poll_once(ok.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(ok.is_terminated());
    c.complete();
    for _ in 0..3 {
        assert_eq!(poll_once(ok.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    assert!(c.try_wait(), "re-polls consumed nothing");

    let mut timed_out = pin!(c.wait_timeout(expired, ms(1)));
    assert_eq!(
        poll_once(timed_out.as_mut(), &waker),
        Poll::Ready(Err(TimedOut))
    );
    assert!(timed_out.is_terminated());
    c.complete(); // banked now: a re-poll must neither take it nor turn into `Ok`
    assert_eq!(
        poll_once(timed_out.as_mut(), &waker),
        Poll::Ready(Err(TimedOut))
    );
    assert!(c.try_wait(), "the re-poll consumed nothing");
}

/// `Debug` shows the result once it is known (the crate docs of `WaitTimeout`: the same
/// result again on later polls), read back from the finished wait.
#[test]
fn wait_timeout_debug_shows_the_result_once_known() {
    let never = |_: Duration| std::future::pending::<()>();
    let expired = |_: Duration| std::future::ready(());
    let c = Completion::new();
    let (_, waker) = counting_waker();

    let mut ok = pin!(c.wait_timeout(never, ms(1)));
    assert!(format!("{ok:?}").contains("result: None"), "{ok:?}");
    c.complete();
    assert_eq!(poll_once(ok.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(format!("{ok:?}").contains("result: Some(Ok(()))"), "{ok:?}");

    let mut timed_out = pin!(c.wait_timeout(expired, ms(1)));
    assert_eq!(
        poll_once(timed_out.as_mut(), &waker),
        Poll::Ready(Err(TimedOut))
    );
    let shown = format!("{timed_out:?}");
    assert!(shown.contains("result: Some(Err(TimedOut))"), "{shown}");
}

/// `tokio::select!` in a loop re-polls a branch whose future already finished unless the
/// branch is disabled; a finished `WaitTimeout` answers with its result, never a panic.
#[tokio::test(start_paused = true)]
async fn wait_timeout_in_a_tokio_select_loop() {
    let c = Completion::new();
    let mut timed = pin!(c.wait_timeout(TOKIO, ms(10)));
    let mut ticks = 0;
    let mut results = Vec::new();
    while results.len() < 2 {
        tokio::select! {
            biased;
            r = &mut timed => results.push(r),
            _ = tokio::time::sleep(ms(4)) => ticks += 1,
        }
    }
    assert_eq!(results, [Err(TimedOut), Err(TimedOut)]);
    assert_eq!(ticks, 2, "two 4 ms ticks before the 10 ms deadline");
}

// ---------------------------------------------------------------------------------------
// Zero and maximal timeouts
// ---------------------------------------------------------------------------------------

/// A zero timeout is the kernel's `wait_for_completion_timeout(x, 0)`: a poll. It never
/// calls the timer and never queues, so it can neither take a completion that belongs to
/// a queued waiter nor keep one.
#[test]
fn zero_timeout_never_calls_the_timer_and_never_queues() {
    let calls = Cell::new(0);
    let timer = |_: Duration| {
        calls.set(calls.get() + 1);
        std::future::pending::<()>()
    };
    let c = Completion::new();
    let (_, waker) = counting_waker();

    // Nothing banked: `Err` on the first poll.
    let mut zero = pin!(c.wait_timeout(timer, Duration::ZERO));
    assert_eq!(poll_once(zero.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert!(zero.is_terminated());

    // Banked: taken.
    c.complete();
    assert!(c.is_done());
    let mut zero = pin!(c.wait_timeout(timer, Duration::ZERO));
    assert_eq!(poll_once(zero.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(
        !c.is_done(),
        "the zero-timeout wait consumed the completion"
    );

    // With a waiter queued, a zero-timeout wait does not queue behind it: the next
    // completion goes to the queued waiter, which is the only one woken.
    let (queued_wakes, queued_waker) = counting_waker();
    let mut queued = pin!(c.wait());
    assert_eq!(poll_once(queued.as_mut(), &queued_waker), Poll::Pending);
    let (zero_wakes, zero_waker) = counting_waker();
    let mut zero = pin!(c.wait_timeout(timer, Duration::ZERO));
    assert_eq!(
        poll_once(zero.as_mut(), &zero_waker),
        Poll::Ready(Err(TimedOut))
    );
    c.complete();
    assert_eq!(queued_wakes.wakes(), 1);
    assert_eq!(zero_wakes.wakes(), 0);
    assert_eq!(poll_once(queued.as_mut(), &queued_waker), Poll::Ready(()));
    assert!(
        !c.is_done(),
        "nothing left over: the completion was handed to the waiter"
    );

    // After `complete_all`: `Ok`, consuming nothing.
    c.complete_all();
    for _ in 0..2 {
        let mut zero = pin!(c.wait_timeout(timer, Duration::ZERO));
        assert_eq!(poll_once(zero.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    assert!(c.is_done());

    assert_eq!(calls.get(), 0, "a zero timeout never calls the timer");
}

/// With tokio's clock: a zero timeout answers on the first poll, without a timer tick.
#[tokio::test(start_paused = true)]
async fn zero_timeout_with_the_tokio_timer_answers_on_the_first_poll() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut zero = pin!(c.wait_timeout(TOKIO, Duration::ZERO));
    assert_eq!(poll_once(zero.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
}

/// `Duration::MAX` waits forever, and never panics (tokio's sleep clamps the deadline).
#[tokio::test(start_paused = true)]
async fn max_timeout_waits_until_completed() {
    let c = Arc::new(Completion::new());
    let completer = tokio::spawn({
        let c = c.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1_000_000)).await;
            c.complete();
        }
    });
    assert_eq!(c.wait_timeout(TOKIO, Duration::MAX).await, Ok(()));
    completer.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Timer trait: closures, custom timers, Send
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_closure_is_a_timer() {
    let c = Completion::new();
    let start = Instant::now();
    let timer = |d| tokio::time::sleep(d);
    assert_eq!(c.wait_timeout(timer, ms(25)).await, Err(TimedOut));
    assert_eq!(start.elapsed(), ms(25));
    c.complete();
    assert_eq!(c.wait_timeout(timer, ms(25)).await, Ok(()));
    assert_eq!(start.elapsed(), ms(25));
}

#[tokio::test(start_paused = true)]
async fn the_timer_is_given_the_requested_duration_once_at_the_call() {
    let c = Completion::new();
    let calls = Cell::new(Vec::new());
    let timer = |d: Duration| {
        let mut v = calls.take();
        v.push(d);
        calls.set(v);
        tokio::time::sleep(d)
    };
    let wait = c.wait_timeout(timer, ms(7));
    assert_eq!(calls.take(), [ms(7)], "the sleep is created by the call");
    assert_eq!(wait.await, Err(TimedOut));
    assert!(calls.take().is_empty(), "and only once");
}

/// A user-defined timer type with a sleep that is neither `Unpin` nor `Send` and has a
/// non-unit output.
#[tokio::test(start_paused = true)]
async fn a_custom_timer_with_a_non_send_non_unpin_sleep() {
    struct LocalTimer(Rc<Cell<u32>>);
    impl Timer for LocalTimer {
        type Sleep = Pin<Box<dyn Future<Output = u32>>>;
        fn sleep(&self, duration: Duration) -> Self::Sleep {
            let fired = self.0.clone();
            Box::pin(async move {
                tokio::time::sleep(duration).await;
                fired.set(fired.get() + 1);
                fired.get()
            })
        }
    }
    let fired = Rc::new(Cell::new(0));
    let c = Completion::new();
    assert_eq!(
        c.wait_timeout(LocalTimer(fired.clone()), ms(3)).await,
        Err(TimedOut)
    );
    assert_eq!(fired.get(), 1);
    // `async fn` sleeps are !Unpin; the output is discarded for TimedOut.
    let async_fn_timer = |d: Duration| async move {
        let _not_send = Rc::new(());
        tokio::time::sleep(d).await;
        "ignored"
    };
    assert_eq!(c.wait_timeout(async_fn_timer, ms(3)).await, Err(TimedOut));
    c.complete();
    assert_eq!(
        c.wait_timeout(LocalTimer(fired.clone()), ms(3)).await,
        Ok(())
    );
    assert_eq!(fired.get(), 1, "the sleep was not run to its end");
}

#[test]
fn wait_futures_are_send_when_their_sleep_is() {
    fn send<T: Send>() {}
    send::<WaitTimeout<'static, tokio::time::Sleep>>();
    #[cfg(feature = "async-io")]
    send::<WaitTimeout<'static, async_io::Timer>>();
    #[cfg(feature = "embassy-time")]
    send::<WaitTimeout<'static, embassy_time::Timer>>();
    send::<WaitOr<'static, tokio::sync::oneshot::Receiver<u8>>>();
    send::<WaitOr<'static, tokio::time::Sleep>>();

    let c = Completion::new();
    #[cfg(feature = "async-io")]
    assert_send(&c.wait_timeout(AsyncIoTimer, ms(1)));
    #[cfg(feature = "embassy-time")]
    assert_send(&c.wait_timeout(EmbassyTimer, ms(1)));
    let w = c.wait_or(async { 1 });
    assert_send(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_futures_can_be_spawned_on_a_multi_thread_runtime() {
    static C: Completion = Completion::new();
    let timed_out = tokio::spawn(C.wait_timeout(TOKIO, ms(5)));
    assert_eq!(timed_out.await.unwrap(), Err(TimedOut));
    let served = tokio::spawn(C.wait_timeout(TOKIO, Duration::from_secs(60)));
    C.complete();
    assert_eq!(served.await.unwrap(), Ok(()));
    assert!(!C.try_wait());
}

// ---------------------------------------------------------------------------------------
// AsyncIoTimer (async-std, smol): real time, outcomes only
// ---------------------------------------------------------------------------------------

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[async_std::test]
async fn async_io_timer_times_out_no_earlier_than_the_timeout() {
    let c = Completion::new();
    let start = std::time::Instant::now();
    assert_eq!(c.wait_timeout(AsyncIoTimer, ms(20)).await, Err(TimedOut));
    assert!(start.elapsed() >= ms(20), "{:?}", start.elapsed());
    c.complete();
    assert!(c.try_wait(), "the timed-out wait kept nothing");
}

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[async_std::test]
async fn async_io_timer_completion_in_time_is_ok() {
    let c = Arc::new(Completion::new());
    let completer = async_std::task::spawn({
        let c = c.clone();
        async move {
            async_std::task::sleep(ms(10)).await;
            c.complete();
        }
    });
    assert_eq!(
        c.wait_timeout(AsyncIoTimer, Duration::from_secs(30)).await,
        Ok(())
    );
    completer.await;
    assert!(!c.try_wait());
}

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[async_std::test]
async fn async_io_timer_max_timeout_waits_until_completed() {
    let c = Arc::new(Completion::new());
    let completer = async_std::task::spawn({
        let c = c.clone();
        async move {
            async_std::task::sleep(ms(10)).await;
            c.complete();
        }
    });
    // `Duration::MAX` cannot be a deadline: async-io's timer then never fires, no panic.
    assert_eq!(c.wait_timeout(AsyncIoTimer, Duration::MAX).await, Ok(()));
    completer.await;
}

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[async_std::test]
async fn async_io_timer_zero_timeout_banked_wins() {
    let c = Completion::new();
    assert_eq!(
        c.wait_timeout(AsyncIoTimer, Duration::ZERO).await,
        Err(TimedOut)
    );
    c.complete();
    assert_eq!(c.wait_timeout(AsyncIoTimer, Duration::ZERO).await, Ok(()));
    // `Duration::MAX` makes a timer that never fires instead of panicking.
    c.complete();
    assert_eq!(c.wait_timeout(AsyncIoTimer, Duration::MAX).await, Ok(()));
}

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[async_std::test]
async fn async_io_timer_fifo_with_a_timed_out_waiter_between() {
    let c = Arc::new(Completion::new());
    let spawn = |d: Duration| {
        let c = c.clone();
        async_std::task::spawn(async move { c.wait_timeout(AsyncIoTimer, d).await })
    };
    let a = spawn(ms(10));
    let b = spawn(Duration::from_secs(30));
    assert_eq!(a.await, Err(TimedOut));
    c.complete();
    assert_eq!(b.await, Ok(()));
    assert!(!c.try_wait());
}

#[cfg(feature = "async-io")]
#[cfg_attr(
    miri,
    ignore = "async-io's reactor calls timerfd_create, which Miri does not support"
)]
#[test]
fn async_io_timer_works_under_a_plain_block_on() {
    let c = Completion::new();
    assert_eq!(
        futures::executor::block_on(c.wait_timeout(AsyncIoTimer, ms(5))),
        Err(TimedOut)
    );
}

// ---------------------------------------------------------------------------------------
// EmbassyTimer
// ---------------------------------------------------------------------------------------

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_ticks_round_up_and_saturate() {
    // The dev-dependency configuration (`embassy-time/std`) ticks at 1 MHz.
    assert_eq!(embassy_time::TICK_HZ, 1_000_000);
    let ns = Duration::from_nanos;
    let us = Duration::from_micros;
    let cases = [
        (Duration::ZERO, 0),
        (ns(1), 1),
        (ns(999), 1),
        (ns(1_000), 1),
        (ns(1_001), 2),
        (ns(1_500), 2),
        (ns(1_999), 2),
        (ns(2_000), 2),
        (ms(1), 1_000),
        (Duration::from_secs(1), 1_000_000),
        (Duration::new(1, 1), 1_000_001),
        (Duration::from_secs(3600), 3_600_000_000),
        (us(u64::MAX - 1), u64::MAX - 1),
        (us(u64::MAX - 1) + ns(1), u64::MAX),
        (us(u64::MAX), u64::MAX),
        (us(u64::MAX) + ns(1), u64::MAX),
        (Duration::from_secs(u64::MAX), u64::MAX),
        (Duration::MAX, u64::MAX),
    ];
    for (d, ticks) in cases {
        assert_eq!(EmbassyTimer::ticks(d), ticks, "{d:?}");
    }
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_ticks_never_round_down() {
    // A timeout never fires early: ticks * period >= duration, for many odd durations.
    let tick_ns = 1_000_000_000 / u128::from(embassy_time::TICK_HZ);
    let mut nanos: u64 = 1;
    while nanos < 1 << 60 {
        for d in [nanos - 1, nanos, nanos + 1, nanos * 3 / 2] {
            let d = Duration::from_nanos(d);
            let ticks = u128::from(EmbassyTimer::ticks(d));
            assert!(ticks * tick_ns >= d.as_nanos(), "{d:?}");
            assert!(
                ticks * tick_ns < d.as_nanos() + tick_ns,
                "{d:?}: not the least"
            );
        }
        nanos = nanos * 7 + 3;
    }
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_timer_times_out_on_the_std_driver() {
    let c = Completion::new();
    let start = embassy_time::Instant::now();
    let std_start = std::time::Instant::now();
    let r = futures::executor::block_on(c.wait_timeout(EmbassyTimer, ms(20)));
    assert_eq!(r, Err(TimedOut));
    assert!(start.elapsed() >= embassy_time::Duration::from_millis(20));
    assert!(std_start.elapsed() >= ms(20));
    c.complete();
    assert!(c.try_wait(), "the timed-out wait kept nothing");
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_timer_completion_in_time_is_ok() {
    let c = Arc::new(Completion::new());
    let completer = std::thread::spawn({
        let c = c.clone();
        move || {
            std::thread::sleep(ms(10));
            c.complete();
        }
    });
    let r = futures::executor::block_on(c.wait_timeout(EmbassyTimer, Duration::from_secs(30)));
    assert_eq!(r, Ok(()));
    completer.join().unwrap();
    assert!(!c.try_wait());
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_timer_with_huge_durations_does_not_panic() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    for d in [
        Duration::MAX,
        Duration::from_secs(u64::MAX / 2),
        ms(u64::MAX),
    ] {
        let mut w = pin!(c.wait_timeout(EmbassyTimer, d));
        assert!(poll_once(w.as_mut(), &waker).is_pending());
        c.complete();
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    assert!(!c.try_wait());
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_timer_zero_timeout() {
    let c = Completion::new();
    assert_eq!(
        futures::executor::block_on(c.wait_timeout(EmbassyTimer, Duration::ZERO)),
        Err(TimedOut)
    );
    c.complete();
    assert_eq!(
        futures::executor::block_on(c.wait_timeout(EmbassyTimer, Duration::ZERO)),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------
// EmbassyTimer deadlines: `wait_deadline` with an `embassy_time::Instant` (here, not in
// tests/deadlines.rs, because the Miri run of this file allows the leak of embassy-time's
// std driver thread)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_wait_deadline_times_out_no_earlier_than_the_deadline() {
    let c = Completion::new();
    let deadline = embassy_time::Instant::now() + embassy_time::Duration::from_millis(20);
    let r = futures::executor::block_on(c.wait_deadline(EmbassyTimer, deadline));
    assert_eq!(r, Err(TimedOut));
    assert!(embassy_time::Instant::now() >= deadline);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }",
        "the timed-out wait left the queue and kept nothing"
    );
    // Retrying with the same deadline: a poll, which takes a banked completion.
    let r = futures::executor::block_on(c.wait_deadline(EmbassyTimer, deadline));
    assert_eq!(r, Err(TimedOut));
    c.complete();
    let r = futures::executor::block_on(c.wait_deadline(EmbassyTimer, deadline));
    assert_eq!(r, Ok(()));
    assert!(!c.try_wait());
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_wait_deadline_already_past_is_a_poll_that_never_queues() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let now = embassy_time::Instant::now();
    for deadline in [now, embassy_time::Instant::from_ticks(0)] {
        let mut w = pin!(c.wait_deadline(EmbassyTimer, deadline));
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
        assert_eq!(
            format!("{c:?}"),
            "Completion { count: 0, completed_all: false, waiters: false }"
        );
    }
    assert_eq!(k.wakes(), 0);
    c.complete_n(2);
    let mut w = pin!(c.wait_deadline(EmbassyTimer, now));
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 1, completed_all: false, waiters: false }",
        "exactly one taken"
    );
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_wait_deadline_completion_in_time_is_ok() {
    let c = Arc::new(Completion::new());
    let completer = std::thread::spawn({
        let c = c.clone();
        move || {
            std::thread::sleep(ms(10));
            c.complete();
        }
    });
    let deadline = embassy_time::Instant::now() + embassy_time::Duration::from_secs(30);
    let r = futures::executor::block_on(c.wait_deadline(EmbassyTimer, deadline));
    assert_eq!(r, Ok(()));
    assert!(embassy_time::Instant::now() < deadline);
    completer.join().unwrap();
    assert!(!c.try_wait());
}

#[cfg(feature = "embassy-time")]
#[test]
fn embassy_wait_deadline_at_instant_max_waits_until_completed() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait_deadline(EmbassyTimer, embassy_time::Instant::MAX));
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    c.complete();
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// TimedOut
// ---------------------------------------------------------------------------------------

#[test]
fn timed_out_traits() {
    let e = TimedOut;
    let copy = e; // Copy
    assert_eq!(e, copy);
    assert_eq!(e.to_string(), "timed out waiting for a completion");
    assert_eq!(format!("{e:?}"), "TimedOut");
    fn default_of<T: Default>() -> T {
        T::default()
    }
    assert_eq!(default_of::<TimedOut>(), TimedOut);
    #[allow(clippy::clone_on_copy)]
    let cloned = e.clone();
    assert_eq!(cloned, e);

    let as_error: &dyn Error = &e;
    assert!(as_error.source().is_none());
    let boxed: Box<dyn Error + Send + Sync + 'static> = Box::new(e);
    assert_eq!(boxed.to_string(), "timed out waiting for a completion");
    assert!(boxed.downcast_ref::<TimedOut>().is_some());

    fn eq_hash<T: Eq + std::hash::Hash>() {}
    eq_hash::<TimedOut>();
    let set: std::collections::HashSet<TimedOut> = [e, copy].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn timed_out_works_with_the_question_mark_operator() {
    async fn wait_for_setup(c: &Completion) -> Result<&'static str, Box<dyn Error>> {
        c.wait_timeout(TOKIO, ms(10)).await?;
        Ok("set up")
    }
    let c = Completion::new();
    let err = wait_for_setup(&c).await.unwrap_err();
    assert!(err.is::<TimedOut>());
    c.complete();
    assert_eq!(wait_for_setup(&c).await.unwrap(), "set up");
}
