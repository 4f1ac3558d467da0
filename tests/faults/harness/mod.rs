//! The fault suite's harness: fault injection ([`inject`]: probe wakers, the test lock
//! `FaultLock`, controllable futures), the child-process runner ([`child`]), the scene
//! that runs wait futures next to the shared reference model ([`scene`], [`model`]), and
//! the scenarios run at every k ([`every_k`]).
pub mod child;
pub mod every_k;
pub mod inject;
#[path = "../../model_impl/model.rs"]
pub mod model;
pub mod scene;
