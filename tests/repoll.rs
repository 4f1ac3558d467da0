//! A queued wait re-polled by the task it belongs to takes no lock, under every executor
//! (the `Wait` docs, "Where it may be polled from", and the crate docs' speed notes): the
//! first poll queues (one lock hold), the re-polls that follow compare the task's waker
//! with the stored one lock-free. Some executors hand the task a waker whose clone carries
//! another copy of the vtable (tokio's current-thread runtime and `LocalSet`): the wait
//! remembers the identity of the waker it was passed, not only of the clone it stored.
//!
//! Native only: Miri gives each use of a `RawWakerVTable` constant an address of its own
//! (as `Waker::will_wake`'s docs allow), so a clone of the same waker compares unequal
//! there and the re-poll takes the lock, correctly but not lock-free.
//!
//! Each executor runs [`Repolls`]: a future that queues a wait, wakes its own task eight
//! times (so the executor re-polls it with the task's waker), then completes it. The
//! completion's lock counts its holds.
#![cfg(all(feature = "embassy-sync", feature = "alloc"))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use async_completion::{Completion, OwnedWait};

/// Lock holds of every [`CountLock`] (the tests run one at a time: [`serial`]).
static HOLDS: AtomicUsize = AtomicUsize::new(0);

/// A spin lock that counts its holds.
struct CountLock(AtomicBool);

// SAFETY: the closure runs with the flag held; no other thread can take it meanwhile, and
// the flag is released when the closure returns or unwinds.
unsafe impl embassy_sync::blocking_mutex::raw::RawMutex for CountLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = CountLock(AtomicBool::new(false));

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        HOLDS.fetch_add(1, SeqCst);
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Release);
            }
        }
        while self
            .0
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        let _unlock = Unlock(&self.0);
        f()
    }
}

/// One test at a time: [`HOLDS`] is global.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const REPOLLS: usize = 8;

/// Queues a wait, has its task re-polled [`REPOLLS`] times, then completes and awaits it.
/// Resolves to the lock holds the re-polls took.
struct Repolls {
    c: Arc<Completion<CountLock>>,
    wait: Pin<Box<OwnedWait<CountLock>>>,
    polls: usize,
    before: usize,
}

impl Repolls {
    fn new() -> Self {
        let c = Arc::new(Completion::with_lock());
        let wait = Box::pin(c.clone().wait_owned());
        Self {
            c,
            wait,
            polls: 0,
            before: 0,
        }
    }
}

impl Future for Repolls {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = &mut *self;
        this.polls += 1;
        if this.polls == 1 {
            assert!(this.wait.as_mut().poll(cx).is_pending());
            this.before = HOLDS.load(SeqCst); // after the first poll's one hold
        } else if this.polls <= 1 + REPOLLS {
            assert!(this.wait.as_mut().poll(cx).is_pending());
        } else {
            let repolls = HOLDS.load(SeqCst) - this.before;
            this.c.complete();
            assert!(this.wait.as_mut().poll(cx).is_ready());
            return Poll::Ready(repolls);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn assert_lock_free(executor: &str, holds: usize) {
    assert_eq!(
        holds, 0,
        "{executor}: lock holds taken by {REPOLLS} same-task re-polls"
    );
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn tokio_current_thread_block_on() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_lock_free("current-thread block_on", rt.block_on(Repolls::new()));
}

#[tokio::test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
#[allow(clippy::await_holding_lock)] // the guard only serializes the tests of this file
async fn tokio_test_attribute() {
    let _serial = serial();
    assert_lock_free("#[tokio::test]", Repolls::new().await);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn tokio_current_thread_spawned_task() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let holds = rt.block_on(async { tokio::spawn(Repolls::new()).await.unwrap() });
    assert_lock_free("current-thread spawned task", holds);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn tokio_local_set() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let holds = local.block_on(&rt, async {
        tokio::task::spawn_local(Repolls::new()).await.unwrap()
    });
    assert_lock_free("LocalSet", holds);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn tokio_multi_thread() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    assert_lock_free("multi-thread block_on", rt.block_on(Repolls::new()));
    let holds = rt.block_on(async { tokio::spawn(Repolls::new()).await.unwrap() });
    assert_lock_free("multi-thread spawned task", holds);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn futures_block_on() {
    let _serial = serial();
    assert_lock_free(
        "futures block_on",
        futures::executor::block_on(Repolls::new()),
    );
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn futures_local_pool_spawned_task() {
    use futures::task::LocalSpawnExt;
    let _serial = serial();
    let mut pool = futures::executor::LocalPool::new();
    let handle = pool
        .spawner()
        .spawn_local_with_handle(Repolls::new())
        .unwrap();
    assert_lock_free("futures LocalPool", pool.run_until(handle));
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn async_std_task() {
    let _serial = serial();
    assert_lock_free(
        "async-std block_on",
        async_std::task::block_on(Repolls::new()),
    );
    let holds = async_std::task::block_on(async_std::task::spawn(Repolls::new()));
    assert_lock_free("async-std spawned task", holds);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn embassy_executor_task() {
    let _serial = serial();
    let (tx, rx) = std::sync::mpsc::channel();
    static TX: Mutex<Option<std::sync::mpsc::Sender<usize>>> = Mutex::new(None);
    *TX.lock().unwrap() = Some(tx);

    #[embassy_executor::task]
    async fn task() {
        let holds = Repolls::new().await;
        let _ = TX.lock().unwrap().as_ref().unwrap().send(holds);
    }

    // embassy's executor never returns: it runs on a thread of its own, left running.
    std::thread::spawn(|| {
        let executor = Box::leak(Box::new(embassy_executor::Executor::new()));
        executor.run(|spawner| spawner.spawn(task().unwrap()));
    });
    let holds = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the embassy task ran");
    assert_lock_free("embassy executor", holds);
}

/// A hand-made executor with a std `Wake` waker.
#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn std_wake_waker() {
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, SeqCst);
        }
    }
    let _serial = serial();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut fut = std::pin::pin!(Repolls::new());
    let holds = loop {
        if let Poll::Ready(holds) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            break holds;
        }
        assert!(flag.0.swap(false, SeqCst), "the task woke itself");
    };
    assert_lock_free("std Wake", holds);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn noop_waker() {
    let _serial = serial();
    let mut fut = std::pin::pin!(Repolls::new());
    let holds = loop {
        if let Poll::Ready(holds) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            break holds;
        }
    };
    assert_lock_free("Waker::noop", holds);
}

/// Another waker than the stored one (and than the one it was cloned from) still takes
/// the lock once: the identity check is exact.
#[test]
#[cfg_attr(miri, ignore)] // Miri gives each use of a vtable its own address
fn a_new_waker_is_stored_under_the_lock() {
    let _serial = serial();
    let c = Completion::<CountLock>::with_lock();
    let mut w = std::pin::pin!(c.wait());
    let (a, b) = (Arc::new(Nop), Arc::new(Nop));
    let (a, b) = (Waker::from(a), Waker::from(b));
    assert!(w.as_mut().poll(&mut Context::from_waker(&a)).is_pending());
    let start = HOLDS.load(SeqCst);
    assert!(w.as_mut().poll(&mut Context::from_waker(&b)).is_pending());
    assert_eq!(
        HOLDS.load(SeqCst) - start,
        1,
        "another waker: stored under the lock"
    );
    assert!(w.as_mut().poll(&mut Context::from_waker(&b)).is_pending());
    assert!(w
        .as_mut()
        .poll(&mut Context::from_waker(&a.clone()))
        .is_pending());
    assert_eq!(
        HOLDS.load(SeqCst) - start,
        2,
        "back to the first: stored again"
    );
}

struct Nop;
impl Wake for Nop {
    fn wake(self: Arc<Self>) {}
}

/// Two wakers with the same data pointer but different vtables wake different things:
/// the lock-free identity check must tell them apart (it compares the vtable, or the
/// recorded offset of the vtable the task passed, never the data alone), store the new
/// one under the lock, and the new one is the one woken.
#[test]
fn same_data_another_vtable_is_another_waker() {
    use std::task::{RawWaker, RawWakerVTable};
    static WOKEN: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    unsafe fn clone_a(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE_A)
    }
    unsafe fn clone_b(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE_B)
    }
    unsafe fn wake_a(_: *const ()) {
        WOKEN[0].fetch_add(1, SeqCst);
    }
    unsafe fn wake_b(_: *const ()) {
        WOKEN[1].fetch_add(1, SeqCst);
    }
    unsafe fn drop(_: *const ()) {}
    static VTABLE_A: RawWakerVTable = RawWakerVTable::new(clone_a, wake_a, wake_a, drop);
    static VTABLE_B: RawWakerVTable = RawWakerVTable::new(clone_b, wake_b, wake_b, drop);
    static DATA: u8 = 0;
    let data = (&raw const DATA).cast::<()>();
    // SAFETY: the vtables' functions touch no data: any pointer is fine for them.
    let (a, b) = unsafe {
        (
            Waker::from_raw(RawWaker::new(data, &VTABLE_A)),
            Waker::from_raw(RawWaker::new(data, &VTABLE_B)),
        )
    };
    let _serial = serial();
    let c = Completion::<CountLock>::with_lock();
    let mut w = std::pin::pin!(c.wait());
    assert!(w.as_mut().poll(&mut Context::from_waker(&a)).is_pending());
    let start = HOLDS.load(SeqCst);
    assert!(w.as_mut().poll(&mut Context::from_waker(&b)).is_pending());
    assert_eq!(
        HOLDS.load(SeqCst) - start,
        1,
        "another vtable: stored under the lock"
    );
    c.complete();
    assert_eq!(WOKEN[0].load(SeqCst), 0, "the replaced waker is not woken");
    assert_eq!(
        WOKEN[1].load(SeqCst),
        1,
        "the newest waker is the one woken"
    );
    assert!(w.as_mut().poll(&mut Context::from_waker(&b)).is_ready());
}
