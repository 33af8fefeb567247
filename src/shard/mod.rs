//! The thread-per-core runtime: which core owns what, and how an op reaches its owner.
//!
//! Each core holds a `Core` (its registry and its mesh senders) in a thread-local `Rc`. An op
//! for a service owned here runs inline; an op for another core travels over the glommio
//! channel mesh with a oneshot for the reply. Nothing here is shared between threads except
//! the messages themselves.

pub mod accept;
pub mod core;
pub mod owner;

pub use self::core::{Core, CoreHandle};
pub use self::owner::{owner_core, owner_of_parts};
