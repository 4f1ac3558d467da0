//! async-completion on a microcontroller: real interrupt handlers call `complete()` and
//! `complete_all()`, embassy tasks wait, with and without timeouts. Runs under QEMU on a
//! Cortex-M3 (lm3s6965evb, `thumbv7m-none-eabi`) and a Cortex-M0 without compare-and-swap
//! (micro:bit, `thumbv6m-none-eabi`), from the same source.
//!
//! Prints one line per scenario through semihosting and ends QEMU with exit status 0 only
//! if every check of every scenario held (1 otherwise; a hang is stopped by `run.sh`).

#![no_std]
#![no_main]

mod chip;
mod clock;
mod irq;
mod probe;

use core::cell::Cell;
use core::fmt;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer, TimedOut};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_time::{with_timeout, Instant, Timer};

use clock::{host_micros, ticks, TickSleep};
use irq::{fire, STORM};
use probe::{poll_once, until, yield_now, SharedLog, WAKE_LOG};

/// Counts finished helper tasks: each `complete()`s it once when done; `wait` takes one.
static TASK_DONE: Completion<CriticalSectionLock> = Completion::with_lock();

/// The closure timer: sleeps on the SysTick count, no embassy-time involved.
fn tick_timer(d: Duration) -> TickSleep {
    TickSleep::new(d)
}

/// Waits for `n` helper tasks to finish, at most `limit`; whether they all did.
async fn tasks_done(n: usize, limit: Duration) -> bool {
    for _ in 0..n {
        if with_timeout(embassy_duration(limit), TASK_DONE.wait())
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

fn embassy_duration(d: Duration) -> embassy_time::Duration {
    embassy_time::Duration::from_ticks(clock::duration_to_ticks(d))
}

/// The checks of one scenario: a failed one prints a line at once and fails the scenario.
struct Check {
    failures: u32,
}

impl Check {
    fn new() -> Self {
        Self { failures: 0 }
    }

    fn that(&mut self, ok: bool, what: fmt::Arguments<'_>) {
        if !ok {
            hprintln!("    check failed: {}", what);
            self.failures += 1;
        }
    }

    /// Prints the scenario's line; whether every check held.
    fn finish(self, n: u8, title: &str, details: fmt::Arguments<'_>) -> bool {
        let ok = self.failures == 0;
        hprintln!(
            "[{}] {} {}: {}",
            if ok { "PASS" } else { "FAIL" },
            n,
            title,
            details
        );
        ok
    }
}

macro_rules! check {
    ($c:expr, $cond:expr, $($what:tt)+) => {
        $c.that($cond, format_args!($($what)+))
    };
}

// ---------------------------------------------------------------------------------------
// 1. complete() in an interrupt handler resumes a task queued in wait()

static S1: Completion<CriticalSectionLock> = Completion::with_lock();
static S1_QUEUED: AtomicBool = AtomicBool::new(false);
static S1_RESUMED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn s1_waiter() {
    S1_QUEUED.store(true, Release);
    S1.wait().await;
    S1_RESUMED.store(true, Release);
    TASK_DONE.complete();
}

async fn s1_irq_complete_resumes_waiter(spawner: Spawner) -> bool {
    let mut c = Check::new();
    spawner.spawn(s1_waiter().unwrap());
    // The flag is set in the same poll that queues the wait: once seen, the task waits.
    check!(
        c,
        until(|| S1_QUEUED.load(Acquire)).await,
        "the waiter never ran"
    );
    check!(c, !S1.is_done(), "done before anything was posted");
    check!(
        c,
        !S1.try_wait(),
        "try_wait() succeeded before anything was posted"
    );

    let t0 = ticks();
    check!(
        c,
        fire(|| S1.complete()),
        "the interrupt handler did not run"
    );
    // The handler handed the completion to the queued waiter: nothing is banked, nobody
    // else can take it, and the task has not run yet.
    check!(
        c,
        !S1.is_done(),
        "complete() banked although a waiter was queued"
    );
    check!(
        c,
        !S1.try_wait(),
        "try_wait() took the completion handed to the waiter"
    );
    check!(
        c,
        !S1_RESUMED.load(Acquire),
        "the waiter ran inside the handler"
    );

    let done = tasks_done(1, Duration::from_secs(2)).await;
    check!(
        c,
        done && S1_RESUMED.load(Acquire),
        "the waiter was not resumed"
    );
    check!(
        c,
        !S1.is_done() && !S1.try_wait(),
        "a completion was left over"
    );
    c.finish(
        1,
        "IRQ complete() resumes a task queued in wait()",
        format_args!(
            "handler ran in IRQ {}, handed off (not banked, try_wait false), task resumed after {} ms",
            irq::signal_irq_number(),
            ticks() - t0
        ),
    )
}

// ---------------------------------------------------------------------------------------
// 2. complete() in an interrupt handler with nobody waiting is banked

static S2: Completion<CriticalSectionLock> = Completion::with_lock();

async fn s2_irq_complete_is_banked() -> bool {
    let mut c = Check::new();
    check!(
        c,
        fire(|| S2.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        S2.is_done(),
        "not done after complete() with nobody waiting"
    );
    check!(c, S2.is_done(), "is_done() consumed the completion");
    let taken = (0..4).filter(|_| S2.try_wait()).count();
    check!(
        c,
        taken == 1,
        "{} try_wait() succeeded, expected exactly 1",
        taken
    );
    check!(c, !S2.is_done(), "done after the only completion was taken");
    let late = S2.wait_timeout(tick_timer, Duration::from_millis(5)).await;
    check!(
        c,
        late == Err(TimedOut),
        "a wait after the bank was emptied got {:?}",
        late
    );

    // Three interrupts, three banked completions: exactly three takes.
    let ran = (0..3).filter(|_| fire(|| S2.complete())).count();
    check!(c, ran == 3, "{} of 3 interrupt handlers ran", ran);
    let taken3 = (0..6).filter(|_| S2.try_wait()).count();
    check!(
        c,
        taken3 == 3,
        "{} try_wait() succeeded after 3 banked, expected 3",
        taken3
    );
    c.finish(
        2,
        "IRQ complete() with nobody waiting is banked",
        format_args!(
            "1 posted -> {} taken by try_wait, then wait_timeout {:?}; 3 posted -> {} taken",
            taken, late, taken3
        ),
    )
}

// ---------------------------------------------------------------------------------------
// 3. complete_all() in an interrupt handler releases every queued task in FIFO order, and
//    stays done until reinit()

const S3_WAITERS: usize = 3;
static S3: Completion<CriticalSectionLock> = Completion::with_lock();
static S3_QUEUED: [AtomicBool; S3_WAITERS] = [const { AtomicBool::new(false) }; S3_WAITERS];
static S3_RUN_LOG: SharedLog = SharedLog::new();

#[embassy_executor::task(pool_size = S3_WAITERS)]
async fn s3_waiter(id: u8) {
    S3_QUEUED[usize::from(id)].store(true, Release);
    probe::recorded(id, S3.wait()).await;
    S3_RUN_LOG.push(id);
    TASK_DONE.complete();
}

async fn s3_irq_complete_all(spawner: Spawner) -> bool {
    let mut c = Check::new();
    WAKE_LOG.clear();
    S3_RUN_LOG.clear();
    // Queue the waiters one by one, so the queue order is 0, 1, 2 by construction.
    for id in 0..S3_WAITERS as u8 {
        spawner.spawn(s3_waiter(id).unwrap());
        let queued = until(|| S3_QUEUED[usize::from(id)].load(Acquire)).await;
        check!(c, queued, "waiter {} never ran", id);
    }
    check!(c, !S3.is_done(), "done before complete_all()");

    check!(
        c,
        fire(|| S3.complete_all()),
        "the interrupt handler did not run"
    );
    // The handler woke every waiter, oldest first; none has run yet.
    let woken = WAKE_LOG.get();
    check!(
        c,
        woken.as_slice() == [0, 1, 2],
        "woken in order {:?}, expected [0, 1, 2] (FIFO)",
        woken
    );
    check!(
        c,
        S3_RUN_LOG.get().len() == 0,
        "a waiter ran inside the handler"
    );
    check!(c, S3.is_done(), "not done right after complete_all()");

    let all_ran = tasks_done(S3_WAITERS, Duration::from_secs(2)).await;
    let ran = S3_RUN_LOG.get();
    let mut seen = [false; S3_WAITERS];
    for &id in ran.as_slice() {
        seen[usize::from(id)] = true;
    }
    check!(
        c,
        all_ran && ran.len() == S3_WAITERS && seen.iter().all(|&s| s),
        "released waiters that ran: {:?}",
        ran
    );

    // Sticky: every try_wait and wait succeeds without consuming; complete() changes nothing.
    check!(
        c,
        (0..5).all(|_| S3.try_wait()),
        "try_wait() failed after complete_all()"
    );
    let late = poll_once(S3.wait_timeout(tick_timer, Duration::from_millis(50))).await;
    check!(
        c,
        late == Some(Ok(())),
        "a new wait after complete_all() was not ready at once: {:?}",
        late
    );
    check!(
        c,
        fire(|| S3.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        S3.is_done(),
        "not done after complete() following complete_all()"
    );

    S3.reinit();
    check!(c, !S3.is_done(), "done after reinit()");
    check!(
        c,
        !S3.try_wait(),
        "try_wait() succeeded after reinit(): complete() after complete_all() was banked"
    );
    let after = S3.wait_timeout(tick_timer, Duration::from_millis(5)).await;
    check!(
        c,
        after == Err(TimedOut),
        "a wait after reinit() got {:?}",
        after
    );
    c.finish(
        3,
        "IRQ complete_all() releases every queued task",
        format_args!(
            "queued [0, 1, 2], woken {:?} in the handler (FIFO), polled {:?} by embassy; sticky until reinit()",
            woken, ran
        ),
    )
}

// ---------------------------------------------------------------------------------------
// 4. wait_timeout, both ways, with EmbassyTimer and with a closure timer

static S4: Completion<CriticalSectionLock> = Completion::with_lock();
static S4_FIRED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task(pool_size = 2)]
async fn s4_fire_after_embassy(ms: u64) {
    Timer::after_millis(ms).await;
    S4_FIRED.store(fire(|| S4.complete()), Release);
}

#[embassy_executor::task(pool_size = 2)]
async fn s4_fire_after_ticks(ms: u64) {
    TickSleep::new(Duration::from_millis(ms)).await;
    S4_FIRED.store(fire(|| S4.complete()), Release);
}

/// Times one `wait_timeout` on `timer`: its result, ticks and host microseconds elapsed.
async fn timed<T: async_completion::Timer>(
    timer: T,
    timeout: Duration,
) -> (Result<(), TimedOut>, u64, u64) {
    let (t0, h0) = (ticks(), host_micros().unwrap_or(0));
    let r = S4.wait_timeout(timer, timeout).await;
    (r, ticks() - t0, host_micros().unwrap_or(0) - h0)
}

async fn s4_wait_timeout(spawner: Spawner) -> bool {
    let mut c = Check::new();
    // The closure timer: a sleep on the SysTick count, no embassy-time involved.
    let tick_timer = |d: Duration| TickSleep::new(d);
    check!(
        c,
        host_micros().is_some(),
        "no host clock (semihosting SYS_ELAPSED)"
    );
    const TIMEOUT_MS: u64 = 200;
    const IRQ_AFTER_MS: u64 = 30;
    let timeout = Duration::from_millis(TIMEOUT_MS);

    // Times out, and not early: at least the timeout on the tick clock, and on the host's
    // clock at least the timeout less one tick (the deadline counts from a tick boundary).
    let (r, e_ms, e_host) = timed(EmbassyTimer, timeout).await;
    check!(
        c,
        r == Err(TimedOut),
        "EmbassyTimer: expected a time-out, got {:?}",
        r
    );
    check!(
        c,
        e_ms >= TIMEOUT_MS,
        "EmbassyTimer: timed out early, after {} ms",
        e_ms
    );
    check!(
        c,
        e_host >= (TIMEOUT_MS - 1) * 1000,
        "EmbassyTimer: timed out early on the host clock, after {} us",
        e_host
    );
    check!(
        c,
        e_ms < TIMEOUT_MS + 5_000,
        "EmbassyTimer: timed out late, after {} ms",
        e_ms
    );
    let (rt, t_ms, t_host) = timed(tick_timer, timeout).await;
    check!(
        c,
        rt == Err(TimedOut),
        "closure timer: expected a time-out, got {:?}",
        rt
    );
    check!(
        c,
        t_ms >= TIMEOUT_MS,
        "closure timer: timed out early, after {} ms",
        t_ms
    );
    check!(
        c,
        t_host >= (TIMEOUT_MS - 1) * 1000,
        "closure timer: timed out early on the host clock, after {} us",
        t_host
    );
    check!(
        c,
        t_ms < TIMEOUT_MS + 5_000,
        "closure timer: timed out late, after {} ms",
        t_ms
    );

    // The interrupt wins before the deadline (and the wait really waited for it).
    S4_FIRED.store(false, Relaxed);
    spawner.spawn(s4_fire_after_embassy(IRQ_AFTER_MS).unwrap());
    let (w, w_ms, _) = timed(EmbassyTimer, timeout * 5).await;
    check!(
        c,
        S4_FIRED.load(Acquire),
        "EmbassyTimer: the interrupt did not fire"
    );
    check!(
        c,
        w == Ok(()),
        "EmbassyTimer: expected the interrupt to win, got {:?}",
        w
    );
    check!(
        c,
        (IRQ_AFTER_MS..TIMEOUT_MS * 5).contains(&w_ms),
        "EmbassyTimer: resolved after {} ms",
        w_ms
    );
    S4_FIRED.store(false, Relaxed);
    spawner.spawn(s4_fire_after_ticks(IRQ_AFTER_MS).unwrap());
    let (wt, wt_ms, _) = timed(tick_timer, timeout * 5).await;
    check!(
        c,
        S4_FIRED.load(Acquire),
        "closure timer: the interrupt did not fire"
    );
    check!(
        c,
        wt == Ok(()),
        "closure timer: expected the interrupt to win, got {:?}",
        wt
    );
    check!(
        c,
        (IRQ_AFTER_MS..TIMEOUT_MS * 5).contains(&wt_ms),
        "closure timer: resolved after {} ms",
        wt_ms
    );

    // Duration::MAX waits forever without overflowing, on both timers.
    spawner.spawn(s4_fire_after_embassy(5).unwrap());
    let (m, _, _) = timed(EmbassyTimer, Duration::MAX).await;
    check!(c, m == Ok(()), "EmbassyTimer, Duration::MAX: got {:?}", m);
    spawner.spawn(s4_fire_after_ticks(5).unwrap());
    let (mt, _, _) = timed(tick_timer, Duration::MAX).await;
    check!(
        c,
        mt == Ok(()),
        "closure timer, Duration::MAX: got {:?}",
        mt
    );

    // A zero timeout is a poll: it never queues and never calls the timer.
    let calls = Cell::new(0u32);
    let counting = |d: Duration| {
        calls.set(calls.get() + 1);
        TickSleep::new(d)
    };
    let z_empty = S4.wait_timeout(&counting, Duration::ZERO).await;
    check!(
        c,
        fire(|| S4.complete()),
        "the interrupt handler did not run"
    );
    let z_banked = S4.wait_timeout(&counting, Duration::ZERO).await;
    check!(
        c,
        z_empty == Err(TimedOut) && z_banked == Ok(()),
        "zero timeout: {:?} with nothing banked, {:?} with one",
        z_empty,
        z_banked
    );
    check!(
        c,
        calls.get() == 0,
        "zero timeout called the timer {} times",
        calls.get()
    );

    check!(
        c,
        !S4.is_done() && !S4.try_wait(),
        "a completion was left over"
    );
    c.finish(
        4,
        "wait_timeout: EmbassyTimer on our SysTick driver, and a closure timer",
        format_args!(
            "{} ms timeout -> {:?} after {} ms / {} us host (closure: {} ms / {} us); IRQ at {} ms wins after {} ms (closure: {} ms); Duration::MAX ok; zero timeout polls",
            TIMEOUT_MS, r, e_ms, e_host, t_ms, t_host, IRQ_AFTER_MS, w_ms, wt_ms
        ),
    )
}

// ---------------------------------------------------------------------------------------
// 5. Completion<CriticalSectionRawMutex> (embassy-sync) completed from an interrupt

static S5: Completion<CriticalSectionRawMutex> = Completion::with_lock();
static S5_QUEUED: AtomicBool = AtomicBool::new(false);
static S5_RESULT: AtomicU32 = AtomicU32::new(0); // 0: none, 1: Ok, 2: TimedOut

#[embassy_executor::task]
async fn s5_waiter() {
    S5_QUEUED.store(true, Release);
    let r = S5.wait_timeout(EmbassyTimer, Duration::from_secs(2)).await;
    S5_RESULT.store(if r.is_ok() { 1 } else { 2 }, Release);
    TASK_DONE.complete();
}

async fn s5_embassy_raw_mutex(spawner: Spawner) -> bool {
    let mut c = Check::new();
    spawner.spawn(s5_waiter().unwrap());
    check!(
        c,
        until(|| S5_QUEUED.load(Acquire)).await,
        "the waiter never ran"
    );
    let t0 = ticks();
    check!(
        c,
        fire(|| S5.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        !S5.is_done(),
        "complete() banked although a waiter was queued"
    );
    let done = tasks_done(1, Duration::from_secs(3)).await;
    let waited = ticks() - t0;
    check!(
        c,
        done && S5_RESULT.load(Acquire) == 1,
        "the waiter got {} (1: Ok, 2: TimedOut)",
        S5_RESULT.load(Acquire)
    );
    check!(
        c,
        waited < 2_000,
        "the waiter resumed only after {} ms",
        waited
    );

    check!(
        c,
        fire(|| S5.complete()),
        "the interrupt handler did not run"
    );
    let taken = (0..3).filter(|_| S5.try_wait()).count();
    check!(
        c,
        taken == 1,
        "{} try_wait() succeeded after one banked complete()",
        taken
    );
    check!(
        c,
        fire(|| S5.complete_all()),
        "the interrupt handler did not run"
    );
    let sticky = poll_once(S5.wait()).await.is_some() && S5.try_wait() && S5.is_done();
    check!(c, sticky, "not sticky after complete_all()");
    S5.reinit();
    check!(
        c,
        !S5.is_done() && poll_once(S5.wait()).await.is_none(),
        "still done after reinit()"
    );
    c.finish(
        5,
        "Completion<CriticalSectionRawMutex> (embassy-sync) from an IRQ",
        format_args!(
            "queued task resumed after {} ms; banked 1 -> {} taken; complete_all sticky until reinit()",
            waited, taken
        ),
    )
}

// ---------------------------------------------------------------------------------------
// 6. A storm: a periodic timer interrupt posts completions while tasks wait with short
//    timeouts (cancelling all the time); nothing is lost, nothing is duplicated.

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

async fn s6_storm(spawner: Spawner) -> bool {
    let mut c = Check::new();
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
    irq::storm_start(STORM_TOTAL, STORM_WITH_WAITERS, STORM_PERIOD_US);
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
        6,
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

// ---------------------------------------------------------------------------------------

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut core = cortex_m::Peripherals::take().unwrap();
    clock::start(&mut core.SYST, &mut core.SCB);
    irq::init(&mut core.NVIC);
    hprintln!(
        "async-completion firmware on {}: SysTick {} Hz core clock, {} Hz tick; Completion<CriticalSectionLock> {} B, Wait {} B, WaitTimeout<EmbassyTimer> {} B",
        chip::NAME,
        chip::CORE_HZ,
        clock::TICK_HZ,
        size_of::<Completion<CriticalSectionLock>>(),
        size_of::<async_completion::Wait<'static, CriticalSectionLock>>(),
        size_of::<async_completion::WaitTimeout<'static, embassy_time::Timer, CriticalSectionLock>>(),
    );

    let results = [
        s1_irq_complete_resumes_waiter(spawner).await,
        s2_irq_complete_is_banked().await,
        s3_irq_complete_all(spawner).await,
        s4_wait_timeout(spawner).await,
        s5_embassy_raw_mutex(spawner).await,
        s6_storm(spawner).await,
    ];
    let passed = results.iter().filter(|&&ok| ok).count();
    hprintln!(
        "{} of {} scenarios passed on {}",
        passed,
        results.len(),
        chip::NAME
    );
    debug::exit(if passed == results.len() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("PANIC: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    hprintln!("HARD FAULT: {:?}", frame);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
