//! Waker faults: the k-th `clone`, `wake` or `drop` of a waker made by the crate panics,
//! for every k each scenario reaches, and targeted cases (the k-th waiter of a
//! `complete_n`/`complete_all`/`complete_waiters` batch, a clone on a first poll or a
//! re-poll, a drop on replacement, on cancel, at `Ready`). A panicking `wake` still lets
//! the rest of the batch be woken and the rest of `n` be handed or banked; then the panic
//! reaches the caller (crate docs, "Semantics": "A panicking waker propagates out of
//! `complete()` ..."). A second panic while unwinding aborts (child process).

use std::sync::Arc;
use std::task::Poll;

use async_completion::{Completion, Lock};
use futures_core::FusedFuture;

use crate::common::poll_once;
use crate::harness::child::{child_arg, run_child};
use crate::harness::every_k::{
    every_fault_after, must_abort, run, sc_batches, sc_cancel, sc_fifo, sc_pulse, sc_race, Scenario,
};
use crate::harness::inject::{catch, quiet_injected_panics, Probe, Site};
use crate::harness::scene::{completion_state, Scene};

// ---------------------------------------------------------------------------------------
// Waker faults at every k.

fn every_waker_fault<L: Lock>(scenario: Scenario<L>) {
    let base = run(scenario, None);
    for site in [Site::Clone, Site::Wake, Site::Drop] {
        every_fault_after(&base, site, scenario, must_abort);
    }
}

#[test]
fn waker_faults_at_every_k_fifo() {
    every_waker_fault::<async_completion::DefaultLock>(sc_fifo);
}

#[test]
fn waker_faults_at_every_k_cancel() {
    every_waker_fault::<async_completion::DefaultLock>(sc_cancel);
}

#[test]
fn waker_faults_at_every_k_batches() {
    every_waker_fault::<async_completion::DefaultLock>(sc_batches);
}

#[test]
fn waker_faults_at_every_k_race() {
    every_waker_fault::<async_completion::DefaultLock>(sc_race);
}

#[test]
fn waker_faults_at_every_k_pulse() {
    every_waker_fault::<async_completion::DefaultLock>(sc_pulse);
}

// ---------------------------------------------------------------------------------------
// Targeted waker faults.

/// `n` waits of a fresh scene queued in order, waiter `bad`'s waker panicking when woken.
pub fn queue_with_panicking<'c, L: Lock>(
    s: &mut Scene<'c, L>,
    n: usize,
    bad: Option<usize>,
) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let w = s.wait();
            let p = s.probe_with(Probe::builder().panic_on_wake(usize::from(Some(i) == bad)));
            assert_eq!(s.poll(w, &p), Ok(Poll::Pending));
            w
        })
        .collect()
}

/// Issue 15, fault 3 (first case): `complete_n(4)` over four waiters whose second waker
/// panics: waiters 3 and 4 are woken all the same, then the panic reaches the caller.
#[test]
fn issue_15_complete_n_wakes_the_rest_after_a_panicking_waker() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let ws = queue_with_panicking(&mut s, 4, Some(1));
    assert_eq!(s.complete_n(4), Err(Site::Wake)); // the scene checks every wake
    for (i, &w) in ws.iter().enumerate() {
        assert_eq!(s.observed(w), "handed", "waiter {i}");
        assert_eq!(
            s.entries[w]
                .as_ref()
                .unwrap()
                .probe
                .as_ref()
                .unwrap()
                .wakes(),
            1
        );
    }
    s.finish();
}

/// Issue 15, fault 3 (second case): `complete_all` over 70 waiters whose 5th waker panics:
/// every waiter of every batch is released and woken.
#[test]
fn issue_15_complete_all_over_70_wakes_every_batch_after_a_panicking_waker() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let ws = queue_with_panicking(&mut s, 70, Some(4));
    assert_eq!(s.complete_all(), Err(Site::Wake));
    for &w in &ws {
        assert_eq!(s.observed(w), "released");
    }
    s.finish();
}

/// `complete_n(n)` with the panicking waker at each position, for `n` short of, equal to,
/// and beyond the number of waiters (the rest banked), within one batch and over two.
#[test]
fn complete_n_with_a_panicking_waker_at_each_position() {
    quiet_injected_panics();
    // Under Miri: a few of the cases (the native run covers them all).
    let sizes: &[usize] = if cfg!(miri) { &[3, 33] } else { &[4, 40] };
    for &len in sizes {
        let positions: Vec<usize> = match (cfg!(miri), len > 32) {
            (true, true) => vec![31],
            (true, false) => vec![1],
            (false, _) => (0..len).collect(),
        };
        let ns = if cfg!(miri) {
            vec![len + 2]
        } else {
            vec![len - 1, len, len + 2]
        };
        for &bad in &positions {
            for &n in &ns {
                let c = Completion::new();
                let mut s = Scene::new(&c);
                queue_with_panicking(&mut s, len, Some(bad));
                let got = s.complete_n(n as u32);
                let want = if bad < n { Err(Site::Wake) } else { Ok(()) };
                assert_eq!(got, want, "len {len}, panicking waker {bad}, n {n}");
                s.finish();
            }
        }
    }
}

/// `complete_all` with the panicking waker in the first, a middle and the last batch.
#[test]
fn complete_all_with_a_panicking_waker_in_any_batch() {
    quiet_injected_panics();
    let len = if cfg!(miri) { 66 } else { 70 };
    let positions: &[usize] = if cfg!(miri) {
        &[32]
    } else {
        &[0, 4, 31, 32, 64, 69]
    };
    for &bad in positions {
        let c = Completion::new();
        let mut s = Scene::new(&c);
        queue_with_panicking(&mut s, len, Some(bad));
        assert_eq!(s.complete_all(), Err(Site::Wake), "panicking waker {bad}");
        s.finish();
    }
}

/// `complete_waiters` (a pulse) with a panicking waker: every waiter of the pulse is
/// handed and woken, nothing banked.
#[test]
fn complete_waiters_with_a_panicking_waker() {
    quiet_injected_panics();
    let len = if cfg!(miri) { 34 } else { 40 };
    let positions: &[usize] = if cfg!(miri) { &[33] } else { &[0, 1, 33] };
    for &bad in positions {
        let c = Completion::new();
        let mut s = Scene::new(&c);
        queue_with_panicking(&mut s, len, Some(bad));
        assert_eq!(
            s.complete_waiters(),
            Err(Site::Wake),
            "panicking waker {bad}"
        );
        assert_eq!(completion_state(&c), (0, false, false));
        s.finish();
    }
}

/// `complete()` whose waker panics, directly and when a dropped handed wait passes its
/// completion on: the hand-off happened, the panic reaches the caller.
#[test]
fn complete_and_pass_on_with_a_panicking_waker() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let ws = queue_with_panicking(&mut s, 1, Some(0));
    let good = s.wait();
    let pg = s.probe();
    assert_eq!(s.poll(good, &pg), Ok(Poll::Pending));
    assert_eq!(s.complete(), Err(Site::Wake));
    assert_eq!(s.observed(ws[0]), "handed");
    assert_eq!(s.observed(good), "queued");
    // A handed wait dropped passes its completion on to a waiter whose waker panics: the
    // drop panics, and the completion is that waiter's.
    let bad = s.wait();
    let pb = s.probe_with(Probe::builder().panic_on_wake(1));
    assert_eq!(s.poll(bad, &pb), Ok(Poll::Pending));
    assert_eq!(s.complete(), Ok(())); // to `good`
    assert_eq!(s.drop_entry(good), Err(Site::Wake)); // passed on to `bad`
    assert_eq!(s.observed(bad), "handed");
    s.finish();
}

/// Enabled waits (queued by `Wait::enable`, with no waker) in a `complete_n` and a
/// `complete_waiters` whose batch holds a panicking waker: they are served like the others
/// (nothing to wake), and every waker of the batch is still woken.
#[test]
fn enabled_waits_in_a_batch_with_a_panicking_waker() {
    quiet_injected_panics();
    for pulse in [false, true] {
        let c = Completion::new();
        let probes: Vec<_> = (0..4)
            .map(|i| Probe::builder().panic_on_wake(usize::from(i == 1)).build())
            .collect();
        let mut ws: Vec<_> = (0..6).map(|_| Box::pin(c.wait())).collect();
        // 0 polled, 1 enabled, 2 polled (panicking waker), 3 enabled, 4 and 5 polled.
        let mut polled = probes.iter();
        for (i, w) in ws.iter_mut().enumerate() {
            if i % 2 == 1 && i < 4 {
                assert!(!w.as_mut().enable());
            } else {
                let p = polled.next().unwrap();
                assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
            }
        }
        let got = if pulse {
            catch(|| c.complete_waiters())
        } else {
            catch(|| c.complete_n(7))
        };
        assert_eq!(got, Err(Site::Wake), "pulse: {pulse}");
        assert_eq!(
            probes.iter().map(|p| p.wakes()).collect::<Vec<_>>(),
            [1, 1, 1, 1],
            "pulse: {pulse}"
        );
        let done = Probe::new();
        for w in &mut ws {
            assert_eq!(poll_once(w.as_mut(), &done.waker()), Poll::Ready(()));
        }
        drop(ws);
        // complete_n(7) over six waiters banks one; a pulse banks nothing.
        assert_eq!(c.try_wait(), !pulse);
        assert!(!c.try_wait());
        assert!(probes.iter().all(|p| p.live() == 0));
    }
}

/// A waker whose `clone` panics on a first poll: the poll panics, nothing is queued, and
/// the wait can be polled again.
#[test]
fn waker_clone_panics_on_a_first_poll() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let w = s.wait();
    let bad = s.probe_with(Probe::builder().panic_on_clone(1));
    assert_eq!(s.poll(w, &bad), Err(Site::Clone));
    assert_eq!(s.observed(w), "idle");
    assert_eq!(completion_state(&c), (0, false, false));
    assert_eq!(bad.live(), 0);
    assert_eq!(s.complete(), Ok(())); // banked: nobody queued
    assert_eq!(completion_state(&c), (1, false, false));
    let good = s.probe();
    assert_eq!(s.poll(w, &good), Ok(Poll::Ready(Ok(()))));
    s.finish();
}

/// A waker whose `clone` panics on a re-poll with a different waker: the poll panics, the
/// wait keeps its place and its previous waker (which is the one woken).
#[test]
fn waker_clone_panics_on_a_re_poll() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (first, second) = (s.wait(), s.wait());
    let (p1, p2) = (s.probe(), s.probe());
    assert_eq!(s.poll(first, &p1), Ok(Poll::Pending));
    assert_eq!(s.poll(second, &p2), Ok(Poll::Pending));
    let bad = s.probe_with(Probe::builder().panic_on_clone(1));
    assert_eq!(s.poll(first, &bad), Err(Site::Clone));
    assert_eq!(s.observed(first), "queued");
    assert_eq!(s.complete(), Ok(())); // still the oldest: `first`, woken through p1
    assert_eq!((p1.wakes(), bad.wakes(), p2.wakes()), (1, 0, 0));
    assert_eq!(s.observed(first), "handed");
    assert_eq!(s.observed(second), "queued");
    s.finish();
}

/// A waker whose `drop` panics when a re-poll replaces it: the poll panics, the wait is
/// still queued in its place, with the new waker.
#[test]
fn waker_drop_panics_when_replaced() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (first, second) = (s.wait(), s.wait());
    let old = s.probe_with(Probe::builder().panic_on_drop(1));
    let p2 = s.probe();
    assert_eq!(s.poll(first, &old), Ok(Poll::Pending));
    assert_eq!(s.poll(second, &p2), Ok(Poll::Pending));
    let new = s.probe();
    assert_eq!(s.poll(first, &new), Err(Site::Drop));
    assert_eq!(s.observed(first), "queued");
    assert_eq!(old.live(), 0);
    assert_eq!(s.complete(), Ok(()));
    assert_eq!((old.wakes(), new.wakes(), p2.wakes()), (0, 1, 0));
    s.finish();
}

/// A waker whose `drop` panics when its queued wait is dropped: the drop panics, the wait
/// has left the queue (no dangling node), and no completion is lost.
#[test]
fn waker_drop_panics_at_cancel() {
    quiet_injected_panics();
    let c = Completion::new();
    let mut s = Scene::new(&c);
    let (first, second) = (s.wait(), s.wait());
    let bad = s.probe_with(Probe::builder().panic_on_drop(1));
    let p2 = s.probe();
    assert_eq!(s.poll(first, &bad), Ok(Poll::Pending));
    assert_eq!(s.poll(second, &p2), Ok(Poll::Pending));
    assert_eq!(s.drop_entry(first), Err(Site::Drop));
    assert_eq!(bad.live(), 0);
    assert_eq!(s.complete(), Ok(())); // to `second`: the dropped wait left the queue
    assert_eq!(p2.wakes(), 1);
    assert_eq!(s.complete(), Ok(())); // banked
    s.finish();
}

/// A waker whose `drop` panics at `Ready`: the first poll's fresh clone is dropped
/// because a completion arrived between the lock-free look and the lock (the clone's own
/// hook completes). The poll panics, and the completion is not lost: the wait has it
/// (terminated) or it is still there to take.
#[test]
fn waker_drop_panics_at_ready() {
    quiet_injected_panics();
    let c = Arc::new(Completion::new());
    let hook = {
        let c = c.clone();
        move || c.complete()
    };
    let p = Probe::builder().on_clone(hook).panic_on_drop(1).build();
    let mut w = Box::pin(c.wait());
    let got = catch(|| poll_once(w.as_mut(), &p.waker()));
    let clones = p.clones();
    assert!(clones >= 1, "the first poll clones the waker");
    // Every clone completed once: `clones` completions were posted.
    let mut consumed = 0;
    match got {
        Ok(Poll::Ready(())) => consumed += 1,
        Ok(Poll::Pending) => {}
        Err(site) => {
            assert_eq!(site, Site::Drop);
            if w.is_terminated() {
                consumed += 1;
            }
        }
    }
    let state = format!("{w:?}");
    drop(w);
    while c.try_wait() {
        consumed += 1;
    }
    assert_eq!(
        consumed, clones,
        "conservation after a waker drop panicking at Ready (the wait was {state})"
    );
    assert_eq!(p.live(), 0);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }"
    );
}

/// A second panic while unwinding from the first aborts the process, which is sound:
/// `complete_n(3)` whose first two wakers panic.
#[test]
#[cfg_attr(miri, ignore)] // spawns a process
fn a_second_panicking_waker_aborts() {
    if child_arg().is_some() {
        let c = Completion::new();
        let probes: Vec<_> = (0..3)
            .map(|i| Probe::builder().panic_on_wake(usize::from(i < 2)).build())
            .collect();
        let mut ws: Vec<_> = probes.iter().map(|_| Box::pin(c.wait())).collect();
        for (w, p) in ws.iter_mut().zip(&probes) {
            assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
        }
        let _ = catch(|| c.complete_n(3));
        panic!(
            "no abort; wakes {:?}",
            probes.iter().map(|p| p.wakes()).collect::<Vec<_>>()
        );
    }
    let end = run_child(a_second_panicking_waker_aborts, "1");
    end.assert_aborted("a second waker panicking during the unwinding");
}
