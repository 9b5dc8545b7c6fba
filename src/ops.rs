//! (Placeholder: being written.)
