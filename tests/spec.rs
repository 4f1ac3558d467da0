//! Deterministic behavioural tests of the contract (crate docs, "Semantics" and "Cancel safety"): every future is polled by
//! hand with counting wakers, so FIFO order, wake counts and hand-offs are exact.

mod common;

use core::pin::pin;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use async_completion::{Completion, Wait};
use futures_core::FusedFuture;

use common::{
    block_on, counting_waker, expect_panic, hook_waker, panicking_waker, poll_once, queue_waits,
    snapshot, state, wakes,
};

// ---------------------------------------------------------------------------------------
// new, Default, Debug, static, auto traits, sizes
// ---------------------------------------------------------------------------------------

#[test]
fn new_is_not_done() {
    let c = Completion::new();
    assert!(!c.is_done());
    assert!(!c.try_wait());
    assert_eq!(snapshot(&c), state(0, false, false));
    let mut w = pin!(c.wait());
    let (k, waker) = counting_waker();
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert_eq!(k.wakes(), 0);
}

#[test]
fn default_is_new() {
    let c = Completion::default();
    assert_eq!(snapshot(&c), snapshot(&Completion::new()));
    assert!(!c.is_done());
    c.complete();
    assert!(c.try_wait());
}

static STATIC: Completion = Completion::new();

#[test]
fn usable_as_a_static() {
    assert!(!STATIC.is_done());
    STATIC.complete();
    let mut w = pin!(STATIC.wait());
    let (_, waker) = counting_waker();
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert!(!STATIC.try_wait());

    // A `Wait<'static>` can go to another thread.
    let waiter = std::thread::spawn(|| block_on(STATIC.wait()));
    STATIC.complete();
    waiter.join().unwrap();
    assert!(!STATIC.try_wait());
    assert_eq!(snapshot(&STATIC), state(0, false, false));
}

#[test]
fn debug_format_shows_the_state() {
    let c = Completion::new();
    assert_eq!(snapshot(&c), state(0, false, false));
    c.complete();
    c.complete();
    c.complete();
    assert_eq!(snapshot(&c), state(3, false, false));
    assert_eq!(
        snapshot(&c),
        "Completion { count: 3, completed_all: false, waiters: false }"
    );
    while c.try_wait() {}
    {
        let mut w = pin!(c.wait());
        let (_, waker) = counting_waker();
        assert!(poll_once(w.as_mut(), &waker).is_pending());
        assert_eq!(snapshot(&c), state(0, false, true));
    }
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "a dropped waiter left"
    );
    c.complete_all();
    assert_eq!(snapshot(&c), state(0, true, false));
    c.reinit();
    assert_eq!(snapshot(&c), state(0, false, false));
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_fused_unit_future<F: Future<Output = ()> + FusedFuture>() {}

/// Compiles only if `T` is `!Unpin`: for an `Unpin` type both impls apply and the
/// `_` below is ambiguous.
trait AmbiguousIfUnpin<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfUnpin<()> for T {}
impl<T: ?Sized + Unpin> AmbiguousIfUnpin<u8> for T {}
const _: fn() = || {
    let _ = <Wait<'static> as AmbiguousIfUnpin<_>>::some_item;
};

#[test]
fn auto_traits() {
    assert_send::<Completion>();
    assert_sync::<Completion>();
    assert_send::<Wait<'static>>();
    assert_sync::<Wait<'static>>();
    assert_fused_unit_future::<Wait<'static>>();
    // `Wait: !Unpin` is checked at compile time by `AmbiguousIfUnpin` above.
    <Wait<'static> as AmbiguousIfUnpin<()>>::some_item();
}

#[cfg(target_pointer_width = "64")]
#[test]
fn sizes_on_64_bit() {
    let completion = std::mem::size_of::<Completion>();
    let wait = std::mem::size_of::<Wait<'static>>();
    assert!(completion <= 32, "size_of::<Completion>() = {completion}");
    assert!(wait <= 48, "size_of::<Wait>() = {wait}");
}

// ---------------------------------------------------------------------------------------
// 1. complete(): FIFO direct hand-off
// ---------------------------------------------------------------------------------------

#[test]
fn complete_serves_waiters_in_fifo_order_waking_only_the_served_one() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let (kb, wb) = counting_waker();
    let (kc, wc) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    let mut cc = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(cc.as_mut(), &wc).is_pending());
    assert_eq!(snapshot(&c), state(0, false, true));

    c.complete();
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 0, 0));
    // B and C were not served: re-polling them keeps them pending.
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(cc.as_mut(), &wc).is_pending());
    assert!(poll_once(a.as_mut(), &wa).is_ready());

    c.complete();
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 1, 0));
    assert!(poll_once(cc.as_mut(), &wc).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_ready());

    c.complete();
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 1, 1));
    assert!(poll_once(cc.as_mut(), &wc).is_ready());

    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(!c.try_wait());
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 1, 1));
}

#[test]
fn complete_hands_off_even_before_the_served_waiters_are_repolled() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 3);
    c.complete();
    c.complete();
    c.complete();
    assert_eq!(wakes(&wakers), [1, 1, 1]);
    assert_eq!(snapshot(&c), state(0, false, false), "nothing banked");
    // Polled in reverse order: each still has its own completion.
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers).rev() {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    assert!(!c.try_wait());
}

#[test]
fn handed_completion_cannot_be_taken_by_anyone_else() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());

    c.complete();
    assert_eq!(ka.wakes(), 1);
    // Before A is polled again the completion belongs to A.
    assert!(!c.try_wait());
    assert!(!c.is_done());
    assert!(snapshot(&c).contains("count: 0"));
    let (kd, wd) = counting_waker();
    let mut d = pin!(c.wait());
    assert!(poll_once(d.as_mut(), &wd).is_pending());
    assert!(!c.try_wait());
    assert!(!c.is_done());

    assert!(poll_once(a.as_mut(), &wa).is_ready());
    assert!(poll_once(d.as_mut(), &wd).is_pending());
    assert_eq!(kd.wakes(), 0);

    c.complete();
    assert_eq!(kd.wakes(), 1);
    assert_eq!(ka.wakes(), 1);
    assert!(poll_once(d.as_mut(), &wd).is_ready());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// 2. complete_n
// ---------------------------------------------------------------------------------------

#[test]
fn complete_n_serves_the_oldest_n_and_banks_the_rest() {
    let c = Completion::new();
    c.complete_n(0);
    assert_eq!(snapshot(&c), state(0, false, false));

    let (mut waits, wakers) = queue_waits(&c, 5);
    c.complete_n(3);
    assert_eq!(wakes(&wakers), [1, 1, 1, 0, 0]);
    assert!(!c.try_wait());
    assert_eq!(snapshot(&c), state(0, false, true));
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers).skip(3) {
        assert!(poll_once(wait.as_mut(), waker).is_pending());
    }

    c.complete_n(4);
    assert_eq!(wakes(&wakers), [1, 1, 1, 1, 1]);
    assert_eq!(snapshot(&c), state(2, false, false));
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    assert!(c.try_wait());
    assert!(c.try_wait());
    assert!(!c.try_wait());
    assert_eq!(wakes(&wakers), [1, 1, 1, 1, 1]);
}

#[test]
fn complete_n_with_nobody_waiting_banks_n() {
    let c = Completion::new();
    c.complete_n(4);
    assert_eq!(snapshot(&c), state(4, false, false));
    let (_, waker) = counting_waker();
    for _ in 0..4 {
        let mut w = pin!(c.wait());
        assert!(poll_once(w.as_mut(), &waker).is_ready());
    }
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
}

// ---------------------------------------------------------------------------------------
// Counting and saturation
// ---------------------------------------------------------------------------------------

#[test]
fn counted_completes_release_exactly_that_many_waits() {
    let c = Completion::new();
    c.complete();
    c.complete();
    c.complete();
    assert_eq!(snapshot(&c), state(3, false, false));
    assert!(c.is_done());
    let (k, waker) = counting_waker();
    let mut w1 = pin!(c.wait());
    let mut w2 = pin!(c.wait());
    let mut w3 = pin!(c.wait());
    let mut w4 = pin!(c.wait());
    assert!(poll_once(w1.as_mut(), &waker).is_ready());
    assert!(poll_once(w2.as_mut(), &waker).is_ready());
    assert!(poll_once(w3.as_mut(), &waker).is_ready());
    assert!(poll_once(w4.as_mut(), &waker).is_pending());
    assert!(!c.is_done());
    assert_eq!(k.wakes(), 0, "ready waits were never woken");
    c.complete();
    assert_eq!(k.wakes(), 1);
    assert!(poll_once(w4.as_mut(), &waker).is_ready());
}

#[test]
fn count_saturates_at_max_count_and_never_becomes_complete_all() {
    assert_eq!(<Completion>::MAX_COUNT, u32::MAX - 2);
    const _: () = assert!(<Completion>::MAX_COUNT >= (1 << 31) - 1);
    let saturated = state(<Completion>::MAX_COUNT, false, false);

    let c = Completion::new();
    c.complete_n(<Completion>::MAX_COUNT);
    assert_eq!(snapshot(&c), saturated);
    c.complete();
    assert_eq!(snapshot(&c), saturated);
    assert_eq!(
        snapshot(&c),
        "Completion { count: 4294967293, completed_all: false, waiters: false }"
    );
    c.complete_n(10);
    assert_eq!(snapshot(&c), saturated);
    c.complete_n(u32::MAX);
    assert_eq!(snapshot(&c), saturated);

    // Still an ordinary count: each take consumes one.
    assert!(c.try_wait());
    assert_eq!(
        snapshot(&c),
        state(<Completion>::MAX_COUNT - 1, false, false)
    );
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert_eq!(
        snapshot(&c),
        state(<Completion>::MAX_COUNT - 2, false, false)
    );
    c.complete();
    c.complete();
    c.complete();
    assert_eq!(snapshot(&c), saturated);

    // Never sticky: reinit clears it, and then nothing is done.
    c.reinit();
    assert!(!c.is_done());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// 3. complete_all
// ---------------------------------------------------------------------------------------

#[test]
fn complete_all_releases_100_queued_waiters_once_and_is_sticky() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 100);
    assert_eq!(snapshot(&c), state(0, false, true));

    c.complete_all();
    assert!(
        wakes(&wakers).iter().all(|&n| n == 1),
        "{:?}",
        wakes(&wakers)
    );
    assert_eq!(snapshot(&c), state(0, true, false));
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }

    // Sticky: later waits are ready at once and consume nothing.
    let (k, waker) = counting_waker();
    for _ in 0..5 {
        let mut w = pin!(c.wait());
        assert!(poll_once(w.as_mut(), &waker).is_ready());
    }
    for _ in 0..5 {
        assert!(c.try_wait());
        assert!(c.is_done());
    }
    assert_eq!(k.wakes(), 0);

    // complete() changes nothing.
    c.complete();
    c.complete_n(3);
    assert_eq!(snapshot(&c), state(0, true, false));
    assert!(wakes(&wakers).iter().all(|&n| n == 1));
    c.reinit();
    assert!(
        !c.try_wait(),
        "complete() after complete_all() banked nothing"
    );
}

#[test]
fn complete_all_is_idempotent() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 3);
    c.complete_all();
    c.complete_all();
    assert_eq!(wakes(&wakers), [1, 1, 1]);
    assert_eq!(snapshot(&c), state(0, true, false));
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    c.complete_all();
    assert_eq!(wakes(&wakers), [1, 1, 1]);
    assert!(c.try_wait() && c.try_wait());
}

#[test]
fn complete_all_with_a_banked_count_is_sticky() {
    let c = Completion::new();
    c.complete_n(2);
    c.complete_all();
    assert_eq!(snapshot(&c), state(0, true, false));
    for _ in 0..4 {
        assert!(c.try_wait());
    }
    c.reinit();
    assert!(!c.try_wait());
}

#[test]
fn dropping_a_waiter_released_by_complete_all_passes_nothing_on() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 2);
    c.complete_all();
    c.reinit();
    // A newcomer queues behind nothing: the old waiters were released.
    let (kn, wn) = counting_waker();
    let mut newcomer = pin!(c.wait());
    assert!(poll_once(newcomer.as_mut(), &wn).is_pending());
    waits.truncate(1); // drop the second waiter without polling it again
    assert_eq!(kn.wakes(), 0, "a complete_all release is not passed on");
    assert!(!c.try_wait());
    assert!(poll_once(waits[0].as_mut(), &wakers[0].1).is_ready());
    c.complete();
    assert_eq!(kn.wakes(), 1);
    assert!(poll_once(newcomer.as_mut(), &wn).is_ready());
}

// ---------------------------------------------------------------------------------------
// 4. wait(): lazy, first poll decides
// ---------------------------------------------------------------------------------------

#[test]
fn creating_a_wait_does_nothing_until_polled() {
    let c = Completion::new();
    let unpolled = c.wait();
    c.complete();
    assert!(c.is_done(), "an unpolled wait is not queued");
    drop(unpolled);
    assert!(c.try_wait(), "dropping an unpolled wait consumed nothing");

    c.complete();
    let w = c.wait();
    assert!(!w.is_terminated());
    drop(w);
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn queued_wait_is_woken_by_a_later_complete() {
    let c = Completion::new();
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    assert_eq!(k.wakes(), 0);
    c.complete();
    assert_eq!(k.wakes(), 1);
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert_eq!(k.wakes(), 1);
}

// ---------------------------------------------------------------------------------------
// 5. re-polling keeps the place; the newest waker is woken
// ---------------------------------------------------------------------------------------

#[test]
fn repoll_keeps_place_and_the_newest_waker_is_woken() {
    let c = Completion::new();
    let (k1, w1) = counting_waker();
    let (k2, w2) = counting_waker();
    let (kb, wb) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &w1).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    // A re-polled after B, with another waker (then the same one again): still first.
    assert!(poll_once(a.as_mut(), &w2).is_pending());
    assert!(poll_once(a.as_mut(), &w2.clone()).is_pending());

    c.complete();
    assert_eq!(k1.wakes(), 0, "the replaced waker is not woken");
    assert_eq!(k2.wakes(), 1);
    assert_eq!(kb.wakes(), 0);
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(a.as_mut(), &w2).is_ready());

    c.complete();
    assert_eq!((k1.wakes(), k2.wakes(), kb.wakes()), (0, 1, 1));
    assert!(poll_once(b.as_mut(), &wb).is_ready());
}

// ---------------------------------------------------------------------------------------
// 6. poll after Ready, FusedFuture
// ---------------------------------------------------------------------------------------

#[test]
fn poll_after_ready_is_ready_and_consumes_nothing() {
    let c = Completion::new();
    c.complete();
    c.complete();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(!w.is_terminated());
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert!(w.is_terminated());
    for _ in 0..3 {
        assert!(poll_once(w.as_mut(), &waker).is_ready());
    }
    assert_eq!(
        snapshot(&c),
        state(1, false, false),
        "only one was consumed"
    );
    assert!(c.try_wait());
    assert!(!c.try_wait());
    // Nothing banked: still Ready, does not queue.
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(w.is_terminated());
}

#[test]
fn handed_wait_terminates_only_when_it_returns_ready() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut a = Box::pin(c.wait());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(!a.is_terminated());
    c.complete();
    assert!(!a.is_terminated(), "handed but not yet Ready");
    assert!(poll_once(a.as_mut(), &waker).is_ready());
    assert!(a.is_terminated());
    assert!(poll_once(a.as_mut(), &waker).is_ready());
    // The finished wait is not queued: the next complete() is banked.
    c.complete();
    assert_eq!(snapshot(&c), state(1, false, false));
    // Dropping a finished wait passes nothing on.
    drop(a);
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn wait_released_by_complete_all_stays_ready_after_reinit() {
    let c = Completion::new();
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    c.complete_all();
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert!(w.is_terminated());
    c.reinit();
    assert!(poll_once(w.as_mut(), &waker).is_ready());
    assert!(w.is_terminated());
    assert!(!c.is_done());
}

// ---------------------------------------------------------------------------------------
// 7. cancellation
// ---------------------------------------------------------------------------------------

#[test]
fn dropping_a_queued_wait_just_leaves_the_queue() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 3);
    // Drop the head (A) and the tail (C), both queued and never served.
    let c_wait = waits.pop().unwrap();
    drop(c_wait);
    let a_wait = waits.remove(0);
    drop(a_wait);
    assert_eq!(wakes(&wakers), [0, 0, 0]);
    assert_eq!(snapshot(&c), state(0, false, true), "B is still queued");

    c.complete();
    assert_eq!(wakes(&wakers), [0, 1, 0], "the completion went to B");
    assert!(poll_once(waits[0].as_mut(), &wakers[1].1).is_ready());
    assert!(!c.try_wait());

    // Nobody queued any more: the next one is banked.
    c.complete();
    assert_eq!(wakes(&wakers), [0, 1, 0]);
    assert!(c.try_wait());
}

#[test]
fn dropping_a_handed_wait_passes_the_completion_to_the_next_waiter() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 3);
    c.complete();
    assert_eq!(wakes(&wakers), [1, 0, 0]);
    drop(waits.remove(0)); // A dropped after the hand-off, before returning Ready
    assert_eq!(wakes(&wakers), [1, 1, 0], "passed on to B, who is woken");
    assert!(!c.try_wait());
    assert!(!c.is_done());
    assert!(poll_once(waits[1].as_mut(), &wakers[2].1).is_pending());
    assert!(poll_once(waits[0].as_mut(), &wakers[1].1).is_ready());

    // Passed on along a chain: C handed, dropped, nobody left -> banked.
    c.complete();
    assert_eq!(wakes(&wakers), [1, 1, 1]);
    drop(waits.remove(1));
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn dropping_a_handed_wait_passes_it_to_a_waiter_that_queued_later() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let mut a = Box::pin(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    c.complete();
    assert_eq!(ka.wakes(), 1);

    let (kd, wd) = counting_waker();
    let mut d = pin!(c.wait());
    assert!(poll_once(d.as_mut(), &wd).is_pending(), "no barging");
    drop(a);
    assert_eq!(kd.wakes(), 1);
    assert!(!c.try_wait());
    assert!(poll_once(d.as_mut(), &wd).is_ready());
    assert!(!c.try_wait());
}

#[test]
fn dropping_a_handed_wait_with_nobody_queued_banks_the_completion() {
    let c = Completion::new();
    let (ka, wa) = counting_waker();
    let mut a = Box::pin(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    c.complete();
    assert_eq!(ka.wakes(), 1);
    assert!(!c.is_done());
    drop(a);
    assert_eq!(ka.wakes(), 1);
    assert!(c.is_done());
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

#[test]
fn dropping_a_handed_wait_skips_waiters_that_were_already_served() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 2);
    c.complete_n(2);
    assert_eq!(wakes(&wakers), [1, 1]);
    // A's completion cannot go to B (B already has one): it is banked.
    drop(waits.remove(0));
    assert_eq!(wakes(&wakers), [1, 1]);
    assert_eq!(snapshot(&c), state(1, false, false));
    assert!(poll_once(waits[0].as_mut(), &wakers[1].1).is_ready());
    assert!(c.try_wait());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// 8. try_wait / is_done
// ---------------------------------------------------------------------------------------

#[test]
fn try_wait_takes_one_banked_completion_and_never_queues() {
    let c = Completion::new();
    assert!(!c.try_wait());
    assert_eq!(
        snapshot(&c),
        state(0, false, false),
        "try_wait did not queue"
    );
    c.complete();
    assert!(c.is_done());
    assert!(c.is_done(), "is_done consumes nothing");
    assert!(c.try_wait());
    assert!(!c.is_done());
    assert!(!c.try_wait());
    // A failed try_wait does not stand in the queue: complete() banks.
    c.complete();
    assert_eq!(snapshot(&c), state(1, false, false));
}

// ---------------------------------------------------------------------------------------
// 9. reinit
// ---------------------------------------------------------------------------------------

#[test]
fn reinit_clears_the_count() {
    let c = Completion::new();
    c.complete_n(5);
    c.reinit();
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(!c.is_done());
    assert!(!c.try_wait());
    let (_, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
}

#[test]
fn reinit_clears_the_complete_all_flag() {
    let c = Completion::new();
    c.complete_all();
    c.reinit();
    assert_eq!(snapshot(&c), state(0, false, false));
    assert!(!c.try_wait());
    let (k, waker) = counting_waker();
    let mut w = pin!(c.wait());
    assert!(poll_once(w.as_mut(), &waker).is_pending());
    c.complete();
    assert_eq!(k.wakes(), 1);
    assert!(poll_once(w.as_mut(), &waker).is_ready());
}

#[test]
fn reinit_keeps_queued_waiters_queued() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 2);
    c.reinit();
    assert_eq!(wakes(&wakers), [0, 0]);
    assert!(poll_once(waits[0].as_mut(), &wakers[0].1).is_pending());
    assert!(poll_once(waits[1].as_mut(), &wakers[1].1).is_pending());
    c.complete();
    assert_eq!(wakes(&wakers), [1, 0]);
    c.complete();
    assert_eq!(wakes(&wakers), [1, 1]);
    assert!(poll_once(waits[1].as_mut(), &wakers[1].1).is_ready());
    assert!(poll_once(waits[0].as_mut(), &wakers[0].1).is_ready());
    assert!(!c.try_wait());
}

#[test]
fn reinit_keeps_released_waiters_released() {
    let c = Completion::new();
    let (mut waits, wakers) = queue_waits(&c, 3);
    c.complete_all();
    c.reinit();
    assert_eq!(wakes(&wakers), [1, 1, 1]);
    // Not re-polled before the reinit, still released.
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    let (kn, wn) = counting_waker();
    let mut newcomer = pin!(c.wait());
    assert!(poll_once(newcomer.as_mut(), &wn).is_pending());
    c.complete();
    assert_eq!(kn.wakes(), 1);
    assert!(poll_once(newcomer.as_mut(), &wn).is_ready());
    assert!(!c.try_wait());
}

// ---------------------------------------------------------------------------------------
// 10. re-entrant wakers
// ---------------------------------------------------------------------------------------

#[test]
fn waker_calling_complete_serves_the_next_waiter() {
    let c = Arc::new(Completion::new());
    let (ka, wa) = hook_waker({
        let c = c.clone();
        move || c.complete()
    });
    let (kb, wb) = counting_waker();
    let (kc, wc) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    let mut cc = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());
    assert!(poll_once(cc.as_mut(), &wc).is_pending());

    c.complete();
    assert_eq!((ka.wakes(), kb.wakes(), kc.wakes()), (1, 1, 0));
    assert!(poll_once(a.as_mut(), &wa).is_ready());
    assert!(poll_once(b.as_mut(), &wb).is_ready());
    assert!(poll_once(cc.as_mut(), &wc).is_pending());
    assert!(!c.try_wait());
    c.complete();
    assert_eq!(kc.wakes(), 1);
    assert!(poll_once(cc.as_mut(), &wc).is_ready());
}

#[test]
fn waker_calling_try_wait_is_done_and_polling_a_wait_does_not_deadlock() {
    let c = Arc::new(Completion::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    let (ka, wa) = hook_waker({
        let (c, log) = (c.clone(), log.clone());
        move || {
            let mut log = log.lock().unwrap();
            log.push(c.try_wait());
            log.push(c.is_done());
            let (_, waker) = counting_waker();
            let mut w = pin!(c.wait());
            log.push(poll_once(w.as_mut(), &waker).is_ready());
            // `w` is dropped here, still queued: it just leaves.
        }
    });
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    c.complete();
    assert_eq!(ka.wakes(), 1);
    assert_eq!(
        *log.lock().unwrap(),
        [false, false, false],
        "inside the wake the completion already belongs to A"
    );
    assert!(poll_once(a.as_mut(), &wa).is_ready());
    assert_eq!(snapshot(&c), state(0, false, false));
    c.complete();
    assert!(
        c.try_wait(),
        "the wait polled inside the waker left the queue"
    );
}

#[test]
fn waker_calling_complete_all_releases_everyone() {
    let c = Arc::new(Completion::new());
    let (ka, wa) = hook_waker({
        let c = c.clone();
        move || c.complete_all()
    });
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    let (mut waits, wakers) = queue_waits(&c, 40);

    c.complete();
    assert_eq!(ka.wakes(), 1);
    assert!(
        wakes(&wakers).iter().all(|&n| n == 1),
        "{:?}",
        wakes(&wakers)
    );
    assert!(poll_once(a.as_mut(), &wa).is_ready());
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn waker_reentering_during_complete_all() {
    let c = Arc::new(Completion::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    let (ka, wa) = hook_waker({
        let (c, log) = (c.clone(), log.clone());
        move || {
            c.complete_all(); // nested, idempotent
            c.complete(); // no-op after complete_all
            let mut log = log.lock().unwrap();
            log.push(c.try_wait());
            log.push(c.is_done());
            let (_, waker) = counting_waker();
            let mut w = pin!(c.wait());
            log.push(poll_once(w.as_mut(), &waker).is_ready());
        }
    });
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wa).is_pending());
    let (mut waits, wakers) = queue_waits(&c, 70);

    c.complete_all();
    assert_eq!(ka.wakes(), 1);
    assert_eq!(*log.lock().unwrap(), [true, true, true]);
    assert!(
        wakes(&wakers).iter().all(|&n| n == 1),
        "{:?}",
        wakes(&wakers)
    );
    assert!(poll_once(a.as_mut(), &wa).is_ready());
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    assert_eq!(snapshot(&c), state(0, true, false));
    c.reinit();
    assert!(!c.try_wait(), "the nested complete() banked nothing");
}

// ---------------------------------------------------------------------------------------
// 11. panicking wakers
// ---------------------------------------------------------------------------------------

#[test]
fn panicking_waker_in_complete_leaves_the_completion_usable() {
    let c = Completion::new();
    let (kp, wp) = panicking_waker();
    let (kb, wb) = counting_waker();
    let (_, plain) = counting_waker();
    let mut a = pin!(c.wait());
    let mut b = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wp).is_pending());
    assert!(poll_once(b.as_mut(), &wb).is_pending());

    let message = expect_panic(|| c.complete());
    assert_eq!(
        message, "this test waker panics when woken",
        "the waker's panic propagates"
    );
    assert_eq!(kp.wakes(), 1);
    assert_eq!(kb.wakes(), 0);
    // The hand-off happened before the wake.
    assert!(poll_once(a.as_mut(), &plain).is_ready());
    assert!(!c.try_wait());
    assert_eq!(snapshot(&c), state(0, false, true), "B is still queued");

    c.complete();
    assert_eq!(kb.wakes(), 1);
    assert!(poll_once(b.as_mut(), &wb).is_ready());
    c.complete();
    assert!(c.try_wait());
    assert!(!c.try_wait());
    c.complete_all();
    assert!(c.try_wait());
    assert_eq!(snapshot(&c), state(0, true, false));
}

#[test]
fn panicking_waker_in_complete_n_loses_no_completion() {
    let c = Completion::new();
    let (kp, wp) = panicking_waker();
    let (_, plain) = counting_waker();
    let mut a = pin!(c.wait());
    assert!(poll_once(a.as_mut(), &wp).is_pending());
    let (mut waits, wakers) = queue_waits(&c, 2);

    let message = expect_panic(|| c.complete_n(2));
    assert_eq!(
        message, "this test waker panics when woken",
        "the waker's panic propagates"
    );
    assert_eq!(kp.wakes(), 1);
    assert!(poll_once(a.as_mut(), &plain).is_ready());
    // The second completion was handed to B, and B woken, despite A's panic; C untouched.
    assert_eq!(
        wakers[0].0.wakes(),
        1,
        "the rest of the batch is still woken"
    );
    assert_eq!(wakers[1].0.wakes(), 0);
    assert!(
        poll_once(waits[0].as_mut(), &wakers[0].1).is_ready(),
        "complete_n hands off like n complete() calls"
    );
    assert!(poll_once(waits[1].as_mut(), &wakers[1].1).is_pending());
    assert!(!c.try_wait(), "nothing banked, nothing lost");

    // C is still queued and served by the next complete().
    c.complete();
    assert_eq!(wakers[1].0.wakes(), 1);
    assert!(poll_once(waits[1].as_mut(), &wakers[1].1).is_ready());
    assert_eq!(snapshot(&c), state(0, false, false));
}

#[test]
fn panicking_waker_in_complete_all_still_releases_every_waiter() {
    let c = Completion::new();
    let (mut before, before_wakers) = queue_waits(&c, 10);
    let (kp, wp) = panicking_waker();
    let (_, plain) = counting_waker();
    let mut p = pin!(c.wait());
    assert!(poll_once(p.as_mut(), &wp).is_pending());
    let (mut after, after_wakers) = queue_waits(&c, 60);

    let message = expect_panic(|| c.complete_all());
    assert_eq!(
        message, "this test waker panics when woken",
        "the waker's panic propagates"
    );
    assert_eq!(kp.wakes(), 1);
    assert!(wakes(&before_wakers).iter().all(|&n| n == 1));
    assert!(
        wakes(&after_wakers).iter().all(|&n| n == 1),
        "every waiter after the panicking one is still woken, in every batch"
    );
    assert_eq!(snapshot(&c), state(0, true, false));

    // Every waiter of that call is released.
    assert!(poll_once(p.as_mut(), &plain).is_ready());
    for (wait, (_, waker)) in before.iter_mut().zip(&before_wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }
    for (wait, (_, waker)) in after.iter_mut().zip(&after_wakers) {
        assert!(poll_once(wait.as_mut(), waker).is_ready());
    }

    // Still usable: sticky, then reinit and ordinary hand-offs.
    assert!(c.try_wait());
    c.reinit();
    assert!(!c.try_wait());
    let (kn, wn) = counting_waker();
    let mut newcomer = pin!(c.wait());
    assert!(poll_once(newcomer.as_mut(), &wn).is_pending());
    c.complete();
    assert_eq!(kn.wakes(), 1);
    assert!(poll_once(newcomer.as_mut(), &wn).is_ready());
    c.complete_all();
    assert!(c.try_wait());
}

// ---------------------------------------------------------------------------------------
// 13. memory ordering, with real threads
// ---------------------------------------------------------------------------------------

const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

#[test]
fn writes_before_complete_are_visible_after_the_wait() {
    let data = AtomicUsize::new(0);
    let ready = Completion::new();
    let ack = Completion::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=ROUNDS {
                data.store(i, Ordering::Relaxed);
                ready.complete();
                block_on(ack.wait());
            }
        });
        for i in 1..=ROUNDS {
            if i % 2 == 0 {
                block_on(ready.wait());
            } else {
                while !ready.try_wait() {
                    std::thread::yield_now();
                }
            }
            assert_eq!(data.load(Ordering::Relaxed), i, "round {i}");
            ack.complete();
        }
    });
    assert!(!ready.is_done() && !ack.is_done());
}

#[test]
fn writes_before_complete_all_are_visible_to_every_waiter() {
    let data = AtomicUsize::new(0);
    let go = Completion::new();
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let (data, go) = (&data, &go);
                s.spawn(move || {
                    if i == 0 {
                        while !go.try_wait() {
                            std::thread::yield_now();
                        }
                    } else {
                        block_on(go.wait());
                    }
                    data.load(Ordering::Relaxed)
                })
            })
            .collect();
        data.store(42, Ordering::Relaxed);
        go.complete_all();
        for reader in readers {
            assert_eq!(reader.join().unwrap(), 42);
        }
    });
}

// ---------------------------------------------------------------------------------------
// A completion that arrives between a first poll's lock-free look and its lock
// ---------------------------------------------------------------------------------------

/// What the waker's `clone` does: it runs inside that window (a first poll that finds
/// nothing banked clones its waker before it locks to queue).
static WINDOW: Completion = Completion::new();
/// 0: nothing; 1: `complete()` once; 2: `complete_all()` once; 3: `complete_n(2)` once.
static WINDOW_ACTION: AtomicUsize = AtomicUsize::new(0);

fn window_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn raw() -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn clone(_: *const ()) -> RawWaker {
        match WINDOW_ACTION.swap(0, Ordering::SeqCst) {
            1 => WINDOW.complete(),
            2 => WINDOW.complete_all(),
            3 => WINDOW.complete_n(2),
            _ => {}
        }
        raw()
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions ignore the (null) data pointer and are thread-safe.
    unsafe { Waker::from_raw(raw()) }
}

#[test]
fn a_completion_arriving_before_the_lock_is_taken_not_queued() {
    let waker = window_waker();
    let poll_with = |action| {
        WINDOW_ACTION.store(action, Ordering::SeqCst);
        let mut w = pin!(WINDOW.wait());
        let ready = poll_once(w.as_mut(), &waker).is_ready();
        assert_eq!(WINDOW_ACTION.load(Ordering::SeqCst), 0, "the clone ran");
        (ready, w.is_terminated())
    };

    // One completion in the window: this wait consumes it; nothing is banked, nobody queued.
    assert_eq!(poll_with(1), (true, true));
    assert_eq!(snapshot(&WINDOW), state(0, false, false));

    // Two: one consumed, one left banked.
    assert_eq!(poll_with(3), (true, true));
    assert_eq!(snapshot(&WINDOW), state(1, false, false));
    assert!(WINDOW.try_wait());

    // Nothing in the window: the wait queues (and leaves the queue when dropped).
    assert_eq!(poll_with(0), (false, false));
    assert_eq!(snapshot(&WINDOW), state(0, false, false));

    // `complete_all` in the window: ready, and the state stays completed for all.
    assert_eq!(poll_with(2), (true, true));
    assert_eq!(snapshot(&WINDOW), state(0, true, false));
    WINDOW.reinit();
}
