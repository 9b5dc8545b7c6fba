//! Which hash slot a key lives in (CRC16/XMODEM of the key, or of its `{hash tag}`, mod
//! 16384), and a hash tag that lands in a given range: how a writer keeps its keys on one
//! shard. Pure.

use super::nodes::SLOTS;

/// CRC16/XMODEM (polynomial 0x1021, initial 0), as Redis Cluster uses it.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc
}

/// The slot of `key`: only the part inside the first `{…}` counts when it is not empty.
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16(hashed) % SLOTS
}

/// A short hash tag (`{t123}`) whose slot is in `start..=end`, found by trying `t0`, `t1`, …
/// (bounded: `None` only for a range no tag of up to six digits reaches).
#[must_use]
pub fn tag_in(start: u16, end: u16) -> Option<String> {
    (0..1_000_000u32)
        .map(|i| format!("{{t{i}}}"))
        .find(|tag| (start..=end).contains(&key_slot(tag.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT on Redis 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{foo}c:1"), 12182);
        assert_eq!(key_slot(b"123456789"), 12739);
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(key_slot(b"{}foo"), crc16(b"{}foo") % SLOTS);
        assert_eq!(key_slot(b"a{foo"), crc16(b"a{foo") % SLOTS);
    }

    #[test]
    fn a_tag_lands_in_its_range() {
        let tag = tag_in(5461, 10922).expect("a tag");
        assert!((5461..=10922).contains(&key_slot(format!("{tag}:9").as_bytes())));
    }
}
