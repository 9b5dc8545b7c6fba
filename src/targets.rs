//! Targets. (Placeholder: being written.)
