//! `complete_all()` from core 1's interrupt handler releases waiters queued on core 0,
//! then core 0 `reinit()`s, round after round. Each round core 0 lets its four tasks wait;
//! core 1, after a delay that varies from round to round, pends its own SIGNAL interrupt,
//! whose handler calls `complete_all()`: some tasks are queued by then (released by it),
//! others poll only after it (and find the completion done). Every task resumes exactly
//! once per round; the completion stays done until core 0's `reinit()`, after which it
//! is not done and `try_wait` takes nothing.

use core::pin::pin;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;

use crate::harness::overlap::{self, Race, Recorder, SpanCell};
use crate::harness::probe::{poll_once, yield_now};
use crate::harness::{check, clock, cores, cs, host_now, host_us_since, tasks_done, Check, TASK_DONE};

const ROUNDS: u32 = 1_000;
const WAITERS: usize = 4;

static D: Completion<CriticalSectionLock> = Completion::with_lock();
/// The round core 0 has opened (core 0 writes).
static ROUND: AtomicU32 = AtomicU32::new(0);
/// The round whose `complete_all()` has run (core 1 writes).
static FIRED: AtomicU32 = AtomicU32::new(0);
/// Tasks resumed in the current round.
static ARRIVED: AtomicU32 = AtomicU32::new(0);
/// Waits released from the queue by `complete_all()` / found it done at their first poll.
static RELEASED: AtomicU32 = AtomicU32::new(0);
static FOUND_DONE: AtomicU32 = AtomicU32::new(0);
static MISFIRES: AtomicU32 = AtomicU32::new(0);
static CORE1_LATE: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static CORE1_SPAN: SpanCell = SpanCell::new();

#[embassy_executor::task(pool_size = WAITERS)]
async fn waiter() {
    let mut seen = 0;
    loop {
        while ROUND.load(Acquire) == seen && !STOP.load(Acquire) {
            yield_now().await;
        }
        if STOP.load(Acquire) {
            break;
        }
        seen = ROUND.load(Acquire);
        let mut wait = pin!(D.wait());
        if poll_once(wait.as_mut()).await.is_some() {
            FOUND_DONE.fetch_add(1, Relaxed);
        } else {
            wait.await;
            RELEASED.fetch_add(1, Relaxed);
        }
        overlap::op_elsewhere();
        ARRIVED.fetch_add(1, AcqRel);
    }
    TASK_DONE.complete();
}

/// Core 1's part, in its thread mode: one `complete_all()` in its handler per round.
fn core1_job(_: Spawner) {
    let mut rec = Recorder::begin();
    let limit = clock::duration_to_ticks(Duration::from_secs(10));
    for r in 1..=ROUNDS {
        let deadline = clock::ticks() + limit;
        let mut spins = 0u32;
        while ROUND.load(Acquire) < r {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && clock::ticks() > deadline {
                CORE1_LATE.store(true, Relaxed);
                break;
            }
        }
        // A different delay each round: a few to a few thousand instructions.
        for _ in 0..(r.wrapping_mul(7919) % 1500) {
            core::hint::black_box(());
        }
        if !cores::fire_core1(|| D.complete_all()) {
            MISFIRES.fetch_add(1, Relaxed);
        }
        rec.op();
        FIRED.store(r, Release);
    }
    CORE1_SPAN.set(rec.end());
    cores::core1_done();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    let (cs0, t0) = (cs::counts(), host_now());
    let mut rec = Recorder::begin();
    for _ in 0..WAITERS {
        spawner.spawn(waiter().unwrap());
    }
    cores::run_on_core1(core1_job);
    let (mut short_rounds, mut not_done, mut not_reset) = (0u32, 0u32, 0u32);
    for r in 1..=ROUNDS {
        ARRIVED.store(0, Relaxed);
        ROUND.store(r, Release);
        let deadline = clock::ticks() + 2_000;
        while (ARRIVED.load(Acquire) < WAITERS as u32 || FIRED.load(Acquire) < r)
            && clock::ticks() < deadline
        {
            yield_now().await;
        }
        if ARRIVED.load(Acquire) != WAITERS as u32 || FIRED.load(Acquire) != r {
            short_rounds += 1;
            break;
        }
        if !D.is_done() {
            not_done += 1;
        }
        D.reinit();
        if D.is_done() || D.try_wait() {
            not_reset += 1;
        }
    }
    STOP.store(true, Release);
    let finished = cores::core1_finished(1, Duration::from_secs(10)).await;
    let stopped = tasks_done(WAITERS, Duration::from_secs(2)).await;
    let us = host_us_since(t0);
    let (released, found_done) = (RELEASED.load(Relaxed), FOUND_DONE.load(Relaxed));
    rec.add_own(released + found_done);
    let race = Race([rec.end(), CORE1_SPAN.get()]);
    let cs = cs::counts();
    let lock = [cs[0].since(cs0[0]), cs[1].since(cs0[1])];

    check!(c, finished && !CORE1_LATE.load(Relaxed), "core 1 did not finish its rounds");
    check!(c, stopped, "the waiting tasks did not stop");
    check!(c, MISFIRES.load(Relaxed) == 0, "core 1's handler missed {} pends", MISFIRES.load(Relaxed));
    check!(c, short_rounds == 0, "a round ended before all {} tasks resumed", WAITERS);
    check!(c, not_done == 0, "{} rounds not done after complete_all()", not_done);
    check!(c, not_reset == 0, "{} rounds still done after reinit()", not_reset);
    check!(
        c,
        released + found_done == ROUNDS * WAITERS as u32,
        "{} released + {} found done != {} rounds x {} waiters: a wait resumed {}",
        released,
        found_done,
        ROUNDS,
        WAITERS,
        if released + found_done < ROUNDS * WAITERS as u32 { "never" } else { "twice" }
    );
    check!(c, released > 0, "complete_all() never released a queued wait");
    check!(c, !D.is_done(), "done after the last reinit()");
    check!(c, race.overlapped(), "the cores did not overlap: {}", race);
    c.finish(
        "complete_all() in core 1's interrupt releases core 0's queued waiters, then reinit()",
        format_args!(
            "{} rounds x {} waiters in {} ms: {} released from the queue by complete_all(), {} found it done at their first poll; {}; critical-section lock contended: core 0 {} of {}, core 1 {} of {}",
            ROUNDS,
            WAITERS,
            us / 1000,
            released,
            found_done,
            race,
            lock[0].contended,
            lock[0].acquired,
            lock[1].contended,
            lock[1].acquired
        ),
    )
}
