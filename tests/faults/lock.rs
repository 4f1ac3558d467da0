//! Lock faults (feature `embassy-sync`): the test `RawMutex` [`FaultLock`] panics on its
//! k-th acquisition, before running its closure or after it, for every k each scenario
//! reaches. Before: the operation that needed the lock panics and that lock hold did not
//! happen. After: the closure's effect stands and is acted on during the unwinding (a
//! hand-off woken, a taken completion held, a passed-on one passed on once), then the
//! panic propagates. Where the crate cannot go on soundly (the drop of a queued wait, or
//! of one holding a handed completion; a drain released during unwinding) it aborts,
//! naming the cause (crate docs, "Which lock, and interrupt safety"): those ks run in a
//! child process (not under Miri), which must die of `SIGABRT` naming the cause.

use std::sync::Arc;
use std::task::Poll;

use async_completion::Completion;

use crate::common::poll_once;
use crate::harness::child::{child_arg, run_child};
use crate::harness::every_k::{
    every_fault_after, must_abort, run, sc_batches, sc_cancel, sc_fifo, sc_pulse, sc_race, Aborts,
    Scenario,
};
use crate::harness::inject::{
    arm, catch, disarm, quiet_injected_panics, Acquisition, FaultLock, Phase, Probe, Site,
};
use crate::harness::scene::{completion_state, Scene};

/// The lock fault a child runs: before its closure (`"before"`) or after it (`"after"`).
fn lock_mode(arg: &str) -> Site {
    if arg == "after" {
        Site::LockAfter
    } else {
        Site::Lock
    }
}

/// Runs `test`'s child with the lock panicking before its closure, then after it: each
/// must abort naming `cause`.
fn both_abort<F: Fn()>(test: F, what: &str, cause: &str) {
    for mode in ["before", "after"] {
        run_child(&test, mode)
            .assert_aborted_naming(&format!("{what} ({mode} its closure)"), cause);
    }
}

/// Both ways a lock may panic.
const MODES: [Site; 2] = [Site::Lock, Site::LockAfter];

/// Which lock faults must abort the process, before and after the closure.
#[derive(Clone, Copy)]
struct Abort {
    before: Aborts,
    after: Aborts,
}

impl Abort {
    fn of(self, mode: Site) -> Aborts {
        if mode == Site::LockAfter {
            self.after
        } else {
            self.before
        }
    }
}

/// The drop of a queued or handed wait, and a second panic while unwinding.
const PLAIN: Abort = Abort {
    before: must_abort,
    after: must_abort,
};

/// In-process: every k whose fault must not abort, before and after the closure (also
/// under Miri).
fn in_process(scenario: Scenario<FaultLock>) {
    in_process_but(scenario, PLAIN);
}

fn in_process_but(scenario: Scenario<FaultLock>, aborts: Abort) {
    let base = run(scenario, None);
    for mode in MODES {
        let injected = every_fault_after(&base, mode, scenario, aborts.of(mode));
        assert!(
            injected > 0,
            "no lock fault ({mode:?}) could run in-process"
        );
    }
}

/// In a child process: every k whose fault must abort, before and after the closure.
/// `test` is the calling test's own function (its name is derived from it).
fn aborting<F: Fn()>(test: F, scenario: Scenario<FaultLock>) {
    aborting_but(test, scenario, PLAIN);
}

fn aborting_but<F: Fn()>(test: F, scenario: Scenario<FaultLock>, aborts: Abort) {
    if let Some(arg) = child_arg() {
        let (mode, k) = arg.split_once(':').expect("mode:k");
        let mode = if mode == "after" {
            Site::LockAfter
        } else {
            Site::Lock
        };
        let k: usize = k.parse().expect("k");
        let _ = run(scenario, Some((mode, k)));
        panic!("the lock fault ({mode:?}) at acquisition {k} did not abort the process");
    }
    let base = run(scenario, None);
    for (mode, site) in [("before", Site::Lock), ("after", Site::LockAfter)] {
        let aborting: Vec<(usize, Acquisition)> = base
            .lock_log
            .iter()
            .enumerate()
            .filter(|(_, a)| aborts.of(site)(a))
            .map(|(k, a)| (k + 1, *a))
            .collect();
        assert!(
            !aborting.is_empty(),
            "the scenario reaches no aborting lock fault ({mode} its closure)"
        );
        for (k, acquisition) in aborting {
            let end = run_child(&test, &format!("{mode}:{k}"));
            let what =
                format!("lock fault {mode} its closure at acquisition {k} ({acquisition:?})");
            match acquisition.expected_cause() {
                Some(cause) => end.assert_aborted_naming(&what, cause),
                None => end.assert_aborted(&what),
            }
        }
    }
}

#[test]
fn fifo() {
    in_process(sc_fifo);
}

#[test]
fn cancel() {
    in_process(sc_cancel);
}

#[test]
#[cfg_attr(miri, ignore)] // spawns processes
fn cancel_aborts() {
    aborting(cancel_aborts, sc_cancel);
}

#[test]
fn batches() {
    in_process(sc_batches);
}

#[test]
#[cfg_attr(miri, ignore)]
fn batches_aborts() {
    aborting(batches_aborts, sc_batches);
}

#[test]
fn race() {
    in_process(sc_race);
}

#[test]
#[cfg_attr(miri, ignore)]
fn race_aborts() {
    aborting(race_aborts, sc_race);
}

#[test]
fn pulse() {
    in_process(sc_pulse);
}

/// `complete_all` over two batches whose first waker panics: a lock fault while the
/// drain is released during the unwinding must abort.
fn sc_all_with_a_panicking_waker(s: &mut Scene<'_, FaultLock>) {
    let n = if cfg!(miri) { 34 } else { 40 };
    for i in 0..n {
        let w = s.wait();
        let p = s.probe_with(Probe::builder().panic_on_wake(usize::from(i == 0)));
        let _ = s.poll(w, &p);
    }
    let _ = s.complete_all();
}

/// `complete_n` over two batches whose first waker panics.
fn sc_n_with_a_panicking_waker(s: &mut Scene<'_, FaultLock>) {
    let n = if cfg!(miri) { 34 } else { 40 };
    for i in 0..n {
        let w = s.wait();
        let p = s.probe_with(Probe::builder().panic_on_wake(usize::from(i == 0)));
        let _ = s.poll(w, &p);
    }
    let _ = s.complete_n(n + 2);
}

/// With a waker that panics when woken, a lock fault in `complete_all` after it took
/// the queue over aborts: the fault unwinds, the drain is released during the
/// unwinding, and the panicking waker is woken then: a second panic while unwinding.
/// (Its first hold failing before its closure changes nothing and wakes nobody; in
/// `complete_n` the waker panics in the first batch, so any later hold is during
/// unwinding: `must_abort`.) After its closure, every hold of the completer aborts: what
/// it did is acted on during the unwinding, which wakes the panicking waker.
const IN_THE_COMPLETER: Abort = Abort {
    before: |a| {
        a.must_abort()
            || (matches!(a.phase, Phase::Other("complete_all" | "complete_waiters"))
                && a.nth_in_phase > 1)
    },
    after: |a| {
        a.must_abort()
            || matches!(
                a.phase,
                Phase::Other("complete_all" | "complete_waiters" | "complete_n")
            )
    },
};

/// `complete_waiters` over two batches whose first waker panics (its drain, like
/// `complete_all`'s, is released during the unwinding).
fn sc_pulse_with_a_panicking_waker(s: &mut Scene<'_, FaultLock>) {
    let n = if cfg!(miri) { 34 } else { 40 };
    for i in 0..n {
        let w = s.wait();
        let p = s.probe_with(Probe::builder().panic_on_wake(usize::from(i == 0)));
        let _ = s.poll(w, &p);
    }
    let _ = s.complete_waiters();
}

#[test]
fn complete_waiters_with_a_panicking_waker() {
    in_process_but(sc_pulse_with_a_panicking_waker, IN_THE_COMPLETER);
}

#[test]
#[cfg_attr(miri, ignore)]
fn complete_waiters_with_a_panicking_waker_aborts() {
    aborting_but(
        complete_waiters_with_a_panicking_waker_aborts,
        sc_pulse_with_a_panicking_waker,
        IN_THE_COMPLETER,
    );
}

/// `Wait::enable` whose lock panics: `enable` panics, nothing is queued, and the wait
/// can be enabled (or polled) again.
#[test]
fn enable_whose_lock_panics() {
    quiet_injected_panics();
    let c: Completion<FaultLock> = Completion::with_lock();
    let mut w = Box::pin(c.wait());
    arm(Some((Site::Lock, 1)));
    assert_eq!(catch(|| w.as_mut().enable()), Err(Site::Lock));
    disarm();
    assert_eq!(format!("{w:?}"), "Wait { state: \"idle\" }");
    assert_eq!(completion_state(&c), (0, false, false));
    assert!(!w.as_mut().enable()); // queued now
    assert_eq!(completion_state(&c), (0, false, true));
    c.complete();
    assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
    let p = Probe::new();
    assert_eq!(poll_once(w.as_mut(), &p.waker()), Poll::Ready(()));
    assert_eq!(
        p.wakes(),
        0,
        "an enabled wait never polled has no waker to wake"
    );
    drop(w);
    assert!(!c.try_wait());
}

/// An enabled (queued, never polled) wait dropped while the lock panics aborts, as any
/// queued wait does.
#[test]
#[cfg_attr(miri, ignore)]
fn enabled_wait_dropped_while_the_lock_panics_aborts() {
    if let Some(arg) = child_arg() {
        quiet_injected_panics();
        let c: Completion<FaultLock> = Completion::with_lock();
        let mut w = Box::pin(c.wait());
        assert!(!w.as_mut().enable());
        arm(Some((lock_mode(&arg), 1)));
        drop(w);
        disarm();
        c.complete();
        panic!("dropping the enabled wait while the lock panicked did not abort");
    }
    both_abort(
        enabled_wait_dropped_while_the_lock_panics_aborts,
        "drop of an enabled wait while the lock panics",
        "a queued wait was being dropped",
    );
}

#[test]
fn complete_all_with_a_panicking_waker() {
    in_process_but(sc_all_with_a_panicking_waker, IN_THE_COMPLETER);
}

#[test]
#[cfg_attr(miri, ignore)]
fn complete_all_with_a_panicking_waker_aborts() {
    aborting_but(
        complete_all_with_a_panicking_waker_aborts,
        sc_all_with_a_panicking_waker,
        IN_THE_COMPLETER,
    );
}

#[test]
fn complete_n_with_a_panicking_waker() {
    in_process_but(sc_n_with_a_panicking_waker, IN_THE_COMPLETER);
}

#[test]
#[cfg_attr(miri, ignore)]
fn complete_n_with_a_panicking_waker_aborts() {
    aborting_but(
        complete_n_with_a_panicking_waker_aborts,
        sc_n_with_a_panicking_waker,
        IN_THE_COMPLETER,
    );
}

/// Issue 15, fault 1 in its test-lock shape: a queued `Box::pin(wait)` dropped while
/// the lock panics must abort, never leave the freed node linked.
#[test]
#[cfg_attr(miri, ignore)]
fn issue_15_queued_boxed_wait_dropped_while_the_lock_panics_aborts() {
    if let Some(arg) = child_arg() {
        quiet_injected_panics();
        let c: Completion<FaultLock> = Completion::with_lock();
        let p = Probe::new();
        let mut w = Box::pin(c.wait());
        assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
        arm(Some((lock_mode(&arg), 1)));
        drop(w); // must abort here
        disarm();
        c.complete(); // would read the freed node
        panic!("dropping the queued wait while the lock panicked did not abort");
    }
    both_abort(
        issue_15_queued_boxed_wait_dropped_while_the_lock_panics_aborts,
        "drop of a queued wait while the lock panics",
        "a queued wait was being dropped",
    );
}

/// Issue 15, fault 1 as reported: a lock that panics off "thread mode" (as embassy's
/// `ThreadModeRawMutex` does off the main thread); a queued wait of a `static`
/// completion dropped on another thread.
#[test]
#[cfg_attr(miri, ignore)]
fn issue_15_scenario_1_queued_wait_dropped_off_thread_aborts() {
    use crate::harness::inject::ThreadModeLock;
    static C: Completion<ThreadModeLock> = Completion::with_lock();
    if child_arg().is_some() {
        ThreadModeLock::enter();
        let p = Probe::new();
        let mut w = Box::pin(C.wait());
        assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
        let _ = std::thread::spawn(move || drop(w)).join();
        C.complete(); // would read the freed node
        panic!("the off-thread drop of a queued wait did not abort");
    }
    let end = run_child(
        issue_15_scenario_1_queued_wait_dropped_off_thread_aborts,
        "1",
    );
    end.assert_aborted("off-thread drop of a queued wait");
    assert!(
        end.stderr
            .contains("async-completion: the lock panicked while a queued wait was being dropped"),
        "stderr:\n{}",
        end.stderr
    );
}

/// A handed wait dropped while the lock panics (it must pass its completion on).
#[test]
#[cfg_attr(miri, ignore)]
fn handed_wait_dropped_while_the_lock_panics_aborts() {
    if let Some(arg) = child_arg() {
        quiet_injected_panics();
        let c: Completion<FaultLock> = Completion::with_lock();
        let p = Probe::new();
        let mut w = Box::pin(c.wait());
        let mut next = Box::pin(c.wait());
        assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
        assert!(poll_once(next.as_mut(), &p.waker()).is_pending());
        c.complete();
        assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
        // Passing it on to `next` needs the lock.
        arm(Some((lock_mode(&arg), 1)));
        drop(w);
        disarm();
        // Without an abort the completion would be lost.
        panic!("dropping the handed wait while the lock panicked did not abort ({next:?})");
    }
    both_abort(
        handed_wait_dropped_while_the_lock_panics_aborts,
        "drop of a handed wait while the lock panics",
        "a dropped wait was passing on its completion",
    );
}

/// A lock that panics after its closure (rule: the closure's effect stands and is acted
/// on, then the panic propagates): `complete()` that handed the completion off still
/// wakes that waiter, exactly once.
#[test]
fn complete_whose_lock_panics_after_handing_off_wakes_the_waiter() {
    quiet_injected_panics();
    let c: Completion<FaultLock> = Completion::with_lock();
    let (p, q) = (Probe::new(), Probe::new());
    let mut w = Box::pin(c.wait());
    let mut next = Box::pin(c.wait());
    assert!(poll_once(w.as_mut(), &p.waker()).is_pending());
    assert!(poll_once(next.as_mut(), &q.waker()).is_pending());
    arm(Some((Site::LockAfter, 1)));
    assert_eq!(catch(|| c.complete()), Err(Site::Lock));
    disarm();
    assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
    assert_eq!(
        (p.wakes(), q.wakes()),
        (1, 0),
        "the served waiter is woken, once"
    );
    assert_eq!(poll_once(w.as_mut(), &p.waker()), Poll::Ready(()));
    assert_eq!(format!("{next:?}"), "Wait { state: \"queued\" }");
    c.complete();
    assert_eq!(poll_once(next.as_mut(), &q.waker()), Poll::Ready(()));
    drop((w, next));
    assert!(!c.try_wait());
    assert_eq!((p.live(), q.live()), (0, 0));
}

/// A first poll whose lock panics after its closure took a completion banked meanwhile
/// (between the lock-free look and the lock: here by the waker's clone): the wait holds
/// it, so its next poll is `Ready`; dropped instead, it passes it on.
#[test]
fn first_poll_whose_lock_panics_after_taking_a_banked_completion_holds_it() {
    quiet_injected_panics();
    for drop_it in [false, true] {
        let c: Arc<Completion<FaultLock>> = Arc::new(Completion::with_lock());
        let hook = {
            let c = c.clone();
            move || c.complete()
        };
        let p = Probe::builder().on_clone(hook).build();
        let mut w = Box::pin(c.wait());
        arm(Some((Site::LockAfter, 1)));
        let got = catch(|| poll_once(w.as_mut(), &p.waker()));
        disarm();
        assert_eq!(got, Err(Site::Lock));
        assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
        assert_eq!(completion_state(&*c), (0, false, false));
        if drop_it {
            drop(w);
            assert!(c.try_wait(), "passed on to the count");
        } else {
            let plain = Probe::new();
            assert_eq!(poll_once(w.as_mut(), &plain.waker()), Poll::Ready(()));
            drop(w);
        }
        assert!(!c.try_wait(), "exactly once");
        assert_eq!(p.live(), 0);
    }
}

/// `Wait::enable` whose lock panics after its closure: the wait is queued, and a
/// completion reaches it.
#[test]
fn enable_whose_lock_panics_after_its_closure_is_queued() {
    quiet_injected_panics();
    let c: Completion<FaultLock> = Completion::with_lock();
    let mut w = Box::pin(c.wait());
    arm(Some((Site::LockAfter, 1)));
    assert_eq!(catch(|| w.as_mut().enable()), Err(Site::Lock));
    disarm();
    assert_eq!(format!("{w:?}"), "Wait { state: \"queued\" }");
    assert!(!w.as_mut().enable(), "still queued, in its place");
    c.complete();
    assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
    let p = Probe::new();
    assert_eq!(poll_once(w.as_mut(), &p.waker()), Poll::Ready(()));
    drop(w);
    assert!(!c.try_wait());
}
