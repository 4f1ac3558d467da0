//! Deadline waits and `run_until_done` (issue 16; method docs of `Completion::wait_deadline` and
//! `run_until_done`).
//!
//! - `wait_deadline` through a hand-written `Clock` (hand-driven, exact: it counts its
//!   `sleep`/`sleep_until` calls), `TokioTimer` on tokio's paused clock (exact instants),
//!   and `AsyncIoTimer` (real, short times; outcomes and "not before the deadline" only).
//!   `EmbassyTimer`'s deadline tests live in `tests/timeouts.rs`, whose Miri run allows
//!   the leak of embassy-time's std driver thread.
//! - `wait_blocking_deadline` (feature `std`).
//! - `run_until_done`.
//!
//! A deadline already past is a poll: it never queues and never calls the timer. Retrying
//! with the same deadline never extends it. On a tie (a completion handed while the timer
//! fires) the wait returns `Ok`.

mod common;

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_completion::{Clock, Completion, TimedOut, Timer};
use futures::future::FusedFuture;

use common::{block_on, counting_waker, poll_once, snapshot, state};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------
// A hand-driven clock
// ---------------------------------------------------------------------------------------

/// A clock in whole ticks that only moves when told to. It counts how often each of its
/// sleep constructors was called, and records the deadlines given to `sleep_until`.
#[derive(Default)]
struct ManualClock {
    now: Cell<u64>,
    sleeps: Cell<usize>,
    sleep_untils: RefCell<Vec<u64>>,
    wakers: RefCell<Vec<Waker>>,
}

impl ManualClock {
    fn at(now: u64) -> Self {
        let clock = Self::default();
        clock.now.set(now);
        clock
    }

    /// Moves the clock to `t` and wakes every pending sleep.
    fn advance_to(&self, t: u64) {
        assert!(t >= self.now.get());
        self.now.set(t);
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }

    fn sleep_until_calls(&self) -> Vec<u64> {
        self.sleep_untils.borrow().clone()
    }
}

/// A sleep on a [`ManualClock`]: over once the clock reaches its deadline.
struct ManualSleep<'a> {
    clock: &'a ManualClock,
    deadline: u64,
}

impl Future for ManualSleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.deadline {
            Poll::Ready(())
        } else {
            self.clock.wakers.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl<'a> Timer for &'a ManualClock {
    type Sleep = ManualSleep<'a>;

    fn sleep(&self, duration: Duration) -> ManualSleep<'a> {
        self.sleeps.set(self.sleeps.get() + 1);
        ManualSleep {
            clock: self,
            deadline: self.now.get() + duration.as_millis() as u64,
        }
    }
}

impl<'a> Clock for &'a ManualClock {
    type Instant = u64;

    fn now(&self) -> u64 {
        self.now.get()
    }

    fn sleep_until(&self, deadline: u64) -> ManualSleep<'a> {
        self.sleep_untils.borrow_mut().push(deadline);
        ManualSleep {
            clock: self,
            deadline,
        }
    }
}

/// A clock whose every sleep is pending on its first poll (waking itself) and, on its
/// second, runs `action` and is over: for ties, where something happens while the timer
/// is being polled.
#[derive(Clone, Copy)]
struct TieClock<'a> {
    action: &'a dyn Fn(),
}

struct TieSleep<'a> {
    action: &'a dyn Fn(),
    polled: bool,
}

impl Future for TieSleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            (self.action)();
            Poll::Ready(())
        } else {
            self.polled = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl<'a> Timer for TieClock<'a> {
    type Sleep = TieSleep<'a>;

    fn sleep(&self, _: Duration) -> TieSleep<'a> {
        unreachable!("wait_deadline calls sleep_until, not sleep")
    }
}

impl<'a> Clock for TieClock<'a> {
    type Instant = u64;

    fn now(&self) -> u64 {
        0
    }

    fn sleep_until(&self, _: u64) -> TieSleep<'a> {
        TieSleep {
            action: self.action,
            polled: false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// wait_deadline on the hand-driven clock
// ---------------------------------------------------------------------------------------

#[test]
fn a_future_deadline_calls_sleep_until_once_at_the_call_and_never_sleep() {
    let clock = ManualClock::at(5);
    let c = Completion::new();
    let w = c.wait_deadline(&clock, 10);
    assert_eq!(
        clock.sleep_until_calls(),
        vec![10],
        "at the call, with the deadline"
    );
    assert_eq!(clock.sleeps.get(), 0, "no duration sleep");
    let mut w = pin!(w);
    let (_, waker) = counting_waker();
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert_eq!(
        clock.sleep_until_calls(),
        vec![10],
        "polling creates no more sleeps"
    );
}

#[test]
fn times_out_exactly_at_the_deadline() {
    let clock = ManualClock::at(0);
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait_deadline(&clock, 10));
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert_eq!(snapshot(&c), state(0, false, true), "queued");
    clock.advance_to(9);
    assert_eq!(k.wakes(), 1);
    assert!(poll_once(w.as_mut(), &waker).is_pending(), "one tick early");
    clock.advance_to(10);
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert!(w.is_terminated());
    assert_eq!(snapshot(&c), state(0, false, false), "left the queue");
    // Polled again: the same result, nothing consumed.
    c.complete();
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the timed-out wait kept nothing"
    );
}

#[test]
fn a_deadline_already_past_is_a_poll_that_never_queues_and_never_calls_the_timer() {
    let clock = ManualClock::at(100);
    let c = Completion::new();
    // A waiter queued first: a past-deadline wait must not queue behind it.
    let (ka, wa) = counting_waker();
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());

    for deadline in [100, 99, 0] {
        let (k, waker) = counting_waker();
        let mut w = pin!(c.wait_deadline(&clock, deadline));
        assert_eq!(
            poll_once(w.as_mut(), &waker),
            Poll::Ready(Err(TimedOut)),
            "deadline {deadline}: answered on the first poll"
        );
        assert!(w.is_terminated());
        assert_eq!(k.wakes(), 0);
    }
    assert!(
        clock.sleep_until_calls().is_empty(),
        "sleep_until never called"
    );
    assert_eq!(clock.sleeps.get(), 0, "sleep never called");
    c.complete();
    assert_eq!(ka.wakes(), 1, "A was still the only (and oldest) waiter");
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_past_deadline_with_nothing_queued_leaves_the_state_untouched() {
    let clock = ManualClock::at(100);
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait_deadline(&clock, 50));
    assert_eq!(snapshot(&c), state(0, false, false));
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "waiters: false, never queued"
    );
}

#[test]
fn a_past_deadline_takes_a_banked_completion_or_sees_complete_all() {
    let clock = ManualClock::at(100);
    let c = Completion::new();
    c.complete_n(2);
    assert_eq!(block_on(c.wait_deadline(&clock, 100)), Ok(()));
    assert_eq!(snapshot(&c), state(1, false, false), "exactly one consumed");
    assert_eq!(block_on(c.wait_deadline(&clock, 1)), Ok(()));
    assert_eq!(block_on(c.wait_deadline(&clock, 1)), Err(TimedOut));
    c.complete_all();
    for _ in 0..3 {
        assert_eq!(block_on(c.wait_deadline(&clock, 1)), Ok(()));
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    assert!(clock.sleep_until_calls().is_empty());
}

#[test]
fn a_future_deadline_with_a_completion_banked_is_ok_on_the_first_poll() {
    let clock = ManualClock::at(0);
    let c = Completion::new();
    c.complete();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait_deadline(&clock, 10));
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(snapshot(&c), state(0, false, false));
    clock.advance_to(10);
    assert_eq!(
        poll_once(w.as_mut(), &waker),
        Poll::Ready(Ok(())),
        "stays Ok"
    );
}

#[test]
fn retrying_with_the_same_deadline_never_extends_it() {
    let clock = ManualClock::at(0);
    let c = Completion::new();
    let (_, waker) = counting_waker();
    // A retry loop: the first attempt ends with a completion at 4, the second times out
    // at the deadline, every later one is a poll.
    let deadline = 10;
    let mut outcomes = Vec::new();
    let mut w = Box::pin(c.wait_deadline(&clock, deadline));
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    clock.advance_to(4);
    c.complete();
    outcomes.push(poll_once(w.as_mut(), &waker));
    let mut w = Box::pin(c.wait_deadline(&clock, deadline));
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    clock.advance_to(10);
    outcomes.push(poll_once(w.as_mut(), &waker));
    for _ in 0..3 {
        let mut w = Box::pin(c.wait_deadline(&clock, deadline));
        outcomes.push(poll_once(w.as_mut(), &waker));
    }
    assert_eq!(
        outcomes,
        vec![
            Poll::Ready(Ok(())),
            Poll::Ready(Err(TimedOut)),
            Poll::Ready(Err(TimedOut)),
            Poll::Ready(Err(TimedOut)),
            Poll::Ready(Err(TimedOut)),
        ]
    );
    assert_eq!(
        clock.sleep_until_calls(),
        vec![10, 10],
        "each sleep ends at the one deadline; the retries after it create none"
    );
    assert_eq!(clock.now.get(), 10, "total time: exactly the deadline");
}

#[test]
fn a_timed_out_deadline_wait_keeps_fifo_for_the_others() {
    let clock = ManualClock::at(0);
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = pin!(c.wait_deadline(&clock, 10));
    let mut b = pin!(c.wait());
    let mut later = pin!(c.wait_deadline(&clock, 20));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(later.as_mut(), &waker).is_pending());
    clock.advance_to(10);
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert!(poll_once(later.as_mut(), &waker).is_pending());
    c.complete();
    assert_eq!(kb.wakes(), 1, "B, now the oldest");
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    c.complete();
    assert_eq!(poll_once(later.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_deadline_wait_handed_a_completion_then_dropped_passes_it_on() {
    let clock = ManualClock::at(0);
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = Box::pin(c.wait_deadline(&clock, 10));
    let mut b = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete(); // handed to A
    drop(a);
    assert_eq!(kb.wakes(), 1);
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));

    // A completion handed just before the deadline is still Ok when polled after it.
    let mut a = pin!(c.wait_deadline(&clock, 20));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    c.complete();
    clock.advance_to(30);
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn tie_a_completion_handed_during_the_timer_poll_is_ok() {
    let c = Completion::new();
    let complete = || c.complete();
    let clock = TieClock { action: &complete };
    let (_, waker) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = pin!(c.wait_deadline(clock, 1));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    let mut b = pin!(c.wait());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    // The timer's second poll hands the completion to A, then reports the deadline.
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(kb.wakes(), 0, "B was neither served nor woken");
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert_eq!(snapshot(&c), state(0, false, true));
    c.complete();
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
}

#[test]
fn tie_complete_all_or_a_pulse_during_the_timer_poll_is_ok() {
    let c = Completion::new();
    let pulse = || c.complete_waiters();
    let (_, waker) = counting_waker();
    let mut a = pin!(c.wait_deadline(TieClock { action: &pulse }, 1));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "the pulse banked nothing"
    );

    let all = || c.complete_all();
    let mut a = pin!(c.wait_deadline(TieClock { action: &all }, 1));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn tie_nothing_during_the_timer_poll_is_timed_out() {
    let c = Completion::new();
    let nothing = || {};
    let (_, waker) = counting_waker();
    let mut a = pin!(c.wait_deadline(TieClock { action: &nothing }, 1));
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_deadline_wait_is_send_when_its_sleep_is() {
    fn send<T: Send>(_: &T) {}
    struct SendClock;
    impl Timer for SendClock {
        type Sleep = std::future::Pending<()>;
        fn sleep(&self, _: Duration) -> Self::Sleep {
            std::future::pending()
        }
    }
    impl Clock for SendClock {
        type Instant = u64;
        fn now(&self) -> u64 {
            0
        }
        fn sleep_until(&self, _: u64) -> Self::Sleep {
            std::future::pending()
        }
    }
    let c = Completion::new();
    let w = c.wait_deadline(SendClock, 1);
    send(&w);
    c.complete();
    assert_eq!(block_on(w), Ok(()));
}

// ---------------------------------------------------------------------------------------
// wait_deadline with TokioTimer: tokio's paused clock, exact instants
// ---------------------------------------------------------------------------------------

#[cfg(feature = "tokio")]
mod tokio_timer {
    use super::*;
    use async_completion::TokioTimer;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn times_out_exactly_at_the_deadline() {
        let c = Completion::new();
        for d in [ms(1), ms(10), ms(250), Duration::from_secs(3600)] {
            let deadline = Instant::now() + d;
            assert_eq!(c.wait_deadline(TokioTimer, deadline).await, Err(TimedOut));
            assert_eq!(Instant::now(), deadline, "{d:?}");
        }
        assert_eq!(snapshot(&c), state(0, false, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_completion_before_the_deadline_is_ok_when_it_arrives() {
        let c = Arc::new(Completion::new());
        let start = Instant::now();
        let completer = tokio::spawn({
            let c = c.clone();
            async move {
                tokio::time::sleep(ms(30)).await;
                c.complete();
            }
        });
        assert_eq!(c.wait_deadline(TokioTimer, start + ms(100)).await, Ok(()));
        assert_eq!(start.elapsed(), ms(30));
        completer.await.unwrap();
        assert_eq!(snapshot(&*c), state(0, false, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_past_is_a_poll() {
        let c = Completion::new();
        let start = Instant::now();
        // A waiter queued first: the past-deadline waits must not queue behind it.
        let (ka, wa) = counting_waker();
        let mut a = pin!(c.wait());
        assert!(poll_once(a.as_mut(), &wa).is_pending());
        let (k, waker) = counting_waker();
        let earlier = [ms(1), Duration::from_secs(3600)]
            .into_iter()
            .filter_map(|d| start.checked_sub(d));
        for deadline in std::iter::once(start).chain(earlier) {
            let mut w = pin!(c.wait_deadline(TokioTimer, deadline));
            assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
        }
        assert_eq!(k.wakes(), 0);
        assert_eq!(start.elapsed(), Duration::ZERO);
        c.complete();
        assert_eq!(ka.wakes(), 1);
        assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));

        // With nobody queued: waiters stays false throughout.
        let mut w = pin!(c.wait_deadline(TokioTimer, start));
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
        assert_eq!(snapshot(&c), state(0, false, false));

        c.complete();
        assert_eq!(c.wait_deadline(TokioTimer, start).await, Ok(()));
        assert_eq!(c.wait_deadline(TokioTimer, start).await, Err(TimedOut));
        c.complete_all();
        assert_eq!(c.wait_deadline(TokioTimer, start).await, Ok(()));
        assert_eq!(c.wait_deadline(TokioTimer, start).await, Ok(()));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_loop_with_one_deadline_ends_exactly_at_it() {
        let c = Arc::new(Completion::new());
        let start = Instant::now();
        let deadline = start + ms(100);
        let completer = tokio::spawn({
            let c = c.clone();
            async move {
                tokio::time::sleep(ms(30)).await;
                c.complete();
                tokio::time::sleep(ms(30)).await;
                c.complete();
            }
        });
        let mut oks = Vec::new();
        let err = loop {
            match c.wait_deadline(TokioTimer, deadline).await {
                Ok(()) => oks.push(start.elapsed()),
                Err(e) => break e,
            }
        };
        assert_eq!(err, TimedOut);
        assert_eq!(oks, vec![ms(30), ms(60)]);
        assert_eq!(Instant::now(), deadline, "the retries never extended it");
        // Once past, every retry is a poll that returns at once.
        for _ in 0..3 {
            assert_eq!(c.wait_deadline(TokioTimer, deadline).await, Err(TimedOut));
        }
        assert_eq!(Instant::now(), deadline);
        completer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_absolute_not_from_the_first_poll() {
        let c = Completion::new();
        let start = Instant::now();
        let w = c.wait_deadline(TokioTimer, start + ms(50));
        tokio::time::sleep(ms(30)).await;
        assert_eq!(w.await, Err(TimedOut));
        assert_eq!(start.elapsed(), ms(50));
    }

    #[tokio::test(start_paused = true)]
    async fn several_waits_sharing_a_deadline() {
        let c = Arc::new(Completion::new());
        let start = Instant::now();
        let deadline = start + ms(50);
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move {
                    let r = c.wait_deadline(TokioTimer, deadline).await;
                    (r, Instant::now())
                })
            })
            .collect();
        tokio::task::yield_now().await; // all three queue, in spawn order
        assert_eq!(snapshot(&*c), state(0, false, true));
        tokio::time::sleep(ms(10)).await;
        c.complete(); // to the oldest
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(
            results,
            vec![
                (Ok(()), start + ms(10)),
                (Err(TimedOut), deadline),
                (Err(TimedOut), deadline),
            ]
        );
        assert_eq!(snapshot(&*c), state(0, false, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_completion_in_the_same_instant_as_the_deadline_wins() {
        let c = Completion::new();
        let twin = Completion::new();
        let (_, waker) = counting_waker();
        let deadline = Instant::now() + ms(50);
        let mut w = pin!(c.wait_deadline(TokioTimer, deadline));
        let mut control = pin!(twin.wait_deadline(TokioTimer, deadline));
        assert!(poll_once(w.as_mut(), &waker).is_pending());
        assert!(poll_once(control.as_mut(), &waker).is_pending());
        tokio::time::advance(ms(50)).await;
        assert_eq!(
            poll_once(control.as_mut(), &waker),
            Poll::Ready(Err(TimedOut)),
            "the deadline has passed"
        );
        c.complete(); // handed to `w`, whose sleep is also over
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Ok(())));
        assert_eq!(snapshot(&c), state(0, false, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_far_deadline_waits_until_completed() {
        let c = Arc::new(Completion::new());
        let start = Instant::now();
        let completer = tokio::spawn({
            let c = c.clone();
            async move {
                tokio::time::sleep(ms(10)).await;
                c.complete();
            }
        });
        let far = start + Duration::from_secs(60 * 60 * 24 * 365 * 30);
        assert_eq!(c.wait_deadline(TokioTimer, far).await, Ok(()));
        assert_eq!(start.elapsed(), ms(10));
        completer.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deadline_waits_can_be_spawned_on_a_multi_thread_runtime() {
        let c = Arc::new(Completion::new());
        let task = tokio::spawn({
            let c = c.clone();
            async move {
                c.wait_deadline(TokioTimer, Instant::now() + Duration::from_secs(30))
                    .await
            }
        });
        c.complete();
        assert_eq!(task.await.unwrap(), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// wait_deadline with AsyncIoTimer: real (short) times, outcomes only
// ---------------------------------------------------------------------------------------

#[cfg(feature = "async-io")]
mod async_io_timer {
    use super::*;
    use async_completion::AsyncIoTimer;
    use std::time::Instant;

    #[cfg_attr(
        miri,
        ignore = "async-io's reactor calls timerfd_create, unsupported by Miri"
    )]
    #[test]
    fn times_out_no_earlier_than_the_deadline_and_retries_are_polls() {
        let c = Completion::new();
        let deadline = Instant::now() + ms(20);
        assert_eq!(
            block_on(c.wait_deadline(AsyncIoTimer, deadline)),
            Err(TimedOut)
        );
        assert!(Instant::now() >= deadline);
        // The same deadline again: a poll.
        assert_eq!(
            block_on(c.wait_deadline(AsyncIoTimer, deadline)),
            Err(TimedOut)
        );
        c.complete();
        assert_eq!(
            snapshot(&c),
            state(1, false, false),
            "the timed-out waits kept nothing"
        );
        assert_eq!(block_on(c.wait_deadline(AsyncIoTimer, deadline)), Ok(()));
    }

    #[cfg_attr(
        miri,
        ignore = "async-io's reactor calls timerfd_create, unsupported by Miri"
    )]
    #[test]
    fn a_past_deadline_is_a_poll() {
        let c = Completion::new();
        let past = Instant::now();
        let (k, waker) = counting_waker();
        let mut w = pin!(c.wait_deadline(AsyncIoTimer, past));
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(Err(TimedOut)));
        assert_eq!(k.wakes(), 0);
        assert_eq!(snapshot(&c), state(0, false, false));
        c.complete_n(2);
        assert_eq!(block_on(c.wait_deadline(AsyncIoTimer, past)), Ok(()));
        assert_eq!(snapshot(&c), state(1, false, false));
    }

    #[cfg_attr(
        miri,
        ignore = "async-io's reactor calls timerfd_create, unsupported by Miri"
    )]
    #[test]
    fn a_completion_in_time_is_ok() {
        let c = Arc::new(Completion::new());
        let completer = std::thread::spawn({
            let c = c.clone();
            move || {
                std::thread::sleep(ms(10));
                c.complete();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(block_on(c.wait_deadline(AsyncIoTimer, deadline)), Ok(()));
        completer.join().unwrap();
        assert_eq!(snapshot(&*c), state(0, false, false));
    }

    #[cfg_attr(
        miri,
        ignore = "async-io's reactor calls timerfd_create, unsupported by Miri"
    )]
    #[async_std::test]
    async fn on_async_std_fifo_with_a_timed_out_deadline_wait_between() {
        let c = Arc::new(Completion::new());
        let spawn = |deadline: Instant| {
            let c = c.clone();
            async_std::task::spawn(async move { c.wait_deadline(AsyncIoTimer, deadline).await })
        };
        let a = spawn(Instant::now() + ms(10));
        let b = spawn(Instant::now() + Duration::from_secs(30));
        assert_eq!(a.await, Err(TimedOut));
        c.complete();
        assert_eq!(b.await, Ok(()));
        assert!(!c.try_wait());
    }
}

// ---------------------------------------------------------------------------------------
// wait_blocking_deadline (std)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "std")]
mod blocking {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_past_deadline_is_a_poll() {
        let c = Completion::new();
        // A queued async waiter: the blocking poll must not queue behind it (it would
        // block until the deadline it already missed) nor take its place.
        let (ka, wa) = counting_waker();
        let mut a = pin!(c.wait());
        assert!(poll_once(a.as_mut(), &wa).is_pending());
        let past = Instant::now();
        assert_eq!(c.wait_blocking_deadline(past), Err(TimedOut));
        if let Some(earlier) = past.checked_sub(ms(5)) {
            assert_eq!(c.wait_blocking_deadline(earlier), Err(TimedOut));
        }
        c.complete();
        assert_eq!(ka.wakes(), 1);
        assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));

        c.complete_n(2);
        assert_eq!(c.wait_blocking_deadline(past), Ok(()));
        assert_eq!(snapshot(&c), state(1, false, false), "exactly one taken");
        assert_eq!(c.wait_blocking_deadline(past), Ok(()));
        assert_eq!(c.wait_blocking_deadline(past), Err(TimedOut));
        c.complete_all();
        assert_eq!(c.wait_blocking_deadline(past), Ok(()));
        assert_eq!(c.wait_blocking_deadline(past), Ok(()));
        assert_eq!(snapshot(&c), state(0, true, false));
    }

    #[test]
    fn a_banked_completion_with_a_future_deadline_is_ok_at_once() {
        let c = Completion::new();
        c.complete();
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(c.wait_blocking_deadline(deadline), Ok(()));
        assert!(Instant::now() < deadline);
        assert_eq!(snapshot(&c), state(0, false, false));
    }

    #[test]
    fn times_out_no_earlier_than_the_deadline_and_keeps_nothing() {
        let c = Completion::new();
        let deadline = Instant::now() + ms(20);
        assert_eq!(c.wait_blocking_deadline(deadline), Err(TimedOut));
        assert!(Instant::now() >= deadline);
        assert_eq!(snapshot(&c), state(0, false, false), "left the queue");
        c.complete();
        assert_eq!(snapshot(&c), state(1, false, false));
    }

    #[test]
    fn retrying_with_the_same_deadline_never_extends_it() {
        let c = Completion::new();
        let start = Instant::now();
        let deadline = start + ms(20);
        c.complete();
        let mut outcomes = Vec::new();
        loop {
            let r = c.wait_blocking_deadline(deadline);
            outcomes.push(r);
            if r.is_err() {
                break;
            }
        }
        assert_eq!(outcomes, vec![Ok(()), Err(TimedOut)]);
        assert!(Instant::now() >= deadline);
        // After the deadline every call is a poll.
        for _ in 0..3 {
            assert_eq!(c.wait_blocking_deadline(deadline), Err(TimedOut));
        }
    }

    #[test]
    fn a_completion_from_another_thread_before_the_deadline_is_ok() {
        let c = Arc::new(Completion::new());
        let completer = std::thread::spawn({
            let c = c.clone();
            move || {
                std::thread::sleep(ms(10));
                c.complete();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(c.wait_blocking_deadline(deadline), Ok(()));
        completer.join().unwrap();
        assert_eq!(snapshot(&*c), state(0, false, false));
    }

    #[test]
    fn a_far_deadline_waits_until_completed() {
        let c = Arc::new(Completion::new());
        let far = Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 100);
        let waiter = std::thread::spawn({
            let c = c.clone();
            move || c.wait_blocking_deadline(far)
        });
        std::thread::sleep(ms(10));
        c.complete();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(snapshot(&*c), state(0, false, false));
    }

    #[test]
    fn a_blocked_deadline_waiter_is_reached_by_complete_all_and_pulses() {
        let c = Arc::new(Completion::new());
        let deadline = Instant::now() + Duration::from_secs(30);
        let waiter = std::thread::spawn({
            let c = c.clone();
            move || c.wait_blocking_deadline(deadline)
        });
        // Pulse until it returns: a pulse reaches it once it queued.
        while !waiter.is_finished() {
            c.complete_waiters();
            std::thread::yield_now();
        }
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(
            snapshot(&*c),
            state(0, false, false),
            "the pulses banked nothing"
        );

        let waiter = std::thread::spawn({
            let c = c.clone();
            move || c.wait_blocking_deadline(deadline)
        });
        c.complete_all();
        assert_eq!(waiter.join().unwrap(), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// run_until_done
// ---------------------------------------------------------------------------------------

/// A future that counts its polls and its drop, and is `Ready(output)` after
/// `pending_polls` pending polls (waking itself each time), running `on_ready` first.
struct Probe<T, F: FnMut()> {
    polls: Rc<Cell<usize>>,
    dropped: Rc<Cell<bool>>,
    pending_polls: usize,
    output: Option<T>,
    on_ready: F,
}

impl<T: Unpin, F: FnMut() + Unpin> Future for Probe<T, F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.polls.set(self.polls.get() + 1);
        if self.pending_polls > 0 {
            self.pending_polls -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        (self.on_ready)();
        Poll::Ready(self.output.take().expect("polled after Ready"))
    }
}

impl<T, F: FnMut()> Drop for Probe<T, F> {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

/// A probe, and its poll counter and drop flag.
#[allow(clippy::type_complexity)]
fn probe<T, F: FnMut()>(
    pending_polls: usize,
    output: T,
    on_ready: F,
) -> (Probe<T, F>, Rc<Cell<usize>>, Rc<Cell<bool>>) {
    let polls = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(false));
    (
        Probe {
            polls: polls.clone(),
            dropped: dropped.clone(),
            pending_polls,
            output: Some(output),
            on_ready,
        },
        polls,
        dropped,
    )
}

#[test]
fn run_until_done_is_some_when_the_future_finishes_first() {
    let c = Completion::new();
    assert_eq!(block_on(c.run_until_done(async { 42 })), Some(42));
    let (fut, polls, _) = probe(3, "done", || {});
    assert_eq!(block_on(c.run_until_done(fut)), Some("done"));
    assert_eq!(polls.get(), 4);
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "left the queue, took nothing"
    );
}

#[test]
fn run_until_done_is_none_when_a_completion_is_handed_first_and_the_future_is_dropped() {
    let c = Completion::new();
    let (fut, polls, dropped) = probe(usize::MAX, 1u8, || {});
    let (k, waker) = counting_waker();
    let mut run = Box::pin(c.run_until_done(fut));
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert_eq!(polls.get(), 1);
    assert_eq!(snapshot(&c), state(0, false, true));
    c.complete();
    assert_eq!(
        k.wakes(),
        2,
        "once by the probe (it wakes itself), once by the hand-off"
    );
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
    assert_eq!(
        polls.get(),
        1,
        "the wait won: the future was not polled again"
    );
    assert!(!dropped.get());
    drop(run);
    assert!(dropped.get(), "dropped unfinished with the RunUntilDone");
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "the completion was consumed"
    );
}

#[test]
fn run_until_done_with_a_banked_completion_is_none_and_never_polls_the_future() {
    let c = Completion::new();
    c.complete_n(2);
    // Both ready: the wait is polled first and wins.
    let (fut, polls, dropped) = probe(0, 1u8, || {});
    let (_, waker) = counting_waker();
    let mut run = Box::pin(c.run_until_done(fut));
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
    assert_eq!(polls.get(), 0, "the future was never polled");
    assert_eq!(snapshot(&c), state(1, false, false), "exactly one consumed");
    drop(run);
    assert!(dropped.get());
}

#[test]
fn run_until_done_after_complete_all_is_none_and_sticky() {
    let c = Completion::new();
    c.complete_all();
    for _ in 0..3 {
        assert_eq!(block_on(c.run_until_done(async { 1 })), None);
    }
    assert_eq!(snapshot(&c), state(0, true, false));

    c.reinit();
    let (_, waker) = counting_waker();
    let mut run = pin!(c.run_until_done(std::future::pending::<()>()));
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    c.complete_all();
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
}

#[test]
fn a_completion_handed_while_the_future_wins_is_passed_on_to_the_next_waiter() {
    let c = Completion::new();
    let (kb, wb) = counting_waker();
    let (_, waker) = counting_waker();
    // The future's last poll completes (handed to the run's queued wait) and finishes.
    let (fut, _, _) = probe(1, "won", || c.complete());
    let mut run = pin!(c.run_until_done(fut));
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    let mut b = pin!(c.wait());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(Some("won")));
    assert_eq!(kb.wakes(), 1, "passed on to B");
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_completion_handed_while_the_future_wins_is_banked_when_nobody_else_waits() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let (fut, _, _) = probe(1, 5, || c.complete());
    let mut run = pin!(c.run_until_done(fut));
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(Some(5)));
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[test]
fn run_until_done_keeps_fifo_with_plain_waits() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut run = pin!(c.run_until_done(std::future::pending::<()>()));
    let mut b = pin!(c.wait());
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete();
    assert_eq!(kb.wakes(), 0);
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete();
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
}

#[test]
fn dropping_a_run_until_done_handed_a_completion_passes_it_on() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let (kb, wb) = counting_waker();
    let (fut, _, dropped) = probe(usize::MAX, (), || {});
    let mut run = Box::pin(c.run_until_done(fut));
    let mut b = pin!(c.wait());
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete(); // to the run's wait
    drop(run);
    assert!(dropped.get());
    assert_eq!(kb.wakes(), 1);
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
}

#[test]
fn run_until_done_is_terminated_only_after_it_returned_ready() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    // The future wins.
    let mut run = pin!(c.run_until_done(async { 1 }));
    assert!(!run.is_terminated());
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(Some(1)));
    assert!(run.is_terminated());
    // The wait wins.
    let mut run = pin!(c.run_until_done(std::future::pending::<()>()));
    assert!(!run.is_terminated());
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert!(!run.is_terminated());
    c.complete();
    assert!(!run.is_terminated(), "handed, not yet returned");
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
    assert!(run.is_terminated());
}

#[test]
fn run_until_done_in_futures_select_loop() {
    use futures::FutureExt;
    let c = Completion::new();
    c.complete();
    let r = block_on(async {
        let mut run = pin!(c.run_until_done(std::future::pending::<u8>()));
        let mut tick = std::future::ready(()).fuse();
        let mut events = Vec::new();
        loop {
            futures::select_biased! {
                r = run => events.push(format!("run: {r:?}")),
                _ = tick => events.push("tick".to_string()),
                complete => break,
            }
        }
        events
    });
    assert_eq!(r, vec!["run: None".to_string(), "tick".to_string()]);
}

#[test]
#[should_panic(expected = "polled after it returned `Ready`")]
fn polling_run_until_done_after_ready_panics() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut run = pin!(c.run_until_done(async { 1 }));
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(Some(1)));
    let _ = poll_once(run.as_mut(), &waker);
}

#[test]
fn run_until_done_accepts_into_future_and_is_send_when_the_future_is() {
    struct Job(u32);
    impl IntoFuture for Job {
        type Output = u32;
        type IntoFuture = std::future::Ready<u32>;
        fn into_future(self) -> Self::IntoFuture {
            std::future::ready(self.0 * 2)
        }
    }
    fn send<T: Send>(_: &T) {}
    let c = Completion::new();
    let run = c.run_until_done(Job(21));
    send(&run);
    assert_eq!(
        format!("{run:?}"),
        "RunUntilDone { wait: Wait { state: \"idle\" }, .. }"
    );
    assert_eq!(block_on(run), Some(42));
}

#[test]
fn run_until_done_with_a_question_mark_inside() {
    async fn job(fail: bool) -> Result<u32, String> {
        if fail {
            Err("job failed".into())
        } else {
            Ok(7)
        }
    }
    async fn worker(shutdown: &Completion, fail: bool) -> Result<Option<u32>, String> {
        match shutdown.run_until_done(job(fail)).await {
            Some(r) => Ok(Some(r?)),
            None => Ok(None),
        }
    }
    let shutdown = Completion::new();
    assert_eq!(block_on(worker(&shutdown, false)), Ok(Some(7)));
    assert_eq!(
        block_on(worker(&shutdown, true)),
        Err("job failed".to_string())
    );
    shutdown.complete_all();
    assert_eq!(block_on(worker(&shutdown, true)), Ok(None));
}

#[tokio::test(start_paused = true)]
async fn run_until_done_worker_pool_stops_on_complete_all() {
    let shutdown = Arc::new(Completion::new());
    let start = tokio::time::Instant::now();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut jobs = 0;
                while let Some(()) = shutdown.run_until_done(tokio::time::sleep(ms(10))).await {
                    jobs += 1;
                }
                (jobs, start.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(ms(35)).await;
    shutdown.complete_all();
    for w in workers {
        assert_eq!(w.await.unwrap(), (3, ms(35)));
    }
}
