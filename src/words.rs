//! Counts in operator text: "1 replica", "3 replicas", never "replica(s)". Pure; no I/O.

/// `n` and the noun, plural when `n` is not 1: `count(1, "replica")` is "1 replica",
/// `count(3, "replica")` is "3 replicas". For nouns whose plural is not `+s`, see [`count_as`].
#[must_use]
pub fn count(n: impl TryInto<u64>, noun: &str) -> String {
    let n = n.try_into().unwrap_or(u64::MAX);
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// As [`count`] with the plural given: `count_as(2, "copy", "copies")`.
#[must_use]
pub fn count_as(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    let n = n.try_into().unwrap_or(u64::MAX);
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::{count, count_as};

    #[test]
    fn singular_only_for_one() {
        assert_eq!(count(0u64, "replica"), "0 replicas");
        assert_eq!(count(1u64, "replica"), "1 replica");
        assert_eq!(count(3u64, "replica"), "3 replicas");
        assert_eq!(count(2usize, "write"), "2 writes");
        assert_eq!(count_as(1u64, "copy", "copies"), "1 copy");
        assert_eq!(count_as(2u64, "copy", "copies"), "2 copies");
    }
}
