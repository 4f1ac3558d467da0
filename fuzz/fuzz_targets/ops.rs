//! Fuzz target: the fuzz input, decoded into operations (create, poll with one of three
//! counting wakers or with a waker that panics when woken, drop, complete, complete_n,
//! complete_all, reinit, try_wait, is_done)
//! over up to six pinned wait futures, runs against the crate and the reference model of
//! `tests/model_impl` (the same source the property test uses). Any disagreement, panic or
//! leak is a finding. The panicking waker's own panics are caught by the interpreter and
//! kept off libFuzzer's abort-on-panic hook (every other panic still reaches it); in a
//! build that aborts on panic, the panicking waker is replaced by a counting one.
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run ops -- -max_total_time=600
//! ```
#![no_main]

use std::sync::Arc;

use async_completion::Completion;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model_impl/mod.rs"]
mod model_impl;

use model_impl::{BoxedWait, OwnedWaitFn};

fn owned_wait(c: Arc<Completion>) -> BoxedWait<'static> {
    Box::pin(c.wait_owned())
}

fuzz_target!(|data: &[u8]| {
    model_impl::quiet_injected_panics();
    let ops = model_impl::decode(data);
    let owned: OwnedWaitFn = owned_wait;
    if let Err(failure) = model_impl::check(&ops, Some(owned)) {
        panic!("the implementation disagrees with the model: {failure}\nops: {ops:?}");
    }
});
