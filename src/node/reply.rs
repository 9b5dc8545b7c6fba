//! Reply values to text, as bytes: a server's `INFO` may carry any byte (a replica's
//! `replica-announce-ip`, a `config_file:` or `executable:` path in Latin-1), so a reply is
//! never refused for not being UTF-8. It is decoded lossily (U+FFFD for each bad sequence)
//! and parsed. What *is* refused is a reply of the wrong shape (an integer, an array, nil
//! where text was asked): it says so instead of showing a node "up" with nothing known.
//!
//! This is also the entry of the byte-path fuzzing (`examples/fuzz_info.rs`, the proptests in
//! `tests/cli/hostile_bytes.rs`): reply bytes -> [`redis::parse_redis_value`] -> [`info`] ->
//! topology.

use crate::info::{self, Info};
use crate::observe::NodeError;

/// `bytes` as text, without copying when they are valid UTF-8.
#[must_use]
pub fn lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The name of a reply's shape, for messages.
fn shape(v: &redis::Value) -> &'static str {
    match v {
        redis::Value::Nil => "nil",
        redis::Value::Int(_) => "an integer",
        redis::Value::Array(_) | redis::Value::Set(_) => "an array",
        redis::Value::Map(_) | redis::Value::Attribute { .. } => "a map",
        redis::Value::Double(_) => "a double",
        redis::Value::Boolean(_) => "a boolean",
        redis::Value::BigNumber(_) => "a big number",
        redis::Value::Push { .. } => "a push message",
        redis::Value::ServerError(_) => "an error",
        _ => "a value of an unexpected type",
    }
}

/// The text of a reply that should be a string (bulk, verbatim or simple), decoded lossily.
///
/// # Errors
/// [`NodeError::Other`] naming `what` and the shape received, for any other reply.
pub fn text(v: redis::Value, what: &str) -> Result<String, NodeError> {
    match v {
        redis::Value::BulkString(b) => Ok(lossy(b)),
        redis::Value::VerbatimString { text, .. } | redis::Value::SimpleString(text) => Ok(text),
        redis::Value::Okay => Ok("OK".to_string()),
        other => Err(NodeError::Other(format!(
            "{what} answered {}, not text: not a Redis server, or a broken one",
            shape(&other)
        ))),
    }
}

/// An `INFO` reply, parsed. Never refused for its bytes; the size is bounded by the reader.
///
/// # Errors
/// A reply that is not a string (see [`text`]).
pub fn info(v: redis::Value) -> Result<Info, NodeError> {
    Ok(info::parse_owned(text(v, "INFO")?))
}

#[cfg(test)]
mod tests {
    use super::{info, text};

    #[test]
    fn non_utf8_info_is_read_lossily() {
        let raw = b"# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
                    slave0:ip=10.0.0.\xe9,port=6380,state=online,offset=5,lag=0\r\n\
                    # Server\r\nredis_version:7.0.15\r\nconfig_file:/etc/r\xe9dis.conf\r\n"
            .to_vec();
        let i = info(redis::Value::BulkString(raw)).unwrap();
        assert_eq!(i.replication.replicas.len(), 1);
        assert_eq!(i.replication.replicas[0].ip, "10.0.0.\u{fffd}");
        assert_eq!(i.server.version.as_deref(), Some("7.0.15"));
        assert_eq!(
            i.server.config_file.as_deref(),
            Some("/etc/r\u{fffd}dis.conf")
        );
    }

    #[test]
    fn an_integer_is_not_an_info_reply() {
        let e = info(redis::Value::Int(42)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "INFO answered an integer, not text: not a Redis server, or a broken one"
        );
        assert!(text(redis::Value::Nil, "CONFIG GET").is_err());
    }
}
