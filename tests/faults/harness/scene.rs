//! The scene: the wait futures of one completion next to the reference model of the whole
//! API (`tests/model_impl/model.rs`, the one the property test and the fuzz target use).
//! After every operation it compares the model with the state the crate shows (`Debug` of
//! the completion and of each future, `is_terminated`, every waker's wake count, the
//! conservation law); a fault that made an operation panic is folded into the model from
//! what the crate shows, within what the crate docs allow (a FIFO prefix served, all or
//! nothing for a release, nothing for a lock that panicked before its closure).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_completion::{Completion, Lock};
use futures_core::FusedFuture;

use super::inject::{
    armed_fault, catch, count, disarm, in_phase, GateCtl, Phase, Probe, ProbeBuilder, Site,
};
use super::model::{Model, Polled, Race, Res, St};

/// A wait future (`Wait`, `WaitOr`, `WaitTimeout`) with its output reduced to `Ok`/`Err`.
pub trait Erased {
    fn poll_erased(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ()>>;
    fn debug(&self) -> String;
    fn terminated(&self) -> bool;
}

pub trait IntoRes {
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
pub fn wait_state(debug: &str) -> String {
    let start = debug
        .find("state: \"")
        .unwrap_or_else(|| panic!("no state in `{debug}`"))
        + 8;
    let len = debug[start..].find('"').expect("closing quote");
    debug[start..start + len].to_owned()
}

/// `(count, completed_all, waiters)` from a completion's `Debug`.
pub fn completion_state<L: Lock>(c: &Completion<L>) -> (u32, bool, bool) {
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

fn to_result(res: Res) -> Result<(), ()> {
    match res {
        Res::Ok => Ok(()),
        Res::Lost => Err(()),
    }
}

fn to_poll(p: Polled) -> Poll<Result<(), ()>> {
    match p {
        Polled::Pending => Poll::Pending,
        Polled::Ready(res) => Poll::Ready(to_result(res)),
        Polled::AfterReady => unreachable!("the scene never polls a finished wait_or"),
    }
}

/// The name of a fault site, for messages.
pub fn op_name(site: Site) -> &'static str {
    match site {
        Site::Lock => "lock (before its closure)",
        Site::LockAfter => "lock (after its closure)",
        Site::Clone => "waker clone",
        Site::Wake => "waker wake",
        Site::Drop => "waker drop",
        Site::Other => "timer/other future",
    }
}

/// One wait future of the scene.
pub struct Entry<'c> {
    pub fut: Pin<Box<dyn Erased + 'c>>,
    pub race: Race,
    /// The other future (`wait_or`) or the sleep (`wait_timeout`).
    pub gate: Option<Arc<GateCtl>>,
    /// The probe of the latest poll.
    pub probe: Option<Arc<Probe>>,
}

/// The futures of one completion, and the reference model next to them: entry `i` is
/// the model's wait `i`, probe `k` the model's waker `k`.
pub struct Scene<'c, L: Lock> {
    pub c: &'c Completion<L>,
    pub entries: Vec<Option<Entry<'c>>>,
    pub m: Model,
    pub probes: Vec<Arc<Probe>>,
    /// Under Miri, the per-step comparisons with the model (string formatting and parsing,
    /// slow there) are skipped: Miri is here to find undefined behaviour on the paths the
    /// native run checks step by step. The end of [`finish`](Self::finish) checks all.
    pub light: bool,
}

impl<'c, L: Lock> Scene<'c, L> {
    pub fn new(c: &'c Completion<L>) -> Self {
        Self {
            c,
            entries: Vec::new(),
            m: Model::new(0, None),
            probes: Vec::new(),
            light: cfg!(miri),
        }
    }

    /// A probe waker with no fault of its own.
    pub fn probe(&mut self) -> Arc<Probe> {
        self.probe_with(Probe::builder())
    }

    pub fn probe_with(&mut self, builder: ProbeBuilder) -> Arc<Probe> {
        let p = builder.build();
        self.probes.push(p.clone());
        self.m.add_waker();
        p
    }

    fn id(&self, probe: &Arc<Probe>) -> usize {
        self.probes
            .iter()
            .position(|p| Arc::ptr_eq(p, probe))
            .expect("a probe of this scene")
    }

    fn push(
        &mut self,
        fut: Pin<Box<dyn Erased + 'c>>,
        race: Race,
        gate: Option<Arc<GateCtl>>,
    ) -> usize {
        let i = self.entries.len();
        self.entries.push(Some(Entry {
            fut,
            race,
            gate,
            probe: None,
        }));
        self.m.create(i, race, false);
        i
    }

    pub fn wait(&mut self) -> usize {
        let fut = Box::pin(self.c.wait());
        self.push(fut, Race::Plain, None)
    }

    pub fn wait_or(&mut self) -> (usize, Arc<GateCtl>) {
        let gate = GateCtl::new();
        let fut = Box::pin(self.c.wait_or(gate.gate()));
        (self.push(fut, Race::Other, Some(gate.clone())), gate)
    }

    pub fn wait_timeout(&mut self) -> (usize, Arc<GateCtl>) {
        let gate = GateCtl::new();
        let timer = {
            let gate = gate.clone();
            move |_: Duration| gate.gate()
        };
        let fut = Box::pin(self.c.wait_timeout(timer, Duration::from_secs(1)));
        (self.push(fut, Race::Timer, Some(gate.clone())), gate)
    }

    /// The state the crate shows for entry `i`.
    pub fn observed(&self, i: usize) -> String {
        wait_state(&self.entries[i].as_ref().expect("live").fut.debug())
    }

    /// Tells the model the wakes seen so far (it resolves an uncertain waker by them).
    fn observe(&mut self) {
        self.m.observed = self.probes.iter().map(|p| p.wakes()).collect();
    }

    /// The model's gates follow the test's.
    fn sync_gate(&mut self, i: usize) {
        let open = self.entries[i]
            .as_ref()
            .and_then(|e| e.gate.as_ref())
            .is_some_and(|g| g.is_open());
        self.m.wm(i).open = open;
    }

    // --- operations --------------------------------------------------------------------

    /// Polls entry `i` with a waker of `probe`; checks the result against the model.
    /// Returns the injected fault that made the poll panic, if any.
    pub fn poll(&mut self, i: usize, probe: &Arc<Probe>) -> Result<Poll<Result<(), ()>>, Site> {
        let k = self.id(probe);
        let e = self.entries[i].as_mut().expect("live");
        let before = self.m.st(i).expect("live");
        if e.race == Race::Other && matches!(before, St::Done(_)) {
            // A `WaitOr` must not be polled after `Ready` (it panics by design).
            let St::Done(res) = before else {
                unreachable!()
            };
            return Ok(Poll::Ready(to_result(res)));
        }
        e.probe = Some(probe.clone());
        let waker = probe.waker();
        let got = in_phase(Phase::Other("poll"), || {
            catch(|| e.fut.as_mut().poll_erased(&mut Context::from_waker(&waker)))
        });
        drop(waker);
        self.sync_gate(i);
        match got {
            Ok(got) => {
                let want = to_poll(self.m.poll(i, Some(k)));
                assert_eq!(got, want, "poll of entry {i} (was {before:?})");
            }
            Err(site) => self.poll_panicked(i, k, site, before),
        }
        self.verify_one(i, &format!("after a poll of entry {i}"));
        got
    }

    fn poll_panicked(&mut self, i: usize, k: usize, site: Site, before: St) {
        let observed = self.observed(i);
        let open = self.m.wm(i).open;
        match site {
            // Nothing happened: the wait keeps its state, its place and its previous waker.
            Site::Clone => {}
            // A lock hold that panicked before its closure did not happen; one that
            // panicked after it did, and was acted on. An earlier one of the same poll (a
            // wait queued before its other future won) happened.
            Site::Lock => match (before, observed.as_str()) {
                (St::Idle, "idle") => {}
                (St::Idle, "queued") => self.m.enqueue(i, Some(k)),
                // A first poll that took a banked completion under the lock: held.
                (St::Idle, "handed") => {
                    assert!(
                        self.m.count > 0,
                        "entry {i} holds a completion nobody banked"
                    );
                    self.m.count -= 1;
                    self.m.wm(i).st = St::Handed;
                }
                (St::Queued { waker }, "queued") => {
                    if waker != Some(k) {
                        // Stored before or after the hold that failed: either one.
                        self.m.uncertain.retain(|&(s, _)| s != i);
                        self.m.uncertain.push((i, k));
                    }
                }
                // The other future / the timer won and the wait left under the lock
                // (passing a handed completion on): finished, or back to idle.
                (St::Queued { .. }, "done") if open => {
                    self.m.leave(i);
                    self.m.wm(i).st = St::Done(Res::Lost);
                }
                (St::Queued { .. }, "idle") if open => {
                    self.m.leave(i);
                    self.m.wm(i).st = St::Idle;
                }
                (s, o) => panic!("a lock fault in a poll of entry {i} changed {s:?} to {o}"),
            },
            Site::LockAfter => unreachable!("injected as Site::Lock"),
            // The other future or the sleep panicked. On a first poll it goes before the
            // wait queues (after a lock-free look for a completion): the wait stays idle.
            // On a re-poll the wait part of the poll happened.
            Site::Other if before == St::Idle => {
                assert!(
                    !self.m.all && self.m.count == 0,
                    "a completion is taken first"
                );
                assert_eq!(observed, "idle", "entry {i} did not queue");
            }
            Site::Other => {
                assert!(
                    self.m.poll_wait(i, Some(k)).is_none(),
                    "the other future is polled only while the wait is pending"
                );
            }
            // The poll took effect; only dropping a waker afterwards panicked.
            Site::Drop => {
                let _ = self.m.poll(i, Some(k));
            }
            Site::Wake => panic!("a poll woke a waker"),
        }
    }

    pub fn complete(&mut self) -> Result<(), Site> {
        self.completer("complete", 1, |c| c.complete())
    }

    pub fn complete_n(&mut self, n: u32) -> Result<(), Site> {
        self.completer("complete_n", n, |c| c.complete_n(n))
    }

    /// Whether the armed fault is a lock panicking before its closure at hold `k`.
    fn failed_before_at(k: usize) -> bool {
        armed_fault() == Some((Site::Lock, k))
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
        self.observe();
        match got {
            // A waker panicked after the hand-offs: all of them happened.
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) => self.m.complete_n(n),
            Err(Site::Lock) => self.lock_fault_in_completer(name, n, first_lock),
            Err(site) => panic!("{name}: unexpected {} fault", op_name(site)),
        }
        self.verify(&format!("after {name}({n})"));
        got
    }

    pub fn complete_all(&mut self) -> Result<(), Site> {
        self.release("complete_all", |c| c.complete_all())
    }

    pub fn complete_waiters(&mut self) -> Result<(), Site> {
        self.release("complete_waiters", |c| c.complete_waiters())
    }

    /// `complete_all` or `complete_waiters`: all or nothing. Once the queue was taken over
    /// (by a hold that ran), every waiter of it is released and woken, even though a
    /// later lock hold panicked; a first hold that panicked before its closure did
    /// nothing.
    fn release(&mut self, name: &'static str, f: impl FnOnce(&Completion<L>)) -> Result<(), Site> {
        let first_lock = count(Site::Lock) + 1;
        let c = self.c;
        let all_before = self.m.all;
        let got = in_phase(Phase::Other(name), || catch(|| f(c)));
        self.observe();
        let apply = |m: &mut Model| {
            if name == "complete_all" {
                m.complete_all()
            } else {
                m.complete_waiters()
            }
        };
        match got {
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) => apply(&mut self.m),
            Err(Site::Lock) => {
                let failed_first = Self::failed_before_at(first_lock);
                let states: Vec<String> = self.m.queue.iter().map(|&i| self.observed(i)).collect();
                let released = states.iter().filter(|s| *s == "released").count();
                assert!(
                    released == 0 || released == states.len(),
                    "{name}: a lock fault left some waiters released: {states:?}"
                );
                let (_, all, _) = completion_state(self.c);
                let took_effect = released > 0 || (all && !all_before);
                assert!(
                    !(failed_first && took_effect),
                    "{name} whose first lock hold panicked before its closure took effect"
                );
                if took_effect {
                    apply(&mut self.m);
                }
            }
            Err(site) => panic!("{name}: unexpected {} fault", op_name(site)),
        }
        self.verify(&format!("after {name}"));
        got
    }

    /// A lock hold of `complete`/`complete_n` panicked: the hand-offs of earlier holds
    /// happened (a FIFO prefix of the queue, each woken), and so did those of the hold
    /// that failed if it failed after its closure; the later ones did not. With the very
    /// first hold failing before its closure, nothing happened.
    fn lock_fault_in_completer(&mut self, name: &str, n: u32, first_lock: usize) {
        let failed_first = Self::failed_before_at(first_lock);
        let queued: Vec<usize> = self.m.queue.iter().copied().collect();
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
            self.m.hand_front().expect("queued");
            self.m.ledger.posted += 1;
        }
        let (count, all, _) = completion_state(self.c);
        assert_eq!(
            all, self.m.all,
            "{name}: a lock fault changed completed_all"
        );
        let banked = count.checked_sub(self.m.count).unwrap_or_else(|| {
            panic!(
                "{name}: a lock fault lowered the count {} to {count}",
                self.m.count
            )
        });
        if banked > 0 {
            assert!(
                !failed_first,
                "{name} whose first lock hold panicked banked"
            );
            assert!(self.m.queue.is_empty(), "{name} banked with waiters queued");
        }
        assert!(handed as u64 + u64::from(banked) <= u64::from(n));
        self.m.bank(banked);
    }

    /// Drops entry `i` (a cancellation).
    pub fn drop_entry(&mut self, i: usize) -> Result<(), Site> {
        let e = self.entries[i].take().expect("live");
        let st = self.m.st(i).expect("live");
        let phase = match st {
            St::Queued { .. } => Phase::DropQueued,
            St::Handed => Phase::DropHanded,
            _ => Phase::Other("drop"),
        };
        let fut = e.fut;
        let got = in_phase(phase, || catch(move || drop(fut)));
        self.observe();
        match got {
            Ok(()) | Err(Site::Wake) | Err(Site::Drop) | Err(Site::Other) => {}
            Err(Site::Lock) => panic!(
                "the lock panicked in the drop of a {st:?} wait and the process did not abort"
            ),
            Err(site) => panic!("a drop made a {} fault", op_name(site)),
        }
        self.m.drop_wait(i);
        let when = format!("after the drop of entry {i} ({st:?})");
        if st == St::Handed {
            self.verify(&when); // passed on: another waiter may have been woken
        } else {
            self.verify_completion(&when);
        }
        got
    }

    pub fn try_wait(&mut self) -> bool {
        let got = self.c.try_wait();
        assert_eq!(got, self.m.try_wait(), "try_wait");
        self.verify_completion("after try_wait");
        got
    }

    pub fn reinit(&mut self) {
        self.c.reinit();
        self.m.reinit();
        self.verify("after reinit");
    }

    // --- checks ------------------------------------------------------------------------

    /// The crate shows exactly the model's state, and every waker was woken exactly as
    /// often as the model says (so no waiter is handed or released but unwoken).
    pub fn verify(&self, when: &str) {
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
                self.m.wakes[k],
                "{when}: wakes of probe {k} (every handed or released waiter is woken once)"
            );
        }
    }

    /// After an operation on entry `i` alone (a poll wakes nobody: the wakes are checked
    /// at the next `verify`).
    pub fn verify_one(&self, i: usize, when: &str) {
        if self.light {
            return;
        }
        self.verify_completion(when);
        self.verify_entry(i, when);
    }

    pub fn verify_completion(&self, when: &str) {
        if self.light {
            return;
        }
        let want = (
            if self.m.all { 0 } else { self.m.count },
            self.m.all,
            !self.m.queue.is_empty(),
        );
        assert_eq!(
            completion_state(self.c),
            want,
            "{when}: the completion's (count, completed_all, waiters)"
        );
        if let Err(e) = self.m.conservation() {
            panic!("{when}: {e}");
        }
    }

    fn verify_entry(&self, i: usize, when: &str) {
        let Some(e) = &self.entries[i] else { return };
        if self.light {
            return;
        }
        let st = self.m.st(i).expect("live");
        let observed = wait_state(&e.fut.debug());
        assert_eq!(observed, st.name(), "{when}: the state of entry {i}");
        assert_eq!(
            e.fut.terminated(),
            matches!(st, St::Done(_)),
            "{when}: is_terminated() of entry {i} ({st:?})"
        );
    }

    /// With faults off: every handed/released wait returns `Ready`, every future is
    /// dropped, the banked count is drained with `try_wait`, the conservation law holds,
    /// no waker clone is left in the completion, and a fresh round trip works.
    pub fn finish(mut self) {
        disarm();
        for i in 0..self.entries.len() {
            if matches!(self.m.st(i), Some(St::Handed | St::Released)) {
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
        if self.m.all {
            self.reinit();
        }
        let banked = self.m.count;
        let mut drained = 0;
        while self.try_wait() {
            drained += 1;
        }
        assert_eq!(drained, banked);
        let l = self.m.ledger;
        assert_eq!(
            l.posted,
            l.consumed + l.discarded,
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
