//! The operation language over the whole public API, and the interpreter that runs the
//! crate and the reference model ([`model`]) side by side. Shared, as source, by the
//! property test (`tests/model.rs`) and the fuzz target (`fuzz/fuzz_targets/ops.rs`,
//! through `#[path]`); the fault suite (`tests/faults/`) uses [`model`] alone.
//!
//! The language generates every public operation: `wait`, `wait_owned`, `wait_or` (the
//! other future pending, ready at once, or made ready on command), `run_until_done`,
//! `wait_timeout` and `wait_deadline` (a hand-driven timer and clock whose sleeps end on
//! command, zero timeouts and past deadlines; a [`Op::Fire`] may also make the sleep's own
//! poll call `complete*`, a tie), polls with one of several wakers, [`Op::PollPanicking`]
//! (a waker that panics when woken), `enable`, drops, `complete`, `complete_n`,
//! `complete_all`, `complete_waiters`, `try_wait`, `is_done`, `reinit`, the guards
//! `complete_on_drop`/`complete_all_on_drop` (borrowed and owned; created, dropped,
//! disarmed), and a user flag for the register-then-check idiom: [`Op::Notify`] sets the
//! flag, then calls a completer; [`Op::Enable`] enables a wait, then reads the flag. The
//! idiom's promise is checked after every notification: a wait that read the flag unset
//! was reached by the notification (every such wait for `complete_waiters`/`complete_all`,
//! as many as were served for `complete`/`complete_n`).
//!
//! After every step the interpreter checks the step's result, every waker's wake count
//! (exactly: FIFO order and one wake per hand-off or release), each future's `Debug` state
//! and `is_terminated`, the completion's `Debug` snapshot (and each guard's), that each
//! queued waiter still holds its waker, and the model's conservation law. At the end it
//! drops every future and guard (checking each drop like any other step) and checks that
//! no waker clone and no `Arc` of the completion leaked.
//!
//! A panicking waker (crate docs, "Semantics": "A panicking waker propagates out of
//! `complete()` ..."): the operation that wakes it does all it would have done, then
//! panics ([`Outcome::Panicked`]); the interpreter catches that panic and goes on. At
//! most one queued wait holds the panicking waker at a time, and never while a sleep's
//! poll would call a completer (a second panic while unwinding aborts, by design).
#![allow(dead_code)] // each includer uses a different part

pub mod model;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_completion::{
    Clock, CompleteAllOnDrop, CompleteOnDrop, Completion, RunUntilDone, TimedOut, Timer, Wait,
    WaitOr, WaitTimeout,
};
use futures_core::FusedFuture;

pub use model::{Call, Model, Polled, Race, Res, St};

/// How many wait futures a sequence can hold at once.
pub const SLOTS: usize = 6;
/// How many guards a sequence can hold at once.
pub const GUARDS: usize = 2;
/// How many distinct (counting) wakers the polls choose from.
pub const WAKERS: usize = 3;
/// The index of the waker that panics when woken (after counting the wake).
pub const PANICKING: usize = WAKERS;
/// Every waker: the counting ones and the panicking one.
const ALL_WAKERS: usize = WAKERS + 1;
/// Whether this build can catch a panic (a fuzz build with `-Cpanic=abort` cannot: there
/// [`Op::PollPanicking`] polls with waker 0, and a finished `wait_or` is not polled).
const CAN_CATCH: bool = cfg!(panic = "unwind");

/// Steps executed by [`check`] in this process (every operation and every final drop).
pub static STEPS: AtomicU64 = AtomicU64::new(0);

/// What a new wait future is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `wait()`.
    Wait,
    /// `wait_owned()` (where the includer has it; else `wait()`).
    Owned,
    /// `wait_or(other)`, `other` ready at once or pending until [`Op::Fire`].
    Or { ready: bool },
    /// `run_until_done(other)`, likewise.
    RunUntilDone { ready: bool },
    /// `wait_timeout(timer, 1 s)`, or a zero timeout (a poll).
    Timeout { zero: bool },
    /// `wait_deadline(clock, deadline)`, the deadline in the future or already past.
    Deadline { past: bool },
}

impl Kind {
    fn race(self) -> Race {
        match self {
            Kind::Wait | Kind::Owned => Race::Plain,
            Kind::Or { .. } | Kind::RunUntilDone { .. } => Race::Other,
            Kind::Timeout { zero: true } | Kind::Deadline { past: true } => Race::Now,
            Kind::Timeout { .. } | Kind::Deadline { .. } => Race::Timer,
        }
    }

    fn open(self) -> bool {
        matches!(
            self,
            Kind::Or { ready: true } | Kind::RunUntilDone { ready: true }
        )
    }
}

/// One step of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Put a new wait future in `slot` (dropping the one there first).
    Create {
        slot: usize,
        kind: Kind,
    },
    /// Poll the future in `slot` (if any) with waker `waker` ([`PANICKING`] only as the
    /// resolution of a `PollPanicking`).
    Poll {
        slot: usize,
        waker: usize,
    },
    /// Poll with the waker that panics when woken, unless that cannot be caught or would
    /// panic twice: see [`resolve`].
    PollPanicking {
        slot: usize,
    },
    /// `enable()` the wait in `slot` (a `Wait`/`OwnedWait`), then read the user flag.
    Enable {
        slot: usize,
    },
    /// Drop the future in `slot` (if any).
    Drop {
        slot: usize,
    },
    /// The other future / the sleep of `slot` is ready from its next poll, which first
    /// makes `call` (if any): a timer firing, a tie.
    Fire {
        slot: usize,
        call: Option<Call>,
    },
    Complete,
    CompleteN(u32),
    CompleteAll,
    CompleteWaiters,
    /// Set the user flag, then make the call.
    Notify(Call),
    /// Clear the user flag (the event was handled).
    ClearFlag,
    Reinit,
    TryWait,
    IsDone,
    /// A new guard in `slot` (dropping the one there first): `complete_all_on_drop` if
    /// `all`, else `complete_on_drop`; the `_owned` form if `owned`.
    Guard {
        slot: usize,
        all: bool,
        owned: bool,
    },
    /// Drop the guard in `slot`: it completes.
    DropGuard {
        slot: usize,
    },
    /// Disarm the guard in `slot`: nothing.
    Disarm {
        slot: usize,
    },
}

/// The completer call encoded by `arg`.
fn call_of(arg: usize) -> Call {
    match arg % 4 {
        0 => Call::One,
        1 => Call::N(2),
        2 => Call::All,
        _ => Call::Waiters,
    }
}

fn arg_of_call(call: Call) -> usize {
    match call {
        Call::One => 0,
        Call::N(_) => 1,
        Call::All => 2,
        Call::Waiters => 3,
    }
}

fn n_of(arg: usize) -> u32 {
    match arg % 8 {
        6 => <Completion>::MAX_COUNT,
        7 => u32::MAX,
        n => n as u32, // 0..=5
    }
}

fn arg_of_n(n: u32) -> usize {
    match n {
        <Completion>::MAX_COUNT => 6,
        u32::MAX => 7,
        n => n.min(5) as usize,
    }
}

/// The number of operation kinds a byte picks from.
const KINDS: u8 = 40;

/// Decodes a byte string into operations: one byte picks the operation, and the next one
/// (0 if missing) its arguments. Every byte string is a valid sequence.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::with_capacity(bytes.len() / 2 + 1);
    let mut it = bytes.iter().copied();
    while let Some(kind) = it.next() {
        let kind = kind % KINDS;
        let arg = usize::from(it.next().unwrap_or(0));
        let slot = arg % SLOTS;
        let bit = (arg / SLOTS) % 2 == 1;
        ops.push(match kind {
            0..=2 => Op::Create {
                slot,
                kind: if bit { Kind::Owned } else { Kind::Wait },
            },
            3 => Op::Create {
                slot,
                kind: Kind::Or { ready: bit },
            },
            4 => Op::Create {
                slot,
                kind: Kind::RunUntilDone { ready: bit },
            },
            5 => Op::Create {
                slot,
                kind: Kind::Timeout { zero: bit },
            },
            6 => Op::Create {
                slot,
                kind: Kind::Deadline { past: bit },
            },
            7..=13 => Op::Poll {
                slot,
                waker: (arg / SLOTS) % WAKERS,
            },
            14 => Op::PollPanicking { slot },
            15..=16 => Op::Enable { slot },
            17..=18 => Op::Drop { slot },
            19..=20 => Op::Fire {
                slot,
                call: match (arg / SLOTS) % 5 {
                    0 => None,
                    k => Some(call_of(k - 1)),
                },
            },
            21..=23 => Op::Complete,
            24 => Op::CompleteN(n_of(arg)),
            25 => Op::CompleteAll,
            26..=27 => Op::CompleteWaiters,
            28..=29 => Op::Notify(call_of(arg)),
            30 => Op::ClearFlag,
            31 => Op::Reinit,
            32..=33 => Op::TryWait,
            34 => Op::IsDone,
            35..=36 => Op::Guard {
                slot: arg % GUARDS,
                all: (arg / GUARDS) % 2 == 1,
                owned: (arg / GUARDS / 2) % 2 == 1,
            },
            37..=38 => Op::DropGuard { slot: arg % GUARDS },
            _ => Op::Disarm { slot: arg % GUARDS },
        });
    }
    ops
}

/// The inverse of [`decode`] (for turning a shrunk sequence back into a fuzz input).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        let bit = |b: bool| SLOTS * usize::from(b);
        let (kind, arg) = match *op {
            Op::Create { slot, kind } => match kind {
                Kind::Wait => (0, slot),
                Kind::Owned => (0, slot + bit(true)),
                Kind::Or { ready } => (3, slot + bit(ready)),
                Kind::RunUntilDone { ready } => (4, slot + bit(ready)),
                Kind::Timeout { zero } => (5, slot + bit(zero)),
                Kind::Deadline { past } => (6, slot + bit(past)),
            },
            Op::Poll { slot, waker } if waker >= WAKERS => (14, slot),
            Op::Poll { slot, waker } => (7, slot + SLOTS * waker),
            Op::PollPanicking { slot } => (14, slot),
            Op::Enable { slot } => (15, slot),
            Op::Drop { slot } => (17, slot),
            Op::Fire { slot, call } => (19, slot + SLOTS * call.map_or(0, |c| 1 + arg_of_call(c))),
            Op::Complete => (21, 0),
            Op::CompleteN(n) => (24, arg_of_n(n)),
            Op::CompleteAll => (25, 0),
            Op::CompleteWaiters => (26, 0),
            Op::Notify(call) => (28, arg_of_call(call)),
            Op::ClearFlag => (30, 0),
            Op::Reinit => (31, 0),
            Op::TryWait => (32, 0),
            Op::IsDone => (34, 0),
            Op::Guard { slot, all, owned } => (
                35,
                slot + GUARDS * usize::from(all) + GUARDS * 2 * usize::from(owned),
            ),
            Op::DropGuard { slot } => (37, slot),
            Op::Disarm { slot } => (39, slot),
        };
        bytes.push(kind);
        bytes.push(arg as u8);
    }
    bytes
}

// ---------------------------------------------------------------------------------------
// The model side: the reference model, the guards, and the operation semantics.

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation returns nothing (or touched an empty slot).
    Unit,
    /// A poll.
    Poll(Polled),
    /// The operation did all it had to, and then panicked: it woke the panicking waker.
    Panicked,
    /// `try_wait` or `is_done`.
    Bool(bool),
    /// `enable()`'s result, and the user flag read right after it.
    Enabled { ready: bool, flag: bool },
}

/// A guard of the model: what its drop calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardModel {
    pub all: bool,
}

/// The reference model with the interpreter's slots and guards.
#[derive(Clone, Debug)]
pub struct Spec {
    pub m: Model,
    pub guards: [Option<GuardModel>; GUARDS],
}

impl Default for Spec {
    fn default() -> Self {
        let mut m = Model::new(ALL_WAKERS, Some(PANICKING));
        m.waits.resize(SLOTS, None);
        Self {
            m,
            guards: [None; GUARDS],
        }
    }
}

impl Spec {
    /// Which operation is really run: a `PollPanicking` becomes a poll with the panicking
    /// waker unless that cannot be caught, another queued wait holds it, or a sleep's
    /// poll would call a completer (two panics in one operation abort the process); a
    /// `Fire` with a call loses its call while a queued wait holds the panicking waker; a
    /// poll of a finished `wait_or` (which panics by design) only where that is caught.
    pub fn resolve(&self, op: Op) -> Op {
        let m = &self.m;
        let holds_panicking = |other: usize| m.waker_of(other) == Some(PANICKING);
        let hooked = m.waits.iter().flatten().any(|w| w.hook.is_some());
        match op {
            Op::PollPanicking { slot } => {
                let taken = (0..SLOTS).any(|s| s != slot && holds_panicking(s));
                let waker = if taken || hooked || !CAN_CATCH {
                    0
                } else {
                    PANICKING
                };
                Op::Poll { slot, waker }
            }
            Op::Fire {
                slot,
                call: Some(_),
            } if (0..SLOTS).any(holds_panicking) => Op::Fire { slot, call: None },
            Op::Poll { slot, .. }
                if !CAN_CATCH
                    && m.w(slot)
                        .is_some_and(|w| w.race == Race::Other && matches!(w.st, St::Done(_))) =>
            {
                Op::IsDone
            }
            op => op,
        }
    }

    /// Applies a resolved `op`; returns its result.
    pub fn apply(&mut self, op: Op) -> Outcome {
        self.m.panicked = false;
        let m = &mut self.m;
        let out = match op {
            Op::Create { slot, kind } => {
                m.drop_wait(slot);
                m.create(slot, kind.race(), kind.open());
                Outcome::Unit
            }
            Op::Poll { slot, waker } => match m.w(slot) {
                None => Outcome::Unit,
                Some(_) => Outcome::Poll(m.poll(slot, Some(waker))),
            },
            Op::PollPanicking { .. } => unreachable!("resolved first"),
            Op::Enable { slot } => match m.w(slot) {
                Some(w) if w.race == Race::Plain => {
                    let ready = m.enable(slot);
                    let flag = m.flag;
                    m.wm(slot).saw_flag = Some(flag);
                    Outcome::Enabled { ready, flag }
                }
                _ => Outcome::Unit,
            },
            Op::Drop { slot } => {
                m.drop_wait(slot);
                Outcome::Unit
            }
            Op::Fire { slot, call } => {
                if let Some(w) = m.waits[slot].as_mut() {
                    if matches!(w.race, Race::Other | Race::Timer) && !matches!(w.st, St::Done(_)) {
                        w.open = true;
                        w.hook = call;
                    }
                }
                Outcome::Unit
            }
            Op::Complete => {
                m.complete();
                Outcome::Unit
            }
            Op::CompleteN(n) => {
                m.complete_n(n);
                Outcome::Unit
            }
            Op::CompleteAll => {
                m.complete_all();
                Outcome::Unit
            }
            Op::CompleteWaiters => {
                m.complete_waiters();
                Outcome::Unit
            }
            Op::Notify(call) => {
                m.flag = true;
                m.call(call);
                Outcome::Unit
            }
            Op::ClearFlag => {
                m.flag = false;
                Outcome::Unit
            }
            Op::Reinit => {
                m.reinit();
                Outcome::Unit
            }
            Op::TryWait => Outcome::Bool(m.try_wait()),
            Op::IsDone => Outcome::Bool(m.is_done()),
            Op::Guard { slot, all, .. } => {
                if let Some(g) = self.guards[slot].take() {
                    guard_drop(m, g);
                }
                self.guards[slot] = Some(GuardModel { all });
                Outcome::Unit
            }
            Op::DropGuard { slot } => {
                if let Some(g) = self.guards[slot].take() {
                    guard_drop(m, g);
                }
                Outcome::Unit
            }
            Op::Disarm { slot } => {
                self.guards[slot] = None;
                Outcome::Unit
            }
        };
        if self.m.panicked {
            Outcome::Panicked
        } else {
            out
        }
    }
}

fn guard_drop(m: &mut Model, g: GuardModel) {
    if g.all {
        m.complete_all();
    } else {
        m.complete();
    }
}

// ---------------------------------------------------------------------------------------
// The implementation under test.

/// A wait future of any kind, its output reduced to [`Res`].
pub trait AnyWait: fmt::Debug {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res>;
    fn terminated(&self) -> bool;
    /// `enable()`, for a `Wait`/`OwnedWait`.
    fn enable_wait(self: Pin<&mut Self>) -> Option<bool> {
        None
    }
}

/// A wait future of either kind, boxed and pinned.
pub type BoxedWait<'a> = Pin<Box<dyn AnyWait + 'a>>;

/// Polls a `()` future (a `Wait`, an `OwnedWait`).
pub fn poll_unit<F: Future<Output = ()> + ?Sized>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Res> {
    fut.poll(cx).map(|()| Res::Ok)
}

impl AnyWait for Wait<'_> {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res> {
        poll_unit(self, cx)
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn enable_wait(self: Pin<&mut Self>) -> Option<bool> {
        Some(self.enable())
    }
}

impl AnyWait for WaitOr<'_, Gate> {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res> {
        self.poll(cx).map(|r| match r {
            Ok(()) => Res::Ok,
            Err(7) => Res::Lost,
            Err(o) => panic!("`wait_or` returned Err({o}), not its other future's output"),
        })
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
}

impl AnyWait for RunUntilDone<'_, Gate> {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res> {
        self.poll(cx).map(|r| match r {
            None => Res::Ok,
            Some(7) => Res::Lost,
            Some(o) => panic!("`run_until_done` returned Some({o}), not its future's output"),
        })
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
}

impl AnyWait for WaitTimeout<'_, Gate> {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res> {
        self.poll(cx).map(|r| match r {
            Ok(()) => Res::Ok,
            Err(TimedOut) => Res::Lost,
        })
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
}

/// A guard of any kind.
pub trait AnyGuard: fmt::Debug {
    fn disarm_guard(self: Box<Self>);
}

impl AnyGuard for CompleteOnDrop<'_> {
    fn disarm_guard(self: Box<Self>) {
        let _ = self.disarm();
    }
}

impl AnyGuard for CompleteAllOnDrop<'_> {
    fn disarm_guard(self: Box<Self>) {
        let _ = self.disarm();
    }
}

/// Makes an owned wait (`Completion::wait_owned`).
pub type OwnedWaitFn = fn(Arc<Completion>) -> BoxedWait<'static>;
/// Makes an owned guard (`complete_all_on_drop_owned` if `true`, else
/// `complete_on_drop_owned`).
pub type OwnedGuardFn = fn(Arc<Completion>, bool) -> Box<dyn AnyGuard>;

/// What the includer's build offers beyond the core: the owned wait and guards (feature
/// `alloc`).
#[derive(Clone, Copy, Default)]
pub struct Extras {
    pub owned_wait: Option<OwnedWaitFn>,
    pub owned_guard: Option<OwnedGuardFn>,
}

/// The test's handle on one other future / sleep.
#[derive(Default)]
pub struct GateCtl {
    open: Cell<bool>,
    call: Cell<Option<Call>>,
}

/// The other future of a `wait_or`/`run_until_done`, or the sleep of a timed wait:
/// pending until opened; its next poll after [`Op::Fire`] makes the fired call first.
pub struct Gate {
    ctl: Rc<GateCtl>,
    c: Arc<Completion>,
}

impl Future for Gate {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        if let Some(call) = self.ctl.call.take() {
            make_call(&self.c, call);
        }
        if self.ctl.open.get() {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

fn make_call(c: &Completion, call: Call) {
    match call {
        Call::One => c.complete(),
        Call::N(n) => c.complete_n(n),
        Call::All => c.complete_all(),
        Call::Waiters => c.complete_waiters(),
    }
}

/// A hand-driven timer and clock (now is 10) whose sleeps are the slot's gate.
struct Manual {
    ctl: Rc<GateCtl>,
    c: Arc<Completion>,
}

impl Manual {
    fn gate(&self) -> Gate {
        Gate {
            ctl: self.ctl.clone(),
            c: self.c.clone(),
        }
    }
}

impl Timer for Manual {
    type Sleep = Gate;
    fn sleep(&self, _: Duration) -> Gate {
        self.gate()
    }
}

impl Clock for Manual {
    type Instant = u64;
    fn now(&self) -> u64 {
        10
    }
    fn sleep_until(&self, _: u64) -> Gate {
        self.gate()
    }
}

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

thread_local! {
    /// Set while the interpreter polls a finished `wait_or` (a panic by design).
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
}

/// The message of a finished `WaitOr`'s panic.
pub const WAIT_OR_AFTER_READY: &str = "`WaitOr` polled after it returned `Ready`";

/// Installs (once per process) a panic hook that prints nothing for the panicking waker's
/// panics ([`InjectedPanic`]) and for the expected panic of a finished `wait_or`, and
/// hands every other panic to the hook it replaces (for the fuzzer, libFuzzer's, which
/// aborts: a real panic stays a finding).
pub fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        #[allow(deprecated)] // `PanicHookInfo` is 1.81; the alias works from the MSRV on
        let hook = move |info: &std::panic::PanicInfo<'_>| {
            if !info.payload().is::<InjectedPanic>() && !EXPECTING.with(Cell::get) {
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

struct Slot<'c> {
    fut: BoxedWait<'c>,
    gate: Option<Rc<GateCtl>>,
    /// The user flag read after this wait's latest `enable()`.
    saw_flag: Option<bool>,
}

struct Real<'c> {
    completion: &'c Arc<Completion>,
    extras: Extras,
    slots: [Option<Slot<'c>>; SLOTS],
    guards: [Option<Box<dyn AnyGuard + 'c>>; GUARDS],
    counters: [Arc<Counter>; ALL_WAKERS],
    wakers: [Waker; ALL_WAKERS],
    flag: AtomicBool,
}

impl<'c> Real<'c> {
    fn new(completion: &'c Arc<Completion>, extras: Extras) -> Self {
        let counters: [Arc<Counter>; ALL_WAKERS] =
            std::array::from_fn(|k| Arc::new(Counter(AtomicUsize::new(0), k == PANICKING)));
        let wakers = std::array::from_fn(|k| Waker::from(counters[k].clone()));
        Self {
            completion,
            extras,
            slots: std::array::from_fn(|_| None),
            guards: std::array::from_fn(|_| None),
            counters,
            wakers,
            flag: AtomicBool::new(false),
        }
    }

    fn create(&self, kind: Kind) -> Slot<'c> {
        let c: &'c Completion = self.completion;
        let arc = self.completion;
        let ctl = Rc::new(GateCtl::default());
        ctl.open.set(kind.open());
        let gate = Gate {
            ctl: ctl.clone(),
            c: arc.clone(),
        };
        let manual = Manual {
            ctl: ctl.clone(),
            c: arc.clone(),
        };
        let (fut, gate): (BoxedWait<'c>, _) = match kind {
            Kind::Wait => (Box::pin(c.wait()), None),
            Kind::Owned => match self.extras.owned_wait {
                Some(make) => (make(arc.clone()), None),
                None => (Box::pin(c.wait()), None),
            },
            Kind::Or { .. } => (Box::pin(c.wait_or(gate)), Some(ctl)),
            Kind::RunUntilDone { .. } => (Box::pin(c.run_until_done(gate)), Some(ctl)),
            Kind::Timeout { zero } => {
                let d = if zero {
                    Duration::ZERO
                } else {
                    Duration::from_secs(1)
                };
                (Box::pin(c.wait_timeout(manual, d)), Some(ctl))
            }
            Kind::Deadline { past } => {
                let deadline = if past { 5 } else { 20 };
                (Box::pin(c.wait_deadline(manual, deadline)), Some(ctl))
            }
        };
        Slot {
            fut,
            gate,
            saw_flag: None,
        }
    }

    fn drop_guard(&mut self, slot: usize) -> bool {
        let old = self.guards[slot].take();
        catch_injected(|| drop(old))
    }

    /// Applies a resolved `op` ([`Spec::resolve`]).
    fn apply(&mut self, op: Op) -> Outcome {
        let c = self.completion;
        let panicked = match op {
            Op::Create { slot, kind } => {
                // Drop first, as the model does (a handed wait passes its completion on,
                // which may wake the panicking waker).
                let old = self.slots[slot].take();
                let panicked = catch_injected(|| drop(old));
                self.slots[slot] = Some(self.create(kind));
                panicked
            }
            Op::Poll { slot, waker } => {
                let Some(s) = self.slots[slot].as_mut() else {
                    return Outcome::Unit;
                };
                let mut cx = Context::from_waker(&self.wakers[waker]);
                if s.fut.terminated() && s.gate.is_some() && CAN_CATCH {
                    // A finished `wait_or`/`run_until_done` panics; a timed one answers.
                    EXPECTING.with(|e| e.set(true));
                    let got = catch_unwind(AssertUnwindSafe(|| s.fut.as_mut().poll_res(&mut cx)));
                    EXPECTING.with(|e| e.set(false));
                    match got {
                        Ok(Poll::Ready(res)) => return Outcome::Poll(Polled::Ready(res)),
                        Ok(Poll::Pending) => return Outcome::Poll(Polled::Pending),
                        Err(payload) => {
                            let message = panic_message(&*payload);
                            assert_eq!(message, WAIT_OR_AFTER_READY, "a finished wait_or's panic");
                            return Outcome::Poll(Polled::AfterReady);
                        }
                    }
                }
                let mut got = None;
                let panicked = catch_injected(|| got = Some(s.fut.as_mut().poll_res(&mut cx)));
                match got {
                    _ if panicked => true,
                    Some(Poll::Ready(res)) => return Outcome::Poll(Polled::Ready(res)),
                    _ => return Outcome::Poll(Polled::Pending),
                }
            }
            Op::PollPanicking { .. } => unreachable!("resolved by the model first"),
            Op::Enable { slot } => {
                let Some(s) = self.slots[slot].as_mut() else {
                    return Outcome::Unit;
                };
                // Register, then check.
                let Some(ready) = s.fut.as_mut().enable_wait() else {
                    return Outcome::Unit;
                };
                let flag = self.flag.load(Ordering::SeqCst);
                s.saw_flag = Some(flag);
                return Outcome::Enabled { ready, flag };
            }
            Op::Drop { slot } => {
                let old = self.slots[slot].take();
                catch_injected(|| drop(old))
            }
            Op::Fire { slot, call } => {
                if let Some(ctl) = self.slots[slot].as_ref().and_then(|s| s.gate.as_ref()) {
                    if !self.slots[slot].as_ref().unwrap().fut.terminated() {
                        ctl.open.set(true);
                        ctl.call.set(call);
                    }
                }
                false
            }
            Op::Complete => catch_injected(|| c.complete()),
            Op::CompleteN(n) => catch_injected(|| c.complete_n(n)),
            Op::CompleteAll => catch_injected(|| c.complete_all()),
            Op::CompleteWaiters => catch_injected(|| c.complete_waiters()),
            Op::Notify(call) => {
                // The flag is written before the completer's call.
                self.flag.store(true, Ordering::SeqCst);
                catch_injected(|| make_call(c, call))
            }
            Op::ClearFlag => {
                self.flag.store(false, Ordering::SeqCst);
                false
            }
            Op::Reinit => {
                c.reinit();
                false
            }
            Op::TryWait => return Outcome::Bool(c.try_wait()),
            Op::IsDone => return Outcome::Bool(c.is_done()),
            Op::Guard { slot, all, owned } => {
                let panicked = self.drop_guard(slot);
                let guard: Box<dyn AnyGuard + 'c> = match (owned, self.extras.owned_guard) {
                    (true, Some(make)) => make(c.clone(), all),
                    _ if all => Box::new(c.complete_all_on_drop()),
                    _ => Box::new(c.complete_on_drop()),
                };
                self.guards[slot] = Some(guard);
                panicked
            }
            Op::DropGuard { slot } => self.drop_guard(slot),
            Op::Disarm { slot } => {
                if let Some(g) = self.guards[slot].take() {
                    g.disarm_guard();
                }
                false
            }
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

/// The message of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// The `state: "..."` of a wait future's `Debug` (the inner `Wait`'s for the others).
pub fn wait_state(debug: &str) -> &str {
    let start = debug
        .find("state: \"")
        .unwrap_or_else(|| panic!("no state in `{debug}`"))
        + 8;
    let len = debug[start..].find('"').expect("closing quote");
    &debug[start..start + len]
}

// ---------------------------------------------------------------------------------------
// Running both.

/// A disagreement between the implementation and the model.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Index of the operation after which the check failed (the final drops follow the
    /// sequence's operations); `None` for the final leak check.
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

/// Which model transitions a run exercised, by label, so that a test can check that the
/// generator is not degenerate.
#[derive(Clone, Debug, Default)]
pub struct Coverage(pub BTreeSet<String>);

impl Coverage {
    pub fn merge(&mut self, other: &Coverage) {
        self.0.extend(other.0.iter().cloned());
    }

    /// The labels a run of every operation in every state must reach (see [`note`]).
    pub fn required() -> Vec<String> {
        let mut labels = Vec::new();
        for race in ["Plain", "Other", "Timer", "Now"] {
            for st in ["idle", "queued", "handed", "released", "done"] {
                // A zero timeout or a past deadline never queues, so is never handed or
                // released.
                if race != "Now" || !matches!(st, "queued" | "handed" | "released") {
                    labels.push(format!("poll {race} {st}"));
                    labels.push(format!("drop {race} {st}"));
                }
            }
        }
        for st in ["idle", "queued", "handed", "released", "done"] {
            labels.push(format!("enable {st}"));
        }
        labels.extend(
            [
                "pass on to a waiter",
                "pass on to the count",
                "release many",
                "release beside an unpolled wait",
                "complete_n mixed",
                "saturated",
                "panic then more",
                "tie won",
                "timed out",
                "other won",
                "other won, passed on",
                "fire with a call",
                "notify reached an unseen waiter",
                "guard dropped",
                "guard disarmed",
                "released wait polled with the flag clear",
            ]
            .map(str::to_owned),
        );
        labels
    }

    /// The required labels not reached.
    pub fn missing(&self) -> Vec<String> {
        Self::required()
            .into_iter()
            .filter(|l| !self.0.contains(l))
            .collect()
    }

    fn hit(&mut self, label: impl Into<String>) {
        self.0.insert(label.into());
    }
}

/// Notes the transitions `op` (resolved) exercises from `spec` (before it) to `after`.
fn note(cov: &mut Coverage, spec: &Spec, after: &Spec, op: Op, out: Outcome) {
    let m = &spec.m;
    let panicking_at = m
        .queue
        .iter()
        .position(|&s| m.waker_of(s) == Some(PANICKING));
    let state = |slot: usize| m.w(slot).map(|w| (format!("{:?}", w.race), w.st.name()));
    match op {
        Op::Poll { slot, .. } => {
            if let Some((race, st)) = state(slot) {
                cov.hit(format!("poll {race} {st}"));
                if st == "released" && !m.all {
                    cov.hit("released wait polled with the flag clear");
                }
            }
            let before = m.st(slot);
            let now = after.m.st(slot);
            if let (Some(w), Some(St::Done(Res::Lost))) = (m.w(slot), now) {
                if before != now {
                    match w.race {
                        Race::Timer | Race::Now => cov.hit("timed out"),
                        _ if w.hook.is_some_and(|c| matches!(c, Call::One | Call::N(_)))
                            && matches!(before, Some(St::Queued { .. })) =>
                        {
                            cov.hit("other won, passed on")
                        }
                        _ => cov.hit("other won"),
                    }
                }
            }
            if let (Some(w), Some(St::Done(Res::Ok))) = (m.w(slot), now) {
                if w.race == Race::Timer && w.open && before != now {
                    cov.hit("tie won");
                }
            }
        }
        Op::Drop { slot } | Op::Create { slot, .. } => {
            if let Some((race, st)) = state(slot) {
                if matches!(op, Op::Drop { .. }) {
                    cov.hit(format!("drop {race} {st}"));
                }
                if st == "handed" && !m.all {
                    cov.hit(if m.queue.is_empty() {
                        "pass on to the count"
                    } else {
                        "pass on to a waiter"
                    });
                }
            }
        }
        Op::Enable { slot } => {
            if let Some(w) = m.w(slot) {
                if w.race == Race::Plain {
                    cov.hit(format!("enable {}", w.st.name()));
                }
            }
        }
        Op::Fire { call: Some(_), .. } => cov.hit("fire with a call"),
        Op::CompleteAll | Op::CompleteWaiters | Op::Notify(Call::All | Call::Waiters) => {
            if m.queue.len() >= 3 {
                cov.hit("release many");
            }
            if m.waits.iter().flatten().any(|w| w.st == St::Idle) {
                cov.hit("release beside an unpolled wait");
            }
            if panicking_at.is_some_and(|p| p + 1 < m.queue.len()) {
                cov.hit("panic then more");
            }
        }
        Op::CompleteN(n) => {
            if !m.all && !m.queue.is_empty() && n as usize > m.queue.len() {
                cov.hit("complete_n mixed");
            }
            if !m.all && panicking_at.is_some_and(|p| p + 1 < n as usize) {
                cov.hit("panic then more");
            }
        }
        Op::DropGuard { slot } if spec.guards[slot].is_some() => cov.hit("guard dropped"),
        Op::Disarm { slot } if spec.guards[slot].is_some() => cov.hit("guard disarmed"),
        _ => {}
    }
    if let Op::Notify(_) = op {
        let unseen = (0..SLOTS).any(|s| {
            m.w(s).is_some_and(|w| w.saw_flag == Some(false))
                && matches!(m.st(s), Some(St::Queued { .. }))
                && matches!(after.m.st(s), Some(St::Handed | St::Released))
        });
        if unseen {
            cov.hit("notify reached an unseen waiter");
        }
    }
    let _ = out;
    if after.m.count == <Completion>::MAX_COUNT {
        cov.hit("saturated");
    }
}

/// Checks everything observable after a step.
fn compare(spec: &Spec, real: &Real<'_>) -> Result<(), String> {
    let m = &spec.m;
    for k in 0..ALL_WAKERS {
        let (got, want) = (real.wakes(k), m.wakes[k]);
        if got != want {
            return Err(format!("waker {k} woken {got} times, expected {want}"));
        }
        let queued_with_k = (0..SLOTS).filter(|&s| m.waker_of(s) == Some(k)).count();
        if real.held_clones(k) < queued_with_k {
            return Err(format!(
                "waker {k}: {queued_with_k} queued waiters must be able to wake it, \
                 but the completion holds {} clones",
                real.held_clones(k)
            ));
        }
    }
    for (i, slot) in real.slots.iter().enumerate() {
        match (slot, m.w(i)) {
            (None, None) => {}
            (Some(s), Some(w)) => {
                let want = matches!(w.st, St::Done(_));
                if s.fut.terminated() != want {
                    return Err(format!(
                        "slot {i} ({:?}): is_terminated() is {}, expected {want}",
                        w.st,
                        s.fut.terminated()
                    ));
                }
                let debug = format!("{:?}", s.fut);
                if wait_state(&debug) != w.st.name() {
                    return Err(format!(
                        "slot {i}: Debug shows `{debug}`, expected state \"{}\"",
                        w.st.name()
                    ));
                }
            }
            _ => unreachable!("the interpreter fills and empties slots as the model does"),
        }
    }
    let (got, want) = (format!("{:?}", **real.completion), m.debug());
    if got != want {
        return Err(format!("Debug shows `{got}`, expected `{want}`"));
    }
    for (i, (g, gm)) in real.guards.iter().zip(&spec.guards).enumerate() {
        match (g, gm) {
            (Some(g), Some(_)) => {
                let debug = format!("{g:?}");
                if !debug.contains(&want) {
                    return Err(format!("guard {i}: Debug `{debug}` shows no `{want}`"));
                }
            }
            (None, None) => {}
            _ => unreachable!("the interpreter fills and empties guards as the model does"),
        }
    }
    m.conservation()
}

/// The register-then-check idiom after a notification: a wait that read the flag unset
/// after its `enable()`, and was queued when the notifier called, was reached by the call
/// (every such wait for `complete_waiters`/`complete_all`; for `complete`/`complete_n(n)`,
/// those among the first `n` of the queue: the FIFO hand-off).
fn check_idiom(
    call: Call,
    all_before: bool,
    queued_before: &[usize],
    real: &Real<'_>,
) -> Result<(), String> {
    let reach = match call {
        Call::All | Call::Waiters => usize::MAX,
        Call::One if !all_before => 1,
        Call::N(n) if !all_before => n as usize,
        _ => 0, // `complete*` after `complete_all` reaches nobody (nobody is queued)
    };
    for (position, &s) in queued_before.iter().enumerate().take(reach) {
        let Some(slot) = real.slots[s].as_ref() else {
            continue;
        };
        if slot.saw_flag != Some(false) {
            continue;
        }
        let state = wait_state(&format!("{:?}", slot.fut)).to_owned();
        if state == "queued" || state == "idle" {
            return Err(format!(
                "register-then-check: the wait in slot {s} (queue position {position}) saw the \
                 flag unset and {call:?} did not reach it (it is {state})"
            ));
        }
    }
    Ok(())
}

/// Runs `ops` on a fresh completion and on the model, then drops every future and guard
/// and checks for leaks.
pub fn check(ops: &[Op], extras: Extras) -> Result<(), Failure> {
    check_with_coverage(ops, extras, &mut Coverage::default())
}

/// [`check`], recording which transitions were exercised into `cov`.
pub fn check_with_coverage(ops: &[Op], extras: Extras, cov: &mut Coverage) -> Result<(), Failure> {
    let completion = Arc::new(Completion::new());
    let mut real = Real::new(&completion, extras);
    let mut spec = Spec::default();
    let cleanup = (0..SLOTS)
        .map(|slot| Op::Drop { slot })
        .chain((0..GUARDS).map(|slot| Op::DropGuard { slot }));
    for (step, op) in ops.iter().copied().chain(cleanup).enumerate() {
        STEPS.fetch_add(1, Ordering::Relaxed);
        let fail = |message| Failure {
            step,
            op: Some(op),
            message,
        };
        let op = spec.resolve(op);
        let before = spec.clone();
        let want = spec.apply(op);
        note(cov, &before, &spec, op, want);
        let got = match catch_unwind(AssertUnwindSafe(|| real.apply(op))) {
            Ok(got) => got,
            Err(payload) => {
                // The futures may point into a completion in an unknown state: leak
                // them rather than run their destructors.
                std::mem::forget(real);
                return Err(fail(format!("panicked: {}", panic_message(&*payload))));
            }
        };
        if got != want {
            return Err(fail(format!("returned {got:?}, expected {want:?}")));
        }
        compare(&spec, &real).map_err(fail)?;
        if let Op::Notify(call) = op {
            let queued: Vec<usize> = before.m.queue.iter().copied().collect();
            check_idiom(call, before.m.all, &queued, &real).map_err(fail)?;
        }
    }
    let step = ops.len() + SLOTS + GUARDS;
    let fail = |message| {
        Err(Failure {
            step,
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
        return fail("an owned wait or guard leaked its Arc<Completion>".to_owned());
    }
    // What is banked is still there, once each (a saturated bank is sampled: drained by
    // 64, the rest must show in `Debug`).
    if !spec.m.all {
        let want = spec.m.count;
        let take = want.min(64);
        for i in 0..take {
            if !completion.try_wait() {
                return fail(format!("drained {i} banked, expected {want}"));
            }
        }
        let left = want - take;
        if left == 0 && completion.try_wait() {
            return fail(format!("more than the {want} banked could be drained"));
        }
        let debug = format!("{completion:?}");
        if !debug.contains(&format!("count: {left},")) {
            return fail(format!(
                "after draining {take}: `{debug}`, expected count {left}"
            ));
        }
    }
    Ok(())
}

/// Greedily removes operations (and simplifies arguments) from a failing sequence while
/// it keeps failing; returns the shortest failing sequence found and its failure.
pub fn shrink(mut ops: Vec<Op>, extras: Extras) -> (Vec<Op>, Option<Failure>) {
    let mut failure = check(&ops, extras).err();
    if failure.is_none() {
        return (ops, None);
    }
    loop {
        let mut progressed = false;
        if let Some(f) = &failure {
            if f.step + 1 < ops.len() {
                let cut = ops[..=f.step].to_vec();
                if let Err(e) = check(&cut, extras) {
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
            match check(&candidate, extras) {
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
                Op::Create {
                    slot,
                    kind: Kind::Owned,
                } => Op::Create {
                    slot,
                    kind: Kind::Wait,
                },
                Op::PollPanicking { slot } => Op::Poll { slot, waker: 0 },
                Op::Notify(Call::One) => Op::Complete,
                Op::Fire {
                    slot,
                    call: Some(_),
                } => Op::Fire { slot, call: None },
                _ => continue,
            };
            let mut candidate = ops.clone();
            candidate[i] = simpler;
            if let Err(e) = check(&candidate, extras) {
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
