//! Timer faults and ties: a timer panicking at creation, a sleep panicking in `poll` or
//! `drop`, a waker whose drop panics as the timer fires, and the ties of `wait_timeout`
//! (method docs of `Completion::wait_timeout`: "Ties ... when the timer fires, the wait
//! looks once more"): a sleep that completes inside its own `poll`, a completion passed
//! on to the wait as its timer fires, one that goes to an older waiter.

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_completion::{Completion, TimedOut};
use futures_core::FusedFuture;

use crate::common::{block_on, poll_once};
use crate::harness::inject::{catch, inject, quiet_injected_panics, GateCtl, Probe, Site};
use crate::harness::scene::Scene;

/// A `wait_timeout` whose timer fires and whose waker's `drop` panics as the wait leaves
/// the queue: the poll panics; the result is known all the same (`Err(TimedOut)`: nothing
/// was handed), so a later poll returns it, and never a spurious `Ok(())`.
#[test]
fn waker_drop_panics_when_the_timer_fires() {
    quiet_injected_panics();
    let c = Completion::new();
    let gate = GateCtl::new();
    let timer = {
        let gate = gate.clone();
        move |_: Duration| gate.gate()
    };
    let bad = Probe::builder().panic_on_drop(1).build();
    let mut t = Box::pin(c.wait_timeout(timer, Duration::from_secs(1)));
    assert_eq!(poll_once(t.as_mut(), &bad.waker()), Poll::Pending);
    gate.open();
    assert_eq!(
        catch(|| poll_once(t.as_mut(), &bad.waker())),
        Err(Site::Drop)
    );
    assert_eq!(bad.live(), 0);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }"
    );
    let again = poll_once(t.as_mut(), &bad.waker());
    assert_eq!(
        again,
        Poll::Ready(Err(TimedOut)),
        "polled again, a timed-out wait returned {again:?} with no completion posted"
    );
    assert!(t.is_terminated());
}

/// A timer that panics when asked for a sleep: `wait_timeout` panics, nothing is queued.
#[test]
fn timer_panics_at_creation() {
    quiet_injected_panics();
    let c = Completion::new();
    let timer = |_: Duration| -> std::future::Pending<()> { inject(Site::Other) };
    let got = catch(|| {
        let _w = c.wait_timeout(timer, Duration::from_secs(1));
    });
    assert_eq!(got, Err(Site::Other));
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }"
    );
    c.complete();
    assert!(c.try_wait());
    // A zero timeout never calls the timer.
    c.complete();
    let w = c.wait_timeout(timer, Duration::ZERO);
    assert_eq!(block_on(w), Ok(()));
}

/// A sleep that panics in `poll`: the poll panics, the wait stays queued (and keeps its
/// place); a completion handed to it meanwhile is passed on when it is dropped.
#[test]
fn sleep_panics_in_poll() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (t, gate) = s.wait_timeout();
    let other = s.wait();
    let (pt, po) = (s.probe(), s.probe());
    gate.panic_in_poll(true);
    assert_eq!(s.poll(t, &pt), Err(Site::Other));
    // On its first poll the sleep goes before the wait queues: nothing queued.
    assert_eq!(s.observed(t), "idle");
    gate.panic_in_poll(false);
    assert_eq!(s.poll(t, &pt), Ok(Poll::Pending)); // now queued
    gate.panic_in_poll(true);
    assert_eq!(s.poll(other, &po), Ok(Poll::Pending));
    assert_eq!(s.poll(t, &pt), Err(Site::Other)); // a re-poll panics too, still queued
    assert_eq!(s.observed(t), "queued");
    assert_eq!(s.complete(), Ok(())); // to `t`, the oldest
    assert_eq!(pt.wakes(), 1);
    assert_eq!(s.drop_entry(t), Ok(())); // passed on to `other`
    assert_eq!(s.observed(other), "handed");
    // Polled again instead: the wait is polled first, the sleep is not reached.
    let (t2, gate2) = s.wait_timeout();
    assert_eq!(s.poll(t2, &pt), Ok(Poll::Pending));
    gate2.panic_in_poll(true);
    assert_eq!(s.complete(), Ok(()));
    assert_eq!(s.poll(t2, &pt), Ok(Poll::Ready(Ok(()))));
    s.finish();
}

/// A sleep that panics when dropped: at `Ok` (the sleep is dropped as soon as the result
/// is known), at `Err(TimedOut)`, and with the future. The panic propagates; the result
/// stays known (a later poll returns it again, consuming nothing more); nothing is lost.
#[test]
fn sleep_panics_in_drop() {
    quiet_injected_panics();
    let c = Completion::new();
    let w = Probe::new();
    let never = |gate: &Arc<GateCtl>| {
        let gate = gate.clone();
        move |_: Duration| gate.gate()
    };
    // At `Ok`.
    let gate = GateCtl::new();
    gate.panic_in_drop(true);
    let mut t = Box::pin(c.wait_timeout(never(&gate), Duration::from_secs(1)));
    assert_eq!(poll_once(t.as_mut(), &w.waker()), Poll::Pending);
    c.complete();
    assert_eq!(
        catch(|| poll_once(t.as_mut(), &w.waker())),
        Err(Site::Other)
    );
    assert_eq!(gate.drops(), 1);
    assert!(
        t.is_terminated(),
        "the completion was consumed: the result is known"
    );
    assert_eq!(poll_once(t.as_mut(), &w.waker()), Poll::Ready(Ok(())));
    drop(t);
    assert!(!c.try_wait(), "consumed once, not passed on");
    // At `Err(TimedOut)`: a later poll must not turn it into `Ok`.
    let gate = GateCtl::new();
    gate.panic_in_drop(true);
    let mut t = Box::pin(c.wait_timeout(never(&gate), Duration::from_secs(1)));
    assert_eq!(poll_once(t.as_mut(), &w.waker()), Poll::Pending);
    gate.open();
    assert_eq!(
        catch(|| poll_once(t.as_mut(), &w.waker())),
        Err(Site::Other)
    );
    assert_eq!(
        poll_once(t.as_mut(), &w.waker()),
        Poll::Ready(Err(TimedOut)),
        "a timed-out wait polled again after its sleep's drop panicked"
    );
    drop(t);
    c.complete();
    assert!(c.try_wait());
    assert!(!c.try_wait());
    // With the future, queued and handed: dropped, it passes the completion on.
    let gate = GateCtl::new();
    gate.panic_in_drop(true);
    let mut t = Box::pin(c.wait_timeout(never(&gate), Duration::from_secs(1)));
    assert_eq!(poll_once(t.as_mut(), &w.waker()), Poll::Pending);
    c.complete();
    assert_eq!(catch(move || drop(t)), Err(Site::Other));
    assert!(c.try_wait(), "the handed completion was passed on (banked)");
    assert!(!c.try_wait());
    assert_eq!(w.live(), 0);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }"
    );
}

/// Ties (method docs of `Completion::wait_timeout`): a sleep whose own `poll` completes (as if the deadline and a `complete()`
/// of another thread met) and is then ready. The wait was handed the completion when its
/// timer fired: `Ok(())`, and that completion is consumed.
#[test]
fn sleep_completing_in_its_poll_is_a_tie_won_by_the_completion() {
    quiet_injected_panics();
    type Act = fn(&Completion);
    let acts: [(&str, Act, u32); 4] = [
        ("complete", |c| c.complete(), 0),
        ("complete_n(3)", |c| c.complete_n(3), 2),
        ("complete_all", |c| c.complete_all(), 0),
        ("complete_waiters", |c| c.complete_waiters(), 0),
    ];
    for (name, act, left) in acts {
        let c = Arc::new(Completion::new());
        let gate = GateCtl::new();
        let timer = {
            let gate = gate.clone();
            move |_: Duration| gate.gate()
        };
        let p = Probe::new();
        let mut t = Box::pin(c.wait_timeout(timer, Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || act(&c2));
        assert_eq!(
            poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Ok(())),
            "{name} inside the sleep's poll, then the deadline"
        );
        assert_eq!(p.wakes(), 1, "{name}: the hand-off woke the wait");
        drop(t);
        let mut banked = 0;
        if name == "complete_all" {
            assert!(c.is_done());
            c.reinit();
        }
        while c.try_wait() {
            banked += 1;
        }
        assert_eq!(
            banked, left,
            "{name}: the tie consumed exactly one completion"
        );
        assert_eq!(p.live(), 0);
    }
}

/// Ties (method docs of `Completion::wait_timeout`), more shapes: a completion passed on to the wait inside the sleep's poll
/// (an older handed wait dropped) wins; one that goes to an older waiter does not (only a
/// wait that can get nothing times out); one handed before the poll wins, the wait being
/// polled first.
#[test]
fn timeout_ties_go_to_what_the_wait_can_get() {
    quiet_injected_panics();
    type Slot = std::sync::Mutex<Option<Pin<Box<async_completion::Wait<'static>>>>>;
    let timer_of = |gate: &Arc<GateCtl>| {
        let gate = gate.clone();
        move |_: Duration| gate.gate()
    };
    let p = Probe::new();
    // Passed on to the wait inside the sleep's poll: an older handed wait is dropped.
    {
        static C: Completion = Completion::new();
        static OLDER: Slot = std::sync::Mutex::new(None);
        *OLDER.lock().unwrap() = Some(Box::pin(C.wait()));
        let po = Probe::new();
        let polled = poll_once(
            OLDER.lock().unwrap().as_mut().unwrap().as_mut(),
            &po.waker(),
        );
        assert!(polled.is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(C.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        C.complete(); // to `older`
        assert_eq!(po.wakes(), 1);
        gate.open();
        gate.on_next_poll(|| drop(OLDER.lock().unwrap().take())); // passes it on to `t`
        assert_eq!(
            poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Ok(())),
            "a completion passed on to the wait as its timer fired"
        );
        drop(t);
        assert!(!C.try_wait(), "consumed by the tie, not passed on again");
    }
    // A completion posted inside the sleep's poll goes to an older waiter: nothing for
    // this wait, which times out.
    {
        let c = Arc::new(Completion::new());
        let po = Probe::new();
        let mut older = Box::pin(c.wait());
        assert!(poll_once(older.as_mut(), &po.waker()).is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete());
        assert_eq!(
            poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Err(TimedOut))
        );
        assert_eq!(po.wakes(), 1);
        assert_eq!(poll_once(older.as_mut(), &po.waker()), Poll::Ready(()));
        drop((t, older));
        assert!(!c.try_wait());
        // Two posted inside the sleep's poll: one for each.
        let mut older = Box::pin(c.wait());
        assert!(poll_once(older.as_mut(), &po.waker()).is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete_n(2));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Ready(Ok(())));
        assert_eq!(poll_once(older.as_mut(), &po.waker()), Poll::Ready(()));
        drop((t, older));
        assert!(!c.try_wait());
    }
    // Handed before the poll in which the timer fires: the wait is polled first.
    {
        let c = Completion::new();
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        c.complete();
        gate.open();
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Ready(Ok(())));
        drop(t);
        assert!(!c.try_wait());
        // Banked before the first poll, with the sleep already over.
        c.complete();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(poll_once(t.as_mut(), &p.waker()), Poll::Ready(Ok(())));
        drop(t);
        assert!(!c.try_wait());
    }
    assert_eq!(p.live(), 0);
}

/// `wait_blocking_timeout` against a `complete()` racing its deadline, many times: every
/// completion is consumed by the wait (`Ok`) or stays banked (`Err`), never both, never
/// neither (method docs of `Completion::wait_blocking_timeout`, and of `wait_timeout`: the
/// kernel's last look after the timeout).
#[test]
#[cfg(feature = "std")]
#[cfg_attr(miri, ignore)] // real time, many threads
fn wait_blocking_timeout_races_conserve_completions() {
    let c = Arc::new(Completion::new());
    let mut oks = 0;
    for round in 0..300u32 {
        let c2 = c.clone();
        let completer = std::thread::spawn(move || {
            // Spread the complete() around the deadline.
            let spin = std::time::Instant::now() + Duration::from_micros(u64::from(round % 60) * 5);
            while std::time::Instant::now() < spin {
                std::hint::spin_loop();
            }
            c2.complete();
        });
        let got = c.wait_blocking_timeout(Duration::from_micros(150));
        completer.join().unwrap();
        let banked = c.try_wait();
        match got {
            Ok(()) => {
                oks += 1;
                assert!(
                    !banked,
                    "round {round}: Ok, and the completion is still banked"
                );
            }
            Err(TimedOut) => assert!(
                banked,
                "round {round}: timed out and the completion is lost"
            ),
        }
        assert!(!c.try_wait());
    }
    assert!(oks > 0);
}
