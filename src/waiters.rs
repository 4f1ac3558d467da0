//! The intrusive FIFO waiter list: the only module of the crate with `unsafe` code.
//!
//! Every waiter's list node lives inside its own pinned future ([`Waiter`]), so queueing,
//! hand-off and cancellation allocate nothing and are O(1).
//!
//! # Shape
//!
//! The main queue is a circular doubly-linked list reached through one pointer,
//! [`Queue::head`] (the oldest waiter; `head.prev` is the newest). A release
//! (`complete_all()` or the pulse `complete_waiters()`) splices the whole main queue in
//! O(1) onto a guard node that lives on its own stack ([`Drain`]) and then releases those
//! waiters in batches, unlocking between batches.
//!
//! # The release epoch
//!
//! [`Queue::epoch`] counts releases. It is written only under the lock, by a release, in
//! the same hold as its splice; a waiter records it when it **queues** (in that lock hold
//! too), in its node. So:
//!
//! - **E1** every node of the main queue holds the current count; a linked node whose
//!   count is stale is in a drain circle (released). The owner reads that lock-free (a
//!   hint, made sure of under the lock), which makes a release atomic to polls: once one
//!   wait of a release polls `Ready`, every wait of that release does, drained yet or not.
//!
//! A release reaches the waits queued (polled or enabled) at its call, which SPEC §2 asks
//! of a pulse; a wait that was never queued is not reached (it sees `ALL` in the state
//! word after a `complete_all`, until `reinit`). A release with nobody queued needs no
//! bump: it only has to meet a waiter that is queueing at the same time, and the state
//! word is that meeting point (see `Queue::complete_waiters`).
//!
//! (A node keeps the count's low 29 bits: a wait would have to stay in a drain circle,
//! not yet popped, across exactly a multiple of 2^29 releases for a re-poll to miss that
//! it is released; the drain then still releases and wakes it.)
//!
//! # Invariants (referred to as I1..I6 by the `SAFETY` comments)
//!
//! - **I1** `Queue::head` and the `prev` and `next` fields of every node are only read or
//!   written while the queue's lock is held; so is the `waker`
//!   slot, except for the owner's lock-free identity check ([`WakerSlot::is`], atomics
//!   only).
//! - **I2** A node is linked (in the main queue or a drain circle) if and only if its
//!   `status` is `QUEUED`; a drain guard is linked while its `Drain` is `active`.
//! - **I3** A linked node is pinned, and it is unlinked (under the lock) before its memory
//!   is released: [`Waiter`]'s and [`Drain`]'s `Drop` impls unlink, and pinning guarantees
//!   `Drop` runs before the memory is reused.
//! - **I4** Every linked node has valid `prev`/`next` pointers into the same circle. A drain
//!   circle always contains its guard, so only a main-queue node can be alone in its circle.
//! - **I5** A completer that moves a node out of `QUEUED` (to `HANDED` or `RELEASED`) does
//!   so with its last access to that node, a `Release` store; the owner may free the node as
//!   soon as it observes that store with an `Acquire` load, without taking the lock.
//! - **I6** Nodes are only ever linked into the queue their [`Waiter`] names, and a
//!   [`QueueRef`] always names the same queue, which outlives it. By construction: the
//!   operations on one waiter's node ([`Own`]) are only reached through [`Waiter::lock`],
//!   which locks the queue that waiter names.

use core::cell::Cell;
use core::marker::PhantomPinned;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::Waker;
use core::task::{RawWaker, RawWakerVTable};

use crate::batch::WakeBatch;
use crate::fault::AbortOnUnwind;
use crate::lock::{lock_init, Lock};
use crate::loom::AtomicPtr;
use crate::loom::{loom_const_fn, AtomicU32, Ordering, UnsafeCell};
use crate::state::{WAITERS, ZERO};

/// The waiter has not been queued (or was removed from the queue without a completion).
pub(crate) const IDLE: u8 = 0;
/// The waiter is linked in a list (I2).
pub(crate) const QUEUED: u8 = 1;
/// `complete()` handed a completion to this waiter and unlinked it.
pub(crate) const HANDED: u8 = 2;
/// `complete_all()` released this waiter and unlinked it.
pub(crate) const RELEASED: u8 = 3;
/// The owning future returned `Ready` or was cancelled: it holds nothing any more.
pub(crate) const DONE: u8 = 4;
/// The owning timed wait gave up and got nothing (it returned `Err(TimedOut)`): finished,
/// like `DONE`, holding nothing. Every status from `DONE` up is final.
pub(crate) const LOST: u8 = 5;

/// The shared part of a `Completion`: its state word, lock and waiter list.
pub(crate) struct Queue<L> {
    /// The state word (see `crate::state`); read and written lock-free on fast paths.
    pub(crate) state: AtomicU32,
    /// The release epoch: releases so far (E1). Written under the lock only; atomic for
    /// the owner's lock-free hint.
    epoch: AtomicU32,
    lock: L,
    /// Oldest waiter of the main queue (I1, I4).
    head: UnsafeCell<Option<NonNull<Node>>>,
}

// SAFETY: the raw pointers in `head` are only dereferenced with the lock held (I1), and
// what they point to (`Node`) is itself `Send + Sync` (see below). The lock moves with
// the queue, so it must be `Send` itself.
unsafe impl<L: Send> Send for Queue<L> {}
// SAFETY: as above; every non-atomic field is guarded by the lock (I1). Every `Lock`
// excludes concurrent holders (the trait is sealed: this crate's locks, and embassy
// `RawMutex`es, whose `unsafe` trait promises it), and it can only exclude other threads
// if it may itself be shared with them (`L: Sync`).
unsafe impl<L: Send + Sync> Sync for Queue<L> {}

impl<L: Lock> Queue<L> {
    loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                state: AtomicU32::new(ZERO),
                epoch: AtomicU32::new(0),
                lock: lock_init!(L),
                head: UnsafeCell::new(None),
            }
        }
    }

    /// Runs `f` with the lock held. `f` must not call into user code (wakers).
    ///
    /// A lock may panic before running `f` (then nothing changed) or after (then what `f`
    /// did stands): so `f` records everything it changes where the unwinding still acts
    /// on it (a waiter's status, a caller's slot or batch of wakers), never only in its
    /// return value, which such a panic discards.
    #[inline]
    pub(crate) fn lock<R>(&self, f: impl FnOnce(&mut Locked<'_, L>) -> R) -> R {
        self.lock.with(|| f(&mut Locked { queue: self }))
    }
}

/// A list node. Lives inside a pinned [`Waiter`] or [`Drain`].
struct Node {
    prev: UnsafeCell<NonNull<Node>>,
    next: UnsafeCell<NonNull<Node>>,
    /// The waker to wake when this node is handed a completion or released (I1); empty
    /// for a wait enabled (`Wait::enable`) and not polled since.
    waker: WakerSlot,
    /// The status (`IDLE` ... `LOST`, bits 0..3) and, above it, the queue's release count
    /// when the waiter queued (E1; its low 29 bits), set in the same store as `QUEUED`:
    /// one word, so a re-poll reads both with one load and `Wait` stays 48 bytes.
    word: AtomicU32,
    /// The vtable of the waker passed when the stored one was cloned from it, minus the
    /// stored one's (wrapping, as an `i32`), for the lock-free re-poll (see `WakerSlot`);
    /// 0 when they are the same, the passed waker's data differs, or the offset does not
    /// fit. Written with the waker (I1), read lock-free by the owner.
    alias: AtomicU32,
    _pinned: PhantomPinned,
}

impl Node {
    loom_const_fn! {
        fn new() -> Self {
            Self {
                prev: UnsafeCell::new(NonNull::dangling()),
                next: UnsafeCell::new(NonNull::dangling()),
                waker: WakerSlot::new(),
                word: AtomicU32::new(IDLE as u32),
                alias: AtomicU32::new(0),
                _pinned: PhantomPinned,
            }
        }
    }
}

/// The status bits of [`Node::word`].
const STATUS_BITS: u32 = 3;
const STATUS_MASK: u32 = (1 << STATUS_BITS) - 1;

impl Node {
    /// The status (`IDLE`, `QUEUED`, `HANDED`, `RELEASED`, `DONE` or `LOST`).
    #[inline(always)]
    fn status(&self, order: Ordering) -> u8 {
        (self.word.load(order) & STATUS_MASK) as u8
    }

    /// Sets a status other than `QUEUED` (which `Own::hold_or_join` writes with the
    /// release count): one store, clearing the count, which only a queued node is ever
    /// asked for (E1).
    #[inline(always)]
    fn set_status(&self, status: u8, order: Ordering) {
        self.word.store(u32::from(status), order);
    }

    /// Whether the queue's release count `epoch` (a value of [`Queue::epoch`]) differs
    /// from the one this node recorded when it queued (E1; compared on the low 29 bits).
    #[inline(always)]
    fn stale(&self, epoch: u32) -> bool {
        (epoch << STATUS_BITS) != self.word.load(Ordering::Relaxed) & !STATUS_MASK
    }
}

// SAFETY: the non-atomic fields are only touched under the owning queue's lock (I1), and
// `Waker` is `Send + Sync`.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

/// A node's waker: the waker's two raw parts (`Waker::data`, `Waker::vtable`) in atomics,
/// so the owner can compare a waker with it without the lock ([`is`](Self::is)); and the
/// identity of the waker the task *passed* when this one was cloned from it, as the offset
/// of its vtable from the clone's ([`alias`](Self::alias), kept beside the slot in the
/// node, where it costs no padding): some executors' clones carry
/// another copy of the vtable than the waker they poll with (tokio's current-thread
/// runtime and `LocalSet`, whose vtable constant is duplicated across codegen units), and a
/// re-poll with that same passed waker must still be recognised. 16 bytes (and 4).
///
/// `put` and `take` are called with the queue's lock held (I1); `put` only
/// on an empty slot. A waker in the slot is owned by it: `put` forgets the `Waker` it is
/// given, and `take` rebuilds that same `Waker` from its parts, once.
struct WakerSlot {
    data: AtomicPtr<()>,
    /// Null when the slot is empty.
    vtable: AtomicPtr<RawWakerVTable>,
}

impl WakerSlot {
    loom_const_fn! {
        fn new() -> Self {
            Self {
                data: AtomicPtr::new(ptr::null_mut()),
                vtable: AtomicPtr::new(ptr::null_mut()),
            }
        }
    }

    /// What to store beside `clone`, a clone of `passed`, so that a later poll with a
    /// waker like `passed` is recognised ([`is`](Self::is)). Pointer arithmetic only.
    #[inline]
    fn alias(clone: &Waker, passed: &Waker) -> u32 {
        if !ptr::eq(clone.data(), passed.data()) {
            return 0;
        }
        let clone_vtable: *const RawWakerVTable = clone.vtable();
        let passed_vtable: *const RawWakerVTable = passed.vtable();
        let offset = passed_vtable.addr().wrapping_sub(clone_vtable.addr()) as isize;
        i32::try_from(offset).map_or(0, |offset| offset as u32)
    }

    /// # Safety
    /// The lock is held, and the slot is empty.
    unsafe fn put(&self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            let waker = ManuallyDrop::new(waker);
            self.data.store(waker.data().cast_mut(), Ordering::Relaxed);
            let vtable: *const RawWakerVTable = waker.vtable();
            self.vtable.store(vtable.cast_mut(), Ordering::Relaxed);
        }
    }

    /// # Safety
    /// The lock is held.
    unsafe fn take(&self) -> Option<Waker> {
        let vtable = self.vtable.load(Ordering::Relaxed);
        if vtable.is_null() {
            return None;
        }
        self.vtable.store(ptr::null_mut(), Ordering::Relaxed);
        let data = self.data.load(Ordering::Relaxed);
        // SAFETY: the two parts come from a `Waker` that `put` forgot, and the slot is
        // emptied as they are read, so that `Waker` is rebuilt exactly once; `vtable`
        // was a `&'static RawWakerVTable`.
        Some(unsafe { Waker::from_raw(RawWaker::new(data, &*vtable)) })
    }

    /// Whether the slot holds a waker with `waker`'s identity (its raw parts, what
    /// `Waker::will_wake` compares), or a clone of a waker with `waker`'s identity (the
    /// same data, and the vtable at the recorded [`alias`](Self::alias) offset): waking
    /// the stored clone then wakes what `waker` wakes. Lock-free: atomic loads only.
    #[inline]
    fn is(&self, waker: &Waker, alias: &AtomicU32) -> bool {
        let passed: *const RawWakerVTable = waker.vtable();
        let stored = self.vtable.load(Ordering::Relaxed);
        ptr::eq(self.data.load(Ordering::Relaxed), waker.data())
            && (ptr::eq(stored, passed)
                || (!stored.is_null()
                    && stored
                        .addr()
                        .wrapping_add(alias.load(Ordering::Relaxed) as i32 as isize as usize)
                        == passed.addr()))
    }
}

/// How a [`Waiter`] reaches its queue: a borrow, or an owning `Arc<Completion>`.
///
/// # Safety
/// `queue` returns the same `Queue` on every call, and that queue lives at least as long
/// as `self` (I6).
pub(crate) unsafe trait QueueRef {
    /// The queue's lock type.
    type Lock: Lock;
    fn queue(&self) -> &Queue<Self::Lock>;
}

// SAFETY: a shared reference always points at the same queue, which outlives it.
unsafe impl<L: Lock> QueueRef for &Queue<L> {
    type Lock = L;
    #[inline(always)]
    fn queue(&self) -> &Queue<L> {
        self
    }
}

// SAFETY: an `Arc` keeps its pointee alive and never moves it; `Completion::queue` returns
// a field of that pointee.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<L: Lock> QueueRef for alloc::sync::Arc<crate::Completion<L>> {
    type Lock = L;
    #[inline(always)]
    fn queue(&self) -> &Queue<L> {
        crate::Completion::queue(self)
    }
}

/// One waiter: a list node bound to the queue it may be linked into.
///
/// Dropping it cancels the wait (see `Queue::cancel`): it leaves the queue, and a
/// completion handed to it but not consumed is passed on.
pub(crate) struct Waiter<Q: QueueRef> {
    queue: Q,
    node: Node,
}

impl<Q: QueueRef> Waiter<Q> {
    /// A waiter created now: idle, in no list.
    #[inline(always)]
    pub(crate) fn new(queue: Q) -> Self {
        Self {
            queue,
            node: Node::new(),
        }
    }

    /// For a waiter the caller saw `QUEUED`: whether it is in a drain circle (released by
    /// a `complete_all` or `complete_waiters` that has not reached it yet: E1), read
    /// without the lock. A hint, for a decision that is made again under the lock when it
    /// says `true`: the count only moves under the lock, so a release seen here is seen
    /// there (and nothing is read because of it, hence `Relaxed`).
    #[inline(always)]
    pub(crate) fn released_hint(&self) -> bool {
        self.node.stale(self.queue().epoch.load(Ordering::Relaxed))
    }

    /// The queue this waiter belongs to.
    #[inline(always)]
    pub(crate) fn queue(&self) -> &Queue<Q::Lock> {
        self.queue.queue()
    }

    /// What the waiter was built with.
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    pub(crate) fn queue_ref(&self) -> &Q {
        &self.queue
    }

    /// Runs `f` with the lock of this waiter's own queue held, giving it the list
    /// operations on this waiter ([`Own`]). `f` must not call into user code, and records
    /// what it changes as [`Queue::lock`]'s closure does.
    #[inline]
    pub(crate) fn lock<R>(self: Pin<&Self>, f: impl FnOnce(&mut Own<'_, Q>) -> R) -> R {
        self.queue().lock(|locked| {
            f(&mut Own {
                locked: Locked {
                    queue: locked.queue,
                },
                waiter: self,
            })
        })
    }

    /// The status as a word, for `Debug` impls.
    pub(crate) fn status_name(&self) -> &'static str {
        match self.status() {
            IDLE => "idle",
            // In a drain circle: released, not popped yet (E1).
            QUEUED if self.released_hint() => "released",
            QUEUED => "queued",
            HANDED => "handed",
            RELEASED => "released",
            _ => "done",
        }
    }

    /// The waiter's status (`IDLE`, `QUEUED`, `HANDED`, `RELEASED`, `DONE` or `LOST`).
    ///
    /// `Acquire`: seeing `HANDED`/`RELEASED` makes the completer's writes visible (I5).
    #[inline]
    pub(crate) fn status(&self) -> u8 {
        self.node.status(Ordering::Acquire)
    }

    /// Whether the waiter, which the caller just saw `QUEUED`, holds a waker that wakes the
    /// same task as `waker`, looked at without the lock: a re-poll with the same waker is
    /// then `Pending` at the cost of two loads. A `true` may be stale in one harmless way
    /// only: a completer may be taking the node out at this very moment, and it then wakes
    /// that same waker, so the task polls again and finds its completion.
    #[inline]
    pub(crate) fn holds_waker(&self, waker: &Waker) -> bool {
        self.node.waker.is(waker, &self.node.alias)
    }

    /// What the lock-free re-poll needs to recognise `passed` when `clone`, cloned from
    /// it, is stored (see `WakerSlot::alias`).
    #[inline]
    pub(crate) fn waker_alias(clone: &Waker, passed: &Waker) -> u32 {
        WakerSlot::alias(clone, passed)
    }

    /// Marks an idle waiter (never queued) as holding a completion it took without
    /// queueing (`HANDED`) or as released (`RELEASED`): `Wait::enable`, and a poll that
    /// took a completion under the lock (recorded there, so a lock that panics after its
    /// closure leaves the wait holding what it took, for its next poll or its drop).
    #[inline]
    pub(crate) fn hold(&self, status: u8) {
        // Only the owner moves a waiter out of `IDLE`. A hard check: a queued node must
        // never be marked as unlinked (I2).
        if self.node.status(Ordering::Relaxed) != IDLE {
            broken("hold() on a waiter that is not idle");
        }
        self.node.set_status(status, Ordering::Relaxed);
    }

    /// Marks a waiter as finished (`DONE`) when the caller has just seen its status be
    /// anything but `QUEUED`: only the owner links a node, so it is still unlinked, with no
    /// check left to make (the fast path of a first poll that took a banked completion,
    /// and a race's first look).
    #[inline(always)]
    pub(crate) fn finish_unlinked(&self) {
        self.node.set_status(DONE, Ordering::Relaxed);
    }

    /// Marks a waiter that is not linked as finished (`DONE`).
    #[inline]
    pub(crate) fn finish(&self) {
        self.finish_as(DONE);
    }

    /// Marks a waiter that is not linked as finished: `DONE`, or `LOST` for a timed wait
    /// that got nothing.
    #[inline]
    pub(crate) fn finish_as(&self, status: u8) {
        // Only the owner links a node, so a `Relaxed` look is enough to see our own store.
        // A hard check: marking a linked node finished would let `Drop` free it linked (I3).
        if self.node.status(Ordering::Relaxed) == QUEUED {
            broken("finish() on a queued waiter");
        }
        self.node.set_status(status, Ordering::Relaxed);
    }

    /// Whether the wait is finished (`DONE` or `LOST`): it returned `Ready`, or was
    /// cancelled, and holds nothing.
    #[inline(always)]
    pub(crate) fn is_finished(&self) -> bool {
        self.status() >= DONE
    }
}

impl<Q: QueueRef> Drop for Waiter<Q> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` is being dropped, so it is never moved again: pinning it for the
        // rest of its life is sound whether or not it was pinned before.
        let this = unsafe { Pin::new_unchecked(&*self) };
        // In a `Drop`: if the lock panics while the node is linked, `cancel` aborts the
        // process rather than return and let the memory be freed (I3).
        this.queue().cancel(this, true);
        // `cancel` leaves the node unlinked, which is what I3 needs.
        debug_assert_ne!(self.node.status(Ordering::Relaxed), QUEUED);
    }
}

/// Proof that the queue's lock is held; all list operations hang off it.
pub(crate) struct Locked<'q, L> {
    queue: &'q Queue<L>,
}

impl<L: Lock> Locked<'_, L> {
    fn head(&self) -> Option<NonNull<Node>> {
        // SAFETY: the lock is held (I1).
        self.queue.head.with(|h| unsafe { *h })
    }

    fn set_head(&mut self, head: Option<NonNull<Node>>) {
        // SAFETY: the lock is held (I1).
        self.queue.head.with_mut(|h| unsafe { *h = head });
    }

    /// Unlinks the oldest waiter of the main queue, marks it `HANDED` and returns its
    /// waker (`None` if it was enabled and never polled). Clears `WAITERS` when the queue
    /// empties. The caller saw the state `WAITERS` under the lock: the queue is not empty.
    pub(crate) fn pop_front(&mut self) -> Option<Waker> {
        let Some(head) = self.head() else {
            broken("pop_front() on an empty queue")
        };
        // SAFETY: the lock is held and `head` is linked, hence alive (I1, I3, I4).
        unsafe { self.take_linked(head, HANDED) }
    }

    /// One release, atomic to every wait (E1): bumps the release count, so every waiter
    /// queued now counts as released, and moves every waiter of the main queue onto
    /// `drain`'s circle, to be woken in batches. Call at most once per `Drain`.
    pub(crate) fn release_all(&mut self, drain: Pin<&Drain<'_, L>>) {
        if !ptr::eq(self.queue, drain.queue) || drain.active.get() {
            broken("release_all() with a foreign or active drain");
        }
        let Some(head) = self.head() else { return };
        // Only lock holders write the count: a load and a store.
        let epoch = self.queue.epoch.load(Ordering::Relaxed);
        self.queue
            .epoch
            .store(epoch.wrapping_add(1), Ordering::Relaxed);
        let guard = NonNull::from(&drain.guard);
        // SAFETY: the lock is held (I1); `head` and its `prev` (the tail) are linked (I4);
        // the guard is pinned and its `Drop` unlinks it before it is freed (I3).
        unsafe {
            let tail = prev(head);
            set_next(guard, head);
            set_prev(guard, tail);
            set_prev(head, guard);
            set_next(tail, guard);
        }
        self.set_head(None);
        drain.active.set(true);
    }

    /// Unlinks a linked node, sets its status, and returns its waker (if it has one).
    ///
    /// # Safety
    /// The lock is held and `node` is linked in this queue's main list or in one of its
    /// drain circles, but is not a drain guard.
    unsafe fn take_linked(&mut self, node: NonNull<Node>, status: u8) -> Option<Waker> {
        // SAFETY: per this function's contract, `node` and its neighbours are alive and
        // their link fields are ours to touch (I1, I3, I4).
        unsafe {
            let (before, after) = (prev(node), next(node));
            if after == node {
                // Alone in its circle: only possible in the main queue (I4).
                self.set_head(None);
                // The main queue emptied: `WAITERS` must go. A plain store is enough: while
                // the main queue is non-empty the state is `WAITERS`, and only lock holders
                // change a `WAITERS` state (lock-free paths leave it alone).
                debug_assert_eq!(self.queue.state.load(Ordering::Relaxed), WAITERS);
                self.queue.state.store(ZERO, Ordering::Relaxed);
            } else {
                set_next(before, after);
                set_prev(after, before);
                if self.head() == Some(node) {
                    self.set_head(Some(after));
                }
            }
            let node = node.as_ref();
            let waker = node.waker.take();
            // Last access to the node (I5).
            node.set_status(status, Ordering::Release);
            waker
        }
    }
}

/// Proof that the lock of one waiter's own queue is held: the list operations on that
/// waiter. Made only by [`Waiter::lock`], so they touch the queue the waiter names (I6) by
/// construction, with no check to make.
pub(crate) struct Own<'q, Q: QueueRef> {
    locked: Locked<'q, Q::Lock>,
    waiter: Pin<&'q Waiter<Q>>,
}

impl<Q: QueueRef> Own<'_, Q> {
    /// The waiter's status, read under its queue's lock: `Relaxed` is enough, because
    /// every move out of `QUEUED` is made by a holder of this lock (and the lock orders
    /// it before us), and only the owner makes the other moves.
    #[inline(always)]
    pub(crate) fn status(&self) -> u8 {
        self.waiter.node.status(Ordering::Relaxed)
    }

    /// Links the idle waiter at the tail of the main queue, moving `waker` (`None`:
    /// enabled, not polled yet) into it, and records the release count (E1). Returns
    /// whether it was linked. The caller has just set the state word to `WAITERS` (or
    /// found it so).
    ///
    /// `took`: the caller took a completion instead (`HANDED`, or `RELEASED` for
    /// `complete_all`); then the waiter only records that it holds it, unlinked (as
    /// [`Waiter::hold`] does), and `false` is returned. One hard check for both: panics if
    /// the waiter is not idle.
    pub(crate) fn hold_or_join(
        &mut self,
        took: Option<u8>,
        waker: &mut Option<Waker>,
        alias: u32,
    ) -> bool {
        let node = &self.waiter.node;
        if self.status() != IDLE {
            broken("waiter queued twice");
        }
        if let Some(status) = took {
            node.set_status(status, Ordering::Relaxed);
            return false;
        }
        let new = NonNull::from(node);
        // SAFETY: the lock is held (I1); the node is not linked, so nobody else reads its
        // fields; it is pinned and unlinked before it is freed (I3) so storing its address
        // is sound; `head` and its `prev` are linked nodes with valid pointers (I4).
        unsafe {
            node.waker.put(waker.take());
            node.alias.store(alias, Ordering::Relaxed);
            match self.locked.head() {
                None => {
                    set_prev(new, new);
                    set_next(new, new);
                    self.locked.set_head(Some(new));
                }
                Some(head) => {
                    let tail = prev(head);
                    set_prev(new, tail);
                    set_next(new, head);
                    set_next(tail, new);
                    set_prev(head, new);
                }
            }
        }
        // Only lock holders write the count (so `Relaxed`), and it stays current while
        // the node is in the main queue (E1).
        let epoch = self.locked.queue.epoch.load(Ordering::Relaxed);
        node.word.store(
            (epoch << STATUS_BITS) | u32::from(QUEUED),
            Ordering::Relaxed,
        );
        true
    }

    /// A re-poll of the queued waiter, bringing `waker` (with its
    /// [`alias`](WakerSlot::alias)). If it is in a drain circle (released, E1), it leaves,
    /// `RELEASED`, and `true` is returned; else it keeps its place and `waker` is moved
    /// into it. Either way `old` receives the waker it held, for the caller to drop once
    /// unlocked. A hard check: panics if the waiter is not queued.
    pub(crate) fn repoll(
        &mut self,
        waker: &mut Option<Waker>,
        alias: u32,
        old: &mut Option<Waker>,
    ) -> bool {
        let node = &self.waiter.node;
        if self.status() != QUEUED {
            broken("re-poll of a waiter that is not queued");
        }
        let released = self.released();
        // SAFETY: the lock is held and the node is `QUEUED`, hence linked and alive (I1,
        // I2, I3), in this queue (I6); `take` empties the slot that `put` fills.
        unsafe {
            if released {
                *old = self.locked.take_linked(NonNull::from(node), RELEASED);
            } else {
                *old = node.waker.take();
                node.waker.put(waker.take());
                node.alias.store(alias, Ordering::Relaxed);
            }
        }
        released
    }

    /// Whether the waiter, which the caller saw `QUEUED` under this lock, is in a drain
    /// circle: released by a call that has not reached it yet (E1).
    #[inline(always)]
    pub(crate) fn released(&self) -> bool {
        self.waiter
            .node
            .stale(self.locked.queue.epoch.load(Ordering::Relaxed))
    }

    /// Unlinks the waiter if it is queued and returns what it leaves with, `RELEASED` if
    /// it was in a drain circle (E1), else `IDLE` (holding nothing), and its waker; its
    /// status is set to that. Otherwise changes nothing and returns its status (`HANDED`
    /// if a completion was handed to it just before the lock was taken) and no waker.
    pub(crate) fn remove(&mut self) -> (u8, Option<Waker>) {
        let node = &self.waiter.node;
        match self.status() {
            QUEUED => {
                let to = if self.released() { RELEASED } else { IDLE };
                // SAFETY: the lock is held and the node is `QUEUED`, hence linked and
                // alive (I1, I2, I3); it belongs to this queue (I6).
                (to, unsafe {
                    self.locked.take_linked(NonNull::from(node), to)
                })
            }
            held => (held, None),
        }
    }
}

/// The guard of a drain circle: the waiters one `complete_all` is releasing.
pub(crate) struct Drain<'a, L: Lock> {
    queue: &'a Queue<L>,
    guard: Node,
    /// Whether the guard is linked (I2). Only the thread running the release uses it.
    active: Cell<bool>,
    /// Which call this is, for the abort message: `complete_all` or `complete_waiters`.
    all: bool,
}

impl<'a, L: Lock> Drain<'a, L> {
    /// The drain of a `complete_all` (`all`) or a `complete_waiters` call.
    pub(crate) fn new(queue: &'a Queue<L>, all: bool) -> Self {
        Self {
            queue,
            guard: Node::new(),
            active: Cell::new(false),
            all,
        }
    }

    /// Releases up to `out`'s free capacity of the waiters still in the circle, marking
    /// them `RELEASED` and moving their wakers into `out`. Returns whether any remain.
    pub(crate) fn pop_batch(&self, out: &mut WakeBatch) -> bool {
        if !self.active.get() {
            return false;
        }
        let guard = NonNull::from(&self.guard);
        let more = self.queue.lock(|l| loop {
            // SAFETY: the lock is held and the guard is linked while `active` (I1, I2).
            let first = unsafe { next(guard) };
            if first == guard {
                break false;
            }
            if out.is_full() {
                break true;
            }
            // SAFETY: `first` is a linked member of this drain circle, not the guard.
            out.push(unsafe { l.take_linked(first, RELEASED) });
        });
        // Alone in its circle, the guard is referenced by nobody any more.
        self.active.set(more);
        more
    }
}

impl<L: Lock> Drop for Drain<'_, L> {
    fn drop(&mut self) {
        // Only reached with waiters left when a waker (or the lock) panicked in
        // `complete_all`/`complete_waiters`: release the rest and wake them, so no node
        // points at this stack frame and no released waiter is left unwoken. One waiter
        // per lock hold, without a batch of its own: this path is rare, and a second
        // batch would double the stack `complete_all` takes (in interrupt handlers too).
        loop {
            // The guard node lives in this frame, which the unwinding is about to free: if
            // the lock panics now, the only sound way out is to stop the process (I3).
            let cause = if self.all {
                "complete_all() was releasing waiters"
            } else {
                "complete_waiters() was releasing waiters"
            };
            let guard = AbortOnUnwind::new(cause, true);
            let released = self.pop_one();
            guard.disarm();
            match released {
                Some(Some(waker)) => waker.wake(),
                Some(None) => {} // enabled, never polled: its poll finds it released
                None => break,
            }
        }
    }
}

impl<L: Lock> Drain<'_, L> {
    /// Releases the oldest waiter left in the circle and returns its waker; `None` when
    /// none is left (the guard is then alone, and referenced by nobody).
    fn pop_one(&self) -> Option<Option<Waker>> {
        if !self.active.get() {
            return None;
        }
        let guard = NonNull::from(&self.guard);
        let released = self.queue.lock(|l| {
            // SAFETY: the lock is held and the guard is linked while `active` (I1, I2).
            let first = unsafe { next(guard) };
            // SAFETY: `first` is a linked member of this drain circle, not the guard.
            (first != guard).then(|| unsafe { l.take_linked(first, RELEASED) })
        });
        self.active.set(released.is_some());
        released
    }
}

// SAFETY (all four helpers): the caller holds the lock of the queue `node` is linked in
// and `node` is alive (I1, I3).
unsafe fn prev(node: NonNull<Node>) -> NonNull<Node> {
    // SAFETY: see above.
    unsafe { node.as_ref().prev.with(|p| *p) }
}

unsafe fn next(node: NonNull<Node>) -> NonNull<Node> {
    // SAFETY: see above.
    unsafe { node.as_ref().next.with(|p| *p) }
}

unsafe fn set_prev(node: NonNull<Node>, to: NonNull<Node>) {
    // SAFETY: see above.
    unsafe { node.as_ref().prev.with_mut(|p| *p = to) }
}

unsafe fn set_next(node: NonNull<Node>, to: NonNull<Node>) {
    // SAFETY: see above.
    unsafe { node.as_ref().next.with_mut(|p| *p = to) }
}

/// A broken internal invariant (a bug of this crate: no safe use reaches one). Every
/// hard check calls this, so each check costs a compare and a branch. Debug builds (the
/// test suite) name the invariant; release builds panic with one fixed message and pass
/// no argument, so the branches of a function share one call (48 bytes less firmware
/// than one message per check: `embedded/footprint`).
#[inline(always)]
fn broken(what: &'static str) -> ! {
    #[cfg(debug_assertions)]
    {
        broken_named(what)
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = what;
        broken_unnamed()
    }
}

#[cfg(debug_assertions)]
#[cold]
#[inline(never)]
fn broken_named(what: &'static str) -> ! {
    panic!("async-completion: {}", what)
}

#[cfg(not(debug_assertions))]
#[cold]
#[inline(never)]
fn broken_unnamed() -> ! {
    panic!("async-completion: an internal invariant is broken (a bug: please report it)")
}

// The auto traits of the public types that hold a queue, spelled out, so that rustdoc
// shows them with their real conditions on public types only (its synthesized bounds can
// name the private `Queue` and `Waiter`). Each impl claims exactly what the type's fields
// give under that condition, which `_fields_give_it` below checks: no impl here makes a
// type `Send` or `Sync` that the compiler would not have made so on its own.
//
// SAFETY: a `Completion<L>` is its `Queue<L>`, which is `Send` when `L` is (above).
unsafe impl<L: Lock + Send> Send for crate::Completion<L> {}
// SAFETY: a `Completion<L>` is its `Queue<L>`, which is `Sync` when `L` is `Send + Sync`.
unsafe impl<L: Lock + Send + Sync> Sync for crate::Completion<L> {}
// SAFETY: a `Wait` is a `Waiter<&Queue<L>>`: a shared reference to the queue (`Send` and
// `Sync` when the queue is `Sync`, i.e. `L: Send + Sync`) and a `Node` (always both).
unsafe impl<L: Lock + Send + Sync> Send for crate::Wait<'_, L> {}
// SAFETY: as for `Send`, just above.
unsafe impl<L: Lock + Send + Sync> Sync for crate::Wait<'_, L> {}
// SAFETY: an `OwnedWait` is a `Waiter<Arc<Completion<L>>>`: an `Arc` (`Send` and `Sync`
// when the completion is `Send + Sync`, i.e. `L: Send + Sync`) and a `Node` (always both).
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<L: Lock + Send + Sync> Send for crate::OwnedWait<L> {}
// SAFETY: as for `Send`, just above.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<L: Lock + Send + Sync> Sync for crate::OwnedWait<L> {}

/// The check behind the impls above: under each impl's condition, the fields have the
/// trait. (Never called; it only has to type-check.)
#[allow(dead_code)]
fn _fields_give_it<'a, S: Lock + Send, L: Lock + Send + Sync + 'a>() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Queue<S>>();
    sync::<Queue<L>>();
    send::<Waiter<&'a Queue<L>>>();
    sync::<Waiter<&'a Queue<L>>>();
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    {
        send::<Waiter<alloc::sync::Arc<crate::Completion<L>>>>();
        sync::<Waiter<alloc::sync::Arc<crate::Completion<L>>>>();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::pin::pin;

    use super::{Drain, Queue};
    use crate::SpinLock;

    // The internal check that no path of the safe API can reach: a drain of another
    // queue is refused before either list is touched. (A waiter's node cannot be offered
    // to another queue at all: `Own` only exists for the waiter's own queue.)

    #[test]
    #[should_panic(expected = "release_all() with a foreign or active drain")]
    fn a_release_into_the_drain_of_another_queue_is_refused() {
        let (this, other) = (Queue::<SpinLock>::new(), Queue::<SpinLock>::new());
        let drain = pin!(Drain::new(&other, true));
        this.lock(|locked| locked.release_all(drain.as_ref()));
    }
}
