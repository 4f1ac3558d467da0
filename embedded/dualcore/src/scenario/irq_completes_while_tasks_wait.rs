//! Core 1's interrupt handler completes, core 0's tasks wait: core 1's thread mode pends
//! its own SIGNAL interrupt (in its own NVIC) again and again, and the handler calls
//! `complete()` on a `Completion<CriticalSectionLock>`, while on core 0 four embassy tasks
//! `wait().await` it (with a timeout, so that they can stop: a timed-out wait is dropped
//! while queued, and a completion handed to it meanwhile is passed on) and a fifth calls
//! `try_wait()` between yields. Every completion is accounted for: posted = consumed by
//! the waits + taken by `try_wait` + banked at the end, exactly. The cores must overlap.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;
use embassy_time::with_timeout;

use crate::harness::overlap::{self, Race, Recorder, SpanCell};
use crate::harness::probe::yield_now;
use crate::harness::{check, cores, cs, host_now, host_us_since, tasks_done, Check, TASK_DONE};

/// Interrupts core 1 takes, each posting one completion.
const POSTS: u32 = 100_000;
const WAITERS: usize = 4;

static C: Completion<CriticalSectionLock> = Completion::with_lock();
static STOP: AtomicBool = AtomicBool::new(false);
/// Written by core 1's handler only.
static POSTED: AtomicU32 = AtomicU32::new(0);
static MISFIRES: AtomicU32 = AtomicU32::new(0);
static WAITED: AtomicU32 = AtomicU32::new(0);
static TRIED: AtomicU32 = AtomicU32::new(0);
static CORE1_SPAN: SpanCell = SpanCell::new();

/// Core 1's SIGNAL handler.
fn post() {
    C.complete();
    POSTED.store(POSTED.load(Relaxed) + 1, Relaxed);
    overlap::op_elsewhere();
}

/// Core 1's part, in its thread mode.
fn core1_job(_: Spawner) {
    let mut rec = Recorder::begin();
    let mut misfires = 0;
    for _ in 0..POSTS {
        if !cores::fire_core1(post) {
            misfires += 1;
        }
    }
    rec.add_own(POSTS - misfires);
    CORE1_SPAN.set(rec.end());
    MISFIRES.store(misfires, Relaxed);
    cores::core1_done();
}

#[embassy_executor::task(pool_size = WAITERS)]
async fn waiter() {
    loop {
        match with_timeout(embassy_time::Duration::from_millis(20), C.wait()).await {
            Ok(()) => {
                WAITED.fetch_add(1, Relaxed);
                overlap::op_elsewhere();
            }
            Err(_) => {
                if STOP.load(Acquire) {
                    break;
                }
            }
        }
    }
    TASK_DONE.complete();
}

#[embassy_executor::task]
async fn trier() {
    while !STOP.load(Acquire) {
        if C.try_wait() {
            TRIED.fetch_add(1, Relaxed);
            overlap::op_elsewhere();
        }
        yield_now().await;
    }
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    let cs0 = cs::counts();
    let t0 = host_now();
    let mut rec = Recorder::begin();
    for _ in 0..WAITERS {
        spawner.spawn(waiter().unwrap());
    }
    spawner.spawn(trier().unwrap());
    cores::run_on_core1(core1_job);
    let finished = cores::core1_finished(1, Duration::from_secs(90)).await;
    check!(c, finished, "core 1 did not finish its {} interrupts", POSTS);
    STOP.store(true, Release);
    let stopped = tasks_done(WAITERS + 1, Duration::from_secs(2)).await;
    check!(c, stopped, "the waiting tasks did not stop");
    let (waited, tried) = (WAITED.load(Relaxed), TRIED.load(Relaxed));
    rec.add_own(waited + tried);
    let race = Race([rec.end(), CORE1_SPAN.get()]);
    let us = host_us_since(t0);
    let cs = cs::counts();
    let lock = [cs[0].since(cs0[0]), cs[1].since(cs0[1])];

    let posted = POSTED.load(Relaxed);
    let mut banked = 0u32;
    while banked <= POSTS && C.try_wait() {
        banked += 1;
    }
    check!(c, MISFIRES.load(Relaxed) == 0, "core 1's handler missed {} pends", MISFIRES.load(Relaxed));
    check!(c, posted == POSTS, "core 1's handler posted {} of {}", posted, POSTS);
    check!(
        c,
        waited + tried + banked == posted,
        "waits {} + try_wait {} + banked {} != posted {}: completions {}",
        waited,
        tried,
        banked,
        posted,
        if waited + tried + banked < posted { "lost" } else { "duplicated" }
    );
    check!(c, waited > 0, "no wait ever got a completion");
    check!(c, tried > 0, "try_wait never took one");
    check!(c, race.overlapped(), "the cores did not overlap: {}", race);
    c.finish(
        "core 1's interrupt handler completes while core 0's tasks wait and try_wait",
        format_args!(
            "{} interrupts on core 1 posted {} = {} waits + {} try_wait + {} banked, in {} ms; {}; critical-section lock: core 0 {} of {} acquisitions contended ({} failed attempts), core 1 {} of {} ({})",
            POSTS,
            posted,
            waited,
            tried,
            banked,
            us / 1000,
            race,
            lock[0].contended,
            lock[0].acquired,
            lock[0].failed,
            lock[1].contended,
            lock[1].acquired,
            lock[1].failed
        ),
    )
}
