//! Guides: longer explanations that do not belong to any single item.
//!
//! - [`embedded`]: for firmware authors: locks, timers and the QEMU firmware.
//! - [`from_kernel`]: for readers who know the Linux kernel's `struct completion`.
//! - [`from_other_crates`]: for readers who know `tokio::sync::Notify`, `event-listener` or
//!   `maitake-sync`.
//!
//! These modules contain documentation only; their examples run as doctests.

pub mod embedded {
    #![doc = include_str!("../docs/embedded.md")]
}

pub mod from_kernel {
    #![doc = include_str!("../docs/from_kernel.md")]
}

pub mod from_other_crates {
    #![doc = include_str!("../docs/from_other_crates.md")]
}
