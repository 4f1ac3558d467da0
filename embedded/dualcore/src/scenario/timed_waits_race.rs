//! Timed waits on core 0 racing completions from core 1: core 1's hardware timer (timer 0,
//! enabled in core 1's NVIC only) interrupts every 250 us and its handler calls
//! `complete()`, in bursts (8 periods posting, 8 silent), while four tasks on core 0 loop
//! on `wait_timeout` with 1-3 ms timeouts: two with the closure timer
//! `|d| TickSleep::new(d)` on core 0's SysTick (processor clock, CSR.CLKSOURCE = 1), two
//! with `EmbassyTimer` on the embassy-time driver over the same tick. Every result is
//! `Ok` or `TimedOut`; posted = `Ok` count + banked, exactly (a wait that times out after
//! being handed a completion passes it on). The cores must overlap.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer, TimedOut};
use embassy_executor::Spawner;

use crate::harness::clock::{self, tick_timer};
use crate::harness::overlap::{self, Race, Recorder, SpanCell};
use crate::harness::{check, cores, cs, host_now, host_us_since, tasks_done, Check, TASK_DONE};

const POSTS: u32 = 2_000;
const PERIOD_US: u32 = 250;
const TASKS: usize = 4;

static E: Completion<CriticalSectionLock> = Completion::with_lock();
/// Written by core 1's timer handler only.
static POSTED: AtomicU32 = AtomicU32::new(0);
static TIMER_TICKS: AtomicU32 = AtomicU32::new(0);
static OKS: AtomicU32 = AtomicU32::new(0);
static TIMED_OUT: AtomicU32 = AtomicU32::new(0);
static BY_TIMER: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];
static STOP: AtomicBool = AtomicBool::new(false);
static CORE1_LATE: AtomicBool = AtomicBool::new(false);
static CORE1_SPAN: SpanCell = SpanCell::new();

/// Core 1's timer handler.
fn on_timer() {
    let tick = TIMER_TICKS.load(Relaxed);
    TIMER_TICKS.store(tick + 1, Relaxed);
    let posted = POSTED.load(Relaxed);
    if (tick / 8).is_multiple_of(2) && posted < POSTS {
        E.complete();
        overlap::op_elsewhere();
        POSTED.store(posted + 1, Release);
    }
}

fn core1_job(_: Spawner) {
    let mut rec = Recorder::begin();
    let deadline = clock::ticks() + clock::duration_to_ticks(Duration::from_secs(30));
    cores::core1_timer_start(on_timer, PERIOD_US);
    let mut spins = 0u32;
    while POSTED.load(Acquire) < POSTS {
        spins = spins.wrapping_add(1);
        // The clock takes the critical section: look at it now and then only.
        if spins.is_multiple_of(4096) && clock::ticks() > deadline {
            CORE1_LATE.store(true, Relaxed);
            break;
        }
    }
    cores::core1_timer_stop();
    rec.add_own(POSTED.load(Acquire));
    CORE1_SPAN.set(rec.end());
    cores::core1_done();
}

#[embassy_executor::task(pool_size = TASKS)]
async fn waiter(id: usize) {
    let mut n = id as u64;
    while !STOP.load(Acquire) {
        n += 1;
        let timeout = Duration::from_millis(1 + n % 3);
        let r = if id.is_multiple_of(2) {
            E.wait_timeout(tick_timer, timeout).await
        } else {
            E.wait_timeout(EmbassyTimer, timeout).await
        };
        match r {
            Ok(()) => {
                OKS.fetch_add(1, Relaxed);
                BY_TIMER[id % 2].fetch_add(1, Relaxed);
                overlap::op_elsewhere();
            }
            Err(TimedOut) => {
                TIMED_OUT.fetch_add(1, Relaxed);
            }
        }
    }
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    let (cs0, t0) = (cs::counts(), host_now());
    let mut rec = Recorder::begin();
    for id in 0..TASKS {
        spawner.spawn(waiter(id).unwrap());
    }
    cores::run_on_core1(core1_job);
    let finished = cores::core1_finished(1, Duration::from_secs(40)).await;
    STOP.store(true, Release);
    let stopped = tasks_done(TASKS, Duration::from_secs(2)).await;
    let us = host_us_since(t0);
    let (oks, timed_out) = (OKS.load(Relaxed), TIMED_OUT.load(Relaxed));
    rec.add_own(oks);
    let race = Race([rec.end(), CORE1_SPAN.get()]);
    let cs = cs::counts();
    let lock = [cs[0].since(cs0[0]), cs[1].since(cs0[1])];
    let posted = POSTED.load(Acquire);
    let mut banked = 0u32;
    while banked <= POSTS && E.try_wait() {
        banked += 1;
    }

    check!(c, finished && !CORE1_LATE.load(Relaxed), "core 1's timer did not post its {}", POSTS);
    check!(c, stopped, "the waiting tasks did not stop");
    check!(c, posted == POSTS, "core 1 posted {} of {}", posted, POSTS);
    check!(
        c,
        oks + banked == posted,
        "Ok {} + banked {} != posted {}: completions {}",
        oks,
        banked,
        posted,
        if oks + banked < posted { "lost" } else { "duplicated" }
    );
    check!(c, BY_TIMER[0].load(Relaxed) > 0, "no closure-timer wait got a completion");
    check!(c, BY_TIMER[1].load(Relaxed) > 0, "no EmbassyTimer wait got a completion");
    check!(c, timed_out > 0, "no wait ever timed out");
    check!(c, race.overlapped(), "the cores did not overlap: {}", race);
    c.finish(
        "timed waits on core 0 race completions from core 1's timer interrupt",
        format_args!(
            "core 1's timer ({} us, {} interrupts) posted {} in {} ms = {} Ok ({} closure timer, {} EmbassyTimer) + {} banked; {} timed out; {}; critical-section lock contended: core 0 {} of {}, core 1 {} of {}",
            PERIOD_US,
            TIMER_TICKS.load(Relaxed),
            posted,
            us / 1000,
            oks,
            BY_TIMER[0].load(Relaxed),
            BY_TIMER[1].load(Relaxed),
            banked,
            timed_out,
            race,
            lock[0].contended,
            lock[0].acquired,
            lock[1].contended,
            lock[1].acquired
        ),
    )
}
