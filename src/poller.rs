//! Pollers. (Placeholder: being written.)
