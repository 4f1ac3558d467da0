//! Fault injection (SPEC §1 "Faults", §3 timeout ties; issue 15): user code that runs inside
//! the crate's operations panics, and the `Completion` must stay sound, exact and usable.
//!
//! - **Lock faults** (feature `embassy-sync`): a test `RawMutex` ([`FaultLock`]) panics on
//!   its k-th acquisition, for every k each scenario reaches. The operation that needed
//!   the lock panics and that lock hold did not happen. Where the crate cannot go on
//!   soundly (the drop of a queued wait, or of one holding a handed completion; a drain
//!   released during unwinding) it aborts: those ks run in a child process (not under
//!   Miri), which must die of `SIGABRT` naming the cause.
//! - **Waker faults**: the k-th `clone`, `wake` or `drop` of a waker made by the crate
//!   panics, for every k each scenario reaches, and targeted cases (the k-th waiter of a
//!   `complete_n`/`complete_all`/`complete_waiters` batch, a clone on a first poll or a
//!   re-poll, a drop on replacement, on cancel, at `Ready`). A panicking `wake` still lets
//!   the rest of the batch be woken and the rest of `n` be handed or banked; then the
//!   panic reaches the caller. A second panic while unwinding aborts (child process).
//! - **Timer and `wait_or` faults**: a timer panicking at creation, a sleep panicking in
//!   `poll` or `drop`, a sleep that completes inside its own `poll` (the SPEC §3 tie), a
//!   `wait_or` other future that panics or wins while a completion was handed.
//!
//! Most tests drive a [`Scene`]: the wait futures of one completion next to a reference
//! model of them (SPEC §1). After every operation it compares the model with the state
//! the crate shows (`Debug` of the completion and of each future, `is_terminated`, every
//! waker's wake count), and at the end it checks the conservation law (completions posted
//! = consumed by `Ready` waits and `try_wait` + banked, drained with `try_wait`; what
//! `complete_all`/`reinit` discard by design is accounted for), that the completion holds
//! no waker clone any more, and that a fresh complete/wait round trip works.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_completion::{Completion, Lock, TimedOut};
use futures_core::FusedFuture;
use harness::inject::{
    arm, armed_fault, catch, count, disarm, fired, in_phase, inject, quiet_injected_panics,
    Acquisition, GateCtl, Phase, Probe, ProbeBuilder, Site,
};

// ---------------------------------------------------------------------------------------
// Wait futures of every kind behind one trait.

/// A wait future (`Wait`, `WaitOr`, `WaitTimeout`) with its output reduced to `Ok`/`Err`.
trait Erased {
    fn poll_erased(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ()>>;
    fn debug(&self) -> String;
    fn terminated(&self) -> bool;
}

trait IntoRes {
    fn into_res(self) -> Result<(), ()>;
}

impl IntoRes for () {
    fn into_res(self) -> Result<(), ()> {
        Ok(())
    }
}

impl<E> IntoRes for Result<(), E> {
    fn into_res(self) -> Result<(), ()> {
        self.map_err(drop)
    }
}

impl<T> Erased for T
where
    T: Future + FusedFuture + fmt::Debug,
    T::Output: IntoRes,
{
    fn poll_erased(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        self.poll(cx).map(IntoRes::into_res)
    }
    fn debug(&self) -> String {
        format!("{self:?}")
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
}

/// The `state: "..."` of a wait future's `Debug` (the inner `Wait`'s for the others).
fn wait_state(debug: &str) -> String {
    let start = debug
        .find("state: \"")
        .unwrap_or_else(|| panic!("no state in `{debug}`"))
        + 8;
    let len = debug[start..].find('"').expect("closing quote");
    debug[start..start + len].to_owned()
}

/// `(count, completed_all, waiters)` from a completion's `Debug`.
fn completion_state<L: Lock>(c: &Completion<L>) -> (u32, bool, bool) {
    let debug = format!("{c:?}");
    let field = |name: &str| {
        let start = debug
            .find(&format!("{name}: "))
            .unwrap_or_else(|| panic!("no {name} in `{debug}`"))
            + name.len()
            + 2;
        let len = debug[start..].find([',', ' ', '}']).expect("end of field");
        debug[start..start + len].to_owned()
    };
    (
        field("count").parse().expect("count"),
        field("completed_all") == "true",
        field("waiters") == "true",
    )
}

// ---------------------------------------------------------------------------------------
// The scene: futures of one completion, and the reference model next to them.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Idle,
    Queued,
    Handed,
    Released,
    Done,
}

impl St {
    fn name(self) -> &'static str {
        match self {
            St::Idle => "idle",
            St::Queued => "queued",
            St::Handed => "handed",
            St::Released => "released",
            St::Done => "done",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Wait,
    Or,
    Timeout,
}

struct Entry<'c> {
    fut: Pin<Box<dyn Erased + 'c>>,
    kind: Kind,
    /// The other future (`Or`) or the sleep (`Timeout`).
    gate: Option<Arc<GateCtl>>,
    st: St,
    /// The waker stored with the queued wait (whose probe must be woken when it is handed).
    probe: Option<Arc<Probe>>,
    /// After a lock fault in a re-poll with another waker: the stored waker is `probe` or
    /// this one (the lock hold that failed may have been before or after the swap); the
    /// hand-off must wake exactly one of them.
    alt: Option<Arc<Probe>>,
    result: Option<Result<(), ()>>,
}

struct Scene<'c, L: Lock> {
    c: &'c Completion<L>,
    entries: Vec<Option<Entry<'c>>>,
    queue: VecDeque<usize>,
    count: u32,
    all: bool,
    /// Completions posted (that had an effect).
    posted: u64,
    /// Completions consumed by a `Ready` wait or a `true` `try_wait`.
    consumed: u64,
    /// Banked completions forgotten by `complete_all`/`reinit` (and hand-offs passed on
    /// after `complete_all`), by design.
    discarded: u64,
    probes: Vec<Arc<Probe>>,
    /// Under Miri, the per-step comparisons with the model (string formatting and parsing,
    /// slow there) are skipped: Miri is here to find undefined behaviour on the paths the
    /// native run checks step by step. The end of [`finish`](Self::finish) checks all.
    light: bool,
}

fn op_name(site: Site) -> &'static str {
    match site {
        Site::Lock => "lock",
        Site::Clone => "waker clone",
        Site::Wake => "waker wake",
        Site::Drop => "waker drop",
        Site::Other => "timer/other future",
    }
}

impl<'c, L: Lock> Scene<'c, L> {
    fn new(c: &'c Completion<L>) -> Self {
        Self {
            c,
            entries: Vec::new(),
            queue: VecDeque::new(),
            count: 0,
            all: false,
            posted: 0,
            consumed: 0,
            discarded: 0,
            probes: Vec::new(),
            light: cfg!(miri),
        }
    }

    /// A probe waker with no fault of its own.
    fn probe(&mut self) -> Arc<Probe> {
        self.probe_with(Probe::builder())
    }

    fn probe_with(&mut self, builder: ProbeBuilder) -> Arc<Probe> {
        let p = builder.build();
        self.probes.push(p.clone());
        p
    }

    fn push(
        &mut self,
        fut: Pin<Box<dyn Erased + 'c>>,
        kind: Kind,
        gate: Option<Arc<GateCtl>>,
    ) -> usize {
        self.entries.push(Some(Entry {
            fut,
            kind,
            gate,
            st: St::Idle,
            probe: None,
            alt: None,
            result: None,
        }));
        self.entries.len() - 1
    }

    fn wait(&mut self) -> usize {
        let fut = Box::pin(self.c.wait());
        self.push(fut, Kind::Wait, None)
    }

    fn wait_or(&mut self) -> (usize, Arc<GateCtl>) {
        let gate = GateCtl::new();
        let fut = Box::pin(self.c.wait_or(gate.gate()));
        (self.push(fut, Kind::Or, Some(gate.clone())), gate)
    }

    fn wait_timeout(&mut self) -> (usize, Arc<GateCtl>) {
        let gate = GateCtl::new();
        let timer = {
            let gate = gate.clone();
            move |_: Duration| gate.gate()
        };
        let fut = Box::pin(self.c.wait_timeout(timer, Duration::from_secs(1)));
        (self.push(fut, Kind::Timeout, Some(gate.clone())), gate)
    }

    fn entry(&mut self, i: usize) -> &mut Entry<'c> {
        self.entries[i].as_mut().expect("a live entry")
    }

    fn observed(&self, i: usize) -> String {
        wait_state(&self.entries[i].as_ref().expect("live").fut.debug())
    }

    // --- the model ---------------------------------------------------------------------

    /// `i` is handed a completion (or released): its waker is woken.
    fn wake_of(&mut self, i: usize) {
        let e = self.entries[i].as_mut().expect("queued entries are live");
        let probe = e.probe.clone().expect("a queued entry has a waker");
        match e.alt.take() {
            None => probe.expect_wake(),
            Some(alt) => {
                // One of the two, whichever the crate stored, is the one to wake.
                if alt.wakes() > alt.expected_wakes() {
                    e.probe = Some(alt.clone());
                    alt.expect_wake();
                } else {
                    probe.expect_wake();
                }
            }
        }
    }

    fn hand(&mut self, i: usize) {
        self.wake_of(i);
        self.entry(i).st = St::Handed;
    }

    /// `n` completions, as `complete()` `n` times.
    fn model_complete_n(&mut self, mut n: u32) {
        if self.all {
            return;
        }
        while n > 0 {
            let Some(i) = self.queue.pop_front() else {
                break;
            };
            self.hand(i);
            self.posted += 1;
            n -= 1;
        }
        let banked = self.count.saturating_add(n).min(Completion::MAX_COUNT);
        self.posted += u64::from(banked - self.count);
        self.count = banked;
    }

    fn model_complete_all(&mut self) {
        if self.all {
            return;
        }
        self.all = true;
        self.discarded += u64::from(self.count);
        self.count = 0;
        while let Some(i) = self.queue.pop_front() {
            self.wake_of(i);
            self.entry(i).st = St::Released;
        }
    }

    /// A pulse: every queued waiter released (woken) with one completion of its own,
    /// which it consumes at its next poll or gives up if dropped first (nothing is banked
    /// or passed on, so a pulse is outside the conservation law, like `complete_all`).
    fn model_complete_waiters(&mut self) {
        while let Some(i) = self.queue.pop_front() {
            self.wake_of(i);
            self.entry(i).st = St::Released;
        }
    }

    /// The wait part of a poll: `Some(result)` if the wait itself is ready.
    fn model_poll_wait(&mut self, i: usize, probe: &Arc<Probe>) -> Option<Result<(), ()>> {
        let (all, count) = (self.all, self.count);
        let e = self.entries[i].as_mut().expect("live");
        let ready = match e.st {
            St::Idle if all => true,
            St::Idle if count > 0 => {
                self.count -= 1;
                self.consumed += 1;
                true
            }
            St::Idle => {
                self.queue.push_back(i);
                e.st = St::Queued;
                e.probe = Some(probe.clone());
                false
            }
            St::Queued => {
                e.probe = Some(probe.clone());
                e.alt = None;
                false
            }
            St::Handed => {
                self.consumed += 1;
                true
            }
            St::Released => true,
            St::Done => return Some(e.result.expect("a done entry has a result")),
        };
        if ready {
            e.st = St::Done;
            e.result = Some(Ok(()));
            return Some(Ok(()));
        }
        None
    }

    /// A whole poll (`Wait`, or the wait and then the other future / sleep).
    fn model_poll(&mut self, i: usize, probe: &Arc<Probe>) -> Poll<Result<(), ()>> {
        let (all, count) = (self.all, self.count);
        let e = self.entries[i].as_mut().expect("live");
        if e.st == St::Idle && !all && count == 0 && e.gate.as_ref().is_some_and(|g| g.is_open()) {
            // The first poll of a race with nothing to take: the other future is polled
            // before the wait queues, and it won, so the wait never queued.
            e.st = St::Done;
            e.result = Some(Err(()));
            return Poll::Ready(Err(()));
        }
        if let Some(result) = self.model_poll_wait(i, probe) {
            return Poll::Ready(result);
        }
        let e = self.entries[i].as_mut().expect("live");
        match &e.gate {
            Some(gate) if gate.is_open() => {
                // The other future won: the wait leaves the queue (nothing was handed to it
                // during this poll: the gates here hand nothing).
                e.st = St::Done;
                e.result = Some(Err(()));
                self.queue.retain(|&j| j != i);
                Poll::Ready(Err(()))
            }
            _ => Poll::Pending,
        }
    }

    // --- operations --------------------------------------------------------------------

    /// Polls entry `i` with a waker of `probe`; checks the result against the model.
    /// Returns the injected fault that made the poll panic, if any.
    fn poll(&mut self, i: usize, probe: &Arc<Probe>) -> Result<Poll<Result<(), ()>>, Site> {
        let e = self.entries[i].as_mut().expect("live");
        if e.kind == Kind::Or && e.st == St::Done {
            // A `WaitOr` must not be polled after `Ready` (it panics by design).
            return Ok(Poll::Ready(e.result.expect("done")));
        }
        let before = e.st;
        let waker = probe.waker();
        let got = in_phase(Phase::Other("poll"), || {
            catch(|| e.fut.as_mut().poll_erased(&mut Context::from_waker(&waker)))
        });
        drop(waker);
        match got {
            Ok(got) => {
                let want = self.model_poll(i, probe);
                assert_eq!(got, want, "poll of entry {i} (was {before:?})");
            }
            Err(site) => self.poll_panicked(i, probe, site, before),
        }
        self.verify_one(i, &format!("after a poll of entry {i}"));
        got
    }

    fn poll_panicked(&mut self, i: usize, probe: &Arc<Probe>, site: Site, before: St) {
        let observed = self.observed(i);
        match site {
            // Nothing happened: the wait keeps its state, its place and its previous waker.
            Site::Clone => {}
            // The lock hold that panicked did not happen; an earlier one of the same poll
            // (a wait queued before its other future won) did.
            Site::Lock => match (before, observed.as_str()) {
                (St::Idle, "idle") | (St::Queued, "queued") if before == St::Idle => {}
                (St::Idle, "queued") => {
                    self.queue.push_back(i);
                    let e = self.entry(i);
                    e.st = St::Queued;
                    e.probe = Some(probe.clone());
                }
                (St::Queued, "queued") => {
                    let e = self.entry(i);
                    if !e.probe.as_ref().is_some_and(|p| Arc::ptr_eq(p, probe)) {
                        e.alt = Some(probe.clone());
                    }
                }
                (s, o) => panic!("a lock fault in a poll of entry {i} changed {s:?} to {o}"),
            },
            // The other future or the sleep panicked. On a first poll it goes before the
            // wait queues (after a lock-free look for a completion): the wait stays idle.
            // On a re-poll the wait part of the poll happened.
            Site::Other if before == St::Idle => {
                assert!(!self.all && self.count == 0, "a completion is taken first");
                assert_eq!(observed, "idle", "entry {i} did not queue");
            }
            Site::Other => {
                assert!(
                    self.model_poll_wait(i, probe).is_none(),
                    "the other future is polled only while the wait is pending"
                );
            }
            // The poll took effect; only dropping a waker afterwards panicked.
            Site::Drop => {
                let _ = self.model_poll(i, probe);
            }
            Site::Wake => panic!("a poll woke a waker"),
        }
    }

    fn complete(&mut self) -> Result<(), Site> {
        self.completer("complete", 1, |c| c.complete())
    }

    fn complete_n(&mut self, n: u32) -> Result<(), Site> {
        self.completer("complete_n", n, |c| c.complete_n(n))
    }

    fn completer(
        &mut self,
        name: &'static str,
        n: u32,
        f: impl FnOnce(&Completion<L>),
    ) -> Result<(), Site> {
        let first_lock = count(Site::Lock) + 1;
        let c = self.c;
        let got = in_phase(Phase::Other(name), || catch(|| f(c)));
        match got {
            // A waker panicked after the hand-offs: all of them happened.
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) => self.model_complete_n(n),
            Err(Site::Lock) => self.lock_fault_in_completer(name, n, first_lock),
            Err(site) => panic!("{name}: unexpected {} fault", op_name(site)),
        }
        self.verify(&format!("after {name}({n})"));
        got
    }

    fn complete_all(&mut self) -> Result<(), Site> {
        let first_lock = count(Site::Lock) + 1;
        let c = self.c;
        let got = in_phase(Phase::Other("complete_all"), || catch(|| c.complete_all()));
        match got {
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) => self.model_complete_all(),
            Err(Site::Lock) => {
                // All or nothing: once the queue was taken over, every waiter of it is
                // released and woken, even though a later lock hold panicked.
                let failed_first = armed_fault() == Some((Site::Lock, first_lock));
                let (_, all, _) = completion_state(self.c);
                assert!(
                    !(failed_first && all),
                    "complete_all whose first lock hold panicked took effect"
                );
                if all {
                    self.model_complete_all();
                }
            }
            Err(site) => panic!("complete_all: unexpected {} fault", op_name(site)),
        }
        self.verify("after complete_all");
        got
    }

    fn complete_waiters(&mut self) -> Result<(), Site> {
        let first_lock = count(Site::Lock) + 1;
        let c = self.c;
        let got = in_phase(Phase::Other("complete_waiters"), || {
            catch(|| c.complete_waiters())
        });
        match got {
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) => self.model_complete_waiters(),
            Err(Site::Lock) => {
                // All or nothing, as `complete_all`: the queue is taken over in one hold.
                let failed_first = armed_fault() == Some((Site::Lock, first_lock));
                let states: Vec<String> = self.queue.iter().map(|&i| self.observed(i)).collect();
                let released = states.iter().filter(|s| *s == "released").count();
                assert!(
                    released == 0 || released == states.len(),
                    "complete_waiters: a lock fault left some waiters released: {states:?}"
                );
                assert!(
                    !(failed_first && released > 0),
                    "complete_waiters whose first lock hold panicked took effect"
                );
                if released > 0 {
                    self.model_complete_waiters();
                }
            }
            Err(site) => panic!("complete_waiters: unexpected {} fault", op_name(site)),
        }
        self.verify("after complete_waiters");
        got
    }

    /// A lock hold of `complete`/`complete_n`/`complete_waiters` panicked: the hand-offs
    /// of earlier holds happened (a FIFO prefix of the queue, each woken), that hold and
    /// the later ones did not. With the very first hold failing, nothing happened.
    fn lock_fault_in_completer(&mut self, name: &str, n: u32, first_lock: usize) {
        let failed_first = armed_fault() == Some((Site::Lock, first_lock));
        let queued: Vec<usize> = self.queue.iter().copied().collect();
        let states: Vec<String> = queued.iter().map(|&i| self.observed(i)).collect();
        let handed = states.iter().take_while(|s| *s == "handed").count();
        assert!(
            states[handed..].iter().all(|s| s == "queued"),
            "{name}: the waiters served before a lock fault are not a FIFO prefix: {states:?}"
        );
        assert!(
            !(failed_first && handed > 0),
            "{name} whose first lock hold panicked served waiters"
        );
        for _ in 0..handed {
            let i = self.queue.pop_front().expect("queued");
            self.hand(i);
            self.posted += 1;
        }
        let (count, all, _) = completion_state(self.c);
        assert_eq!(all, self.all, "{name}: a lock fault changed completed_all");
        let banked = count.checked_sub(self.count).unwrap_or_else(|| {
            panic!(
                "{name}: a lock fault lowered the count {} to {count}",
                self.count
            )
        });
        if banked > 0 {
            assert!(
                !failed_first,
                "{name} whose first lock hold panicked banked"
            );
            assert!(self.queue.is_empty(), "{name} banked with waiters queued");
        }
        assert!(handed as u64 + u64::from(banked) <= u64::from(n));
        self.posted += u64::from(banked);
        self.count = count;
    }

    /// Drops entry `i` (a cancellation).
    fn drop_entry(&mut self, i: usize) -> Result<(), Site> {
        let e = self.entries[i].take().expect("live");
        let phase = match e.st {
            St::Queued => Phase::DropQueued,
            St::Handed => Phase::DropHanded,
            _ => Phase::Other("drop"),
        };
        let st = e.st;
        let fut = e.fut;
        let got = in_phase(phase, || catch(move || drop(fut)));
        match got {
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) | Err(Site::Other) => {}
            Err(Site::Lock) => panic!(
                "the lock panicked in the drop of a {st:?} wait and the process did not abort"
            ),
            Err(Site::Clone) => panic!("a drop cloned a waker"),
        }
        match st {
            St::Queued => self.queue.retain(|&j| j != i),
            // Passed on, as `complete()`.
            St::Handed if self.all => self.discarded += 1,
            St::Handed => match self.queue.pop_front() {
                Some(j) => self.hand(j),
                None => self.count = self.count.saturating_add(1).min(Completion::MAX_COUNT),
            },
            _ => {}
        }
        let when = format!("after the drop of entry {i} ({st:?})");
        if st == St::Handed {
            self.verify(&when); // passed on: another waiter may have been woken
        } else {
            self.verify_completion(&when);
        }
        got
    }

    fn try_wait(&mut self) -> bool {
        let got = self.c.try_wait();
        let want = if self.all {
            true
        } else if self.count > 0 {
            self.count -= 1;
            self.consumed += 1;
            true
        } else {
            false
        };
        assert_eq!(got, want, "try_wait");
        self.verify_completion("after try_wait");
        got
    }

    fn reinit(&mut self) {
        self.c.reinit();
        self.discarded += u64::from(self.count);
        self.count = 0;
        self.all = false;
        self.verify("after reinit");
    }

    // --- checks ------------------------------------------------------------------------

    /// The crate shows exactly the model's state, and every waker was woken exactly as
    /// often as the model says (so no waiter is handed or released but unwoken).
    fn verify(&self, when: &str) {
        if self.light {
            return;
        }
        self.verify_completion(when);
        for i in 0..self.entries.len() {
            self.verify_entry(i, when);
        }
        for (k, p) in self.probes.iter().enumerate() {
            assert_eq!(
                p.wakes(),
                p.expected_wakes(),
                "{when}: wakes of probe {k} (every handed or released waiter is woken once)"
            );
        }
    }

    /// After an operation on entry `i` alone (a poll wakes nobody: the wakes are checked
    /// at the next `verify`).
    fn verify_one(&self, i: usize, when: &str) {
        if self.light {
            return;
        }
        self.verify_completion(when);
        self.verify_entry(i, when);
    }

    fn verify_completion(&self, when: &str) {
        if self.light {
            return;
        }
        let want = (
            if self.all { 0 } else { self.count },
            self.all,
            !self.queue.is_empty(),
        );
        assert_eq!(
            completion_state(self.c),
            want,
            "{when}: the completion's (count, completed_all, waiters)"
        );
    }

    fn verify_entry(&self, i: usize, when: &str) {
        let Some(e) = &self.entries[i] else { return };
        if self.light {
            return;
        }
        let observed = wait_state(&e.fut.debug());
        assert_eq!(observed, e.st.name(), "{when}: the state of entry {i}");
        assert_eq!(
            e.fut.terminated(),
            e.st == St::Done,
            "{when}: is_terminated() of entry {i} ({:?})",
            e.st
        );
    }

    /// With faults off: every handed/released wait returns `Ready`, every future is
    /// dropped, the banked count is drained with `try_wait`, the conservation law holds,
    /// no waker clone is left in the completion, and a fresh round trip works.
    fn finish(mut self) {
        disarm();
        for i in 0..self.entries.len() {
            let st = match &self.entries[i] {
                Some(e) => e.st,
                None => continue,
            };
            if matches!(st, St::Handed | St::Released) {
                let p = self.probe();
                assert_eq!(self.poll(i, &p), Ok(Poll::Ready(Ok(()))));
            }
        }
        for i in 0..self.entries.len() {
            if self.entries[i].is_some() {
                assert_eq!(self.drop_entry(i), Ok(()));
            }
        }
        self.light = false;
        self.verify("after the last drop");
        for (k, p) in self.probes.iter().enumerate() {
            assert_eq!(
                p.live(),
                0,
                "probe {k}: the completion still holds a waker clone"
            );
        }
        if self.all {
            self.reinit();
        }
        let banked = self.count;
        let mut drained = 0;
        while self.try_wait() {
            drained += 1;
        }
        assert_eq!(drained, banked);
        assert_eq!(
            self.posted,
            self.consumed + self.discarded,
            "conservation: posted = consumed + banked (drained) + discarded by complete_all/reinit"
        );
        assert_eq!(completion_state(self.c), (0, false, false));
        // Still works.
        let p = self.probe();
        let w = self.wait();
        assert_eq!(self.poll(w, &p), Ok(Poll::Pending));
        assert_eq!(self.complete(), Ok(()));
        assert_eq!(p.wakes(), 1);
        assert_eq!(self.poll(w, &p), Ok(Poll::Ready(Ok(()))));
        assert!(!self.try_wait());
        assert_eq!(self.complete(), Ok(()));
        assert!(self.try_wait());
        assert_eq!(self.drop_entry(w), Ok(()));
        assert_eq!(p.live(), 0);
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: fixed sequences of operations, deterministic, run once without a fault to
// count what they reach, then once per fault.

type Scenario<L> = fn(&mut Scene<'_, L>);

/// FIFO hand-off, a re-poll with another waker, `complete_n` serving and banking.
fn sc_fifo<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..5).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.poll(w[0], &p[0]); // same waker
    let _ = s.poll(w[0], &p[3]); // another waker: keeps its place
    let _ = s.complete(); // to w0
    s.try_wait(); // false: it belongs to w0
    let d = s.wait();
    let _ = s.poll(d, &p[4]);
    let _ = s.complete_n(2); // w1, w2
    let _ = s.complete_n(3); // d, and two banked
    for &i in w.iter().chain([&d]) {
        let p = s.probe();
        let _ = s.poll(i, &p);
    }
    let e = s.wait();
    let pe = s.probe();
    let _ = s.poll(e, &pe); // takes a banked one
    s.try_wait();
}

/// Cancellation: a queued wait dropped, a handed one passing its completion on to the next
/// waiter and to the count, a released one dropped.
fn sc_cancel<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..6).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.drop_entry(w[1]); // queued
    let _ = s.complete(); // to w0
    let _ = s.drop_entry(w[0]); // handed: passed on to w2
    let _ = s.poll(w[2], &p[2]);
    let d = s.wait();
    let _ = s.poll(d, &p[3]);
    let _ = s.complete(); // to d
    let _ = s.drop_entry(d); // handed: passed on to the count
    s.try_wait();
    let e = s.wait();
    let f = s.wait();
    let _ = s.poll(e, &p[4]);
    let _ = s.poll(f, &p[5]);
    let _ = s.complete_all();
    let _ = s.drop_entry(e); // released
    let _ = s.poll(f, &p[5]);
    s.reinit();
    let _ = s.complete();
    s.try_wait();
}

/// More waiters than a batch: `complete_n` over two batches, then `complete_all` over two.
fn sc_batches<L: Lock>(s: &mut Scene<'_, L>) {
    let n = if cfg!(miri) { 34 } else { 40 };
    let mut ws = Vec::new();
    for _ in 0..n {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_n(33);
    let _ = s.drop_entry(ws[33]);
    for _ in 0..34 {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_all();
    for &w in &ws {
        if s.entries[w].is_some() {
            let p = s.probe();
            let _ = s.poll(w, &p);
        }
    }
    s.reinit();
}

/// `wait_or` and `wait_timeout`: the other future / sleep wins (the wait leaves the
/// queue), the completion wins, a handed completion passed on when the future is dropped.
fn sc_race<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..4).map(|_| s.probe()).collect();
    let (o, go) = s.wait_or();
    let (t, gt) = s.wait_timeout();
    let _ = s.poll(o, &p[0]);
    let _ = s.poll(t, &p[1]);
    go.open();
    let _ = s.poll(o, &p[0]); // Err: leaves the queue
    let _ = s.complete(); // to t
    gt.open();
    let _ = s.poll(t, &p[1]); // Ok: the wait is polled first
    let (t2, g2) = s.wait_timeout();
    let _ = s.poll(t2, &p[2]);
    g2.open();
    let _ = s.poll(t2, &p[2]); // Err(TimedOut)
    let (o2, _) = s.wait_or();
    let _ = s.poll(o2, &p[3]);
    let _ = s.complete(); // to o2
    let _ = s.drop_entry(o2); // passed on: banked
    s.try_wait();
    let (o3, g3) = s.wait_or();
    g3.open();
    let _ = s.poll(o3, &p[3]); // Err at once, nothing queued for long
    let (t3, _) = s.wait_timeout();
    let (o4, _) = s.wait_or();
    let _ = s.poll(t3, &p[0]);
    let _ = s.poll(o4, &p[1]);
    let _ = s.complete(); // to t3
    let _ = s.drop_entry(t3); // handed, with o4 queued: passed on under the lock
    let _ = s.drop_entry(o4); // handed
    let (t4, _) = s.wait_timeout();
    let _ = s.poll(t4, &p[2]);
    let _ = s.drop_entry(t4); // queued
}

/// `complete_waiters`: a pulse to the queued waiters, nothing banked; over two batches.
fn sc_pulse<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..3).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.complete(); // to w0
    let _ = s.complete_waiters(); // w1, w2
    let _ = s.complete_waiters(); // nobody: nothing banked
    let _ = s.drop_entry(w[2]); // pulsed, dropped: nothing passed on
    let (x, y) = (s.wait(), s.wait());
    let _ = s.poll(x, &p[2]);
    let _ = s.poll(y, &p[2]);
    let _ = s.poll(x, &p[1]); // another waker: the old one is dropped
    let _ = s.drop_entry(y); // queued
    s.try_wait();
    for (i, &w) in w.iter().enumerate().take(2) {
        let _ = s.poll(w, &p[i]);
    }
    let n = if cfg!(miri) { 33 } else { 36 };
    let mut ws = vec![x];
    for _ in 0..n {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_waiters();
    for &w in &ws {
        let p = s.probe();
        let _ = s.poll(w, &p);
    }
}

/// What one run of a scenario reached.
#[derive(Debug)]
struct Run {
    counts: [usize; 4],
    lock_log: Vec<Acquisition>,
    fired: Option<Site>,
}

const SITES: [Site; 4] = [Site::Lock, Site::Clone, Site::Wake, Site::Drop];

/// Runs `scenario` on a fresh completion, with `fail` armed, then [`Scene::finish`].
fn run<L: Lock>(scenario: Scenario<L>, fail: Option<(Site, usize)>) -> Run {
    quiet_injected_panics();
    let c = Completion::<L>::with_lock();
    let mut s = Scene::new(&c);
    arm(fail);
    scenario(&mut s);
    let run = Run {
        counts: SITES.map(count),
        lock_log: harness::inject::lock_log(),
        fired: fired(),
    };
    disarm();
    s.finish();
    run
}

/// The ks to inject a fault at, of the `eligible` ones: all of them natively; under Miri
/// (slow) the first and the last, or only the last in the scenarios over several batches
/// (where it falls in the batched `complete*`). Miri looks for undefined behaviour on the
/// paths the native run checks at every k.
fn sample(eligible: &[usize]) -> Vec<usize> {
    match eligible {
        [.., last] if cfg!(miri) && eligible.len() > 32 => vec![*last],
        [first, .., last] if cfg!(miri) => vec![*first, *last],
        all => all.to_vec(),
    }
}

/// Which lock faults must abort the process.
type Aborts = fn(&Acquisition) -> bool;

/// SPEC §1: the drop of a queued or handed wait, and any second panic while unwinding.
fn must_abort(a: &Acquisition) -> bool {
    a.must_abort()
}

fn site_index(site: Site) -> usize {
    SITES
        .iter()
        .position(|&s| s == site)
        .expect("a counted site")
}

/// Runs `scenario` with a fault at the k-th operation of `site`, for every k it reaches
/// (lock faults after which the crate must abort, by `aborts`, are left to the child
/// processes), `base` being its fault-free run. Returns how many faults were injected.
fn every_fault_after<L: Lock>(
    base: &Run,
    site: Site,
    scenario: Scenario<L>,
    aborts: Aborts,
) -> usize {
    let total = base.counts[site_index(site)];
    assert!(
        total > 0,
        "the scenario reaches no {} operation",
        op_name(site)
    );
    let eligible: Vec<usize> = (1..=total)
        .filter(|&k| site != Site::Lock || !aborts(&base.lock_log[k - 1]))
        .collect();
    let mut injected = 0;
    for k in sample(&eligible) {
        if std::env::var_os("FAULTS_VERBOSE").is_some() {
            eprintln!("fault: {} {k} of {total}", op_name(site));
        }
        let r = run(scenario, Some((site, k)));
        assert_eq!(
            r.fired,
            Some(site),
            "the fault at {} {k} fired",
            op_name(site)
        );
        injected += 1;
    }
    injected
}

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
// Lock faults at every k (feature `embassy-sync`).

#[cfg(feature = "embassy-sync")]
mod lock_faults {
    use super::*;
    use harness::inject::{child_arg, run_child, FaultLock};

    fn every_fault(site: Site, scenario: Scenario<FaultLock>, aborts: Aborts) -> usize {
        every_fault_after(&run(scenario, None), site, scenario, aborts)
    }

    /// In-process: every k whose fault must not abort (also under Miri).
    fn in_process(scenario: Scenario<FaultLock>) {
        in_process_but(scenario, must_abort);
    }

    fn in_process_but(scenario: Scenario<FaultLock>, aborts: Aborts) {
        let injected = every_fault(Site::Lock, scenario, aborts);
        assert!(injected > 0, "no lock fault could run in-process");
    }

    /// In a child process: every k whose fault must abort. `name` is the calling test's.
    fn aborting(name: &str, scenario: Scenario<FaultLock>) {
        aborting_but(name, scenario, must_abort);
    }

    fn aborting_but(name: &str, scenario: Scenario<FaultLock>, aborts: Aborts) {
        if let Some(arg) = child_arg() {
            let k: usize = arg.parse().expect("k");
            let _ = run(scenario, Some((Site::Lock, k)));
            panic!("the lock fault at acquisition {k} did not abort the process");
        }
        let base = run(scenario, None);
        let aborting: Vec<_> = base
            .lock_log
            .iter()
            .enumerate()
            .filter(|(_, a)| aborts(a))
            .map(|(k, a)| (k + 1, *a))
            .collect();
        assert!(
            !aborting.is_empty(),
            "the scenario reaches no aborting lock fault"
        );
        for (k, acquisition) in aborting {
            let end = run_child(name, &k.to_string());
            end.assert_aborted(&format!("lock fault at acquisition {k} ({acquisition:?})"));
            if acquisition.names_cause() {
                assert!(
                    end.stderr
                        .contains("async-completion: the lock panicked while"),
                    "lock fault at acquisition {k} ({acquisition:?}): the abort names no \
                     cause; stderr:\n{}",
                    end.stderr
                );
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
        aborting("lock_faults::cancel_aborts", sc_cancel);
    }

    #[test]
    fn batches() {
        in_process(sc_batches);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn batches_aborts() {
        aborting("lock_faults::batches_aborts", sc_batches);
    }

    #[test]
    fn race() {
        in_process(sc_race);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn race_aborts() {
        aborting("lock_faults::race_aborts", sc_race);
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
    /// (Its first hold failing changes nothing and wakes nobody; in `complete_n` the waker
    /// panics in the first batch, so any later hold is during unwinding: `must_abort`.)
    fn in_the_completer(a: &Acquisition) -> bool {
        a.must_abort()
            || (matches!(a.phase, Phase::Other("complete_all" | "complete_waiters"))
                && a.nth_in_phase > 1)
    }

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
        in_process_but(sc_pulse_with_a_panicking_waker, in_the_completer);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn complete_waiters_with_a_panicking_waker_aborts() {
        aborting_but(
            "lock_faults::complete_waiters_with_a_panicking_waker_aborts",
            sc_pulse_with_a_panicking_waker,
            in_the_completer,
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
        assert_eq!(common::poll_once(w.as_mut(), &p.waker()), Poll::Ready(()));
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
        const NAME: &str = "lock_faults::enabled_wait_dropped_while_the_lock_panics_aborts";
        if child_arg().is_some() {
            quiet_injected_panics();
            let c: Completion<FaultLock> = Completion::with_lock();
            let mut w = Box::pin(c.wait());
            assert!(!w.as_mut().enable());
            arm(Some((Site::Lock, 1)));
            drop(w);
            disarm();
            c.complete();
            panic!("dropping the enabled wait while the lock panicked did not abort");
        }
        let end = run_child(NAME, "1");
        end.assert_aborted("drop of an enabled wait while the lock panics");
        assert!(
            end.stderr.contains(
                "async-completion: the lock panicked while a queued wait was being dropped"
            ),
            "stderr:\n{}",
            end.stderr
        );
    }

    #[test]
    fn complete_all_with_a_panicking_waker() {
        in_process_but(sc_all_with_a_panicking_waker, in_the_completer);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn complete_all_with_a_panicking_waker_aborts() {
        aborting_but(
            "lock_faults::complete_all_with_a_panicking_waker_aborts",
            sc_all_with_a_panicking_waker,
            in_the_completer,
        );
    }

    #[test]
    fn complete_n_with_a_panicking_waker() {
        in_process(sc_n_with_a_panicking_waker);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn complete_n_with_a_panicking_waker_aborts() {
        aborting(
            "lock_faults::complete_n_with_a_panicking_waker_aborts",
            sc_n_with_a_panicking_waker,
        );
    }

    /// Issue 15, fault 1 in its test-lock shape: a queued `Box::pin(wait)` dropped while
    /// the lock panics must abort, never leave the freed node linked.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn issue_15_queued_boxed_wait_dropped_while_the_lock_panics_aborts() {
        const NAME: &str =
            "lock_faults::issue_15_queued_boxed_wait_dropped_while_the_lock_panics_aborts";
        if child_arg().is_some() {
            quiet_injected_panics();
            let c: Completion<FaultLock> = Completion::with_lock();
            let p = Probe::new();
            let mut w = Box::pin(c.wait());
            assert!(common::poll_once(w.as_mut(), &p.waker()).is_pending());
            arm(Some((Site::Lock, 1)));
            drop(w); // must abort here
            disarm();
            c.complete(); // would read the freed node
            panic!("dropping the queued wait while the lock panicked did not abort");
        }
        let end = run_child(NAME, "1");
        end.assert_aborted("drop of a queued wait while the lock panics");
        assert!(
            end.stderr.contains(
                "async-completion: the lock panicked while a queued wait was being dropped"
            ),
            "stderr:\n{}",
            end.stderr
        );
    }

    /// Issue 15, fault 1 as reported: a lock that panics off "thread mode" (as embassy's
    /// `ThreadModeRawMutex` does off the main thread); a queued wait of a `static`
    /// completion dropped on another thread.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn issue_15_scenario_1_queued_wait_dropped_off_thread_aborts() {
        use harness::inject::ThreadModeLock;
        const NAME: &str = "lock_faults::issue_15_scenario_1_queued_wait_dropped_off_thread_aborts";
        static C: Completion<ThreadModeLock> = Completion::with_lock();
        if child_arg().is_some() {
            ThreadModeLock::enter();
            let p = Probe::new();
            let mut w = Box::pin(C.wait());
            assert!(common::poll_once(w.as_mut(), &p.waker()).is_pending());
            let _ = std::thread::spawn(move || drop(w)).join();
            C.complete(); // would read the freed node
            panic!("the off-thread drop of a queued wait did not abort");
        }
        let end = run_child(NAME, "1");
        end.assert_aborted("off-thread drop of a queued wait");
        assert!(
            end.stderr.contains(
                "async-completion: the lock panicked while a queued wait was being dropped"
            ),
            "stderr:\n{}",
            end.stderr
        );
    }

    /// A handed wait dropped while the lock panics (it must pass its completion on).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn handed_wait_dropped_while_the_lock_panics_aborts() {
        const NAME: &str = "lock_faults::handed_wait_dropped_while_the_lock_panics_aborts";
        if child_arg().is_some() {
            quiet_injected_panics();
            let c: Completion<FaultLock> = Completion::with_lock();
            let p = Probe::new();
            let mut w = Box::pin(c.wait());
            let mut next = Box::pin(c.wait());
            assert!(common::poll_once(w.as_mut(), &p.waker()).is_pending());
            assert!(common::poll_once(next.as_mut(), &p.waker()).is_pending());
            c.complete();
            assert_eq!(format!("{w:?}"), "Wait { state: \"handed\" }");
            // Passing it on to `next` needs the lock.
            arm(Some((Site::Lock, 1)));
            drop(w);
            disarm();
            // Without an abort the completion would be lost.
            panic!("dropping the handed wait while the lock panicked did not abort ({next:?})");
        }
        let end = run_child(NAME, "1");
        end.assert_aborted("drop of a handed wait while the lock panics");
        assert!(
            end.stderr
                .contains("async-completion: the lock panicked while"),
            "stderr:\n{}",
            end.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------
// Targeted waker faults.

/// `n` waits of a fresh scene queued in order, waiter `bad`'s waker panicking when woken.
fn queue_with_panicking<'c, L: Lock>(
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
                assert!(common::poll_once(w.as_mut(), &p.waker()).is_pending());
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
            assert_eq!(
                common::poll_once(w.as_mut(), &done.waker()),
                Poll::Ready(())
            );
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
    assert_eq!(common::poll_once(t.as_mut(), &bad.waker()), Poll::Pending);
    gate.open();
    assert_eq!(
        catch(|| common::poll_once(t.as_mut(), &bad.waker())),
        Err(Site::Drop)
    );
    assert_eq!(bad.live(), 0);
    assert_eq!(
        format!("{c:?}"),
        "Completion { count: 0, completed_all: false, waiters: false }"
    );
    let again = common::poll_once(t.as_mut(), &bad.waker());
    assert_eq!(
        again,
        Poll::Ready(Err(TimedOut)),
        "polled again, a timed-out wait returned {again:?} with no completion posted"
    );
    assert!(t.is_terminated());
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
    let got = catch(|| common::poll_once(w.as_mut(), &p.waker()));
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
    const NAME: &str = "a_second_panicking_waker_aborts";
    if harness::inject::child_arg().is_some() {
        let c = Completion::new();
        let probes: Vec<_> = (0..3)
            .map(|i| Probe::builder().panic_on_wake(usize::from(i < 2)).build())
            .collect();
        let mut ws: Vec<_> = probes.iter().map(|_| Box::pin(c.wait())).collect();
        for (w, p) in ws.iter_mut().zip(&probes) {
            assert!(common::poll_once(w.as_mut(), &p.waker()).is_pending());
        }
        let _ = catch(|| c.complete_n(3));
        panic!(
            "no abort; wakes {:?}",
            probes.iter().map(|p| p.wakes()).collect::<Vec<_>>()
        );
    }
    let end = harness::inject::run_child(NAME, "1");
    end.assert_aborted("a second waker panicking during the unwinding");
}

// ---------------------------------------------------------------------------------------
// Timers and `wait_or`'s other future.

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
    assert_eq!(common::block_on(w), Ok(()));
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
    assert_eq!(common::poll_once(t.as_mut(), &w.waker()), Poll::Pending);
    c.complete();
    assert_eq!(
        catch(|| common::poll_once(t.as_mut(), &w.waker())),
        Err(Site::Other)
    );
    assert_eq!(gate.drops(), 1);
    assert!(
        t.is_terminated(),
        "the completion was consumed: the result is known"
    );
    assert_eq!(
        common::poll_once(t.as_mut(), &w.waker()),
        Poll::Ready(Ok(()))
    );
    drop(t);
    assert!(!c.try_wait(), "consumed once, not passed on");
    // At `Err(TimedOut)`: a later poll must not turn it into `Ok`.
    let gate = GateCtl::new();
    gate.panic_in_drop(true);
    let mut t = Box::pin(c.wait_timeout(never(&gate), Duration::from_secs(1)));
    assert_eq!(common::poll_once(t.as_mut(), &w.waker()), Poll::Pending);
    gate.open();
    assert_eq!(
        catch(|| common::poll_once(t.as_mut(), &w.waker())),
        Err(Site::Other)
    );
    assert_eq!(
        common::poll_once(t.as_mut(), &w.waker()),
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
    assert_eq!(common::poll_once(t.as_mut(), &w.waker()), Poll::Pending);
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

/// SPEC §3 ties: a sleep whose own `poll` completes (as if the deadline and a `complete()`
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
        assert_eq!(common::poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || act(&c2));
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
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

/// SPEC §3 ties, more shapes: a completion passed on to the wait inside the sleep's poll
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
        let polled = common::poll_once(
            OLDER.lock().unwrap().as_mut().unwrap().as_mut(),
            &po.waker(),
        );
        assert!(polled.is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(C.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(common::poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        C.complete(); // to `older`
        assert_eq!(po.wakes(), 1);
        gate.open();
        gate.on_next_poll(|| drop(OLDER.lock().unwrap().take())); // passes it on to `t`
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
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
        assert!(common::poll_once(older.as_mut(), &po.waker()).is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(common::poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete());
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Err(TimedOut))
        );
        assert_eq!(po.wakes(), 1);
        assert_eq!(
            common::poll_once(older.as_mut(), &po.waker()),
            Poll::Ready(())
        );
        drop((t, older));
        assert!(!c.try_wait());
        // Two posted inside the sleep's poll: one for each.
        let mut older = Box::pin(c.wait());
        assert!(common::poll_once(older.as_mut(), &po.waker()).is_pending());
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(common::poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete_n(2));
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Ok(()))
        );
        assert_eq!(
            common::poll_once(older.as_mut(), &po.waker()),
            Poll::Ready(())
        );
        drop((t, older));
        assert!(!c.try_wait());
    }
    // Handed before the poll in which the timer fires: the wait is polled first.
    {
        let c = Completion::new();
        let gate = GateCtl::new();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(common::poll_once(t.as_mut(), &p.waker()), Poll::Pending);
        c.complete();
        gate.open();
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Ok(()))
        );
        drop(t);
        assert!(!c.try_wait());
        // Banked before the first poll, with the sleep already over.
        c.complete();
        let mut t = Box::pin(c.wait_timeout(timer_of(&gate), Duration::from_secs(1)));
        assert_eq!(
            common::poll_once(t.as_mut(), &p.waker()),
            Poll::Ready(Ok(()))
        );
        drop(t);
        assert!(!c.try_wait());
    }
    assert_eq!(p.live(), 0);
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
        assert_eq!(common::poll_once(o.as_mut(), &p.waker()), Poll::Pending);
        let mut next = Box::pin(c.wait());
        if with_next {
            assert!(common::poll_once(next.as_mut(), &pn.waker()).is_pending());
        }
        gate.open();
        let c2 = c.clone();
        gate.on_next_poll(move || c2.complete()); // handed to `o`, the oldest
        assert_eq!(
            common::poll_once(o.as_mut(), &p.waker()),
            Poll::Ready(Err(7))
        );
        assert_eq!(p.wakes(), 1);
        assert!(o.is_terminated());
        if with_next {
            assert_eq!(pn.wakes(), 1, "passed on to the next waiter");
            assert_eq!(
                common::poll_once(next.as_mut(), &pn.waker()),
                Poll::Ready(())
            );
            assert!(!c.try_wait());
        } else {
            assert!(c.try_wait(), "passed on to the count");
            assert!(!c.try_wait());
        }
        drop((o, next));
        assert_eq!((p.live(), pn.live()), (0, 0));
    }
}

/// `wait_blocking_timeout` against a `complete()` racing its deadline, many times: every
/// completion is consumed by the wait (`Ok`) or stays banked (`Err`), never both, never
/// neither (SPEC §3: the kernel's last look after the timeout).
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
