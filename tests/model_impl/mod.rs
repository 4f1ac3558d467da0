//! The operation language, the sequential reference model and the interpreter that runs
//! both side by side. Shared, as source, by the property test (`tests/model.rs`) and the
//! fuzz target (`fuzz/fuzz_targets/ops.rs`, through `#[path]`).
//!
//! One of the wakers panics when woken ([`PANICKING`], installed by
//! [`Op::PollPanicking`]). SPEC §1 "Faults": a `complete`, `complete_n`, `complete_all`
//! (or the drop of a handed wait, which passes its completion on) that wakes it still
//! hands, releases, banks and wakes everything it would have without the panic, then
//! panics ([`Outcome::Panicked`]); the interpreter catches that panic and goes on. At most
//! one queued wait holds the panicking waker at a time (a second panic while unwinding
//! would abort the process, by design).
//!
//! The reference model is written from SPEC §1 and the guaranteed behaviour, not from the
//! implementation: a count, the completed-for-all flag, a FIFO queue of slot ids, a state
//! per wait future (idle, queued, handed, released, done) and the number of wakes each
//! waker must have seen. After every operation the interpreter checks the operation's
//! result, every waker's wake count (exactly), every future's `is_terminated`, the
//! `Debug` snapshot of the completion and that every queued waiter still holds its waker.
//! At the end it drops every future (checking each drop like any other operation) and
//! checks that no waker clone and no `Arc` of the completion leaked.
#![allow(dead_code)] // each includer uses a different part

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use async_completion::Completion;
use futures_core::FusedFuture;

/// How many wait futures a sequence can hold at once.
pub const SLOTS: usize = 6;
/// How many distinct (counting) wakers the polls choose from.
pub const WAKERS: usize = 3;
/// The index of the waker that panics when woken (after counting the wake).
pub const PANICKING: usize = WAKERS;
/// Every waker: the counting ones and the panicking one.
const ALL_WAKERS: usize = WAKERS + 1;
/// Whether this build can catch a panic (a fuzz build with `-Cpanic=abort` cannot: there
/// [`Op::PollPanicking`] polls with waker 0 instead).
const CAN_CATCH: bool = cfg!(panic = "unwind");

/// One step of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Put a new wait future in `slot` (dropping the one there first). `owned` picks
    /// `wait_owned` over `wait` where the includer offers it.
    Create {
        slot: usize,
        owned: bool,
    },
    /// Poll the future in `slot` (if any) with waker `waker` ([`PANICKING`] only as the
    /// resolution of a `PollPanicking`).
    Poll {
        slot: usize,
        waker: usize,
    },
    /// Poll the future in `slot` (if any) with the waker that panics when woken, unless
    /// another slot is queued with it (then with waker 0): see [`Model::resolve`].
    PollPanicking {
        slot: usize,
    },
    /// Drop the future in `slot` (if any).
    Drop {
        slot: usize,
    },
    Complete,
    CompleteN(u32),
    CompleteAll,
    Reinit,
    TryWait,
    IsDone,
}

/// Decodes a byte string into operations: one byte picks the operation, and the next one
/// (0 if missing) its arguments. Every byte string is a valid sequence.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::with_capacity(bytes.len() / 2 + 1);
    let mut it = bytes.iter().copied();
    while let Some(kind) = it.next() {
        let kind = kind % 32;
        let arg = usize::from(it.next().unwrap_or(0));
        let slot = arg % SLOTS;
        ops.push(match kind {
            0..=5 => Op::Create {
                slot,
                owned: (arg / SLOTS) % 2 == 1,
            },
            6..=13 => Op::Poll {
                slot,
                waker: (arg / SLOTS) % WAKERS,
            },
            14 => Op::PollPanicking { slot },
            15..=17 => Op::Drop { slot },
            18..=21 => Op::Complete,
            22..=23 => Op::CompleteN(match arg % 8 {
                6 => <Completion>::MAX_COUNT,
                7 => u32::MAX,
                n => n as u32, // 0..=5
            }),
            24 => Op::CompleteAll,
            25..=26 => Op::Reinit,
            27..=29 => Op::TryWait,
            _ => Op::IsDone,
        });
    }
    ops
}

/// The inverse of [`decode`] (for turning a shrunk sequence back into a fuzz input).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        let (kind, arg) = match *op {
            Op::Create { slot, owned } => (0, slot + SLOTS * usize::from(owned)),
            Op::Poll { slot, waker } if waker >= WAKERS => (14, slot),
            Op::Poll { slot, waker } => (6, slot + SLOTS * waker),
            Op::PollPanicking { slot } => (14, slot),
            Op::Drop { slot } => (15, slot),
            Op::Complete => (18, 0),
            Op::CompleteN(n) => (
                22,
                match n {
                    <Completion>::MAX_COUNT => 6,
                    u32::MAX => 7,
                    n => n as usize,
                },
            ),
            Op::CompleteAll => (24, 0),
            Op::Reinit => (25, 0),
            Op::TryWait => (27, 0),
            Op::IsDone => (30, 0),
        };
        bytes.push(kind);
        bytes.push(arg as u8);
    }
    bytes
}

// ---------------------------------------------------------------------------------------
// The reference model.

/// What the model knows about one slot's future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// No future in the slot.
    Empty,
    /// Created, never polled: holds nothing.
    Idle,
    /// Polled, pending, in the FIFO queue; `waker` is the most recent poll's waker.
    Queued { waker: usize },
    /// `complete()` handed it a completion (its waker was woken); not yet polled to Ready.
    Handed,
    /// `complete_all()` released it (its waker was woken); not yet polled to Ready.
    Released,
    /// Returned `Ready`: consumed what it was given, holds nothing.
    Done,
}

/// The sequential reference: SPEC §1 and the guaranteed behaviour, nothing else.
#[derive(Clone, Debug)]
pub struct Model {
    count: u32,
    all: bool,
    queue: VecDeque<usize>,
    slots: [Slot; SLOTS],
    wakes: [usize; ALL_WAKERS],
    /// Whether the current operation woke the panicking waker.
    panicked: bool,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            count: 0,
            all: false,
            queue: VecDeque::new(),
            slots: [Slot::Empty; SLOTS],
            wakes: [0; ALL_WAKERS],
            panicked: false,
        }
    }
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation returns nothing (or polled an empty slot).
    Unit,
    /// A poll: `true` for `Ready`.
    Ready(bool),
    /// The operation (which returns nothing) did all it had to, and then panicked: it
    /// woke the panicking waker.
    Panicked,
    /// `try_wait` or `is_done`.
    Bool(bool),
}

impl Model {
    /// `complete()`: to the oldest queued waiter (woken), else banked (saturating); nothing
    /// after `complete_all()`.
    fn complete(&mut self) {
        if self.all {
            return;
        }
        match self.queue.pop_front() {
            Some(slot) => self.hand(slot),
            None => self.count = self.count.saturating_add(1).min(<Completion>::MAX_COUNT),
        }
    }

    fn hand(&mut self, slot: usize) {
        let Slot::Queued { waker } = self.slots[slot] else {
            unreachable!("only queued slots are in the queue")
        };
        self.slots[slot] = Slot::Handed;
        self.wake(waker);
    }

    /// Every other waiter of the batch is still woken after the panicking waker's wake.
    fn wake(&mut self, waker: usize) {
        self.wakes[waker] += 1;
        self.panicked |= waker == PANICKING;
    }

    /// `complete_n(n)`: `n` times `complete()`, computed without looping `n` times.
    fn complete_n(&mut self, mut n: u32) {
        if self.all {
            return;
        }
        while n > 0 {
            let Some(slot) = self.queue.pop_front() else {
                break;
            };
            self.hand(slot);
            n -= 1;
        }
        self.count = self.count.saturating_add(n).min(<Completion>::MAX_COUNT);
    }

    fn complete_all(&mut self) {
        self.all = true;
        while let Some(slot) = self.queue.pop_front() {
            let Slot::Queued { waker } = self.slots[slot] else {
                unreachable!("only queued slots are in the queue")
            };
            self.slots[slot] = Slot::Released;
            self.wake(waker);
        }
    }

    fn reinit(&mut self) {
        self.count = 0;
        self.all = false;
    }

    fn try_wait(&mut self) -> bool {
        if self.all {
            true
        } else if self.count > 0 {
            self.count -= 1;
            true
        } else {
            false
        }
    }

    fn is_done(&self) -> bool {
        self.all || self.count > 0
    }

    fn poll(&mut self, slot: usize, waker: usize) -> Outcome {
        let ready = match self.slots[slot] {
            Slot::Empty => return Outcome::Unit,
            Slot::Idle if self.all => true,
            Slot::Idle if self.count > 0 => {
                self.count -= 1;
                true
            }
            Slot::Idle => {
                self.queue.push_back(slot);
                self.slots[slot] = Slot::Queued { waker };
                false
            }
            // Keeps its place; the newest waker is the one to wake.
            Slot::Queued { .. } => {
                self.slots[slot] = Slot::Queued { waker };
                false
            }
            Slot::Handed | Slot::Released | Slot::Done => true,
        };
        if ready {
            self.slots[slot] = Slot::Done;
        }
        Outcome::Ready(ready)
    }

    fn drop_slot(&mut self, slot: usize) {
        match std::mem::replace(&mut self.slots[slot], Slot::Empty) {
            Slot::Queued { .. } => self.queue.retain(|&s| s != slot),
            // Handed but not consumed: passed on exactly like `complete()`.
            Slot::Handed => self.complete(),
            Slot::Empty | Slot::Idle | Slot::Released | Slot::Done => {}
        }
    }

    /// Which waker a `PollPanicking` polls with: the panicking one, unless another slot is
    /// queued with it (two panicking wakes in one operation would abort the process).
    /// Every other operation is returned as it is.
    pub fn resolve(&self, op: Op) -> Op {
        match op {
            Op::PollPanicking { slot } => {
                let taken = self
                    .slots
                    .iter()
                    .enumerate()
                    .any(|(other, s)| other != slot && *s == Slot::Queued { waker: PANICKING });
                let waker = if taken || !CAN_CATCH { 0 } else { PANICKING };
                Op::Poll { slot, waker }
            }
            op => op,
        }
    }

    /// Applies `op` (resolved first, see [`resolve`](Self::resolve)); returns its result.
    pub fn apply(&mut self, op: Op) -> Outcome {
        let op = self.resolve(op);
        self.panicked = false;
        match op {
            Op::Create { slot, .. } => {
                self.drop_slot(slot);
                self.slots[slot] = Slot::Idle;
            }
            Op::Poll { slot, waker } => return self.poll(slot, waker),
            Op::PollPanicking { .. } => unreachable!("resolved above"),
            Op::Drop { slot } => self.drop_slot(slot),
            Op::Complete => self.complete(),
            Op::CompleteN(n) => self.complete_n(n),
            Op::CompleteAll => self.complete_all(),
            Op::Reinit => self.reinit(),
            Op::TryWait => return Outcome::Bool(self.try_wait()),
            Op::IsDone => return Outcome::Bool(self.is_done()),
        }
        if self.panicked {
            Outcome::Panicked
        } else {
            Outcome::Unit
        }
    }

    /// The `Debug` snapshot the completion must show.
    fn debug(&self) -> String {
        format!(
            "Completion {{ count: {}, completed_all: {}, waiters: {} }}",
            if self.all { 0 } else { self.count },
            self.all,
            !self.queue.is_empty()
        )
    }

    pub fn slot(&self, slot: usize) -> Slot {
        self.slots[slot]
    }
}

// ---------------------------------------------------------------------------------------
// The implementation under test.

/// A waker that counts its wakes and, if `panics`, then panics with [`InjectedPanic`].
struct Counter(AtomicUsize, bool);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        if self.1 {
            std::panic::panic_any(InjectedPanic);
        }
    }
}

/// The payload of the panicking waker's panic.
#[derive(Debug)]
pub struct InjectedPanic;

/// Installs (once per process) a panic hook that prints nothing for the panicking waker's
/// panics ([`InjectedPanic`]) and hands every other panic to the hook it replaces (for the
/// fuzzer, libFuzzer's, which aborts: a real panic stays a finding).
pub fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        #[allow(deprecated)] // `PanicHookInfo` is 1.81; the alias works from the MSRV on
        let hook = move |info: &std::panic::PanicInfo<'_>| {
            if !info.payload().is::<InjectedPanic>() {
                previous(info);
            }
        };
        std::panic::set_hook(Box::new(hook));
    });
}

/// Runs `f`; `true` if it panicked with [`InjectedPanic`] (any other panic goes on).
fn catch_injected(f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => false,
        Err(payload) if payload.is::<InjectedPanic>() => true,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// A wait future of either kind, boxed and pinned.
pub type BoxedWait<'a> = Pin<Box<dyn FusedFuture<Output = ()> + 'a>>;

/// Makes an owned wait (`Completion::wait_owned`), where the includer's build has it.
pub type OwnedWaitFn = fn(Arc<Completion>) -> BoxedWait<'static>;

struct Real<'c> {
    completion: &'c Arc<Completion>,
    owned: Option<OwnedWaitFn>,
    slots: [Option<BoxedWait<'c>>; SLOTS],
    counters: [Arc<Counter>; ALL_WAKERS],
    wakers: [Waker; ALL_WAKERS],
}

impl<'c> Real<'c> {
    fn new(completion: &'c Arc<Completion>, owned: Option<OwnedWaitFn>) -> Self {
        let counters: [Arc<Counter>; ALL_WAKERS] =
            std::array::from_fn(|k| Arc::new(Counter(AtomicUsize::new(0), k == PANICKING)));
        let wakers = std::array::from_fn(|k| Waker::from(counters[k].clone()));
        Self {
            completion,
            owned,
            slots: std::array::from_fn(|_| None),
            counters,
            wakers,
        }
    }

    /// Applies a resolved `op` ([`Model::resolve`]).
    fn apply(&mut self, op: Op) -> Outcome {
        let c = self.completion;
        let panicked = match op {
            Op::Create { slot, owned } => {
                // Drop first, as the model does (a handed wait passes its completion on,
                // which may wake the panicking waker).
                let old = self.slots[slot].take();
                let panicked = catch_injected(|| drop(old));
                self.slots[slot] = Some(match (owned, self.owned) {
                    (true, Some(make)) => make(c.clone()),
                    _ => Box::pin(c.wait()),
                });
                panicked
            }
            Op::Poll { slot, waker } => {
                let Some(fut) = self.slots[slot].as_mut() else {
                    return Outcome::Unit;
                };
                let mut cx = Context::from_waker(&self.wakers[waker]);
                return Outcome::Ready(fut.as_mut().poll(&mut cx).is_ready());
            }
            Op::PollPanicking { .. } => unreachable!("resolved by the model first"),
            Op::Drop { slot } => {
                let old = self.slots[slot].take();
                catch_injected(|| drop(old))
            }
            Op::Complete => catch_injected(|| c.complete()),
            Op::CompleteN(n) => catch_injected(|| c.complete_n(n)),
            Op::CompleteAll => catch_injected(|| c.complete_all()),
            Op::Reinit => {
                c.reinit();
                false
            }
            Op::TryWait => return Outcome::Bool(c.try_wait()),
            Op::IsDone => return Outcome::Bool(c.is_done()),
        };
        if panicked {
            Outcome::Panicked
        } else {
            Outcome::Unit
        }
    }

    fn wakes(&self, k: usize) -> usize {
        self.counters[k].0.load(Ordering::SeqCst)
    }

    /// Clones of waker `k` held by the completion (ours: the `Arc` and the `Waker`).
    fn held_clones(&self, k: usize) -> usize {
        Arc::strong_count(&self.counters[k]) - 2
    }
}

// ---------------------------------------------------------------------------------------
// Running both.

/// A disagreement between the implementation and the model.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Index of the operation after which the check failed; `ops.len() + i` for the drop
    /// of slot `i` in the final clean-up, `ops.len() + SLOTS` for the final leak check.
    pub step: usize,
    /// The operation at `step` (`None` for the final leak check).
    pub op: Option<Op>,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Some(op) => write!(f, "step {} ({op:?}): {}", self.step, self.message),
            None => write!(f, "step {} (final check): {}", self.step, self.message),
        }
    }
}

/// Which model transitions a run exercised (operation kind × state of the slot it touched),
/// so that a test can check that the generator is not degenerate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Coverage {
    /// `[Create, Poll, Drop][slot state before]`, state as in [`Slot`] order.
    pub slot_ops: [[bool; 6]; 3],
    /// A drop that passed a completion on to a queued waiter / to the count.
    pub pass_on_to_waiter: bool,
    pub pass_on_to_count: bool,
    /// `complete_all` that released at least 3 waiters (more than one batch under loom).
    pub release_many: bool,
    /// `complete_n` that served a waiter and banked the rest.
    pub complete_n_mixed: bool,
    /// The count reached `MAX_COUNT`.
    pub saturated: bool,
    /// A `complete_n`/`complete_all` woke the panicking waker and still had work after it
    /// (another waiter to serve or release, or the rest of `n` to bank).
    pub panic_then_more: bool,
}

impl Coverage {
    pub fn merge(&mut self, other: &Coverage) {
        for (a, b) in self.slot_ops.iter_mut().zip(&other.slot_ops) {
            for (x, y) in a.iter_mut().zip(b) {
                *x |= *y;
            }
        }
        self.pass_on_to_waiter |= other.pass_on_to_waiter;
        self.pass_on_to_count |= other.pass_on_to_count;
        self.release_many |= other.release_many;
        self.complete_n_mixed |= other.complete_n_mixed;
        self.saturated |= other.saturated;
        self.panic_then_more |= other.panic_then_more;
    }

    /// Everything reachable was reached.
    pub fn is_complete(&self) -> bool {
        self.slot_ops.iter().flatten().all(|&hit| hit)
            && self.pass_on_to_waiter
            && self.pass_on_to_count
            && self.release_many
            && self.complete_n_mixed
            && self.saturated
            && self.panic_then_more
    }
}

fn slot_index(slot: Slot) -> usize {
    match slot {
        Slot::Empty => 0,
        Slot::Idle => 1,
        Slot::Queued { .. } => 2,
        Slot::Handed => 3,
        Slot::Released => 4,
        Slot::Done => 5,
    }
}

/// Notes the transitions `op` (resolved) exercises from `model` (before it).
fn note(cov: &mut Coverage, model: &Model, op: Op) {
    let panicking_at = model
        .queue
        .iter()
        .position(|&s| model.slots[s] == Slot::Queued { waker: PANICKING });
    let (kind, slot) = match op {
        Op::Create { slot, .. } => (0, slot),
        Op::Poll { slot, .. } | Op::PollPanicking { slot } => (1, slot),
        Op::Drop { slot } => (2, slot),
        Op::CompleteAll => {
            cov.release_many |= model.queue.len() >= 3;
            cov.panic_then_more |= panicking_at.is_some_and(|p| p + 1 < model.queue.len());
            return;
        }
        Op::CompleteN(n) => {
            cov.complete_n_mixed |=
                !model.all && !model.queue.is_empty() && n as usize > model.queue.len();
            cov.panic_then_more |= !model.all && panicking_at.is_some_and(|p| p + 1 < n as usize);
            return;
        }
        _ => return,
    };
    let state = model.slots[slot];
    cov.slot_ops[kind][slot_index(state)] = true;
    if kind != 1 && state == Slot::Handed && !model.all {
        if model.queue.is_empty() {
            cov.pass_on_to_count = true;
        } else {
            cov.pass_on_to_waiter = true;
        }
    }
}

/// Checks everything observable after a step.
fn compare(model: &Model, real: &Real<'_>) -> Result<(), String> {
    for k in 0..ALL_WAKERS {
        let (got, want) = (real.wakes(k), model.wakes[k]);
        if got != want {
            return Err(format!("waker {k} woken {got} times, expected {want}"));
        }
        let queued_with_k = model
            .slots
            .iter()
            .filter(|s| **s == Slot::Queued { waker: k })
            .count();
        if real.held_clones(k) < queued_with_k {
            return Err(format!(
                "waker {k}: {queued_with_k} queued waiters must be able to wake it, \
                 but the completion holds {} clones",
                real.held_clones(k)
            ));
        }
    }
    for (i, (fut, &slot)) in real.slots.iter().zip(&model.slots).enumerate() {
        match (fut, slot) {
            (None, Slot::Empty) => {}
            (Some(fut), slot) if slot != Slot::Empty => {
                let want = slot == Slot::Done;
                if fut.is_terminated() != want {
                    return Err(format!(
                        "slot {i} ({slot:?}): is_terminated() is {}, expected {want}",
                        fut.is_terminated()
                    ));
                }
            }
            _ => unreachable!("the interpreter fills and empties slots as the model does"),
        }
    }
    let (got, want) = (format!("{:?}", **real.completion), model.debug());
    if got != want {
        return Err(format!("Debug shows `{got}`, expected `{want}`"));
    }
    Ok(())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_owned()
    }
}

/// Runs `ops` on a fresh completion and on the model, then drops every future and checks
/// for leaks. `owned` makes `Create { owned: true }` use `wait_owned` (else `wait`).
pub fn check(ops: &[Op], owned: Option<OwnedWaitFn>) -> Result<(), Failure> {
    check_with_coverage(ops, owned, &mut Coverage::default())
}

/// [`check`], recording which transitions were exercised into `cov`.
pub fn check_with_coverage(
    ops: &[Op],
    owned: Option<OwnedWaitFn>,
    cov: &mut Coverage,
) -> Result<(), Failure> {
    let completion = Arc::new(Completion::new());
    let mut real = Real::new(&completion, owned);
    let mut model = Model::default();
    let cleanup = (0..SLOTS).map(|slot| Op::Drop { slot });
    for (step, op) in ops.iter().copied().chain(cleanup).enumerate() {
        let fail = |message| Failure {
            step,
            op: Some(op),
            message,
        };
        let op = model.resolve(op);
        note(cov, &model, op);
        let want = model.apply(op);
        cov.saturated |= model.count == <Completion>::MAX_COUNT;
        let got = match catch_unwind(AssertUnwindSafe(|| real.apply(op))) {
            Ok(got) => got,
            Err(payload) => {
                // The futures may point into a completion in an unknown state: leak
                // them rather than run their destructors.
                std::mem::forget(real);
                return Err(fail(panic_message(&*payload)));
            }
        };
        if got != want {
            return Err(fail(format!("returned {got:?}, expected {want:?}")));
        }
        compare(&model, &real).map_err(fail)?;
    }
    let fail = |message| {
        Err(Failure {
            step: ops.len() + SLOTS,
            op: None,
            message,
        })
    };
    for k in 0..ALL_WAKERS {
        if real.held_clones(k) != 0 {
            return fail(format!(
                "waker {k}: {} clones still held with every future dropped",
                real.held_clones(k)
            ));
        }
    }
    drop(real);
    if Arc::strong_count(&completion) != 1 {
        return fail("an owned wait leaked its Arc<Completion>".to_owned());
    }
    Ok(())
}

/// Greedily removes operations (and simplifies `CompleteN`) from a failing sequence while
/// it keeps failing; returns the shortest failing sequence found and its failure.
pub fn shrink(mut ops: Vec<Op>, owned: Option<OwnedWaitFn>) -> (Vec<Op>, Option<Failure>) {
    let mut failure = check(&ops, owned).err();
    if failure.is_none() {
        return (ops, None);
    }
    loop {
        let mut progressed = false;
        // Cut everything after the failing step.
        if let Some(f) = &failure {
            if f.step + 1 < ops.len() {
                let cut = ops[..=f.step].to_vec();
                if let Err(e) = check(&cut, owned) {
                    ops = cut;
                    failure = Some(e);
                    progressed = true;
                }
            }
        }
        let mut i = 0;
        while i < ops.len() {
            let mut candidate = ops.clone();
            candidate.remove(i);
            match check(&candidate, owned) {
                Err(e) => {
                    ops = candidate;
                    failure = Some(e);
                    progressed = true;
                }
                Ok(()) => i += 1,
            }
        }
        for i in 0..ops.len() {
            let simpler = match ops[i] {
                Op::CompleteN(n) if n > 1 => Op::CompleteN(n.min(6) - 1),
                Op::Create { slot, owned: true } => Op::Create { slot, owned: false },
                Op::PollPanicking { slot } => Op::Poll { slot, waker: 0 },
                _ => continue,
            };
            let mut candidate = ops.clone();
            candidate[i] = simpler;
            if let Err(e) = check(&candidate, owned) {
                ops = candidate;
                failure = Some(e);
                progressed = true;
            }
        }
        if !progressed {
            return (ops, failure);
        }
    }
}

/// A small, seedable PRNG (SplitMix64) for generating sequences.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` for small `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The sequence for one property-test case: up to `max_len` operations from `seed`.
pub fn generate(seed: u64, max_len: usize) -> Vec<Op> {
    let mut rng = SplitMix64::new(seed);
    let len = 1 + rng.below(max_len as u64) as usize;
    let bytes: Vec<u8> = (0..2 * len).map(|_| rng.next_u64() as u8).collect();
    decode(&bytes)
}
