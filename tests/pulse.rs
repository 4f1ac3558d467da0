//! `complete_waiters()` (a pulse, `Notify::notify_waiters`) and `enable()` on `Wait` and
//! `OwnedWait` (`Notified::enable`), issue 16 (method docs of `Completion::complete_waiters` and `Wait::enable`).
//!
//! A pulse hands one completion to every wait queued or enabled at that moment and wakes
//! each exactly once; it banks nothing and leaves the count and the sticky flag as they
//! are (checked on the `Debug` snapshot and with `try_wait`/`is_done`). `enable()` queues a
//! wait without a waker: it keeps its FIFO place from that moment, takes a banked
//! completion at once (returning `true`), and its first poll stores the waker.
//!
//! Hand-driven futures and counting wakers: every order is exact. The thread tests at the
//! end race pulses and completions for real.

mod common;

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_completion::{Completion, Wait};
use futures::future::FusedFuture;

use common::{block_on, counting_waker, hook_waker, poll_once, snapshot, state, TestWaker};

/// `n` boxed waits on `c`, each polled once (queued, in order) with a counting waker.
#[allow(clippy::type_complexity)]
fn queued(c: &Completion, n: usize) -> Vec<(Pin<Box<Wait<'_>>>, Arc<TestWaker>, std::task::Waker)> {
    (0..n)
        .map(|_| {
            let (k, waker) = counting_waker();
            let mut w = Box::pin(c.wait());
            assert!(poll_once(w.as_mut(), &waker).is_pending());
            (w, k, waker)
        })
        .collect()
}

// =======================================================================================
// complete_waiters
// =======================================================================================

#[test]
fn pulse_with_nobody_queued_changes_nothing() {
    let c = Completion::new();
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(!c.is_done());

    c.complete_n(3);
    c.complete_waiters();
    assert_eq!(
        snapshot(&c),
        state(3, false, false),
        "a banked count stays banked"
    );

    c.reinit();
    c.complete_all();
    c.complete_waiters();
    assert_eq!(
        snapshot(&c),
        state(0, true, false),
        "the sticky flag stays set"
    );
    assert!(c.try_wait() && c.try_wait());
}

#[test]
fn a_banked_completion_stays_banked() {
    let c = Completion::new();
    c.complete();
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.is_done());
    assert!(c.try_wait(), "the pulse kept the 1");
    assert!(!c.try_wait());
}

#[test]
fn pulse_hands_one_completion_to_every_queued_wait_and_wakes_each_once() {
    let c = Completion::new();
    let mut waits = queued(&c, 3);
    assert_eq!(snapshot(&c), state(0, false, true));

    c.complete_waiters();
    for (_, k, _) in &waits {
        assert_eq!(k.wakes(), 1);
    }
    // Banks nothing, not sticky; the queue is empty.
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(!c.is_done());
    assert!(!c.try_wait());
    for (w, _, waker) in &mut waits {
        assert!(!w.is_terminated());
        assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()));
        assert!(w.is_terminated());
    }
    for (_, k, _) in &waits {
        assert_eq!(k.wakes(), 1, "woken exactly once");
    }
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn pulse_is_not_sticky_a_later_wait_waits_for_the_next_completion() {
    let c = Completion::new();
    let mut early = queued(&c, 1);
    c.complete_waiters();

    let (k, waker) = counting_waker();
    let mut late = pin!(c.wait());
    assert!(
        poll_once(late.as_mut(), &waker).is_pending(),
        "not released"
    );
    assert_eq!(snapshot(&c), state(0, false, true));
    let (w, _, ew) = &mut early[0];
    assert_eq!(poll_once(w.as_mut(), ew), Poll::Ready(()));

    // A second pulse reaches it; a `complete()` would too.
    c.complete_waiters();
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(late.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_complete_after_the_pulse_goes_to_the_next_waiter_or_is_banked() {
    let c = Completion::new();
    let mut pulsed = queued(&c, 2);
    c.complete_waiters();
    // The pulsed waits have not run yet; a complete() now is not theirs: banked.
    c.complete();
    assert_eq!(snapshot(&c), state(1, false, false));
    for (w, _, waker) in &mut pulsed {
        assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()));
    }
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the pulsed waits took none"
    );
    let (k, waker) = counting_waker();
    let mut next = pin!(c.wait());
    assert_eq!(poll_once(next.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(k.wakes(), 0);
    assert_eq!(snapshot(&c), state(0, false, false));
}

/// `complete_waiters` docs: a pulse reaches the waits queued at the call (SPEC §2: "queued
/// or enabled now"); a wait created and neither polled nor enabled is not reached, and
/// the banked completion stays for it.
#[test]
fn pulse_does_not_reach_a_wait_that_was_created_but_never_polled() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait()); // idle: neither polled nor enabled
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(poll_once(w.as_mut(), &waker).is_pending(), "not reached");
    c.complete(); // handed to it now that it is queued
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false), "nothing banked");
}

#[test]
fn pulse_after_complete_all_keeps_the_flag_and_releases_nobody_new() {
    let c = Completion::new();
    c.complete_all();
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(0, true, false));
    c.reinit();
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn pulse_over_many_waiters_crosses_batches() {
    // Batches of 32: the edges around one and two batches, and more.
    for n in [1, 2, 31, 32, 33, 63, 64, 65, 100] {
        let c = Completion::new();
        let mut waits = queued(&c, n);
        c.complete_waiters();
        assert_eq!(snapshot(&c), state(0, false, false), "n = {n}");
        for (i, (w, k, waker)) in waits.iter_mut().enumerate() {
            assert_eq!(k.wakes(), 1, "n = {n}, waiter {i}");
            assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()), "n = {n}");
        }
        assert!(!c.try_wait(), "n = {n}: nothing banked");
    }
}

#[test]
fn completions_after_a_pulse_over_many_waiters_bank_as_usual() {
    // While waiters are queued nothing is banked; once they are pulsed, later completions
    // bank as usual and a second pulse (nobody queued) keeps them.
    let c = Completion::new();
    let mut waits = queued(&c, 40);
    c.complete_waiters();
    c.complete_n(5);
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(5, false, false));
    for (w, _, waker) in &mut waits {
        assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()));
    }
    assert_eq!(snapshot(&c), state(5, false, false));
}

#[test]
fn a_pulsed_wait_dropped_before_it_was_polled_passes_nothing_on() {
    let c = Completion::new();
    let mut pulsed = queued(&c, 2);
    c.complete_waiters();
    // `late` queues after the pulse.
    let (kl, wl) = counting_waker();
    let mut late = pin!(c.wait());
    assert!(poll_once(late.as_mut(), &wl).is_pending());

    let (first, _, _) = pulsed.remove(0);
    drop(first); // pulsed, never polled again
    assert_eq!(kl.wakes(), 0, "the pulse is not passed on");
    assert!(poll_once(late.as_mut(), &wl).is_pending());
    assert_eq!(snapshot(&c), state(0, false, true), "nothing banked");

    let (second, _, waker) = &mut pulsed[0];
    assert_eq!(poll_once(second.as_mut(), waker), Poll::Ready(()));
    drop(pulsed);

    // With nobody queued after it either, the dropped pulsed wait banks nothing.
    let mut lone = queued(&c, 1);
    // `late` is still queued: pulse both, then drop both unpolled.
    c.complete_waiters();
    assert_eq!(kl.wakes(), 1);
    drop(lone.remove(0));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn pulse_reaches_timed_and_raced_waits() {
    let c = Completion::new();
    let never = |_: Duration| std::future::pending::<()>();
    let (k, waker) = counting_waker();
    let mut timed = pin!(c.wait_timeout(never, Duration::from_secs(1)));
    let mut raced = pin!(c.wait_or(std::future::pending::<u8>()));
    let mut run = pin!(c.run_until_done(std::future::pending::<u8>()));
    assert!(poll_once(timed.as_mut(), &waker).is_pending());
    assert!(poll_once(raced.as_mut(), &waker).is_pending());
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    c.complete_waiters();
    assert_eq!(k.wakes(), 3);
    assert_eq!(poll_once(timed.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(poll_once(raced.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(None));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_pulsed_timed_wait_whose_timer_also_fired_is_ok() {
    let c = Completion::new();
    let expired_on_second_poll = |_: Duration| {
        let mut polled = false;
        std::future::poll_fn(move |cx| {
            if polled {
                Poll::Ready(())
            } else {
                polled = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    };
    let (_, waker) = counting_waker();
    let mut timed = pin!(c.wait_timeout(expired_on_second_poll, Duration::from_secs(1)));
    assert!(poll_once(timed.as_mut(), &waker).is_pending());
    c.complete_waiters();
    assert_eq!(poll_once(timed.as_mut(), &waker), Poll::Ready(Ok(())));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_waker_that_completes_during_the_pulse_banks_its_completion() {
    // Wakers run after the whole queue was taken: a complete() from one of them finds
    // nobody queued and banks, and the other pulsed waits keep their one completion each.
    let c = Arc::new(Completion::new());
    let (ka, wa) = hook_waker({
        let c = c.clone();
        move || c.complete()
    });
    let (kb, wb) = counting_waker();
    let mut a = Box::pin(c.wait());
    let mut b = Box::pin(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete_waiters();
    assert_eq!((ka.wakes(), kb.wakes()), (1, 1));
    assert_eq!(snapshot(&c), state(1, false, false));
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(1, false, false));
    drop((a, b));
    drop((wa, wb));
}

#[test]
fn a_waker_that_pulses_again_during_the_pulse_is_harmless() {
    let c = Arc::new(Completion::new());
    let (ka, wa) = hook_waker({
        let c = c.clone();
        move || c.complete_waiters()
    });
    let mut waits: Vec<_> = (0..40).map(|_| Box::pin(c.wait())).collect();
    for w in &mut waits {
        assert!(poll_once(w.as_mut(), &wa).is_pending());
    }
    c.complete_waiters();
    assert_eq!(ka.wakes(), 40);
    for w in &mut waits {
        assert_eq!(poll_once(w.as_mut(), &wa), Poll::Ready(()));
    }
    assert_eq!(snapshot(&c), state(0, false, false));
    drop(waits);
    drop(wa);
}

type Slot = std::sync::Mutex<Vec<Option<Pin<Box<Wait<'static>>>>>>;

/// A wait that queues while a pulse over more than one batch is still waking (from a
/// waker of its first batch) arrived after the pulse: it is not released by it.
#[test]
fn a_wait_queued_from_a_waker_during_a_long_pulse_is_not_pulsed() {
    static C: Completion = Completion::new();
    static LATE: Slot = std::sync::Mutex::new(Vec::new());
    let (kl, late_waker) = counting_waker();
    let (k0, w0) = hook_waker(move || {
        let mut late = Box::pin(C.wait());
        assert!(poll_once(late.as_mut(), &late_waker).is_pending());
        LATE.lock().unwrap().push(Some(late));
    });
    let (k, waker) = counting_waker();
    let mut waits: Vec<_> = (0..40).map(|_| Box::pin(C.wait())).collect();
    assert!(poll_once(waits[0].as_mut(), &w0).is_pending());
    for w in &mut waits[1..] {
        assert!(poll_once(w.as_mut(), &waker).is_pending());
    }
    C.complete_waiters();
    assert_eq!((k0.wakes(), k.wakes()), (1, 39));
    for (i, w) in waits.iter_mut().enumerate() {
        let waker = if i == 0 { &w0 } else { &waker };
        assert_eq!(poll_once(w.as_mut(), waker), Poll::Ready(()), "waiter {i}");
    }
    assert_eq!(kl.wakes(), 0, "the late wait was not pulsed");
    assert_eq!(snapshot(&C), state(0, false, true));
    let mut late = LATE.lock().unwrap().pop().unwrap().unwrap();
    C.complete();
    assert_eq!(kl.wakes(), 1);
    let (_, w) = counting_waker();
    assert_eq!(poll_once(late.as_mut(), &w), Poll::Ready(()));
    assert_eq!(snapshot(&C), state(0, false, false));
}

/// A waker of the first batch drops a pulsed wait that the pulse has not reached yet (it
/// is still in the pulse's drain): the wait leaves safely and passes nothing on.
#[test]
fn a_pulsed_wait_dropped_by_a_waker_before_its_batch_is_woken() {
    static C: Completion = Completion::new();
    static WAITS: Slot = std::sync::Mutex::new(Vec::new());
    let (k0, w0) = hook_waker(|| {
        // The last wait, still in the drain: drop it.
        let last = WAITS.lock().unwrap().last_mut().unwrap().take();
        drop(last);
    });
    let (k, waker) = counting_waker();
    {
        let mut waits = WAITS.lock().unwrap();
        for i in 0..40 {
            let mut w = Box::pin(C.wait());
            let wk = if i == 0 { &w0 } else { &waker };
            assert!(poll_once(w.as_mut(), wk).is_pending());
            waits.push(Some(w));
        }
    }
    C.complete_waiters();
    assert_eq!(k0.wakes(), 1);
    assert_eq!(k.wakes(), 38, "the dropped wait was not woken");
    let mut waits = std::mem::take(&mut *WAITS.lock().unwrap());
    assert!(waits[39].is_none());
    for (i, w) in waits.iter_mut().take(39).enumerate() {
        let wk = if i == 0 { &w0 } else { &waker };
        let w = w.as_mut().unwrap();
        assert_eq!(poll_once(w.as_mut(), wk), Poll::Ready(()), "waiter {i}");
    }
    assert_eq!(
        snapshot(&C),
        state(0, false, false),
        "nothing passed on or banked"
    );
}

/// `enable()` on a wait that a pulse or `complete_all` has already taken off the queue,
/// but not woken yet (a later batch), reports what its next poll will find: it holds a
/// completion (`true`), as the docs say ("or `complete_all` happened").
#[test]
fn enable_on_a_wait_released_but_not_yet_woken_reports_true() {
    static C: Completion = Completion::new();
    static WAITS: Slot = std::sync::Mutex::new(Vec::new());
    static SEEN: std::sync::Mutex<Vec<(bool, bool)>> = std::sync::Mutex::new(Vec::new());
    let (_, w0) = hook_waker(|| {
        let mut waits = WAITS.lock().unwrap();
        let last = waits.last_mut().unwrap().as_mut().unwrap();
        let enabled = last.as_mut().enable();
        let (_, waker) = counting_waker();
        let ready = poll_once(last.as_mut(), &waker).is_ready();
        SEEN.lock().unwrap().push((enabled, ready));
    });
    let (_, waker) = counting_waker();
    for all in [false, true] {
        {
            let mut waits = WAITS.lock().unwrap();
            waits.clear();
            for i in 0..40 {
                let mut w = Box::pin(C.wait());
                let wk = if i == 0 { &w0 } else { &waker };
                assert!(poll_once(w.as_mut(), wk).is_pending());
                waits.push(Some(w));
            }
        }
        if all {
            C.complete_all();
        } else {
            C.complete_waiters();
        }
        for w in WAITS.lock().unwrap().iter_mut().take(39) {
            let w = w.as_mut().unwrap();
            assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
        }
        WAITS.lock().unwrap().clear();
    }
    assert_eq!(
        *SEEN.lock().unwrap(),
        [(true, true), (true, true)],
        "(enable(), next poll Ready) on a released, unwoken wait: after a pulse, after \
         complete_all"
    );
}

#[test]
fn an_enabled_wait_pulsed_then_dropped_unpolled_passes_nothing_on() {
    let c = Completion::new();
    let mut a = Box::pin(c.wait());
    assert!(!a.as_mut().enable());
    c.complete_waiters();
    let (kb, wb) = counting_waker();
    let mut b = pin!(c.wait());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    drop(a);
    assert_eq!(kb.wakes(), 0);
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert_eq!(snapshot(&c), state(0, false, true));
}

#[test]
fn the_old_migration_pattern_loses_a_banked_completion_and_the_pulse_does_not() {
    // What docs/from_other_crates.md used to map `notify_waiters` to:
    let old = Completion::new();
    old.complete();
    old.complete_all();
    old.reinit();
    assert!(
        !old.try_wait(),
        "complete_all + reinit discarded the banked completion"
    );

    // A complete() landing between the two calls is lost too.
    old.complete_all();
    old.complete();
    old.reinit();
    assert!(!old.try_wait());

    // And a wait arriving in that window goes straight through.
    old.complete_all();
    let (_, waker) = counting_waker();
    let mut barger = pin!(old.wait());
    assert_eq!(poll_once(barger.as_mut(), &waker), Poll::Ready(()));
    old.reinit();

    // complete_waiters keeps the banked completion, banks a later complete(), and lets
    // no later wait through.
    let new = Completion::new();
    new.complete();
    new.complete_waiters();
    assert_eq!(snapshot(&new), state(1, false, false));
    assert!(new.try_wait());
    new.complete_waiters();
    new.complete();
    assert_eq!(snapshot(&new), state(1, false, false));
    assert!(new.try_wait());
    new.complete_waiters();
    let mut later = pin!(new.wait());
    assert!(poll_once(later.as_mut(), &waker).is_pending());
}

#[cfg(feature = "alloc")]
#[test]
fn pulse_reaches_owned_waits() {
    let c = Arc::new(Completion::new());
    let (k, waker) = counting_waker();
    let mut a = Box::pin(c.clone().wait_owned());
    let mut b = Box::pin(c.clone().wait_owned());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    c.complete_waiters();
    assert_eq!(k.wakes(), 2);
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

// =======================================================================================
// enable
// =======================================================================================

#[test]
fn enable_queues_without_a_waker() {
    let c = Completion::new();
    let mut w = pin!(c.wait());
    assert_eq!(format!("{w:?}"), "Wait { state: \"idle\" }");
    assert!(!w.as_mut().enable());
    assert_eq!(format!("{w:?}"), "Wait { state: \"queued\" }");
    assert_eq!(snapshot(&c), state(0, false, true));
    assert!(!w.is_terminated());
}

#[test]
fn an_enabled_wait_keeps_its_fifo_place_from_the_moment_it_was_enabled() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(!a.as_mut().enable()); // A first
    assert!(poll_once(b.as_mut(), &wb).is_pending()); // then B

    c.complete();
    assert_eq!(kb.wakes(), 0, "B is behind A");
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(!c.try_wait(), "handed to A");
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
    assert_eq!(
        ka.wakes(),
        0,
        "A had no waker when it was handed the completion"
    );

    c.complete();
    assert_eq!(kb.wakes(), 1);
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn a_wait_polled_before_another_is_enabled_is_served_first() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let (_, wb) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    assert!(!b.as_mut().enable());
    c.complete();
    assert_eq!(ka.wakes(), 1);
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
    c.complete();
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
}

#[test]
fn enable_takes_a_banked_completion_and_the_next_poll_consumes_nothing_more() {
    let c = Completion::new();
    c.complete_n(2);
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(w.as_mut().enable(), "a completion was banked");
    assert_eq!(snapshot(&c), state(1, false, false), "it took exactly one");
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the poll took nothing more"
    );
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(1, false, false));
    assert_eq!(k.wakes(), 0);
}

/// `is_terminated()` is documented as "`true` once this future returned `Ready`": a wait
/// whose `enable()` took a banked completion (or saw `complete_all`) has not returned
/// `Ready` yet, and `futures::select!` skips a terminated future, so it must still report
/// `false` until it is polled.
#[test]
fn a_wait_enabled_on_a_banked_completion_is_not_terminated_until_polled() {
    for sticky in [false, true] {
        let c = Completion::new();
        if sticky {
            c.complete_all();
        } else {
            c.complete();
        }
        let mut w = pin!(c.wait());
        assert!(w.as_mut().enable());
        assert!(
            !w.is_terminated(),
            "sticky: {sticky}: enable() took a completion but the wait has not returned Ready"
        );
        let (_, waker) = counting_waker();
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
        assert!(w.is_terminated());
    }
}

/// The same through `futures::select_biased!`, which skips terminated futures: the
/// completion that `enable()` took must make the `wait` branch fire (polled first), not
/// the other one.
#[test]
fn a_wait_enabled_on_a_banked_completion_fires_in_futures_select() {
    use futures::FutureExt;
    let c = Completion::new();
    c.complete();
    let fired = block_on(async {
        let mut w = pin!(c.wait());
        assert!(w.as_mut().enable());
        let mut other = std::future::ready(()).fuse();
        futures::select_biased! {
            _ = w => "wait",
            _ = other => "other",
        }
    });
    assert_eq!(fired, "wait", "the wait holding the completion was skipped");
    assert_eq!(snapshot(&c), state(0, false, false));
}

/// Dropping an enabled wait that holds a completion (its next poll would be `Ready`) must
/// not lose it, whichever way it got it: handed (passed on, tested below) or taken from
/// the bank by `enable()` itself (crate docs, "Cancel safety": every `complete()` is consumed by exactly one
/// `Ready` wait or `true` `try_wait`, or stays banked).
#[test]
fn dropping_a_wait_whose_enable_took_a_banked_completion_gives_it_back() {
    let c = Completion::new();
    c.complete();
    let mut w = Box::pin(c.wait());
    assert!(w.as_mut().enable());
    drop(w); // never polled: it never returned Ready
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "the completion enable() took was not passed on"
    );
}

/// A completion `enable()` took from the bank is held like a handed one: dropped
/// unpolled, it goes to the next queued waiter (woken once), not back to the bank.
#[test]
fn a_banked_completion_taken_by_enable_is_passed_to_a_waiter_queued_later() {
    let c = Completion::new();
    c.complete();
    let mut a = Box::pin(c.wait());
    assert!(a.as_mut().enable());
    assert_eq!(snapshot(&c), state(0, false, false));
    let (kb, wb) = counting_waker();
    let mut b = pin!(c.wait());
    assert!(
        poll_once(b.as_mut(), &wb).is_pending(),
        "A holds the only completion"
    );
    drop(a);
    assert_eq!(kb.wakes(), 1);
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));

    // complete_all: the enabled wait holds a release, nothing to pass on.
    c.complete_all();
    let mut a = Box::pin(c.wait());
    assert!(a.as_mut().enable());
    c.reinit();
    drop(a);
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "a release is not passed on"
    );
}

#[test]
fn enable_after_complete_all_is_true_and_consumes_nothing() {
    let c = Completion::new();
    c.complete_all();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(w.as_mut().enable());
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, true, false));
    assert!(c.try_wait());
}

#[test]
fn an_enabled_wait_is_released_by_complete_all() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(!a.as_mut().enable());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    c.complete_all();
    assert_eq!(k.wakes(), 1, "only B had a waker");
    assert!(
        a.as_mut().enable(),
        "enable on a released wait says it holds one"
    );
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn an_enabled_wait_is_reached_by_a_pulse() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut enabled: Vec<_> = (0..40).map(|_| Box::pin(c.wait())).collect();
    for w in &mut enabled {
        assert!(!w.as_mut().enable());
    }
    c.complete_waiters();
    assert_eq!(snapshot(&c), state(0, false, false));
    for w in &mut enabled {
        assert!(w.as_mut().enable(), "holds its pulse");
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    }
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn the_first_poll_after_enable_stores_the_waker_and_a_complete_wakes_it_once() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(!w.as_mut().enable());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert_eq!(k.wakes(), 0);
    c.complete();
    assert_eq!(k.wakes(), 1);
    assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(k.wakes(), 1);
}

#[test]
fn the_newest_waker_after_enable_is_the_one_woken() {
    let c = Completion::new();
    let (k1, w1) = counting_waker();
    let (k2, w2) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(!w.as_mut().enable());
    assert!(poll_once(w.as_mut(), &w1).is_pending());
    assert!(poll_once(w.as_mut(), &w2).is_pending());
    c.complete_waiters();
    assert_eq!((k1.wakes(), k2.wakes()), (0, 1));
    assert_eq!(poll_once(w.as_mut(), &w2), Poll::Ready(()));
}

#[test]
fn a_completion_handed_to_an_enabled_never_polled_wait_wakes_nobody_and_the_poll_finds_it() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(!a.as_mut().enable());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete(); // handed to A, which has no waker: nobody is woken
    assert_eq!((ka.wakes(), kb.wakes()), (0, 0));
    assert!(
        a.as_mut().enable(),
        "enable again reports the completion it holds"
    );
    assert_eq!(format!("{a:?}"), "Wait { state: \"handed\" }");
    assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
    assert_eq!(ka.wakes(), 0);
    assert!(poll_once(b.as_mut(), &wb).is_pending());
}

#[test]
fn dropping_an_enabled_wait_that_was_handed_a_completion_passes_it_on() {
    let c = Completion::new();
    let (kb, wb) = counting_waker();
    let mut a = Box::pin(c.wait());
    let mut b = pin!(c.wait());
    assert!(!a.as_mut().enable());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    c.complete(); // to A
    drop(a);
    assert_eq!(kb.wakes(), 1, "passed on to B");
    assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(0, false, false));

    // With nobody else queued, it goes back to the count.
    let mut a = Box::pin(c.wait());
    assert!(!a.as_mut().enable());
    c.complete();
    drop(a);
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[test]
fn dropping_an_enabled_wait_that_holds_nothing_just_leaves_the_queue() {
    let c = Completion::new();
    let mut a = Box::pin(c.wait());
    assert!(!a.as_mut().enable());
    assert_eq!(snapshot(&c), state(0, false, true));
    drop(a);
    assert_eq!(snapshot(&c), state(0, false, false));
    c.complete();
    assert_eq!(snapshot(&c), state(1, false, false), "banked: A was gone");
}

#[test]
fn enable_twice_is_harmless_one_place_in_the_queue() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(!a.as_mut().enable());
    assert!(!a.as_mut().enable());
    assert!(!b.as_mut().enable());
    assert!(
        !a.as_mut().enable(),
        "A keeps its place, it is not moved to the tail"
    );
    c.complete();
    c.complete();
    c.complete();
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "two waits served, the third completion banked"
    );
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(()));
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[test]
fn enable_after_a_poll_changes_nothing() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    assert!(!b.as_mut().enable(), "B keeps its place");
    assert!(!a.as_mut().enable(), "and A keeps its waker");
    c.complete();
    assert_eq!(k.wakes(), 1, "A's waker, kept by enable, was woken");
    assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));
    assert!(poll_once(b.as_mut(), &waker).is_pending());

    // After Ready: enable reports true and consumes nothing.
    c.complete_n(2);
    // B got one, one banked.
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(a.as_mut().enable());
    assert_eq!(snapshot(&c), state(1, false, false));
    assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(()));
    assert!(b.as_mut().enable());
    assert_eq!(snapshot(&c), state(1, false, false));
}

#[test]
fn enable_registers_interest_before_the_pulse_and_an_unqueued_wait_misses_it() {
    // The Notify pattern: enable, then do what causes the pulse, then await.
    let c = Arc::new(Completion::new());
    let mut missed = Box::pin(c.wait());
    let mut caught = Box::pin(c.wait());
    assert!(!caught.as_mut().enable());
    std::thread::spawn({
        let c = c.clone();
        move || c.complete_waiters()
    })
    .join()
    .unwrap();
    block_on(caught.as_mut());
    // A wait that existed but was not queued (neither polled nor enabled) misses it.
    let (_, waker) = counting_waker();
    assert!(poll_once(missed.as_mut(), &waker).is_pending());
    drop(missed);
    let mut later = Box::pin(c.wait());
    assert!(poll_once(later.as_mut(), &waker).is_pending());
    drop(later);
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn an_enabled_wait_raced_by_a_thread_completing_it() {
    let c = Arc::new(Completion::new());
    for _ in 0..if cfg!(miri) { 5 } else { 200 } {
        let mut w = Box::pin(c.wait());
        assert!(!w.as_mut().enable());
        let t = std::thread::spawn({
            let c = c.clone();
            move || c.complete()
        });
        block_on(w.as_mut());
        t.join().unwrap();
        assert_eq!(snapshot(&c), state(0, false, false));
    }
}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;

    #[test]
    fn owned_enable_keeps_fifo_and_takes_a_banked_completion() {
        let c = Arc::new(Completion::new());
        let (ka, wa) = counting_waker();
        let (kb, wb) = counting_waker();
        let mut a = Box::pin(c.clone().wait_owned());
        let mut b = Box::pin(c.clone().wait_owned());
        assert!(!a.as_mut().enable());
        assert!(poll_once(b.as_mut(), &wb).is_pending());
        c.complete();
        assert_eq!((ka.wakes(), kb.wakes()), (0, 0));
        assert!(poll_once(b.as_mut(), &wb).is_pending());
        assert_eq!(poll_once(a.as_mut(), &wa), Poll::Ready(()));
        c.complete();
        assert_eq!(kb.wakes(), 1);
        assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()));

        c.complete();
        let mut w = Box::pin(c.clone().wait_owned());
        assert!(w.as_mut().enable());
        assert_eq!(snapshot(&c), state(0, false, false));
        assert_eq!(poll_once(w.as_mut(), &wa), Poll::Ready(()));
        assert_eq!(snapshot(&c), state(0, false, false));
    }

    /// As `a_wait_enabled_on_a_banked_completion_is_not_terminated_until_polled`, for
    /// `OwnedWait`.
    #[test]
    fn owned_wait_enabled_on_a_banked_completion_is_not_terminated_until_polled() {
        let c = Arc::new(Completion::new());
        c.complete();
        let mut w = Box::pin(c.clone().wait_owned());
        assert!(w.as_mut().enable());
        assert!(!w.is_terminated(), "it has not returned Ready yet");
        let (_, waker) = counting_waker();
        assert_eq!(poll_once(w.as_mut(), &waker), Poll::Ready(()));
        assert!(w.is_terminated());
    }

    #[test]
    fn owned_enable_is_released_by_complete_all_and_pulse() {
        let c = Arc::new(Completion::new());
        let (_, waker) = counting_waker();
        let mut a = Box::pin(c.clone().wait_owned());
        assert!(!a.as_mut().enable());
        c.complete_waiters();
        assert_eq!(snapshot(&c), state(0, false, false));
        assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));

        let mut b = Box::pin(c.clone().wait_owned());
        assert!(!b.as_mut().enable());
        c.complete_all();
        assert!(b.as_mut().enable());
        assert_eq!(poll_once(b.as_mut(), &waker), Poll::Ready(()));
        let mut late = Box::pin(c.clone().wait_owned());
        assert!(late.as_mut().enable());
        assert_eq!(snapshot(&c), state(0, true, false));
    }

    #[test]
    fn owned_enable_waker_stored_by_the_first_poll() {
        let c = Arc::new(Completion::new());
        let (k, waker) = counting_waker();
        let mut a = Box::pin(c.clone().wait_owned());
        assert!(!a.as_mut().enable());
        assert!(!a.as_mut().enable());
        assert!(poll_once(a.as_mut(), &waker).is_pending());
        c.complete();
        assert_eq!(k.wakes(), 1);
        assert_eq!(poll_once(a.as_mut(), &waker), Poll::Ready(()));
    }

    #[test]
    fn dropping_an_owned_enabled_wait_passes_a_handed_completion_on() {
        let c = Arc::new(Completion::new());
        let (kb, wb) = counting_waker();
        let mut a = Box::pin(c.clone().wait_owned());
        let mut b = Box::pin(c.clone().wait_owned());
        assert!(!a.as_mut().enable());
        assert!(!b.as_mut().enable());
        c.complete(); // to A
        drop(a);
        assert_eq!(kb.wakes(), 0, "B had no waker either");
        assert_eq!(poll_once(b.as_mut(), &wb), Poll::Ready(()), "B got it");
        drop(b);
        assert_eq!(snapshot(&c), state(0, false, false));
        assert_eq!(Arc::strong_count(&c), 1);
    }

    #[test]
    fn owned_enabled_wait_spawned_on_tokio_catches_a_pulse_sent_before_it_runs() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = Arc::new(Completion::new());
            let mut w = Box::pin(c.clone().wait_owned());
            assert!(!w.as_mut().enable());
            let task = tokio::spawn(w); // not polled yet
            c.complete_waiters();
            task.await.unwrap();
            assert_eq!(snapshot(&c), state(0, false, false));
        });
    }
}

// =======================================================================================
// Threads: pulses and completions racing for real
// =======================================================================================

/// Pulses with nobody queued bank nothing and never eat a banked completion: with
/// completers and pulsers racing, the count ends at exactly the number of `complete()`s.
#[test]
fn racing_pulses_never_touch_the_banked_count() {
    let (threads, per) = if cfg!(miri) { (2, 20) } else { (4, 5_000) };
    let c = Completion::new();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per {
                    c.complete();
                }
            });
            s.spawn(|| {
                for _ in 0..per {
                    c.complete_waiters();
                }
            });
        }
    });
    assert_eq!(
        snapshot(&c),
        state((threads * per) as u32, false, false),
        "every complete() banked, no pulse banked or took anything"
    );
}

/// Waiters, completers and a pulser racing. Every wait returns (no lost wake-up), and the
/// bookkeeping holds: each of the `N` `complete()`s is either consumed by a wait or still
/// banked, so `returned + banked >= N` (pulses only add), and the banked count can never
/// exceed `N`.
#[test]
#[cfg_attr(
    miri,
    ignore = "a thread stress test; the hand-driven tests cover Miri"
)]
fn racing_completions_pulses_and_waiters() {
    const WAITERS: usize = 4;
    const ROUNDS: usize = 2_000;
    let c = Completion::new();
    let returned = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let (c, returned) = (&c, &returned);
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        if (round + i) % 2 == 0 {
                            block_on(c.wait());
                        } else {
                            let mut w = pin!(c.wait());
                            w.as_mut().enable();
                            block_on(w);
                        }
                        returned.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let completer = s.spawn(|| {
            for _ in 0..WAITERS * ROUNDS / 2 {
                c.complete();
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                c.complete_waiters();
                std::thread::yield_now();
            }
        });
        completer.join().unwrap();
        for w in waiters {
            // The pulser keeps pulsing until every waiter is done.
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let n = WAITERS * ROUNDS / 2;
    let mut banked = 0;
    while c.try_wait() {
        banked += 1;
    }
    assert_eq!(returned.load(Ordering::Relaxed), WAITERS * ROUNDS);
    assert!(banked <= n, "banked {banked} > {n} completions posted");
    assert!(WAITERS * ROUNDS + banked >= n);
    assert_eq!(snapshot(&c), state(0, false, false));
}

/// N threads enable a wait each, then one pulse (after all are enabled) must release all
/// of them, whether their first poll comes before or after it.
#[test]
fn one_pulse_after_every_thread_enabled_releases_them_all() {
    let (threads, rounds) = if cfg!(miri) { (3, 2) } else { (8, 50) };
    for _ in 0..rounds {
        let c = Completion::new();
        let enabled = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut w = pin!(c.wait());
                    assert!(!w.as_mut().enable());
                    enabled.fetch_add(1, Ordering::SeqCst);
                    block_on(w);
                });
            }
            while enabled.load(Ordering::SeqCst) < threads {
                std::thread::yield_now();
            }
            c.complete_waiters();
        });
        assert_eq!(snapshot(&c), state(0, false, false));
    }
}

/// The same with `complete_n(N)`: N enabled waits, N completions, nothing left banked.
#[test]
fn complete_n_after_every_thread_enabled_serves_each_once() {
    let (threads, rounds) = if cfg!(miri) { (3, 2) } else { (8, 50) };
    for _ in 0..rounds {
        let c = Completion::new();
        let enabled = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut w = pin!(c.wait());
                    assert!(!w.as_mut().enable());
                    enabled.fetch_add(1, Ordering::SeqCst);
                    block_on(w);
                });
            }
            while enabled.load(Ordering::SeqCst) < threads {
                std::thread::yield_now();
            }
            c.complete_n(threads as u32);
        });
        assert_eq!(snapshot(&c), state(0, false, false));
    }
}

#[cfg(feature = "std")]
#[test]
fn pulses_reach_blocked_threads_and_bank_nothing() {
    let c = Completion::new();
    let done = AtomicUsize::new(0);
    let threads = if cfg!(miri) { 2 } else { 6 };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                c.wait_blocking();
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        while done.load(Ordering::SeqCst) < threads {
            c.complete_waiters();
            std::thread::yield_now();
        }
    });
    assert_eq!(snapshot(&c), state(0, false, false));
}
