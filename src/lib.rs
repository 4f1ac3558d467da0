//! The Linux kernel's `struct completion` ("wait for completion" barrier) as an async
//! primitive for any executor: tokio, async-std/smol, embassy, or plain threads.
//!
//! One task finishes some work and calls [`Completion::complete`]; others
//! `.await` [`Completion::wait`]. Either may come first: a completion posted with nobody
//! waiting is banked. Compared with `tokio::sync::Notify` or `event-listener`:
//!
//! - **direct FIFO hand-off**: a completion goes to the oldest waiter, under the lock;
//!   nothing can barge in and take it;
//! - **counted**: `n` calls to `complete()` release exactly `n` waits;
//! - **sticky [`complete_all`](Completion::complete_all)** until [`reinit`](Completion::reinit);
//! - **cancel safe with nothing lost**: a dropped wait that had been handed a completion
//!   passes it on;
//! - **`no_std`, zero allocation**, `const fn new()`, 24 bytes.
//!
//! ```
//! use async_completion::Completion;
//! use std::sync::Arc;
//!
//! # futures::executor::block_on(async {
//! let setup_done = Arc::new(Completion::new());
//! let cpu2 = std::thread::spawn({
//!     let setup_done = setup_done.clone();
//!     move || {
//!         // ... do setup ...
//!         setup_done.complete();
//!     }
//! });
//! // ... run non-dependent code ...
//! setup_done.wait().await;
//! # cpu2.join().unwrap();
//! # });
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `std` | yes | the internal lock is `std::sync::Mutex` |
//! | `alloc` | with `std` | [`Completion::wait_owned`]: a `'static` wait on an `Arc<Completion>` |
//! | `tokio` | no | [`TokioTimer`] for [`Completion::wait_timeout`] |
//! | `async-io` | no | [`AsyncIoTimer`] (async-std, smol) |
//! | `embassy-time` | no | [`EmbassyTimer`] |
//! | `critical-section` | no | the lock is a `critical-section` (wins over `std`): `complete()` may be called from interrupt handlers |
//! | `portable-atomic` | no | atomics from `portable-atomic`, for targets without compare-and-swap (pick its backend in your binary) |
//!
//! With neither `std` nor `critical-section` the lock is a small spinlock: fine on
//! multi-core `no_std` targets, but not interrupt-safe.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod adapters;
mod batch;
#[cfg(feature = "std")]
mod blocking;
mod completion;
mod core_ops;
mod lock;
mod loom;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
mod owned;
mod state;
mod timer;
mod wait;
mod wait_or;
mod waiters;

#[cfg(feature = "async-io")]
pub use adapters::async_io::AsyncIoTimer;
#[cfg(feature = "embassy-time")]
pub use adapters::embassy::EmbassyTimer;
#[cfg(feature = "tokio")]
pub use adapters::tokio::TokioTimer;
pub use completion::Completion;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use owned::OwnedWait;
pub use timer::{TimedOut, Timer};
pub use wait::Wait;
pub use wait_or::{WaitOr, WaitTimeout};

// Every build, on every target, proves that a `Completion` can be a `static`.
#[cfg(not(loom))]
const _: fn() = || {
    static STATIC_COMPLETION: Completion = Completion::new();
    let _ = &STATIC_COMPLETION;
};
