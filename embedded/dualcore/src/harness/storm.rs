//! The two-core storm, shared by the scenarios that run it with different locks: both
//! cores, in thread mode, hammer one completion with `complete()`, `complete_n()`,
//! `try_wait()` and `wait()` futures polled by hand with counting wakers, queued,
//! re-polled, and dropped while possibly handed a completion. Every wake is counted per
//! wait future ("generation"); the checks:
//!
//! - a wait future whose wake was seen must be `Ready` when polled (the wake follows the
//!   hand-off, so seeing it means the completion is there);
//! - no wait future is woken twice (duplicated wake);
//! - at the end, with both cores stopped: every queued future that was woken is `Ready`,
//!   every one that was not is still `Pending` (a completion handed without a wake is
//!   lost to an executor), and no completion is banked while a future is still queued
//!   (stranded: FIFO hand-off gives a completion to the first queued waiter);
//! - posted = consumed + banked, exactly, over both cores.
//!
//! A barrier separates the phases; each core works on its own futures only.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, Ordering::*};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use core::time::Duration;

use core::fmt;

use async_completion::{Completion, Lock, Wait};

use super::overlap::{Race, Recorder, Span, SpanCell};
use super::{check, clock, cores, cs, host_now, host_us_since, Check};

/// Wait futures per core kept at once.
pub const SLOTS: usize = 4;

/// Per core and slot: the slot's generation (upper 24 bits) and the wakes it got
/// (lower 8 bits). A wake for an older generation is stale (allowed: a waker may outlive
/// its future) and counted in [`STALE`].
static WAKE_STATE: [[AtomicU32; SLOTS]; 2] = [const { [const { AtomicU32::new(0) }; SLOTS] }; 2];
/// Wakes of the current generation beyond the first.
static DUPLICATES: AtomicU32 = AtomicU32::new(0);
/// Wakes that reached a slot after its future was replaced.
static STALE: AtomicU32 = AtomicU32::new(0);
/// All wakes.
static WAKES: AtomicU32 = AtomicU32::new(0);

const GEN_MASK: u32 = 0x00FF_FFFF;

/// A waker's data: generation, core, slot.
fn token(core: usize, slot: usize, generation: u32) -> *const () {
    (((generation & GEN_MASK) as usize) << 4 | core << 3 | slot) as *const ()
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &VTABLE),
    wake_token,
    wake_token,
    |_| {},
);

fn wake_token(data: *const ()) {
    let data = data as usize;
    let (slot, core, generation) = (data & 7, (data >> 3) & 1, (data >> 4) as u32);
    WAKES.fetch_add(1, Relaxed);
    let state = &WAKE_STATE[core][slot];
    let mut s = state.load(Acquire);
    loop {
        if s >> 8 != generation {
            STALE.fetch_add(1, Relaxed);
            return;
        }
        match state.compare_exchange_weak(s, s + 1, AcqRel, Acquire) {
            Ok(_) => break,
            Err(now) => s = now,
        }
    }
    if s & 0xFF >= 1 {
        DUPLICATES.fetch_add(1, Relaxed);
    }
}

/// Wakes the current generation of `slot` got.
fn wakes_of(core: usize, slot: usize) -> u32 {
    WAKE_STATE[core][slot].load(Acquire) & 0xFF
}

/// What one core did and saw.
#[derive(Clone, Copy, Default, Debug)]
pub struct Tally {
    pub ops: u32,
    /// Completions posted: `complete()` counts 1, `complete_n(n)` n.
    pub posted: u32,
    pub try_waits: u32,
    /// Completions consumed: `try_wait` true, ...
    pub taken_by_try: u32,
    /// ... a new wait `Ready` at its first poll, ...
    pub ready_at_once: u32,
    /// ... a queued wait `Ready` when polled again (handed one), ...
    pub handed: u32,
    /// ... of which its wake had not arrived yet (it follows the hand-off).
    pub handed_before_wake: u32,
    /// ... a queued wait `Ready` at the end.
    pub final_ready: u32,
    pub queued: u32,
    pub repolled_pending: u32,
    /// Queued waits dropped (a completion handed to one is passed on) ...
    pub dropped_queued: u32,
    /// ... of which had been woken (handed one) already.
    pub dropped_woken: u32,
    /// Still queued, not woken, `Pending` at the end (dropped last).
    pub final_pending: u32,
    /// Violations: woken, yet `Pending` (during the storm or at the end).
    pub woken_but_pending: u32,
    /// Violations: `Ready` at the end without a wake.
    pub ready_without_wake: u32,
    /// Violations: the completion was done (banked) while this core still had a queued,
    /// unwoken future at the end.
    pub stranded: u32,
    /// The barrier timed out (the other core never came).
    pub barrier_timeouts: u32,
}

impl Tally {
    /// Completions this core consumed.
    pub fn consumed(&self) -> u32 {
        self.taken_by_try + self.ready_at_once + self.handed + self.final_ready
    }
}

/// Global wake counters: all wakes, duplicated ones, stale ones.
pub fn wake_counts() -> (u32, u32, u32) {
    (
        WAKES.load(Relaxed),
        DUPLICATES.load(Relaxed),
        STALE.load(Relaxed),
    )
}

/// A two-core barrier, reusable by phase number.
pub struct Barrier(AtomicU32);

impl Barrier {
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Arrives at `phase` (1, 2, ...) and waits for the other core, at most `limit`.
    fn arrive(&self, phase: u32, limit: Duration) -> bool {
        self.0.fetch_add(1, AcqRel);
        let deadline = clock::ticks() + clock::duration_to_ticks(limit);
        let mut spins = 0u32;
        while self.0.load(Acquire) < 2 * phase {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && clock::ticks() > deadline {
                return false;
            }
        }
        true
    }
}

/// xorshift32: the operation mix, different per core.
fn next(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}

/// A slot's future, pinned in place: slots live in an array that does not move while
/// any of them holds a future (see the SAFETY notes where they are pinned).
type Slot<'a, L> = Option<Wait<'a, L>>;

/// Polls the future in `slot` with its counting waker.
fn poll_slot<L: Lock>(slot: &mut Slot<'_, L>, waker: &Waker) -> Poll<()> {
    let fut = slot.as_mut().expect("a future in the slot");
    // SAFETY: the future lives in a slot of an array that stays where it is until every
    // slot is emptied (`storm_core` empties them all before it returns), and it is only
    // ever dropped in place (by assigning `None`).
    let fut = unsafe { Pin::new_unchecked(fut) };
    fut.poll(&mut Context::from_waker(waker))
}

/// One core's storm on `c`: `iterations` operations, then the end checks in step with
/// the other core (which must run the same with the same `barrier`). Returns what this
/// core did and its [`Span`].
pub fn storm_core<L: Lock>(
    c: &Completion<L>,
    core: usize,
    iterations: u32,
    barrier: &Barrier,
) -> (Tally, Span) {
    let mut k = Tally::default();
    let mut rng = 0x9E37_79B9u32 ^ (core as u32 + 1).wrapping_mul(0x85EB_CA6B);
    let mut generation = [0u32; SLOTS];
    let mut wakers: [Waker; SLOTS] = core::array::from_fn(|_| Waker::noop().clone());
    // Never moved while it holds futures: see `poll_slot`.
    let mut slots: [Slot<'_, L>; SLOTS] = [const { None }; SLOTS];
    // Per barrier: four of them, within run.sh's limit even if the other core never comes.
    let limit = Duration::from_secs(20);

    let mut rec = Recorder::begin();
    for _ in 0..iterations {
        rec.op();
        k.ops += 1;
        let r = next(&mut rng);
        match r % 16 {
            0 | 1 => {
                c.complete();
                k.posted += 1;
            }
            2 => {
                let n = 1 + (r >> 8) % 3;
                c.complete_n(n);
                k.posted += n;
            }
            3..=5 => {
                k.try_waits += 1;
                if c.try_wait() {
                    k.taken_by_try += 1;
                }
            }
            _ => {
                let i = (r >> 4) as usize % SLOTS;
                if slots[i].is_none() {
                    // A new generation: its own waker, its own wake count.
                    generation[i] = generation[i].wrapping_add(1) & GEN_MASK;
                    WAKE_STATE[core][i].store(generation[i] << 8, Release);
                    // SAFETY: the vtable's functions only read the token's bits.
                    wakers[i] = unsafe {
                        Waker::from_raw(RawWaker::new(token(core, i, generation[i]), &VTABLE))
                    };
                    slots[i] = Some(c.wait());
                    match poll_slot(&mut slots[i], &wakers[i]) {
                        Poll::Ready(()) => {
                            k.ready_at_once += 1;
                            slots[i] = None;
                        }
                        Poll::Pending => k.queued += 1,
                    }
                } else if (r >> 12) % 4 != 3 {
                    let woken = wakes_of(core, i) > 0;
                    match poll_slot(&mut slots[i], &wakers[i]) {
                        Poll::Ready(()) => {
                            k.handed += 1;
                            if !woken {
                                k.handed_before_wake += 1;
                            }
                            slots[i] = None;
                        }
                        Poll::Pending => {
                            k.repolled_pending += 1;
                            if woken {
                                k.woken_but_pending += 1;
                            }
                        }
                    }
                } else {
                    if wakes_of(core, i) > 0 {
                        k.dropped_woken += 1;
                    }
                    k.dropped_queued += 1;
                    slots[i] = None;
                }
            }
        }
    }
    let span = rec.end();

    // Both cores stopped posting and dropping: no hand-off happens any more.
    if !barrier.arrive(1, limit) {
        k.barrier_timeouts += 1;
    }
    let mut still_queued = 0u32;
    for i in 0..SLOTS {
        if slots[i].is_some() {
            let woken = wakes_of(core, i) > 0;
            match poll_slot(&mut slots[i], &wakers[i]) {
                Poll::Ready(()) => {
                    k.final_ready += 1;
                    if !woken {
                        k.ready_without_wake += 1;
                    }
                    slots[i] = None;
                }
                Poll::Pending => {
                    if woken {
                        k.woken_but_pending += 1;
                    }
                    still_queued += 1;
                }
            }
        }
    }
    // Both cores have taken what was handed to them: a banked completion now, with a
    // future still queued, is stranded.
    if !barrier.arrive(2, limit) {
        k.barrier_timeouts += 1;
    }
    if still_queued > 0 && c.is_done() {
        k.stranded += still_queued;
    }
    if !barrier.arrive(3, limit) {
        k.barrier_timeouts += 1;
    }
    k.final_pending = still_queued;
    for slot in slots.iter_mut() {
        *slot = None;
    }
    if !barrier.arrive(4, limit) {
        k.barrier_timeouts += 1;
    }
    (k, span)
}

/// Core 1's results, published by [`core1_part`] for [`two_core_storm`].
static CORE1_TALLY: critical_section::Mutex<core::cell::Cell<Option<Tally>>> =
    critical_section::Mutex::new(core::cell::Cell::new(None));
static CORE1_SPAN: SpanCell = SpanCell::new();

/// Core 1's part of a storm (call it from a core-1 job): runs [`storm_core`] and
/// publishes what it did, then says it is done.
pub fn core1_part<L: Lock>(c: &Completion<L>, iterations: u32, barrier: &Barrier) {
    let (k, span) = storm_core(c, 1, iterations, barrier);
    CORE1_SPAN.set(span);
    critical_section::with(|cs| CORE1_TALLY.borrow(cs).set(Some(k)));
    cores::core1_done();
}

/// What a two-core storm did, over both cores.
pub struct StormResult {
    pub iterations: u32,
    pub tally: [Tally; 2],
    pub race: Race,
    /// Completions left banked at the end (drained by `try_wait`).
    pub banked: u32,
    /// Host time, microseconds.
    pub us: u64,
    pub lock: [cs::Counts; 2],
    /// Wakes during the storm: all, duplicated, stale.
    pub wakes: (u32, u32, u32),
    pub core1_finished: bool,
}

impl StormResult {
    pub fn posted(&self) -> u32 {
        self.tally[0].posted + self.tally[1].posted
    }

    pub fn consumed(&self) -> u32 {
        self.tally[0].consumed() + self.tally[1].consumed()
    }

    /// The checks every storm makes; `contention`: also require that the critical-section
    /// lock was found held by the other core (the storm's completion uses it).
    pub fn check(&self, c: &mut Check, contention: bool) {
        let (posted, consumed) = (self.posted(), self.consumed());
        check!(c, self.core1_finished, "core 1 did not finish its storm");
        check!(
            c,
            consumed + self.banked == posted,
            "consumed {} + banked {} != posted {}: completions {}",
            consumed,
            self.banked,
            posted,
            if consumed + self.banked < posted {
                "lost"
            } else {
                "duplicated"
            }
        );
        for (core, k) in self.tally.iter().enumerate() {
            check!(
                c,
                k.ops == self.iterations,
                "core {} did {} of {} operations",
                core,
                k.ops,
                self.iterations
            );
            check!(
                c,
                k.woken_but_pending == 0,
                "core {}: {} waits woken yet Pending (woken without a completion)",
                core,
                k.woken_but_pending
            );
            check!(
                c,
                k.ready_without_wake == 0,
                "core {}: {} waits handed a completion without a wake (lost wake)",
                core,
                k.ready_without_wake
            );
            check!(
                c,
                k.stranded == 0,
                "core {}: {} waits left queued while a completion was banked (stranded)",
                core,
                k.stranded
            );
            check!(
                c,
                k.barrier_timeouts == 0,
                "core {}: the other core never reached the barrier",
                core
            );
            check!(
                c,
                k.handed > 0,
                "core {}: no queued wait was ever handed a completion",
                core
            );
            check!(
                c,
                k.dropped_queued > 0,
                "core {}: no queued wait was ever dropped",
                core
            );
        }
        check!(
            c,
            self.wakes.1 == 0,
            "{} wakes duplicated (a wait woken twice)",
            self.wakes.1
        );
        let handed = self.tally[0].handed
            + self.tally[1].handed
            + self.tally[0].final_ready
            + self.tally[1].final_ready;
        check!(
            c,
            self.wakes.0 >= handed,
            "{} wakes for {} completions handed to queued waits: a handed wait was never woken",
            self.wakes.0,
            handed
        );
        check!(
            c,
            self.race.overlapped(),
            "the cores did not overlap: {}",
            self.race
        );
        if contention {
            check!(
                c,
                self.lock[0].contended > 0 && self.lock[1].contended > 0,
                "the cores never found the critical-section lock held by the other: contended {} / {}",
                self.lock[0].contended,
                self.lock[1].contended
            );
        }
    }
}

impl fmt::Display for StormResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations per core in {} ms; posted {} = consumed {} + banked {}",
            self.iterations,
            self.us / 1000,
            self.posted(),
            self.consumed(),
            self.banked
        )?;
        for (core, k) in self.tally.iter().enumerate() {
            write!(
                f,
                "; core {}: posted {}, try_wait {} of {}, wait ready at once {}, queued {} (handed {}, {} before the wake arrived; re-polled pending {}; dropped {}, {} of them woken; at the end ready {}, pending {})",
                core,
                k.posted,
                k.taken_by_try,
                k.try_waits,
                k.ready_at_once,
                k.queued,
                k.handed,
                k.handed_before_wake,
                k.repolled_pending,
                k.dropped_queued,
                k.dropped_woken,
                k.final_ready,
                k.final_pending
            )?;
        }
        write!(
            f,
            "; wakes {} ({} duplicated, {} stale: reached a dropped wait); {}; critical-section lock: core 0 {} of {} acquisitions contended ({} failed attempts), core 1 {} of {} ({})",
            self.wakes.0,
            self.wakes.1,
            self.wakes.2,
            self.race,
            self.lock[0].contended,
            self.lock[0].acquired,
            self.lock[0].failed,
            self.lock[1].contended,
            self.lock[1].acquired,
            self.lock[1].failed
        )
    }
}

/// Runs a storm on both cores: hands `core1_job` (which must call [`core1_part`] with the
/// same completion, iterations and barrier) to core 1 and runs core 0's part right here,
/// in thread mode, then drains what is left banked.
pub async fn two_core_storm<L: Lock>(
    c: &Completion<L>,
    iterations: u32,
    barrier: &Barrier,
    core1_job: cores::Job,
) -> StormResult {
    let (cs0, w0, t0) = (cs::counts(), wake_counts(), host_now());
    cores::run_on_core1(core1_job);
    let (k0, span0) = storm_core(c, 0, iterations, barrier);
    let core1_finished = cores::core1_finished(1, Duration::from_secs(60)).await;
    let us = host_us_since(t0);
    let (cs1, w1) = (cs::counts(), wake_counts());
    let k1 = critical_section::with(|cs| CORE1_TALLY.borrow(cs).take()).unwrap_or_default();
    let mut banked = 0u32;
    while banked < u32::MAX && c.try_wait() {
        banked += 1;
    }
    StormResult {
        iterations,
        tally: [k0, k1],
        race: Race([span0, CORE1_SPAN.get()]),
        banked,
        us,
        lock: [cs1[0].since(cs0[0]), cs1[1].since(cs0[1])],
        wakes: (w1.0 - w0.0, w1.1 - w0.1, w1.2 - w0.2),
        core1_finished,
    }
}
