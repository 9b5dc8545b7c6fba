//! The data consistency check (`check-data`): does each replica hold the same data as its
//! primary? Compared at one proven point in time, so that a steady writer never causes a false
//! mismatch: each side's offset, key counts per database and `DEBUG DIGEST` are read in one
//! `MULTI`/`EXEC` (nothing runs between them on that server), and a primary's and a replica's
//! readings are compared only when their offsets are equal. Under writes the check retries a
//! bounded number of times; with `allow_pause` it takes a brief `CLIENT PAUSE WRITE` instead.
//!
//! Where `DEBUG` is refused (7.0+ `enable-debug-command no`, an ACL, a renamed command), the
//! counts are still compared at equal offsets and the keys themselves by a bounded scan of
//! `DUMP` payloads on both sides, with the coverage stated. A difference found is re-checked
//! once the replica has caught up, so that a key written a moment ago is not reported.
//!
//! Read-only but for the optional pause (always lifted, and bounded by the server too).

mod report;

pub use report::{counts, method, millis, pair_line, refused, why};

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::config::Group;
use crate::info::{Info, InfoRole};
use crate::node::rdb::DbCount;
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

const CLIENT_NAME: &str = "redops-check-data";
/// The longest one reading (with `DEBUG DIGEST`) may take: about 2.5 s per million keys.
const DIGEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Readings of the primary tried on a dataset too large to digest cheaply.
const LARGE_ATTEMPTS: u32 = 3;
/// Up to this many keys, every poll of a replica reads its digest too.
const CHEAP_DIGEST_KEYS: u64 = 100_000;
/// Example keys named per database, at most.
const MAX_EXAMPLES: usize = 10;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `CLIENT PAUSE <ms> WRITE` on the primary while both sides are read.
    pub allow_pause: Option<Duration>,
    /// Readings of the primary tried before giving up on equal offsets.
    pub attempts: u32,
    /// How long one attempt waits for the replica to reach the primary's offset.
    pub catch_up: Duration,
    /// Keys compared one by one (the scan fallback, and the search for examples), at most.
    pub key_budget: u64,
    /// Time spent trying for equal offsets, and again comparing keys one by one, at most.
    pub time_budget: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_pause: None,
            attempts: 50,
            catch_up: Duration::from_secs(5),
            key_budget: 100_000,
            time_budget: Duration::from_secs(30),
        }
    }
}

/// How a pair was compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `DEBUG DIGEST` on both sides at equal offsets.
    Digest,
    /// Counts at equal offsets, then `DUMP` payloads of `compared` keys out of `total`.
    Scan { compared: u64, total: u64 },
}

/// The verdict for one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Consistent,
    /// Different data: which databases differ and example keys.
    Mismatch {
        dbs: Vec<DbDiff>,
        examples: Vec<String>,
    },
    /// No comparison could be made.
    Undecided(Undecided),
}

/// Why a replica could not be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecided {
    /// It did not answer `INFO`.
    NoAnswer,
    /// It is in no primary's replication history (another replid).
    OtherHistory,
    /// It was never read at the primary's offset: writes too fast to catch both sides at one
    /// point (without a pause), or the pause ran out first (with one).
    NoEqualOffsets,
    /// A command failed (the error's text).
    Failed(String),
}

/// One database that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbDiff {
    pub db: u32,
    pub primary_keys: u64,
    pub replica_keys: u64,
}

/// One replica compared with its primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairReport {
    /// The primary it was compared with (empty when none).
    pub primary: String,
    pub replica: String,
    pub verdict: Verdict,
    pub method: Option<Method>,
    /// The offset both sides were read at.
    pub offset: Option<u64>,
    /// Readings of the primary it took.
    pub attempts: u32,
    pub paused: Option<Duration>,
    /// How long writes were really paused, from `CLIENT PAUSE` sent to `CLIENT UNPAUSE`
    /// answered (or failed).
    pub paused_for: Option<Duration>,
    pub primary_keys: Vec<DbCount>,
    pub replica_keys: Vec<DbCount>,
    pub elapsed: Duration,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    pub group: String,
    /// Every primary found: one, or one per shard of a cluster.
    pub primaries: Vec<String>,
    pub pairs: Vec<PairReport>,
    /// Why the group could not be checked at all.
    pub problem: Option<String>,
}

impl GroupReport {
    /// Every replica compared and consistent.
    #[must_use]
    pub fn consistent(&self) -> bool {
        self.problem.is_none() && self.pairs.iter().all(|p| p.verdict == Verdict::Consistent)
    }
}

/// What one `MULTI`/`EXEC` saw on one server.
#[derive(Debug, Clone)]
struct Reading {
    offset: u64,
    keys: Vec<DbCount>,
    digest: Option<String>,
}

struct Side {
    name: String,
    client: NodeClient,
    /// For the `MULTI`/`EXEC` readings: a digest of a large dataset takes seconds.
    slow: NodeClient,
    replid: Option<String>,
    /// The primary's last reading: the next replica compared at that offset needs no new
    /// digest of the primary (seconds of a blocked server on a large dataset).
    last: Option<Reading>,
}

/// Checks every replica of `group` against its primary.
pub async fn check_group(group: &Group, timeouts: Timeouts, opts: Options) -> GroupReport {
    let mut report = GroupReport {
        group: group.name.clone(),
        primaries: Vec::new(),
        pairs: Vec::new(),
        problem: None,
    };
    let mut primaries: Vec<Side> = Vec::new();
    let mut replicas: Vec<Side> = Vec::new();
    for node in &group.nodes {
        let Ok(mut client) = NodeClient::new(node, timeouts, CLIENT_NAME) else {
            continue;
        };
        let Ok((info, _)) = client.info().await else {
            report.pairs.push(PairReport {
                replica: node.name.clone(),
                ..blank(Verdict::Undecided(Undecided::NoAnswer))
            });
            continue;
        };
        let slow_timeouts = Timeouts {
            read: timeouts.read.max(DIGEST_TIMEOUT),
            ..timeouts
        };
        let Ok(slow) = NodeClient::new(node, slow_timeouts, CLIENT_NAME) else {
            continue;
        };
        let side = Side {
            name: node.name.clone(),
            client,
            slow,
            replid: info.replication.replid.clone(),
            last: None,
        };
        match info.replication.role {
            Some(InfoRole::Primary) => primaries.push(side),
            _ => replicas.push(side),
        }
    }
    if primaries.is_empty() {
        report.problem = Some("no primary answered".into());
        return report;
    }
    report.primaries = primaries.iter().map(|p| p.name.clone()).collect();
    // Each replica against the primary of its replication history: one per shard of a
    // cluster; a replica of none (a split, a stale history) is not compared.
    let mut digest_ok = Vec::new();
    for p in &mut primaries {
        digest_ok.push(digest_allowed(&mut p.client).await);
    }
    for mut replica in replicas {
        let Some(i) = primaries.iter().position(|p| p.replid == replica.replid) else {
            report.pairs.push(PairReport {
                replica: replica.name.clone(),
                ..blank(Verdict::Undecided(Undecided::OtherHistory))
            });
            continue;
        };
        let digest = digest_ok[i] && digest_allowed(&mut replica.client).await;
        let pair = check_pair(&mut primaries[i], &mut replica, digest, opts).await;
        report.pairs.push(pair);
    }
    report
}

fn blank(verdict: Verdict) -> PairReport {
    PairReport {
        primary: String::new(),
        replica: String::new(),
        verdict,
        method: None,
        offset: None,
        attempts: 0,
        paused: None,
        paused_for: None,
        primary_keys: Vec::new(),
        replica_keys: Vec::new(),
        elapsed: Duration::ZERO,
    }
}

/// `DEBUG` is answered (not refused by `enable-debug-command`, an ACL or a rename). Probed with
/// `DEBUG DIGEST-VALUE` of no key (Redis 5+, Valkey): the same command and checks as
/// `DEBUG DIGEST`, without its cost, which on a large dataset is seconds of a blocked server.
async fn digest_allowed(client: &mut NodeClient) -> bool {
    client
        .query::<redis::Value>(redis::cmd("DEBUG").arg("DIGEST-VALUE"))
        .await
        .is_ok()
}

/// Offset, keys per database and (when `digest`) `DEBUG DIGEST`, in one transaction.
async fn read(client: &mut NodeClient, digest: bool) -> Result<Reading, NodeError> {
    client.query::<()>(&redis::cmd("MULTI")).await?;
    client
        .query::<()>(redis::cmd("INFO").arg("replication"))
        .await?;
    client
        .query::<()>(redis::cmd("INFO").arg("keyspace"))
        .await?;
    if digest {
        client
            .query::<()>(redis::cmd("DEBUG").arg("DIGEST"))
            .await?;
    }
    let v: Vec<redis::Value> = client.query(&redis::cmd("EXEC")).await?;
    let mut it = v.into_iter();
    let repl: Info = crate::node::reply::info(it.next().unwrap_or(redis::Value::Nil))?;
    let space: Info = crate::node::reply::info(it.next().unwrap_or(redis::Value::Nil))?;
    let digest = it.next().and_then(|d| match d {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        redis::Value::SimpleString(s) => Some(s),
        _ => None,
    });
    let offset = repl
        .replication
        .offset
        .ok_or_else(|| NodeError::Other("INFO replication has no master_repl_offset".into()))?;
    Ok(Reading {
        offset,
        keys: DbCount::of(&space),
        digest,
    })
}

async fn check_pair(
    primary: &mut Side,
    replica: &mut Side,
    digest: bool,
    opts: Options,
) -> PairReport {
    let started = Instant::now();
    let mut pair = PairReport {
        primary: primary.name.clone(),
        replica: replica.name.clone(),
        paused: opts.allow_pause,
        ..blank(Verdict::Undecided(Undecided::NoEqualOffsets))
    };
    let found = match opts.allow_pause {
        Some(ms) => paused_readings(primary, replica, digest, ms, opts, &mut pair).await,
        None => equal_readings(primary, replica, digest, opts, &mut pair).await,
    };
    let (p, r) = match found {
        Ok(Some(both)) => both,
        Ok(None) => {
            pair.verdict = Verdict::Undecided(Undecided::NoEqualOffsets);
            pair.elapsed = started.elapsed();
            return pair;
        }
        Err(e) => {
            pair.verdict = Verdict::Undecided(Undecided::Failed(e.to_string()));
            pair.elapsed = started.elapsed();
            return pair;
        }
    };
    pair.offset = Some(p.offset);
    pair.primary_keys.clone_from(&p.keys);
    pair.replica_keys.clone_from(&r.keys);
    let dbs = count_diffs(&p.keys, &r.keys);
    let same_digest = p.digest.is_some() && p.digest == r.digest;
    if digest {
        pair.method = Some(Method::Digest);
        if dbs.is_empty() && same_digest {
            pair.verdict = Verdict::Consistent;
        } else {
            let (examples, _) =
                find_differences(primary, replica, &p.keys, &r.keys, &dbs, opts).await;
            pair.verdict = Verdict::Mismatch { dbs, examples };
        }
    } else {
        let (examples, compared) =
            find_differences(primary, replica, &p.keys, &r.keys, &dbs, opts).await;
        let total = p.keys.iter().map(|d| d.keys).sum();
        pair.method = Some(Method::Scan { compared, total });
        pair.verdict = if dbs.is_empty() && examples.is_empty() {
            Verdict::Consistent
        } else {
            Verdict::Mismatch { dbs, examples }
        };
    }
    pair.elapsed = started.elapsed();
    pair
}

/// Reads the primary, then the replica until it is at the primary's offset (bounded); again
/// from the primary when the replica went past it.
async fn equal_readings(
    primary: &mut Side,
    replica: &mut Side,
    digest: bool,
    opts: Options,
    pair: &mut PairReport,
) -> Result<Option<(Reading, Reading)>, NodeError> {
    let started = Instant::now();
    let mut attempts = opts.attempts;
    while pair.attempts < attempts && started.elapsed() < opts.time_budget {
        pair.attempts += 1;
        let p = match primary.last.take() {
            Some(p) if pair.attempts == 1 && p.digest.is_some() == digest => p,
            _ => read(&mut primary.slow, digest).await?,
        };
        // A small dataset digests in microseconds: every poll of the replica is then a full
        // reading, with no race between "it is there" and "read it". A large one blocks the
        // primary for its digest (seconds per million keys) on every attempt: a few only.
        let cheap = p.keys.iter().map(|d| d.keys).sum::<u64>() <= CHEAP_DIGEST_KEYS;
        if !cheap && digest {
            attempts = attempts.min(LARGE_ATTEMPTS);
        }
        let deadline = Instant::now() + opts.catch_up;
        loop {
            let (at, reading) = if cheap {
                let r = read(&mut replica.slow, digest).await?;
                (r.offset, Some(r))
            } else {
                (offset(&mut replica.client).await?, None)
            };
            if at == p.offset {
                let r = match reading {
                    Some(r) => r,
                    None => read(&mut replica.slow, digest).await?,
                };
                if r.offset == p.offset {
                    primary.last = Some(p.clone());
                    return Ok(Some((p, r)));
                }
                break;
            }
            if at > p.offset || Instant::now() >= deadline {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(None)
}

/// With a write pause on the primary: its offset stands still while both are read.
async fn paused_readings(
    primary: &mut Side,
    replica: &mut Side,
    digest: bool,
    ms: Duration,
    opts: Options,
    pair: &mut PairReport,
) -> Result<Option<(Reading, Reading)>, NodeError> {
    let millis = u64::try_from(ms.as_millis()).unwrap_or(u64::MAX).max(1);
    let pause_sent = Instant::now();
    primary
        .client
        .query::<()>(redis::cmd("CLIENT").arg("PAUSE").arg(millis).arg("WRITE"))
        .await?;
    let result = async {
        let deadline = Instant::now() + ms.min(opts.catch_up);
        pair.attempts += 1;
        let p = read(&mut primary.slow, digest).await?;
        loop {
            let at = offset(&mut replica.client).await?;
            if at >= p.offset || Instant::now() >= deadline {
                break;
            }
            tokio::task::yield_now().await;
        }
        let r = read(&mut replica.slow, digest).await?;
        Ok((r.offset == p.offset).then_some((p, r)))
    }
    .await;
    // Lifted whatever happened (the server ends it at `ms` anyway).
    let _ = primary
        .client
        .query::<()>(redis::cmd("CLIENT").arg("UNPAUSE"))
        .await;
    pair.paused_for = Some(pause_sent.elapsed().min(ms));
    result
}

async fn offset(client: &mut NodeClient) -> Result<u64, NodeError> {
    let v: redis::Value = client.query(redis::cmd("INFO").arg("replication")).await?;
    crate::node::reply::info(v)?
        .replication
        .offset
        .ok_or_else(|| NodeError::Other("INFO replication has no master_repl_offset".into()))
}

fn count_diffs(p: &[DbCount], r: &[DbCount]) -> Vec<DbDiff> {
    let count = |list: &[DbCount], db: u32| list.iter().find(|d| d.db == db).map_or(0, |d| d.keys);
    let dbs: BTreeSet<u32> = p.iter().chain(r).map(|d| d.db).collect();
    dbs.into_iter()
        .filter_map(|db| {
            let (a, b) = (count(p, db), count(r, db));
            (a != b).then_some(DbDiff {
                db,
                primary_keys: a,
                replica_keys: b,
            })
        })
        .collect()
}

/// Keys that differ, by `DUMP` on both sides: first the databases whose counts differ, then
/// the others; the replica's keys missing on the primary too. Each difference is checked
/// again once the replica has caught up with the primary, so a fresh write is not reported.
/// Returns the examples and how many keys were compared.
async fn find_differences(
    primary: &mut Side,
    replica: &mut Side,
    p_keys: &[DbCount],
    r_keys: &[DbCount],
    diffs: &[DbDiff],
    opts: Options,
) -> (Vec<String>, u64) {
    let deadline = Instant::now() + opts.time_budget;
    let mut dbs: Vec<u32> = diffs.iter().map(|d| d.db).collect();
    for d in p_keys.iter().chain(r_keys) {
        if !dbs.contains(&d.db) {
            dbs.push(d.db);
        }
    }
    let mut compared = 0u64;
    let mut suspects: Vec<(u32, Vec<u8>)> = Vec::new();
    for db in dbs {
        // Both directions: keys of the primary (missing or different on the replica), and
        // keys of the replica (missing on the primary: written on the replica itself). The
        // side with more keys first, with half the budget left, so both get a turn.
        let replica_has_more = diffs
            .iter()
            .any(|d| d.db == db && d.replica_keys > d.primary_keys);
        let order = if replica_has_more {
            [false, true]
        } else {
            [true, false]
        };
        for (turn, from_primary) in order.into_iter().enumerate() {
            let left = opts.key_budget.saturating_sub(compared);
            let budget = if turn == 0 { left.div_ceil(2) } else { left };
            let (a, b) = if from_primary {
                (&mut primary.client, &mut replica.client)
            } else {
                (&mut replica.client, &mut primary.client)
            };
            let Ok(found) = scan_compare(a, b, db, budget, deadline).await else {
                continue;
            };
            compared += found.compared;
            suspects.extend(found.differing.into_iter().map(|k| (db, k)));
        }
        if suspects.len() >= MAX_EXAMPLES * 4 {
            break;
        }
    }
    // Let the replica catch up with the primary, then keep what still differs.
    if let Ok(target) = offset(&mut primary.client).await {
        let until = Instant::now() + opts.catch_up;
        while offset(&mut replica.client).await.is_ok_and(|o| o < target) && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut examples = Vec::new();
    for (db, key) in suspects {
        if examples.len() >= MAX_EXAMPLES {
            break;
        }
        let both = async {
            let a = dump(&mut primary.client, db, &key).await?;
            let b = dump(&mut replica.client, db, &key).await?;
            Ok::<_, NodeError>((a, b))
        };
        let what = match both.await {
            Ok((Some(_), None)) => "missing on the replica",
            Ok((None, Some(_))) => "only on the replica",
            Ok((a, b)) if a != b => "another value on the replica",
            _ => continue,
        };
        // A key is the server's bytes: made visible, never interpreted by a terminal.
        examples.push(format!(
            "db{db}: {} ({what})",
            crate::sanitize::visible(&String::from_utf8_lossy(&key))
        ));
    }
    (examples, compared)
}

struct Compared {
    compared: u64,
    differing: Vec<Vec<u8>>,
}

/// SCANs `db` on `a` and compares each key's `DUMP` with `b`'s, within the budgets.
async fn scan_compare(
    a: &mut NodeClient,
    b: &mut NodeClient,
    db: u32,
    budget: u64,
    deadline: Instant,
) -> Result<Compared, NodeError> {
    let mut out = Compared {
        compared: 0,
        differing: Vec::new(),
    };
    a.query::<()>(redis::cmd("SELECT").arg(db)).await?;
    b.query::<()>(redis::cmd("SELECT").arg(db)).await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = a
            .query(redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(200))
            .await?;
        for key in keys {
            if out.compared >= budget || Instant::now() >= deadline {
                return Ok(out);
            }
            let x: Option<Vec<u8>> = a.query(redis::cmd("DUMP").arg(&key)).await?;
            let y: Option<Vec<u8>> = b.query(redis::cmd("DUMP").arg(&key)).await?;
            out.compared += 1;
            // A key gone from `a` since the scan is not a difference.
            if x.is_some() && x != y {
                out.differing.push(key);
                if out.differing.len() >= MAX_EXAMPLES * 4 {
                    return Ok(out);
                }
            }
        }
        cursor = next;
        if cursor == 0 {
            return Ok(out);
        }
    }
}

async fn dump(client: &mut NodeClient, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
    client.query::<()>(redis::cmd("SELECT").arg(db)).await?;
    client.query(redis::cmd("DUMP").arg(key)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_diffs_names_each_db_that_differs_either_way() {
        let c = |db, keys| DbCount {
            db,
            keys,
            expires: 0,
        };
        let p = [c(0, 10), c(1, 3)];
        assert!(count_diffs(&p, &p).is_empty());
        let d = count_diffs(&p, &[c(0, 510), c(1, 3), c(2, 1)]);
        let got: Vec<(u32, u64, u64)> = d
            .iter()
            .map(|d| (d.db, d.primary_keys, d.replica_keys))
            .collect();
        assert_eq!(got, [(0, 10, 510), (2, 0, 1)]);
    }
}
