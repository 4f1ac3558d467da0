#![cfg(feature = "std")]
//! The public API as a user writes it: what the crate docs promise must compile without type
//! annotations a user would not expect to add, and the auto traits must be as documented.
//! Uses no dev-dependency, so it also runs on the MSRV toolchain.

use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

use async_completion::{Completion, DefaultLock, OwnedWait, SpinLock, StdLock, Wait};
use async_completion::{TimedOut, WaitOr, WaitTimeout};

/// Compiles only if `T` is not `Unpin`: with `T: Unpin` both impls apply and the call in
/// `assert_not_unpin!` is ambiguous.
trait AmbiguousIfUnpin<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfUnpin<()> for T {}
impl<T: ?Sized + Unpin> AmbiguousIfUnpin<u8> for T {}
macro_rules! assert_not_unpin {
    ($t:ty) => {
        let _ = <$t as AmbiguousIfUnpin<_>>::check;
    };
}

fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn default_needs_no_annotation() {
    let c = Completion::default();
    c.complete();
    assert!(c.try_wait());

    // As `Completion::new()`: the default lock.
    let d: Completion = Completion::default();
    assert!(!d.is_done());
}

#[test]
fn derive_default_on_a_struct_holding_a_completion() {
    #[derive(Default)]
    struct Device {
        rx_done: Completion,
        tx_done: Completion<DefaultLock>,
    }
    let dev = Device::default();
    dev.rx_done.complete();
    assert!(dev.rx_done.try_wait());
    assert!(!dev.tx_done.is_done());
}

#[test]
fn new_uses_the_std_lock_whatever_other_features_are() {
    // With `std`, `Completion`, `Completion<DefaultLock>` and `Completion<StdLock>` are one
    // type: enabling another feature (such as `critical-section`) changes none of them.
    let c: Completion<StdLock> = Completion::new();
    let d: &Completion<DefaultLock> = &c;
    let e: &Completion = d;
    e.complete();
    assert!(c.try_wait());
    // A named lock is another type, built with `with_lock`.
    let s: Completion<SpinLock> = Completion::with_lock();
    s.complete();
    assert!(s.try_wait());
}

#[test]
fn completion_is_unwind_safe() {
    unwind_safe::<Completion>();
    unwind_safe::<Completion<SpinLock>>();
    send_sync::<Completion>();

    let c = Completion::new();
    // No `AssertUnwindSafe` needed: `&Completion` is `UnwindSafe`.
    let result = catch_unwind(|| {
        c.complete();
        panic!("after complete");
    });
    assert!(result.is_err());
    assert!(
        c.try_wait(),
        "the completion posted before the panic is there"
    );

    let shared = Arc::new(Completion::new());
    let r = catch_unwind({
        let shared = shared.clone();
        move || shared.complete_all()
    });
    assert!(r.is_ok());
    assert!(shared.is_done());
    // Still usable after a caught panic in user code that held a wait.
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _wait = shared.wait();
        panic!("while holding a wait");
    }));
    assert!(r.is_err());
    assert!(shared.try_wait());
}

#[test]
fn wait_futures_are_not_unpin() {
    assert_not_unpin!(Wait<'static>);
    assert_not_unpin!(Wait<'static, SpinLock>);
    assert_not_unpin!(OwnedWait);
    assert_not_unpin!(WaitOr<'static, std::future::Ready<()>>);
    assert_not_unpin!(WaitTimeout<'static, std::future::Ready<()>>);
}

#[test]
fn timed_out_is_an_error_type() {
    fn error<E: std::error::Error + Send + Sync + 'static>(_: E) {}
    error(TimedOut);
    let boxed: Box<dyn std::error::Error> = TimedOut.into();
    assert_eq!(boxed.to_string(), "timed out waiting for a completion");
}
