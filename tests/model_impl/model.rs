//! The reference model of the whole public API of `Completion`: one sequential state
//! machine, written from the crate's documentation (`docs/crate.md`, "Semantics" and
//! "Cancel safety", and the method docs of `src/completion.rs`), never from the
//! implementation. The property test (`tests/model.rs`), the fuzz target
//! (`fuzz/fuzz_targets/ops.rs`) and the fault suite (`tests/faults/`) all run the crate
//! against this one model.
//!
//! It knows a count of banked completions, the sticky completed-for-all flag, the FIFO
//! queue, a state per wait future (idle, queued, handed, released, done), what each
//! wait races against (nothing, another future, a timer, or nothing at all for a zero
//! timeout), the wakes each waker must have seen, and a ledger of every completion posted
//! (the conservation law of "Cancel safety": each `complete()` is consumed by exactly one
//! `Ready` wait or `true` `try_wait`, or is still banked, or is still held by the wait it
//! was handed to; what `complete_all` and `reinit` discard by design is counted apart).
//!
//! The rules, by operation (see each method):
//! - `complete()` hands the completion to the oldest queued wait, which is woken, else
//!   banks it (saturating at `MAX_COUNT`); nothing after `complete_all`. `complete_n(n)`
//!   is `n` of them.
//! - `complete_all()` sets the flag (the bank is forgotten: `Debug` shows count 0) and
//!   releases every queued wait (polled: woken; enabled and not polled: no waker to
//!   wake). A released wait stays released after `reinit()`. A wait not queued yet is not
//!   released: its first poll sees the flag, until `reinit()`.
//! - `complete_waiters()` (a pulse, SPEC §2: "one completion to each wait queued or
//!   enabled now") releases every queued wait the same way, banks nothing, leaves the
//!   count and the flag alone. A wait created but not yet polled or enabled is not reached.
//! - A wait's first poll is `Ready` if the flag is set or a completion is banked (it
//!   takes one); else it queues at the tail. A re-poll keeps its place and
//!   stores the newest waker. `enable()` is a first poll without a waker (a banked
//!   completion taken by it is *held*, as a handed one). Ready consumes what it holds.
//! - Dropping a wait: a queued one leaves the queue; a handed one passes its completion
//!   on exactly like `complete()`; a released or done one holds nothing.
//! - Races (`wait_or`, `run_until_done`, `wait_timeout`, `wait_deadline`): the wait is
//!   polled first (a completion wins a tie); on a first poll the other future is polled
//!   before the wait queues. When the other future wins, `wait_or` returns `Err(o)` and
//!   passes a handed completion on; a timer that fires makes the wait look once more: a
//!   completion handed or banked by then, or a release, makes it `Ok` (consumed).
//!   A zero timeout, a past deadline: a poll that never queues.
#![allow(dead_code)] // each includer uses a different part

use std::collections::VecDeque;

/// `Completion::MAX_COUNT`.
pub const MAX_COUNT: u32 = u32::MAX - 2;

/// The result of a wait future, reduced: `Ok` (the wait consumed a completion or was
/// released: `Ok(())`, `()`, `None` of `run_until_done`) or `Lost` (the other future or
/// the timer won: `Err(o)`, `Err(TimedOut)`, `Some(o)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Res {
    Ok,
    Lost,
}

/// The state of one wait future.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum St {
    /// Created, never polled nor enabled: holds nothing, not queued.
    Idle,
    /// In the FIFO queue; `waker` is the newest poll's (`None`: enabled, never polled).
    Queued { waker: Option<usize> },
    /// Holds a completion handed to it (or a banked one `enable()` took).
    Handed,
    /// Released by `complete_all()` or `complete_waiters()`: ready, holds nothing.
    Released,
    /// Returned `Ready` with this result (or, for `wait_or`, lost the race).
    Done(Res),
}

impl St {
    /// The `state` field of the wait's `Debug`.
    pub fn name(self) -> &'static str {
        match self {
            St::Idle => "idle",
            St::Queued { .. } => "queued",
            St::Handed => "handed",
            St::Released => "released",
            St::Done(_) => "done",
        }
    }
}

/// What a wait future races against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Race {
    /// `wait()`, `wait_owned()`.
    Plain,
    /// `wait_or(other)`, `run_until_done(other)`: `Err(o)` when `other` wins; polled after
    /// `Ready`, it panics.
    Other,
    /// `wait_timeout(timer, d > 0)`, `wait_deadline(clock, future deadline)`.
    Timer,
    /// `wait_timeout(timer, 0)`, `wait_deadline(clock, past deadline)`: a poll.
    Now,
}

/// A completer call (for the notifications and the hooks run inside another future's
/// poll).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    One,
    N(u32),
    All,
    Waiters,
}

/// One wait future of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct W {
    pub st: St,
    pub race: Race,
    /// Whether the other future / the sleep is ready (at its next poll).
    pub open: bool,
    /// A call the other future / the sleep makes in its next poll (a tie).
    pub hook: Option<Call>,
    /// The user flag as read right after this wait's latest `enable()` (register, then
    /// check).
    pub saw_flag: Option<bool>,
}

/// What one poll returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Polled {
    Pending,
    Ready(Res),
    /// A `wait_or`/`run_until_done` polled after `Ready`: it panics by design.
    AfterReady,
}

/// The conservation ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Completions that took effect (handed or banked).
    pub posted: u64,
    /// Consumed by a `Ready` wait or a `true` `try_wait`.
    pub consumed: u64,
    /// Forgotten by design: the bank at `complete_all`/`reinit`, a handed completion passed
    /// on after `complete_all` or into a saturated count.
    pub discarded: u64,
}

/// The model.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub count: u32,
    pub all: bool,
    pub queue: VecDeque<usize>,
    pub waits: Vec<Option<W>>,
    /// Wakes each waker must have seen.
    pub wakes: Vec<usize>,
    /// The waker that panics when woken, if any.
    pub panicking: Option<usize>,
    /// Whether the current operation woke the panicking waker.
    pub panicked: bool,
    pub ledger: Ledger,
    /// The user flag of the register-then-check idiom.
    pub flag: bool,
    /// Queued waits whose stored waker is uncertain (the fault suite: a lock fault in a
    /// re-poll with another waker, before or after the swap): `(wait, other waker)`. The
    /// hand-off must wake exactly one of the two; [`observed`](Self::observed) tells which.
    pub uncertain: Vec<(usize, usize)>,
    /// The wakes the implementation's wakers have seen (the fault suite sets it before it
    /// applies an operation that may wake an uncertain waiter).
    pub observed: Vec<usize>,
}

impl Model {
    pub fn new(wakers: usize, panicking: Option<usize>) -> Self {
        Self {
            wakes: vec![0; wakers],
            panicking,
            ..Self::default()
        }
    }

    /// A new waker id (the fault suite makes them as it goes).
    pub fn add_waker(&mut self) -> usize {
        self.wakes.push(0);
        self.wakes.len() - 1
    }

    pub fn w(&self, slot: usize) -> Option<&W> {
        self.waits.get(slot).and_then(Option::as_ref)
    }

    pub fn wm(&mut self, slot: usize) -> &mut W {
        self.waits[slot].as_mut().expect("a live wait")
    }

    pub fn st(&self, slot: usize) -> Option<St> {
        self.w(slot).map(|w| w.st)
    }

    /// Handed completions held by waits: part of the ledger.
    pub fn held(&self) -> u64 {
        self.waits
            .iter()
            .flatten()
            .filter(|w| w.st == St::Handed)
            .count() as u64
    }

    /// The conservation law, now: posted = consumed + banked + held + discarded.
    pub fn conservation(&self) -> Result<(), String> {
        let l = self.ledger;
        let banked = if self.all { 0 } else { u64::from(self.count) };
        if l.posted == l.consumed + banked + self.held() + l.discarded {
            Ok(())
        } else {
            Err(format!(
                "conservation: posted {} != consumed {} + banked {banked} + held {} + discarded {}",
                l.posted,
                l.consumed,
                self.held(),
                l.discarded
            ))
        }
    }

    /// The `Debug` snapshot the completion must show.
    pub fn debug(&self) -> String {
        format!(
            "Completion {{ count: {}, completed_all: {}, waiters: {} }}",
            if self.all { 0 } else { self.count },
            self.all,
            !self.queue.is_empty()
        )
    }

    // --- waits -------------------------------------------------------------------------

    /// A new wait future in `slot` (which must be empty).
    pub fn create(&mut self, slot: usize, race: Race, open: bool) {
        if self.waits.len() <= slot {
            self.waits.resize(slot + 1, None);
        }
        assert!(self.waits[slot].is_none(), "slot {slot} is taken");
        self.waits[slot] = Some(W {
            st: St::Idle,
            race,
            open,
            hook: None,
            saw_flag: None,
        });
    }

    /// The waker a queued wait is woken through, an uncertain one resolved by what the
    /// implementation's wakers have seen.
    fn waker_for(&mut self, slot: usize, waker: Option<usize>) -> Option<usize> {
        let i = self.uncertain.iter().position(|&(s, _)| s == slot)?;
        let (_, other) = self.uncertain.remove(i);
        match self.observed.get(other) {
            Some(&seen) if seen > self.wakes[other] => Some(other),
            _ => waker,
        }
    }

    fn wake(&mut self, waker: Option<usize>) {
        if let Some(k) = waker {
            self.wakes[k] += 1;
            self.panicked |= Some(k) == self.panicking;
        }
    }

    /// The oldest queued wait is handed a completion and woken.
    pub fn hand_front(&mut self) -> Option<usize> {
        let slot = self.queue.pop_front()?;
        let St::Queued { waker } = self.wm(slot).st else {
            unreachable!("only queued waits are in the queue")
        };
        self.wm(slot).st = St::Handed;
        let waker = self.waker_for(slot, waker).or(waker);
        self.wake(waker);
        Some(slot)
    }

    /// Banks `n` (saturating); returns how many took effect.
    pub fn bank(&mut self, n: u32) -> u32 {
        let banked = self.count.saturating_add(n).min(MAX_COUNT);
        let added = banked - self.count;
        self.count = banked;
        self.ledger.posted += u64::from(added);
        added
    }

    /// `complete()`.
    pub fn complete(&mut self) {
        self.complete_n(1);
    }

    /// `complete_n(n)`: `n` times `complete()`, without looping `n` times.
    pub fn complete_n(&mut self, mut n: u32) {
        if self.all {
            return;
        }
        while n > 0 && self.hand_front().is_some() {
            self.ledger.posted += 1;
            n -= 1;
        }
        self.bank(n);
    }

    /// Releases every queued wait, waking those with a waker (an enabled wait not polled
    /// since has none). Waits not queued are not reached.
    fn release_queued(&mut self) {
        while let Some(slot) = self.queue.pop_front() {
            let St::Queued { waker } = self.wm(slot).st else {
                unreachable!("only queued waits are in the queue")
            };
            self.wm(slot).st = St::Released;
            let waker = self.waker_for(slot, waker).or(waker);
            self.wake(waker);
        }
    }

    /// `complete_all()`.
    pub fn complete_all(&mut self) {
        if !self.all {
            self.all = true;
            self.ledger.discarded += u64::from(self.count);
            self.count = 0;
        }
        self.release_queued();
    }

    /// `complete_waiters()`.
    pub fn complete_waiters(&mut self) {
        self.release_queued();
    }

    pub fn call(&mut self, call: Call) {
        match call {
            Call::One => self.complete(),
            Call::N(n) => self.complete_n(n),
            Call::All => self.complete_all(),
            Call::Waiters => self.complete_waiters(),
        }
    }

    /// `reinit()`: count 0, flag clear; waits keep their state.
    pub fn reinit(&mut self) {
        if !self.all {
            self.ledger.discarded += u64::from(self.count);
        }
        self.count = 0;
        self.all = false;
    }

    /// `try_wait()`.
    pub fn try_wait(&mut self) -> bool {
        if self.all {
            true
        } else if self.count > 0 {
            self.count -= 1;
            self.ledger.consumed += 1;
            true
        } else {
            false
        }
    }

    /// `is_done()`.
    pub fn is_done(&self) -> bool {
        self.all || self.count > 0
    }

    /// Takes a banked completion lock-free (for a first poll): the flag or the bank.
    fn can_take(&mut self) -> bool {
        self.try_wait()
    }

    /// Consumes what the wait holds and finishes it.
    fn finish(&mut self, slot: usize, res: Res) -> Polled {
        if self.wm(slot).st == St::Handed {
            self.ledger.consumed += 1;
        }
        self.wm(slot).st = St::Done(res);
        Polled::Ready(res)
    }

    /// The wait part of a poll (`Wait::poll`): `Some(Ok)` if ready.
    pub fn poll_wait(&mut self, slot: usize, waker: Option<usize>) -> Option<Res> {
        let st = self.wm(slot).st;
        match st {
            St::Idle if self.can_take() => {
                self.wm(slot).st = St::Done(Res::Ok);
                Some(Res::Ok)
            }
            St::Idle => {
                self.enqueue(slot, waker);
                None
            }
            St::Queued { .. } => {
                self.uncertain.retain(|&(s, _)| s != slot);
                self.wm(slot).st = St::Queued { waker };
                None
            }
            St::Handed | St::Released => {
                self.finish(slot, Res::Ok);
                Some(Res::Ok)
            }
            St::Done(res) => Some(res),
        }
    }

    /// Queues an idle wait at the tail.
    pub fn enqueue(&mut self, slot: usize, waker: Option<usize>) {
        self.queue.push_back(slot);
        self.wm(slot).st = St::Queued { waker };
    }

    /// The other future / the sleep is polled: runs its hook, says whether it is ready.
    fn poll_other(&mut self, slot: usize) -> bool {
        if let Some(call) = self.wm(slot).hook.take() {
            self.call(call);
        }
        self.wm(slot).open
    }

    /// A wait leaves before `Ready` (cancelled by `wait_or`, or dropped): out of the
    /// queue, passing a handed completion on exactly like `complete()`.
    pub fn leave(&mut self, slot: usize) {
        self.uncertain.retain(|&(s, _)| s != slot);
        match self.wm(slot).st {
            St::Queued { .. } => self.queue.retain(|&s| s != slot),
            St::Handed => self.pass_on(),
            _ => {}
        }
    }

    /// A handed completion given back, as a fresh `complete()` (not posted again).
    pub fn pass_on(&mut self) {
        if self.all {
            self.ledger.discarded += 1;
        } else if self.hand_front().is_none() {
            if self.count == MAX_COUNT {
                self.ledger.discarded += 1;
            } else {
                self.count += 1;
            }
        }
    }

    /// One poll of the wait future in `slot` with `waker`.
    pub fn poll(&mut self, slot: usize, waker: Option<usize>) -> Polled {
        let w = *self.w(slot).expect("a live wait");
        if let St::Done(res) = w.st {
            return match w.race {
                Race::Other => Polled::AfterReady,
                _ => Polled::Ready(res),
            };
        }
        match w.race {
            Race::Plain => match self.poll_wait(slot, waker) {
                Some(res) => Polled::Ready(res),
                None => Polled::Pending,
            },
            Race::Now => {
                // A poll: take a completion now, or time out; never queue.
                if w.st == St::Released || self.can_take() {
                    self.finish(slot, Res::Ok)
                } else {
                    self.finish(slot, Res::Lost)
                }
            }
            Race::Other | Race::Timer if w.st == St::Idle => {
                // First poll: a lock-free look, then the other future before queueing.
                if self.can_take() {
                    return self.finish(slot, Res::Ok);
                }
                let won = self.poll_other(slot);
                let st = self.wm(slot).st;
                if won {
                    return match w.race {
                        // The wait never queued; a release meanwhile is dropped with it.
                        Race::Other => self.finish_lost(slot),
                        // The timer fired: one more look (released, the flag, a bank).
                        _ if st == St::Released || self.can_take() => self.finish(slot, Res::Ok),
                        _ => self.finish(slot, Res::Lost),
                    };
                }
                // The other future is pending: queue, or take what arrived meanwhile.
                if st == St::Released {
                    return self.finish(slot, Res::Ok);
                }
                match self.poll_wait(slot, waker) {
                    Some(res) => Polled::Ready(res),
                    None => Polled::Pending,
                }
            }
            Race::Other | Race::Timer => {
                // A re-poll: the wait first, then the other future.
                if let Some(res) = self.poll_wait(slot, waker) {
                    return Polled::Ready(res);
                }
                if !self.poll_other(slot) {
                    return Polled::Pending;
                }
                match (w.race, self.wm(slot).st) {
                    // A tie, and the wait has something: it wins.
                    (Race::Timer, St::Handed | St::Released) => self.finish(slot, Res::Ok),
                    (Race::Timer, _) => {
                        self.leave(slot);
                        self.finish(slot, Res::Lost)
                    }
                    _ => self.finish_lost(slot),
                }
            }
        }
    }

    /// `wait_or`'s other future won: the wait leaves (passing a handed completion on).
    fn finish_lost(&mut self, slot: usize) -> Polled {
        self.leave(slot);
        self.wm(slot).st = St::Done(Res::Lost);
        Polled::Ready(Res::Lost)
    }

    /// `enable()` (of a `Wait`/`OwnedWait`): `true` if the wait is ready (it then holds
    /// what it took), else it is queued without a waker.
    pub fn enable(&mut self, slot: usize) -> bool {
        match self.wm(slot).st {
            St::Idle => {
                if self.all {
                    self.wm(slot).st = St::Released;
                    true
                } else if self.count > 0 {
                    self.count -= 1;
                    self.wm(slot).st = St::Handed;
                    true
                } else {
                    self.enqueue(slot, None);
                    false
                }
            }
            St::Queued { .. } => false,
            _ => true,
        }
    }

    /// Drops the wait in `slot` (if any).
    pub fn drop_wait(&mut self, slot: usize) {
        if self.w(slot).is_some() {
            self.leave(slot);
            self.waits[slot] = None;
        }
    }

    /// Which waker a queued wait would be woken through.
    pub fn waker_of(&self, slot: usize) -> Option<usize> {
        match self.st(slot) {
            Some(St::Queued { waker }) => waker,
            _ => None,
        }
    }
}
