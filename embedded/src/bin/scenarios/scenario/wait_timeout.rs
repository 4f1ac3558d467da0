//! `wait_timeout` with `EmbassyTimer` (on the firmware's SysTick driver) and with a closure
//! timer: times out, not early (on the tick clock and on the host's clock), and loses to an
//! interrupt before the deadline; `Duration::MAX` waits forever; a zero timeout polls
//! without calling the timer.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer, TimedOut};
use embassy_executor::Spawner;
use embassy_time::Timer;

use crate::harness::clock::{host_micros, ticks, TickSleep};
use crate::harness::irq::fire;
use crate::harness::{check, Check};

/// The completion under test.
static C: Completion<CriticalSectionLock> = Completion::with_lock();
static FIRED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task(pool_size = 2)]
async fn fire_after_embassy(ms: u64) {
    Timer::after_millis(ms).await;
    FIRED.store(fire(|| C.complete()), Release);
}

#[embassy_executor::task(pool_size = 2)]
async fn fire_after_ticks(ms: u64) {
    TickSleep::new(Duration::from_millis(ms)).await;
    FIRED.store(fire(|| C.complete()), Release);
}

/// Times one `wait_timeout` on `timer`: its result, ticks and host microseconds elapsed.
async fn timed<T: async_completion::Timer>(
    timer: T,
    timeout: Duration,
) -> (Result<(), TimedOut>, u64, u64) {
    let (t0, h0) = (ticks(), host_micros().unwrap_or(0));
    let r = C.wait_timeout(timer, timeout).await;
    (r, ticks() - t0, host_micros().unwrap_or(0) - h0)
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
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
    FIRED.store(false, Relaxed);
    spawner.spawn(fire_after_embassy(IRQ_AFTER_MS).unwrap());
    let (w, w_ms, _) = timed(EmbassyTimer, timeout * 5).await;
    check!(
        c,
        FIRED.load(Acquire),
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
    FIRED.store(false, Relaxed);
    spawner.spawn(fire_after_ticks(IRQ_AFTER_MS).unwrap());
    let (wt, wt_ms, _) = timed(tick_timer, timeout * 5).await;
    check!(
        c,
        FIRED.load(Acquire),
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
    spawner.spawn(fire_after_embassy(5).unwrap());
    let (m, _, _) = timed(EmbassyTimer, Duration::MAX).await;
    check!(c, m == Ok(()), "EmbassyTimer, Duration::MAX: got {:?}", m);
    spawner.spawn(fire_after_ticks(5).unwrap());
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
    let z_empty = C.wait_timeout(&counting, Duration::ZERO).await;
    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    let z_banked = C.wait_timeout(&counting, Duration::ZERO).await;
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
        !C.is_done() && !C.try_wait(),
        "a completion was left over"
    );
    c.finish(
        "wait_timeout: EmbassyTimer on our SysTick driver, and a closure timer",
        format_args!(
            "{} ms timeout -> {:?} after {} ms / {} us host (closure: {} ms / {} us); IRQ at {} ms wins after {} ms (closure: {} ms); Duration::MAX ok; zero timeout polls",
            TIMEOUT_MS, r, e_ms, e_host, t_ms, t_host, IRQ_AFTER_MS, w_ms, wt_ms
        ),
    )
}
