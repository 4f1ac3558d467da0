//! Faults of `wait_or`'s other future: one that panics in `poll`, one that wins while a
//! completion was handed to the wait (method docs of `Completion::wait_or`: "when `other`
//! wins, the wait leaves the queue at once, and a completion that was handed to it is
//! passed on, not lost"), and a waker whose drop panics as the other future wins.

use std::sync::Arc;
use std::task::Poll;

use async_completion::Completion;
use futures_core::FusedFuture;

use crate::common::poll_once;
use crate::harness::inject::{quiet_injected_panics, GateCtl, Probe, Site};
use crate::harness::scene::{completion_state, Scene};

/// A `wait_or` whose other future wins and whose waker's `drop` panics as the wait leaves
/// the queue: the poll panics; the wait is out of the queue and holds nothing.
#[test]
fn waker_drop_panics_when_the_other_future_wins() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (o, gate) = s.wait_or();
    let bad = s.probe_with(Probe::builder().panic_on_drop(1));
    assert_eq!(s.poll(o, &bad), Ok(Poll::Pending));
    gate.open();
    assert_eq!(s.poll(o, &bad), Err(Site::Drop));
    assert_eq!(completion_state(&c), (0, false, false));
    assert_eq!(s.complete(), Ok(())); // banked: nobody queued
    s.finish();
}

/// `wait_or` whose other future panics in `poll`: the poll panics; the wait is still
/// queued, in its place, and consistent (a completion handed to it is returned by the
/// next poll, or passed on if it is dropped).
#[test]
fn wait_or_other_panics_in_poll() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (o, gate) = s.wait_or();
    let next = s.wait();
    let (p, pn) = (s.probe(), s.probe());
    gate.panic_in_poll(true);
    assert_eq!(s.poll(o, &p), Err(Site::Other));
    assert_eq!(s.observed(o), "idle"); // the other future went before the wait queued
    gate.panic_in_poll(false);
    assert_eq!(s.poll(o, &p), Ok(Poll::Pending)); // queued
    gate.panic_in_poll(true);
    assert_eq!(s.poll(next, &pn), Ok(Poll::Pending));
    assert_eq!(s.poll(o, &p), Err(Site::Other));
    assert_eq!(s.complete(), Ok(())); // to `o`: still the oldest
    assert_eq!(s.observed(next), "queued");
    assert_eq!(s.poll(o, &p), Ok(Poll::Ready(Ok(())))); // the wait is polled first
    let (o2, gate2) = s.wait_or();
    assert_eq!(s.poll(o2, &p), Ok(Poll::Pending)); // queued behind `next`
    gate2.panic_in_poll(true);
    assert_eq!(s.poll(o2, &p), Err(Site::Other));
    assert_eq!(s.complete_n(2), Ok(())); // `next`, then `o2`
    assert_eq!(s.drop_entry(o2), Ok(())); // passed on: banked
    s.finish();
}

/// `wait_or` keeps `Err(o)` when its other future wins, even if a completion was handed
/// to the wait meanwhile (inside the other future's poll), and passes that completion on:
/// to the next waiter, or to the count.
#[test]
fn wait_or_keeps_err_and_passes_on_a_completion_handed_meanwhile() {
    quiet_injected_panics();
    for with_next in [true, false] {
        let c = Arc::new(Completion::new());
        let (p, pn) = (Probe::new(), Probe::new());
        let gate = GateCtl::new();
        let mut o = Box::pin(c.wait_or(gate.gate()));
        assert_eq!(poll_once(o.as_mut(), &p.waker()), Poll::Pending);
        let mut next = Box::pin(c.wait());
        if with_next {
            assert!(poll_once(next.as_mut(), &pn.waker()).is_pending());
        }
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete()); // handed to `o`, the oldest
        assert_eq!(poll_once(o.as_mut(), &p.waker()), Poll::Ready(Err(7)));
        assert_eq!(p.wakes(), 1);
        assert!(o.is_terminated());
        if with_next {
            assert_eq!(pn.wakes(), 1, "passed on to the next waiter");
            assert_eq!(poll_once(next.as_mut(), &pn.waker()), Poll::Ready(()));
            assert!(!c.try_wait());
        } else {
            assert!(c.try_wait(), "passed on to the count");
            assert!(!c.try_wait());
        }
        drop((o, next));
        assert_eq!((p.live(), pn.live()), (0, 0));
    }
}
