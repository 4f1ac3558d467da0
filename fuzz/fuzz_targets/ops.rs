//! Fuzz target: the fuzz input, decoded into operations over the whole public API (every
//! wait future kind, polls with one of three counting wakers or with a waker that panics
//! when woken, `enable`, drops, timers firing on command and ties, every completer,
//! `try_wait`, `is_done`, `reinit`, the guards, the register-then-check flag), runs
//! against the crate and the reference model of `tests/model_impl` (the same source the
//! property test uses). Any disagreement, panic or leak is a finding. The panicking
//! waker's own panics are caught by the interpreter and kept off libFuzzer's
//! abort-on-panic hook (every other panic still reaches it); in a build that aborts on
//! panic, the panicking waker is replaced by a counting one.
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run ops -- -max_total_time=600
//! ```
#![no_main]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_completion::{Completion, OwnedCompleteAllOnDrop, OwnedCompleteOnDrop, OwnedWait};
use futures_core::FusedFuture;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model_impl/mod.rs"]
mod model_impl;

use model_impl::{poll_unit, AnyGuard, AnyWait, BoxedWait, Extras, Res};

impl AnyWait for OwnedWait {
    fn poll_res(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Res> {
        poll_unit(self, cx)
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn enable_wait(self: Pin<&mut Self>) -> Option<bool> {
        Some(self.enable())
    }
}

impl AnyGuard for OwnedCompleteOnDrop {
    fn disarm_guard(self: Box<Self>) {
        drop(self.disarm());
    }
}

impl AnyGuard for OwnedCompleteAllOnDrop {
    fn disarm_guard(self: Box<Self>) {
        drop(self.disarm());
    }
}

fn owned_wait(c: Arc<Completion>) -> BoxedWait<'static> {
    Box::pin(c.wait_owned())
}

fn owned_guard(c: Arc<Completion>, all: bool) -> Box<dyn AnyGuard> {
    if all {
        Box::new(c.complete_all_on_drop_owned())
    } else {
        Box::new(c.complete_on_drop_owned())
    }
}

fuzz_target!(|data: &[u8]| {
    model_impl::quiet_injected_panics();
    let ops = model_impl::decode(data);
    let extras = Extras {
        owned_wait: Some(owned_wait),
        owned_guard: Some(owned_guard),
    };
    if let Err(failure) = model_impl::check(&ops, extras) {
        panic!("the implementation disagrees with the model: {failure}\nops: {ops:?}");
    }
});
