//! `complete_all` releases waiters in batches of 32 with the lock released between
//! batches. These tests act between batches from inside a waker (which `complete_all`
//! calls between batches): dropping waiters not yet released, registering new ones,
//! `reinit`, and a panicking waker.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_completion::{Completion, Wait};

mod common;

use common::{counting_waker, expect_panic, panicking_waker, TestWaker};

/// Waiters on one `'static` completion, shared with waker hooks.
struct Waiters {
    slots: Mutex<Vec<Option<Pin<Box<Wait<'static>>>>>>,
    wakers: Vec<(Arc<TestWaker>, Waker)>,
}

impl Waiters {
    /// `n` waiters, each polled once (so queued in order), with waker `i` panicking
    /// if `i` is in `panicking`.
    fn queue(c: &'static Completion, n: usize, panicking: &[usize]) -> Arc<Self> {
        let wakers: Vec<_> = (0..n)
            .map(|i| {
                if panicking.contains(&i) {
                    panicking_waker()
                } else {
                    counting_waker()
                }
            })
            .collect();
        let mut slots = Vec::new();
        for (_, waker) in &wakers {
            let mut wait = Box::pin(c.wait());
            let poll = wait.as_mut().poll(&mut Context::from_waker(waker));
            assert!(poll.is_pending());
            slots.push(Some(wait));
        }
        Arc::new(Self {
            slots: Mutex::new(slots),
            wakers,
        })
    }

    fn wakes(&self, i: usize) -> usize {
        self.wakers[i].0.wakes()
    }

    fn poll(&self, i: usize) -> Poll<()> {
        let mut slots = self.slots.lock().unwrap();
        let wait = slots[i].as_mut().expect("waiter was dropped");
        wait.as_mut()
            .poll(&mut Context::from_waker(&self.wakers[i].1))
    }

    fn drop_waiter(&self, i: usize) {
        let wait = self.slots.lock().unwrap()[i].take();
        drop(wait);
    }

    fn on_wake(&self, i: usize, hook: impl FnOnce() + Send + 'static) {
        self.wakers[i].0.on_next_wake(hook);
    }
}

fn poll_new(c: &'static Completion, waker: &Waker) -> (Pin<Box<Wait<'static>>>, Poll<()>) {
    let mut wait = Box::pin(c.wait());
    let poll = wait.as_mut().poll(&mut Context::from_waker(waker));
    (wait, poll)
}

#[test]
fn waiters_dropped_and_registered_between_batches() {
    static C: Completion = Completion::new();
    let w = Waiters::queue(&C, 100, &[]);
    let late_ready = Arc::new(AtomicUsize::new(0));
    {
        let (w2, late_ready) = (w.clone(), late_ready.clone());
        // Woken in the first batch: waiter 60 is still waiting to be released.
        w.on_wake(0, move || {
            w2.drop_waiter(60);
            let (_, late_waker) = counting_waker();
            let (_wait, poll) = poll_new(&C, &late_waker);
            if poll.is_ready() {
                late_ready.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    C.complete_all();
    assert_eq!(
        late_ready.load(Ordering::SeqCst),
        1,
        "a wait registered mid-drain sees complete_all"
    );
    for i in (0..100).filter(|&i| i != 60) {
        assert_eq!(w.wakes(i), 1, "waiter {i}");
        assert!(w.poll(i).is_ready(), "waiter {i}");
    }
    assert_eq!(
        w.wakes(60),
        0,
        "a waiter dropped before its batch is not woken"
    );
    assert!(C.try_wait() && C.is_done());
}

#[test]
fn reinit_between_batches_keeps_the_release() {
    static C: Completion = Completion::new();
    let w = Waiters::queue(&C, 100, &[]);
    let (newcomer_inner, newcomer_waker) = counting_waker();
    let newcomer: Arc<Mutex<Option<Pin<Box<Wait<'static>>>>>> = Arc::default();
    let early_poll = Arc::new(Mutex::new(None));
    {
        let (w2, newcomer, early_poll) = (w.clone(), newcomer.clone(), early_poll.clone());
        w.on_wake(0, move || {
            C.reinit();
            // Waiter 99 is not released by a batch yet, but `complete_all` covered it.
            *early_poll.lock().unwrap() = Some(w2.poll(99));
            // A newcomer after `reinit` queues: it is not part of this `complete_all`.
            let (wait, poll) = poll_new(&C, &newcomer_waker);
            assert!(poll.is_pending());
            *newcomer.lock().unwrap() = Some(wait);
        });
    }
    C.complete_all();
    let early = early_poll.lock().unwrap().take();
    for i in 0..99 {
        assert_eq!(w.wakes(i), 1, "waiter {i}");
        assert!(w.poll(i).is_ready(), "waiter {i}");
    }
    // Re-polled with the waker it queued with, while the drain had not reached it: the
    // release is atomic to polls (crate docs, "Semantics"), so that lock-free re-poll sees
    // it and the wait leaves the drain, which then never wakes it.
    assert_eq!(
        early,
        Some(Poll::Ready(())),
        "released before the drain reached it"
    );
    assert_eq!(
        w.wakes(99),
        0,
        "waiter 99 left the drain when it was polled"
    );
    assert!(w.poll(99).is_ready());
    assert_eq!(newcomer_inner.wakes(), 0);
    assert!(!C.is_done());
    assert_eq!(
        format!("{C:?}"),
        "Completion { count: 0, completed_all: false, waiters: true }"
    );
    C.complete();
    assert_eq!(newcomer_inner.wakes(), 1);
    let mut newcomer = newcomer.lock().unwrap().take().unwrap();
    let poll = newcomer.as_mut().poll(&mut Context::from_waker(
        &futures::task::noop_waker_ref().clone(),
    ));
    assert!(poll.is_ready());
    assert!(!C.try_wait(), "the completion went to the newcomer");
}

#[test]
fn panicking_waker_in_complete_all_leaves_everyone_released() {
    static C: Completion = Completion::new();
    let w = Waiters::queue(&C, 70, &[3]);
    let message = expect_panic(|| C.complete_all());
    assert_eq!(
        message, "this test waker panics when woken",
        "the waker's panic propagates"
    );
    for i in 0..=3 {
        assert_eq!(w.wakes(i), 1, "waiter {i} was woken before the panic");
    }
    for i in 4..70 {
        assert!(w.wakes(i) <= 1);
    }
    for i in 0..70 {
        assert!(w.poll(i).is_ready(), "waiter {i} was released");
    }
    // Still consistent and usable.
    C.reinit();
    let (inner, waker) = counting_waker();
    let (mut wait, poll) = poll_new(&C, &waker);
    assert!(poll.is_pending());
    C.complete();
    assert_eq!(inner.wakes(), 1);
    assert!(wait
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
}

#[test]
fn complete_n_hands_off_across_batches_then_banks() {
    static C: Completion = Completion::new();
    let w = Waiters::queue(&C, 70, &[]);
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..70 {
        let order = order.clone();
        w.on_wake(i, move || order.lock().unwrap().push(i));
    }
    C.complete_n(100);
    assert_eq!(*order.lock().unwrap(), (0..70).collect::<Vec<_>>(), "FIFO");
    for i in 0..70 {
        assert_eq!(w.wakes(i), 1);
        assert!(w.poll(i).is_ready());
    }
    assert_eq!(
        format!("{C:?}"),
        "Completion { count: 30, completed_all: false, waiters: false }"
    );
}

#[test]
fn waker_hook_completing_again_serves_the_next_waiter() {
    static C: Completion = Completion::new();
    let w = Waiters::queue(&C, 3, &[]);
    // Waiter 0's wake posts another completion from inside the waker: no deadlock, and
    // it goes to waiter 1, not to anyone barging in.
    w.on_wake(0, || C.complete());
    C.complete();
    assert_eq!((w.wakes(0), w.wakes(1), w.wakes(2)), (1, 1, 0));
    assert!(w.poll(0).is_ready() && w.poll(1).is_ready());
    assert!(w.poll(2).is_pending());
}
