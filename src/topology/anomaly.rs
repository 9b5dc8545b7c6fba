//! Anomaly detection. (Placeholder: being written.)
