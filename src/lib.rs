#![doc = include_str!("../docs/crate.md")]
// The chart of the "Speed" section, inline: it is part of the docs, with no file to find.
#![doc = ""]
#![doc = include_str!("../docs/chart.svg")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]
// The crate docs link to feature-gated items; with a feature off, those links dangle.
#![cfg_attr(
    not(all(
        feature = "std",
        feature = "critical-section",
        feature = "tokio",
        feature = "async-io",
        feature = "embassy-time"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(feature = "alloc")]
extern crate alloc;
// `async-io` names `std::time::Instant` (its clock) even without the `std` feature.
#[cfg(any(test, feature = "std", feature = "async-io"))]
extern crate std;

mod adapters;
mod batch;
#[cfg(feature = "std")]
mod blocking;
mod completion;
mod fault;
mod guard;
pub mod guide;
mod handoff;
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
pub use guard::{CompleteAllOnDrop, CompleteOnDrop};
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use guard::{OwnedCompleteAllOnDrop, OwnedCompleteOnDrop};
#[cfg(all(not(loom), feature = "critical-section"))]
pub use lock::CriticalSectionLock;
#[cfg(loom)]
#[doc(hidden)]
pub use lock::LoomLock;
#[cfg(not(loom))]
pub use lock::SpinLock;
#[cfg(all(not(loom), feature = "std"))]
pub use lock::StdLock;
pub use lock::{DefaultLock, Lock};
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use owned::OwnedWait;
pub use timer::{Clock, TimedOut, Timer};
pub use wait::Wait;
pub use wait_or::{RunUntilDone, WaitOr, WaitTimeout};

// Every build, on every target, proves that a `Completion` can be a `static`.
#[cfg(not(loom))]
const _: fn() = || {
    #[allow(deprecated)] // `new()` warns on an OS without `std`: it is still a `const fn`
    static STATIC_COMPLETION: Completion = Completion::new();
    let _ = &STATIC_COMPLETION;
};
