//! A storm: a periodic timer interrupt posts 800 completions while four tasks wait with
//! 1-3 ms timeouts (cancelling all the time), `wait_or` cancellations and queued waits
//! dropped unpolled; nothing is lost, nothing is duplicated: consumed + banked must equal
//! posted exactly.

use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer, TimedOut};
use embassy_executor::Spawner;
use embassy_time::{Instant, Timer};

use crate::harness::clock::{tick_timer, ticks, TickSleep};
use crate::harness::irq;
use crate::harness::probe::{poll_once, yield_now};
use crate::harness::{check, tasks_done, Check, TASK_DONE};

/// Completions posted by the storm timer's interrupt.
static STORM: Completion<CriticalSectionLock> = Completion::with_lock();
const STORM_TASKS: usize = 4;
const STORM_TOTAL: u32 = 800;
/// Posted while the waiters run; the rest after they stopped.
const STORM_WITH_WAITERS: u32 = 700;
const STORM_PERIOD_US: u32 = 700;
static STORM_STOP: AtomicBool = AtomicBool::new(false);

/// What the storm waiters saw, summed over all of them.
#[derive(Default)]
struct StormCounts {
    /// Completions consumed (a wait returned `Ok`, or a re-polled wait was `Ready`).
    consumed: u32,
    /// `wait_timeout` that timed out.
    timeouts: u32,
    /// `wait_or(yield_now())` whose other future won.
    cancelled: u32,
    /// Queued waits dropped unpolled after looking away.
    abandoned: u32,
    /// Queued waits polled again after looking away...
    repolled: u32,
    /// ...and found `Ready`: a completion had been handed to them meanwhile.
    handed_meanwhile: u32,
}

static STORM_COUNTS: critical_section::Mutex<core::cell::RefCell<StormCounts>> =
    critical_section::Mutex::new(core::cell::RefCell::new(StormCounts {
        consumed: 0,
        timeouts: 0,
        cancelled: 0,
        abandoned: 0,
        repolled: 0,
        handed_meanwhile: 0,
    }));

#[embassy_executor::task(pool_size = STORM_TASKS)]
async fn storm_waiter(id: usize) {
    let mut k = StormCounts::default();
    let mut n = id;
    while !STORM_STOP.load(Acquire) {
        n += 1;
        let timeout = Duration::from_micros(500 + 700 * (n % 4) as u64);
        match n % 6 {
            // Cancelled after one trip through the executor, whatever happened meanwhile.
            0 => match STORM.wait_or(yield_now()).await {
                Ok(()) => k.consumed += 1,
                Err(()) => k.cancelled += 1,
            },
            1..=4 => {
                let r = if n % 2 == 1 {
                    STORM.wait_timeout(EmbassyTimer, timeout).await
                } else {
                    STORM.wait_timeout(tick_timer, timeout).await
                };
                match r {
                    Ok(()) => k.consumed += 1,
                    Err(TimedOut) => k.timeouts += 1,
                }
            }
            // Look away: queue a wait, sleep without polling it (the interrupt may hand it
            // a completion meanwhile), then drop it unpolled (what `select!` does to a
            // losing branch: the completion must be passed on), or poll it once more.
            _ => {
                let mut wait = pin!(STORM.wait());
                if poll_once(wait.as_mut()).await.is_some() {
                    k.consumed += 1;
                    continue;
                }
                TickSleep::new(timeout).await;
                if (n / 6).is_multiple_of(2) {
                    k.abandoned += 1;
                } else {
                    k.repolled += 1;
                    if poll_once(wait.as_mut()).await.is_some() {
                        k.consumed += 1;
                        k.handed_meanwhile += 1;
                    }
                }
            }
        }
    }
    critical_section::with(|cs| {
        let mut all = STORM_COUNTS.borrow_ref_mut(cs);
        all.consumed += k.consumed;
        all.timeouts += k.timeouts;
        all.cancelled += k.cancelled;
        all.abandoned += k.abandoned;
        all.repolled += k.repolled;
        all.handed_meanwhile += k.handed_meanwhile;
    });
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    check!(
        c,
        !STORM.is_done(),
        "storm completion done before the storm"
    );
    for id in 0..STORM_TASKS {
        spawner.spawn(storm_waiter(id).unwrap());
    }
    let t0 = ticks();
    // Phase 1: the interrupt posts STORM_WITH_WAITERS while the waiters run.
    irq::storm_start(|| STORM.complete(), STORM_TOTAL, STORM_WITH_WAITERS, STORM_PERIOD_US);
    let limit = Instant::now() + embassy_time::Duration::from_secs(30);
    while irq::storm_posted() < STORM_WITH_WAITERS && Instant::now() < limit {
        Timer::after_millis(5).await;
    }
    STORM_STOP.store(true, Release);
    let stopped = tasks_done(STORM_TASKS, Duration::from_secs(5)).await;
    check!(c, stopped, "the storm waiters did not stop");
    // Phase 2: the rest is posted with nobody waiting: all of it must be banked.
    irq::storm_continue();
    while irq::storm_posted() < STORM_TOTAL && Instant::now() < limit {
        Timer::after_millis(5).await;
    }
    let elapsed = ticks() - t0;
    let posted = irq::storm_posted();
    check!(
        c,
        posted == STORM_TOTAL,
        "the timer posted {} of {}",
        posted,
        STORM_TOTAL
    );

    let k = critical_section::with(|cs| core::mem::take(&mut *STORM_COUNTS.borrow_ref_mut(cs)));
    let mut banked = 0u32;
    while banked <= STORM_TOTAL && STORM.try_wait() {
        banked += 1;
    }
    check!(
        c,
        k.consumed + banked == posted,
        "consumed {} + banked {} != posted {}: completions {}",
        k.consumed,
        banked,
        posted,
        if k.consumed + banked < posted {
            "lost"
        } else {
            "duplicated"
        }
    );
    check!(
        c,
        banked >= STORM_TOTAL - STORM_WITH_WAITERS,
        "banked {} < the {} posted after the waiters stopped",
        banked,
        STORM_TOTAL - STORM_WITH_WAITERS
    );
    check!(c, k.consumed > 0, "no wait ever got a completion");
    check!(c, k.timeouts > 0, "no wait ever timed out");
    check!(c, k.cancelled > 0, "no wait_or was ever cancelled");
    check!(c, k.abandoned > 0, "no queued wait was ever dropped");
    check!(c, !STORM.is_done(), "still done after the bank was drained");
    c.finish(
        "storm: timer IRQ posts while 4 tasks wait with short timeouts",
        format_args!(
            "posted {} ({} with waiters, {} with none) in {} ms = consumed {} + banked {}; {} timed out, {} wait_or cancelled, {} dropped unpolled after looking away ({} of {} re-polled had been handed one meanwhile)",
            posted,
            STORM_WITH_WAITERS,
            STORM_TOTAL - STORM_WITH_WAITERS,
            elapsed,
            k.consumed,
            banked,
            k.timeouts,
            k.cancelled,
            k.abandoned,
            k.handed_meanwhile,
            k.repolled
        ),
    )
}
