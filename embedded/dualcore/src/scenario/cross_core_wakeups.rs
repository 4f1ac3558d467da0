//! Cross-core wake-ups: tasks of core 1's embassy executor woken by `complete()` on core 0,
//! and tasks of core 0's woken by `complete()` on core 1. Two ping-pong chains run at once,
//! one on `Completion<CriticalSectionLock>` (core 0 serves first), one on embassy's
//! `Completion<CriticalSectionRawMutex>` (core 1 serves first): every round, one core
//! completes what a task on the other awaits, then awaits the answer. When a core has
//! nothing left to poll it sleeps in WFI; the waker of its task calls `__pender` on the
//! other core, which rings the sleeping core's MHU doorbell. Checks: every task resumed
//! exactly once per round (posted = consumed, nothing left banked), doorbells rang and
//! were taken on both cores (the pender did wake the other core from sleep), and the
//! cores overlapped.

use core::sync::atomic::{AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;

use crate::harness::cores::{self, Wakes};
use crate::harness::overlap::{self, Race, Recorder, SpanCell};
use crate::harness::{check, cs, host_now, host_us_since, tasks_done, Check, TASK_DONE};

const ROUNDS: u32 = 2_000;

/// Chain A (critical-section lock): core 0 -> core 1, answered core 1 -> core 0.
static A_TO1: Completion<CriticalSectionLock> = Completion::with_lock();
static A_TO0: Completion<CriticalSectionLock> = Completion::with_lock();
/// Chain B (embassy's raw mutex): core 1 -> core 0, answered core 0 -> core 1.
static B_TO0: Completion<CriticalSectionRawMutex> = Completion::with_lock();
static B_TO1: Completion<CriticalSectionRawMutex> = Completion::with_lock();

/// Resumes of each task: a0, b0 (core 0), a1, b1 (core 1).
static RESUMES: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];
/// Core 1's span: from its first task's start to its last task's end.
static CORE1_START: AtomicU32 = AtomicU32::new(u32::MAX);
static CORE1_SPAN: SpanCell = SpanCell::new();
static CORE1_FINISHED: AtomicU32 = AtomicU32::new(0);

#[embassy_executor::task]
async fn a0() {
    for _ in 0..ROUNDS {
        A_TO1.complete();
        A_TO0.wait().await;
        RESUMES[0].fetch_add(1, Relaxed);
        overlap::op_elsewhere();
    }
    TASK_DONE.complete();
}

#[embassy_executor::task]
async fn b0() {
    for _ in 0..ROUNDS {
        B_TO0.wait().await;
        RESUMES[1].fetch_add(1, Relaxed);
        overlap::op_elsewhere();
        B_TO1.complete();
    }
    TASK_DONE.complete();
}

#[embassy_executor::task]
async fn a1() {
    for _ in 0..ROUNDS {
        A_TO1.wait().await;
        RESUMES[2].fetch_add(1, Relaxed);
        overlap::op_elsewhere();
        A_TO0.complete();
    }
    core1_task_done();
    cores::core1_done();
}

#[embassy_executor::task]
async fn b1() {
    for _ in 0..ROUNDS {
        B_TO0.complete();
        B_TO1.wait().await;
        RESUMES[3].fetch_add(1, Relaxed);
        overlap::op_elsewhere();
    }
    core1_task_done();
    cores::core1_done();
}

/// The second of core 1's tasks to finish ends core 1's span (its own operations: its
/// tasks' resumes).
fn core1_task_done() {
    if CORE1_FINISHED.fetch_add(1, AcqRel) == 1 {
        let mut rec = Recorder::begin_at(CORE1_START.load(Acquire));
        rec.add_own(RESUMES[2].load(Relaxed) + RESUMES[3].load(Relaxed));
        CORE1_SPAN.set(rec.end());
    }
}

/// Core 1's part: its two tasks, on its executor.
fn core1_job(spawner: Spawner) {
    CORE1_START.store(Recorder::begin().start(), Release);
    spawner.spawn(a1().unwrap());
    spawner.spawn(b1().unwrap());
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    let (cs0, w0, t0) = (cs::counts(), Wakes::now(), host_now());
    let mut rec = Recorder::begin();
    cores::run_on_core1(core1_job);
    spawner.spawn(a0().unwrap());
    spawner.spawn(b0().unwrap());
    let core1 = cores::core1_finished(2, Duration::from_secs(60)).await;
    check!(c, core1, "core 1's tasks did not finish");
    let core0 = tasks_done(2, Duration::from_secs(60)).await;
    check!(c, core0, "core 0's tasks did not finish");
    let us = host_us_since(t0);
    let w = Wakes::now().since(w0);
    let cs = cs::counts();
    let lock = [cs[0].since(cs0[0]), cs[1].since(cs0[1])];

    let resumes = RESUMES.each_ref().map(|r| r.load(Relaxed));
    rec.add_own(resumes[0] + resumes[1]);
    let race = Race([rec.end(), CORE1_SPAN.get()]);
    let mut banked = 0u32;
    while A_TO0.try_wait() || A_TO1.try_wait() || B_TO0.try_wait() || B_TO1.try_wait() {
        banked += 1;
    }
    let consumed: u32 = resumes.iter().sum();
    check!(
        c,
        resumes == [ROUNDS; 4],
        "resumes (a0, b0, a1, b1) {:?}, not {} each",
        resumes,
        ROUNDS
    );
    check!(
        c,
        consumed + banked == 4 * ROUNDS,
        "consumed {} + banked {} != posted {}",
        consumed,
        banked,
        4 * ROUNDS
    );
    check!(c, banked == 0, "{} completions were left banked", banked);
    check!(c, race.overlapped(), "the cores did not overlap: {}", race);
    for core in 0..2 {
        check!(
            c,
            w.pended_from_other[core] > 0,
            "no task of core {} was woken from the other core",
            core
        );
        check!(
            c,
            w.doorbells[core] > 0 && w.doorbell_irqs[core] > 0,
            "core {} never slept while the other woke it: {} doorbells rung, {} taken",
            core,
            w.doorbells[core],
            w.doorbell_irqs[core]
        );
    }
    c.finish(
        "cross-core wake-ups: each core's executor tasks woken by complete() on the other",
        format_args!(
            "{} rounds x 2 chains (CriticalSectionLock, CriticalSectionRawMutex) in {} ms ({} us per round): posted {} = consumed {} + banked {}; {}; wakes from the other core: core 0 {}, core 1 {}; doorbells rung for a sleeping core / taken: core 0 {} / {}, core 1 {} / {}; WFI sleeps: core 0 {}, core 1 {}; critical-section lock contended: core 0 {} of {}, core 1 {} of {}",
            ROUNDS,
            us / 1000,
            us / u64::from(ROUNDS),
            4 * ROUNDS,
            consumed,
            banked,
            race,
            w.pended_from_other[0],
            w.pended_from_other[1],
            w.doorbells[0],
            w.doorbell_irqs[0],
            w.doorbells[1],
            w.doorbell_irqs[1],
            w.sleeps[0],
            w.sleeps[1],
            lock[0].contended,
            lock[0].acquired,
            lock[1].contended,
            lock[1].acquired
        ),
    )
}
