//! Fault injection (issue 15; crate docs, "Semantics": "A panicking waker ...", and
//! "Which lock, and interrupt safety"; the method docs of `wait_timeout` for ties): user
//! code that runs inside the crate's operations panics, and the `Completion` must stay
//! sound, exact and usable.
//!
//! One file per fault source, with the harness beside them:
//! - [`lock`]: the test lock panics on its k-th acquisition, before or after its closure
//!   (feature `embassy-sync`);
//! - [`waker`]: a waker's k-th `clone`, `wake` or `drop` panics;
//! - [`timer`]: timers and sleeps that panic, and timeout ties;
//! - [`other_future`]: `wait_or`'s other future panics, or wins while a completion was
//!   handed to the wait;
//! - [`harness`]: fault injection (`inject`), the child-process runner (`child`), the
//!   [`Scene`](harness::scene::Scene) that runs wait futures next to the reference model
//!   shared with the property test and the fuzz target (`model`, from
//!   `tests/model_impl/model.rs`), and the scenarios run at every k (`every_k`).
//!
//! After every operation the scene compares the model with the state the crate shows
//! (`Debug` of the completion and of each future, `is_terminated`, every waker's wake
//! count, the conservation law), and at the end it checks that every completion posted
//! was consumed by a `Ready` wait or a `try_wait`, or is still banked (drained), or was
//! discarded by `complete_all`/`reinit` by design; that the completion holds no waker
//! clone any more; and that a fresh complete/wait round trip works.

#[path = "../common/mod.rs"]
mod common;
mod harness;

#[cfg(feature = "embassy-sync")]
mod lock;
mod other_future;
mod timer;
mod waker;
