//! Small futures: [`yield_now`], [`until`], [`poll_once`], and [`recorded`], which logs the
//! order in which a future's wakers are woken (to see `complete_all()` wake its waiters in
//! FIFO order, independently of the order the executor then polls the tasks in).

use core::cell::RefCell;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use critical_section::Mutex;

/// Returns `Pending` once (waking itself), then `Ready`: lets every other ready task run.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Yields until `condition()` holds, at most 100 times; whether it held.
pub async fn until(condition: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if condition() {
            return true;
        }
        yield_now().await;
    }
    condition()
}

/// Polls `fut` once: `Some(output)` if it was ready, else `None` (and `fut` is dropped).
pub async fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        Poll::Ready(match fut.as_mut().poll(cx) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        })
    })
    .await
}

/// A small fixed-capacity log of ids.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Log {
    ids: [u8; 8],
    len: usize,
}

impl Log {
    pub const fn new() -> Self {
        Self {
            ids: [0; 8],
            len: 0,
        }
    }

    pub fn push(&mut self, id: u8) {
        if self.len < self.ids.len() {
            self.ids[self.len] = id;
        }
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.ids[..self.len.min(self.ids.len())]
    }

    /// Entries pushed, including any beyond the capacity.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl core::fmt::Debug for Log {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A shared [`Log`].
pub struct SharedLog(Mutex<RefCell<Log>>);

impl SharedLog {
    pub const fn new() -> Self {
        Self(Mutex::new(RefCell::new(Log::new())))
    }

    pub fn push(&self, id: u8) {
        critical_section::with(|cs| self.0.borrow_ref_mut(cs).push(id));
    }

    pub fn get(&self) -> Log {
        critical_section::with(|cs| *self.0.borrow_ref(cs))
    }

    pub fn clear(&self) {
        critical_section::with(|cs| *self.0.borrow_ref_mut(cs) = Log::new());
    }
}

/// The order [`recorded`] futures were woken in.
pub static WAKE_LOG: SharedLog = SharedLog::new();

/// One slot per id: the real waker of the task polling `recorded(id, ..)`.
struct Probe {
    id: u8,
    waker: Mutex<RefCell<Option<Waker>>>,
}

const PROBES_LEN: usize = 4;
static PROBES: [Probe; PROBES_LEN] = {
    const fn probe(id: u8) -> Probe {
        Probe {
            id,
            waker: Mutex::new(RefCell::new(None)),
        }
    }
    [probe(0), probe(1), probe(2), probe(3)]
};

// The data pointer is always `&'static Probe`: clone copies it, drop does nothing.
static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &VTABLE),
    wake_probe,
    wake_probe,
    |_| {},
);

fn wake_probe(data: *const ()) {
    // SAFETY: every waker with this vtable was made by `recorded` from a `&'static Probe`.
    let probe = unsafe { &*(data as *const Probe) };
    WAKE_LOG.push(probe.id);
    let waker = critical_section::with(|cs| probe.waker.borrow_ref(cs).clone());
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Runs `fut`, handing it a waker that logs `id` in [`WAKE_LOG`] when woken and then wakes
/// the real task. One `recorded` per id at a time.
pub async fn recorded<F: Future>(id: u8, fut: F) -> F::Output {
    let probe = &PROBES[usize::from(id)];
    // SAFETY: the vtable's contract holds for a `&'static Probe` (see `VTABLE`).
    let waker =
        unsafe { Waker::from_raw(RawWaker::new(probe as *const Probe as *const (), &VTABLE)) };
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        critical_section::with(|cs| *probe.waker.borrow_ref_mut(cs) = Some(cx.waker().clone()));
        fut.as_mut().poll(&mut Context::from_waker(&waker))
    })
    .await
}
