//! Fault injection for `tests/faults.rs`: wakers that panic on their k-th `clone`, `wake`
//! or `drop`, an embassy `RawMutex` that panics on its k-th acquisition (feature
//! `embassy-sync`), futures (sleeps, `wait_or`'s other future) that panic or run a hook,
//! a panic hook that keeps injected panics quiet, and a helper to run a test body in a
//! child process (for the faults after which the crate aborts by design).
//!
//! Two ways to inject a fault:
//! - per waker: [`Probe::builder`] sets the k-th clone/wake/drop *of that waker* to panic;
//! - per thread: [`arm`] with a [`Site`] and `k` makes the k-th operation of that kind
//!   (over every probe waker, or every [`FaultLock`] acquisition) made on this thread
//!   panic, while [`count`] tells how many such operations a fault-free run made. This is
//!   what "for every k a scenario reaches" runs on.
//!
//! Every injected panic has an [`Injected`] payload, so tests can tell it from a panic of
//! the crate itself, and [`quiet_injected_panics`] keeps them off stderr.
#![allow(dead_code)]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// Where an injected fault happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// A [`FaultLock`] acquisition, panicking before the closure runs.
    Lock,
    /// A [`FaultLock`] acquisition, panicking after the closure ran (its effect stands).
    /// Counted with [`Site::Lock`] (one count of acquisitions); the panic's payload is
    /// `Injected(Site::Lock)`.
    LockAfter,
    /// A waker `clone` made by the crate.
    Clone,
    /// A waker `wake`/`wake_by_ref`.
    Wake,
    /// A waker `drop` (of a clone made by the crate).
    Drop,
    /// User code other than a waker or a lock: a timer, a sleep, `wait_or`'s other future.
    Other,
}

/// The payload of every injected panic.
#[derive(Debug)]
pub struct Injected(pub Site);

/// The injected site of a caught panic payload; `None` for any other panic.
pub fn injected(payload: &(dyn std::any::Any + Send)) -> Option<Site> {
    payload.downcast_ref::<Injected>().map(|i| i.0)
}

/// Panics with an [`Injected`] payload.
pub fn inject(site: Site) -> ! {
    std::panic::panic_any(Injected(site))
}

/// Installs (once per process) a panic hook that prints nothing for [`Injected`] panics and
/// defers to the previous hook for every other panic.
pub fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        #[allow(deprecated)] // `PanicHookInfo` is 1.81; the alias works from the MSRV on
        let hook = move |info: &std::panic::PanicInfo<'_>| {
            if info.payload().downcast_ref::<Injected>().is_none() {
                previous(info);
            }
        };
        std::panic::set_hook(Box::new(hook));
    });
}

/// Runs `f`, catching a panic; a panic that was not injected is resumed (the test fails
/// with the crate's own message).
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Site> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) => match injected(&*payload) {
            Some(site) => Err(site),
            None => std::panic::resume_unwind(payload),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The per-thread plan: count operations by site, and fail the k-th one of one site.

/// What a [`FaultLock`] acquisition was part of, for classifying the faults after which
/// the crate must abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Anything that may unwind: a poll, a `complete*`, a drop of a wait that holds nothing.
    Other(&'static str),
    /// The drop of a wait that is queued (its node must be unlinked).
    DropQueued,
    /// The drop of a wait that was handed a completion it must pass on.
    DropHanded,
}

/// One lock acquisition seen by the plan.
#[derive(Clone, Copy, Debug)]
pub struct Acquisition {
    pub phase: Phase,
    /// Which acquisition of its phase (1-based: the first lock hold of an operation is 1).
    pub nth_in_phase: usize,
    /// Whether the thread was already unwinding from a panic.
    pub unwinding: bool,
}

impl Acquisition {
    /// Whether a panic of the lock here (before or after its closure) must abort the
    /// process (crate docs, "Which lock, and interrupt safety": a queued wait being
    /// dropped cannot unwind): inside the drop of a queued or handed wait, or while
    /// unwinding (a second panic).
    pub fn must_abort(&self) -> bool {
        self.unwinding || matches!(self.phase, Phase::DropQueued | Phase::DropHanded)
    }

    /// The cause the crate names on stderr when it aborts for a lock panic here
    /// (`async-completion: the lock panicked while {cause}`): the drop of a queued wait,
    /// of a handed one (passing its completion on), and the release of a `complete_all`
    /// or `complete_waiters` drain during unwinding. `None` for the other aborts (a second
    /// panic elsewhere: the runtime's).
    pub fn expected_cause(&self) -> Option<&'static str> {
        match self.phase {
            Phase::DropQueued => Some("a queued wait was being dropped"),
            Phase::DropHanded => Some("a dropped wait was passing on its completion"),
            Phase::Other("complete_all") if self.unwinding => {
                Some("complete_all() was releasing waiters")
            }
            Phase::Other("complete_waiters") if self.unwinding => {
                Some("complete_waiters() was releasing waiters")
            }
            _ => None,
        }
    }
}

#[derive(Default)]
struct Plan {
    armed: bool,
    fail: Option<(Site, usize)>,
    /// Operations seen while armed: lock, clone, wake, drop.
    counts: [usize; 4],
    fired: Option<Site>,
    phase: Option<Phase>,
    in_phase: usize,
    log: Vec<Acquisition>,
}

fn index(site: Site) -> usize {
    match site {
        Site::Lock | Site::LockAfter => 0,
        Site::Clone => 1,
        Site::Wake => 2,
        Site::Drop => 3,
        Site::Other => unreachable!("not counted"),
    }
}

thread_local! {
    static PLAN: RefCell<Plan> = RefCell::new(Plan::default());
}

/// Starts counting operations on this thread; with `fail = Some((site, k))` the k-th
/// operation of `site` (1-based) panics. Resets the counts and the lock log.
pub fn arm(fail: Option<(Site, usize)>) {
    PLAN.with(|p| {
        *p.borrow_mut() = Plan {
            armed: true,
            fail,
            ..Plan::default()
        }
    });
}

/// Stops counting and failing on this thread.
pub fn disarm() {
    PLAN.with(|p| p.borrow_mut().armed = false);
}

/// How many operations of `site` this thread made since [`arm`].
pub fn count(site: Site) -> usize {
    PLAN.with(|p| p.borrow().counts[index(site)])
}

/// The armed fault: which site, and which operation of it (1-based).
pub fn armed_fault() -> Option<(Site, usize)> {
    PLAN.with(|p| p.borrow().fail)
}

/// The site whose armed fault fired since [`arm`], if any.
pub fn fired() -> Option<Site> {
    PLAN.with(|p| p.borrow().fired)
}

/// The lock acquisitions seen since [`arm`].
pub fn lock_log() -> Vec<Acquisition> {
    PLAN.with(|p| p.borrow().log.clone())
}

/// Labels the lock acquisitions made by `f` (for [`Acquisition::must_abort`]).
pub fn in_phase<R>(phase: Phase, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Phase>, usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            let (old, n) = (self.0, self.1);
            let _ = PLAN.try_with(|p| {
                let mut p = p.borrow_mut();
                p.phase = old;
                p.in_phase = n;
            });
        }
    }
    let (old, n) = PLAN.with(|p| {
        let mut p = p.borrow_mut();
        (p.phase.replace(phase), std::mem::take(&mut p.in_phase))
    });
    let _restore = Restore(old, n);
    f()
}

/// Counts one operation of `site` if armed; panics if it is the one to fail. For a lock
/// acquisition, returns whether it must panic after its closure instead.
fn step(site: Site) -> bool {
    let (before, after) = PLAN
        .try_with(|p| {
            let mut p = p.borrow_mut();
            if !p.armed {
                return (false, false);
            }
            let i = index(site);
            p.counts[i] += 1;
            let n = p.counts[i];
            if site == Site::Lock {
                let phase = p.phase.unwrap_or(Phase::Other(""));
                p.in_phase += 1;
                let nth_in_phase = p.in_phase;
                p.log.push(Acquisition {
                    phase,
                    nth_in_phase,
                    unwinding: std::thread::panicking(),
                });
            }
            let before = p.fail == Some((site, n));
            let after = site == Site::Lock && p.fail == Some((Site::LockAfter, n));
            if before {
                p.fired = Some(site);
            }
            if after {
                p.fired = Some(Site::LockAfter);
            }
            (before, after)
        })
        .unwrap_or((false, false));
    if before {
        inject(site);
    }
    after
}

// ---------------------------------------------------------------------------------------
// Probe wakers.

type Hook = Box<dyn Fn() + Send + Sync>;

/// The shared inside of a probe waker: counters, per-probe faults and hooks, and the
/// number of wakes the test's model expects.
pub struct Probe {
    clones: AtomicUsize,
    wakes: AtomicUsize,
    drops: AtomicUsize,
    panic_clone: usize,
    panic_wake: usize,
    panic_drop: usize,
    on_clone: Option<Hook>,
    on_wake: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Wakers of this probe alive (the test's and the crate's).
    alive: AtomicUsize,
    /// Wakes the test expects (maintained by the test's model).
    pub expected: AtomicUsize,
}

/// Builds a [`Probe`]: which of its own clone/wake/drop (1-based, 0 = never) panics.
#[derive(Default)]
pub struct ProbeBuilder {
    panic_clone: usize,
    panic_wake: usize,
    panic_drop: usize,
    on_clone: Option<Hook>,
}

impl ProbeBuilder {
    pub fn panic_on_clone(mut self, k: usize) -> Self {
        self.panic_clone = k;
        self
    }
    pub fn panic_on_wake(mut self, k: usize) -> Self {
        self.panic_wake = k;
        self
    }
    pub fn panic_on_drop(mut self, k: usize) -> Self {
        self.panic_drop = k;
        self
    }
    /// Runs `hook` on every clone (before a clone fault, if any).
    pub fn on_clone(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_clone = Some(Box::new(hook));
        self
    }
    pub fn build(self) -> Arc<Probe> {
        Arc::new(Probe {
            clones: AtomicUsize::new(0),
            wakes: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            panic_clone: self.panic_clone,
            panic_wake: self.panic_wake,
            panic_drop: self.panic_drop,
            on_clone: self.on_clone,
            on_wake: Mutex::new(None),
            alive: AtomicUsize::new(0),
            expected: AtomicUsize::new(0),
        })
    }
}

impl Probe {
    /// A probe with no fault of its own.
    pub fn new() -> Arc<Probe> {
        ProbeBuilder::default().build()
    }

    pub fn builder() -> ProbeBuilder {
        ProbeBuilder::default()
    }

    /// A waker for this probe, held by the test: not counted, and dropping it is not a
    /// fault. The crate's clones of it are counted, and may panic. All of them (this one
    /// included) share one data pointer and vtable, so `will_wake` sees the same waker.
    pub fn waker(self: &Arc<Self>) -> RootWaker {
        self.alive.fetch_add(1, SeqCst);
        let data = Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: `data` is an `Arc<Probe>` reference owned by the new waker; the vtable's
        // functions uphold the `RawWaker` contract (see below).
        let waker = unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) };
        RootWaker {
            waker: std::mem::ManuallyDrop::new(waker),
            data: data.cast(),
        }
    }

    /// Times this probe was woken (`wake` or `wake_by_ref`).
    pub fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }

    /// Clones the crate made of this probe's wakers.
    pub fn clones(&self) -> usize {
        self.clones.load(SeqCst)
    }

    /// Clones dropped (not woken) by the crate.
    pub fn drops(&self) -> usize {
        self.drops.load(SeqCst)
    }

    /// Wakers of this probe alive now (the test's own and the crate's clones).
    pub fn live(&self) -> usize {
        self.alive.load(SeqCst)
    }

    /// Runs `hook` (once) at the next wake.
    pub fn on_next_wake(&self, hook: impl FnOnce() + Send + 'static) {
        *self.on_wake.lock().unwrap() = Some(Box::new(hook));
    }

    /// The model expects one more wake of this probe.
    pub fn expect_wake(&self) {
        self.expected.fetch_add(1, SeqCst);
    }

    pub fn expected_wakes(&self) -> usize {
        self.expected.load(SeqCst)
    }
}

/// A waker the test made with [`Probe::waker`]; derefs to the `Waker`. Its drop gives its
/// reference back without counting a `drop` (only the crate's drops are counted).
pub struct RootWaker {
    waker: std::mem::ManuallyDrop<Waker>,
    data: *const Probe,
}

impl std::ops::Deref for RootWaker {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

impl Drop for RootWaker {
    fn drop(&mut self) {
        drop(Release(self.data));
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_clone);

/// Gives back one `Arc<Probe>` reference, also when unwinding.
struct Release(*const Probe);

impl Drop for Release {
    fn drop(&mut self) {
        // SAFETY: the reference is still ours.
        unsafe { &*self.0 }.alive.fetch_sub(1, SeqCst);
        // SAFETY: every waker owns one reference, given back exactly once.
        unsafe { Arc::decrement_strong_count(self.0) }
    }
}

unsafe fn probe<'a>(data: *const ()) -> &'a Probe {
    // SAFETY: `data` is a live `Arc<Probe>` reference (the waker's).
    unsafe { &*data.cast::<Probe>() }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned is alive.
    let p = unsafe { probe(data) };
    let n = p.clones.fetch_add(1, SeqCst) + 1;
    if let Some(hook) = &p.on_clone {
        hook();
    }
    step(Site::Clone);
    if n == p.panic_clone {
        inject(Site::Clone);
    }
    // SAFETY: as above; the new waker owns the new reference.
    unsafe { Arc::increment_strong_count(data.cast::<Probe>()) };
    p.alive.fetch_add(1, SeqCst);
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    let _release = Release(data.cast());
    // SAFETY: the waker is alive until `_release` runs.
    unsafe { wake_by_ref(data) }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker is alive.
    let p = unsafe { probe(data) };
    let n = p.wakes.fetch_add(1, SeqCst) + 1;
    let hook = p.on_wake.lock().unwrap().take();
    if let Some(hook) = hook {
        hook();
    }
    step(Site::Wake);
    if n == p.panic_wake {
        inject(Site::Wake);
    }
}

unsafe fn drop_clone(data: *const ()) {
    let _release = Release(data.cast());
    // SAFETY: the waker is alive until `_release` runs.
    let p = unsafe { probe(data) };
    let n = p.drops.fetch_add(1, SeqCst) + 1;
    step(Site::Drop);
    if n == p.panic_drop {
        inject(Site::Drop);
    }
}

// ---------------------------------------------------------------------------------------
// A controllable future: a sleep, or `wait_or`'s other future.

/// The test's handle on a [`Gate`]: open it, make it panic, or give it a hook to run in
/// its next poll.
#[derive(Default)]
pub struct GateCtl {
    open: AtomicBool,
    panic_poll: AtomicBool,
    panic_drop: AtomicBool,
    polls: AtomicUsize,
    drops: AtomicUsize,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl GateCtl {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }
    /// The gate is ready from its next poll on.
    pub fn open(&self) {
        self.open.store(true, SeqCst);
    }
    pub fn is_open(&self) -> bool {
        self.open.load(SeqCst)
    }
    pub fn panic_in_poll(&self, on: bool) {
        self.panic_poll.store(on, SeqCst);
    }
    pub fn panic_in_drop(&self, on: bool) {
        self.panic_drop.store(on, SeqCst);
    }
    /// Runs `hook` at the start of the next poll (before deciding whether it is ready).
    pub fn on_next_poll(&self, hook: impl FnOnce() + Send + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(hook));
    }
    pub fn polls(&self) -> usize {
        self.polls.load(SeqCst)
    }
    pub fn drops(&self) -> usize {
        self.drops.load(SeqCst)
    }
    /// A gate future controlled by this handle.
    pub fn gate(self: &Arc<Self>) -> Gate {
        Gate(self.clone())
    }
}

/// A future that is pending until its [`GateCtl`] opens it; output `7`.
pub struct Gate(Arc<GateCtl>);

impl std::future::Future for Gate {
    type Output = u32;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        let ctl = &self.0;
        ctl.polls.fetch_add(1, SeqCst);
        let hook = ctl.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        if ctl.panic_poll.load(SeqCst) {
            inject(Site::Other);
        }
        if ctl.open.load(SeqCst) {
            std::task::Poll::Ready(7)
        } else {
            std::task::Poll::Pending
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, SeqCst);
        if self.0.panic_drop.load(SeqCst) && !std::thread::panicking() {
            inject(Site::Other);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The test lock (feature `embassy-sync`).

/// An embassy `RawMutex` with real mutual exclusion (a spinlock) that counts its
/// acquisitions on the plan of the calling thread and panics on the armed one: before
/// running the closure ([`arm`] with [`Site::Lock`]), or after it ran
/// ([`Site::LockAfter`]: the closure's effect stands, then the lock panics).
#[cfg(feature = "embassy-sync")]
#[derive(Debug)]
pub struct FaultLock(AtomicBool);

#[cfg(feature = "embassy-sync")]
// SAFETY: while the closure runs the flag is held, and no other thread can take it.
unsafe impl embassy_sync::blocking_mutex::raw::RawMutex for FaultLock {
    const INIT: Self = FaultLock(AtomicBool::new(false));

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        let panic_after = step(Site::Lock);
        let r = spin_locked(&self.0, f);
        if panic_after {
            // The closure's output is dropped during the unwinding, as with a real lock
            // whose release panics.
            let _output = r;
            inject(Site::Lock);
        }
        r
    }
}

/// Runs `f` holding the spinlock `flag` (released also when `f` unwinds).
#[cfg(feature = "embassy-sync")]
fn spin_locked<R>(flag: &AtomicBool, f: impl FnOnce() -> R) -> R {
    struct Unlock<'a>(&'a AtomicBool);
    impl Drop for Unlock<'_> {
        fn drop(&mut self) {
            self.0.store(false, SeqCst);
        }
    }
    while flag.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
        std::hint::spin_loop();
    }
    let _unlock = Unlock(flag);
    f()
}

/// Like embassy's `ThreadModeRawMutex` on its `std` build (which panics when locked off the
/// thread named "main"): panics unless the calling thread called [`ThreadModeLock::enter`].
#[cfg(feature = "embassy-sync")]
#[derive(Debug)]
pub struct ThreadModeLock(AtomicBool);

#[cfg(feature = "embassy-sync")]
thread_local! {
    static THREAD_MODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(feature = "embassy-sync")]
impl ThreadModeLock {
    /// This thread is "thread mode" from now on: it may lock.
    pub fn enter() {
        THREAD_MODE.with(|t| t.set(true));
    }
}

#[cfg(feature = "embassy-sync")]
// SAFETY: as `FaultLock`.
unsafe impl embassy_sync::blocking_mutex::raw::RawMutex for ThreadModeLock {
    const INIT: Self = ThreadModeLock(AtomicBool::new(false));

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        assert!(
            THREAD_MODE.with(std::cell::Cell::get),
            "ThreadModeLock can only be locked from thread mode."
        );
        spin_locked(&self.0, f)
    }
}
