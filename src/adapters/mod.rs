//! Thin [`Timer`](crate::Timer) adapters, one per runtime, each behind its feature.

#[cfg(feature = "async-io")]
pub(crate) mod async_io;
#[cfg(feature = "embassy-time")]
pub(crate) mod embassy;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;
