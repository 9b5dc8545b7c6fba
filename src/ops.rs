//! (Placeholder: being written.)

pub mod promote;
pub mod repoint;
