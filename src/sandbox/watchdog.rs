//! The sandbox's watchdog: a small `/bin/sh` child that SIGKILLs the sandbox's servers when
//! the process owning the sandbox dies in a way that runs no clean-up (SIGKILL, abort, OOM
//! killer), so that no `redis-server` outlives its owner. Without `unsafe` there is no
//! `PR_SET_PDEATHSIG`; a pipe is the portable way to notice a parent's death.
//!
//! How it works: the watchdog's stdin is a pipe whose only write end is held by the owner
//! (std opens every pipe with `O_CLOEXEC`, so no server inherits it). The owner writes one line
//! per event, `add PID` when a server is spawned and `del PID` when it stops one. When the owner
//! dies, however it dies, the kernel closes the write end; the watchdog reads every line written
//! before (a pipe keeps order, and a line shorter than `PIPE_BUF` is written atomically), reaches
//! EOF, sends SIGCONT (a server may be frozen) and SIGKILL to every PID still listed, and exits.
//! On an orderly stop every server is killed and reaped first, so the list is empty when the
//! owner closes the pipe: the watchdog exits at once and the owner reaps it.
//!
//! PID reuse: a PID is only reused once its process has been reaped. The owner sends `del PID`
//! *before* it kills and reaps a server it stops itself, and right *after* a `try_wait` that
//! found (and so reaped) an exited server. So while the owner lives, every listed PID is one of
//! its unreaped children. If the owner dies between a `del` and the kill, that server is left
//! running: the safe direction. When the owner dies, its live servers are reparented and keep
//! their PIDs until the watchdog kills them. Small windows remain, each needing the owner to die
//! inside it: a server that exited on its own and was never seen by `try_wait` is reaped by
//! whoever adopts it, and its PID would have to be reused within the milliseconds before the
//! watchdog's kill (the same between a `try_wait` reap and the `del` right after it); and a
//! server spawned but not yet listed (the microseconds before its `add` line) is not watched.
//!
//! Signals and process group: the watchdog ignores SIGHUP, SIGINT, SIGQUIT and SIGTERM, and
//! runs in its own process group. Ignoring is enough for a Ctrl-C in the terminal, but not for
//! SIGKILL sent to the owner's whole group (`timeout -s KILL`, `kill -9 -PGID`, a supervisor):
//! that cannot be ignored, and would kill owner and watchdog together and leave the servers,
//! which are in their own groups. In its own group it also gets no terminal signal at all: not
//! Ctrl-Z, and not a Ctrl-C that arrives before the shell has run its `trap` line.
//!
//! If `/bin/sh` cannot be started the sandbox does not start: it never runs unwatched. Every
//! POSIX system has `/bin/sh`, so this only fails on a broken system. This file never signals a
//! server itself; it only keeps the list.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::SandboxError;

/// The shell that runs [`SCRIPT`].
const SHELL: &str = "/bin/sh";

/// Reads `add PID` / `del PID` lines until EOF, then kills what is listed. Only shell builtins:
/// no fork per line, and `read` blocks (no polling). A PID must be digits not starting with 0
/// (`kill 0` would signal the watchdog's own group).
const SCRIPT: &str = r#"trap '' HUP INT QUIT TERM PIPE
pids=' '
while read -r verb pid; do
  case $pid in ''|0*|*[!0-9]*) continue ;; esac
  case $verb in
    add) case $pids in *" $pid "*) ;; *) pids="$pids$pid " ;; esac ;;
    del) case $pids in *" $pid "*) pids="${pids%% $pid *} ${pids#* $pid }" ;; esac ;;
  esac
done
for pid in $pids; do
  kill -s CONT "$pid" 2>/dev/null
  kill -s KILL "$pid" 2>/dev/null
done
exit 0
"#;

/// How long [`Watchdog::close`] waits for the watchdog to exit before killing it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// One watchdog process and the PIDs it must kill if the owner dies. Shared by the sandbox and
/// its servers (each server reports its own starts and stops).
#[derive(Debug)]
pub(crate) struct Watchdog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The servers started and not yet stopped, as the watchdog should know them.
    pids: BTreeSet<u32>,
    /// The running watchdog, `None` once closed (or lost).
    proc: Option<Proc>,
}

#[derive(Debug)]
struct Proc {
    child: Child,
    stdin: ChildStdin,
}

impl Watchdog {
    /// Starts the watchdog with an empty list.
    ///
    /// # Errors
    /// [`SandboxError::Watchdog`] when `/bin/sh` cannot be run.
    pub(crate) fn start() -> Result<Self, SandboxError> {
        let w = Self {
            inner: Mutex::new(Inner::default()),
        };
        w.lock().proc = Some(spawn(&BTreeSet::new())?);
        Ok(w)
    }

    /// Lists a just-spawned server. A watchdog that was closed or has died is started again
    /// with the whole list.
    ///
    /// # Errors
    /// When no watchdog can be started: the caller must then stop that server.
    pub(crate) fn add(&self, pid: u32) -> Result<(), SandboxError> {
        let mut inner = self.lock();
        inner.pids.insert(pid);
        inner.send(&format!("add {pid}\n"))
    }

    /// Unlists a server: call it before killing the server, or right after reaping it.
    pub(crate) fn del(&self, pid: u32) {
        let mut inner = self.lock();
        if inner.pids.remove(&pid) {
            // Failing to restart a lost watchdog here leaves the remaining servers unwatched
            // until the next `add`; there is no caller that could do better.
            let _ = inner.send(&format!("del {pid}\n"));
        }
    }

    /// Closes the pipe and reaps the watchdog (bounded; killed if it does not exit). It then
    /// kills whatever is still listed, so call it after every server is stopped. A later
    /// [`add`](Self::add) starts a new one.
    /// Returns how the watchdog ended, `None` when none was running.
    pub(crate) fn close(&self) -> Option<ExitStatus> {
        let proc = self.lock().proc.take();
        proc.and_then(Proc::finish)
    }

    /// PID of the running watchdog.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.lock().proc.as_ref().map(|p| p.child.id())
    }

    /// The PIDs the watchdog would kill now.
    #[cfg(test)]
    fn listed(&self) -> Vec<u32> {
        self.lock().pids.iter().copied().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Inner {
    /// Writes one line; a watchdog that is gone (closed, or killed by someone: the write fails
    /// with a broken pipe) is replaced by a new one given the whole list instead.
    fn send(&mut self, line: &str) -> Result<(), SandboxError> {
        if let Some(p) = self.proc.as_mut() {
            // One `write_all` of a line shorter than PIPE_BUF is a single atomic write.
            if p.stdin.write_all(line.as_bytes()).is_ok() {
                return Ok(());
            }
            if let Some(lost) = self.proc.take() {
                let _ = lost.finish();
            }
        }
        if self.pids.is_empty() {
            return Ok(());
        }
        self.proc = Some(spawn(&self.pids)?);
        Ok(())
    }
}

impl Proc {
    /// Closes stdin (EOF for the script) and reaps the process, killing it after
    /// [`CLOSE_TIMEOUT`]. How it ended, when that could be read.
    fn finish(self) -> Option<ExitStatus> {
        let Self { mut child, stdin } = self;
        drop(stdin);
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Err(_) => return None,
                Ok(None) if Instant::now() >= deadline => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

/// Starts a watchdog already listing `pids`.
fn spawn(pids: &BTreeSet<u32>) -> Result<Proc, SandboxError> {
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        // Nothing inherited but the pipe: an inherited stdout would keep the owner's reader
        // (a terminal pipe, a test) open after the owner is gone.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| SandboxError::Watchdog {
        message: format!("cannot start the sandbox watchdog '{SHELL}': {e}"),
    })?;
    let Some(mut stdin) = child.stdin.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::Watchdog {
            message: "the sandbox watchdog has no stdin pipe".into(),
        });
    };
    let seed: String = pids.iter().fold(String::new(), |mut s, p| {
        use std::fmt::Write as _;
        let _ = writeln!(s, "add {p}");
        s
    });
    if let Err(e) = stdin.write_all(seed.as_bytes()) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::Watchdog {
            message: format!("cannot write to the sandbox watchdog: {e}"),
        });
    }
    Ok(Proc { child, stdin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::os::unix::process::ExitStatusExt;

    /// A stand-in for a server: a `sleep` that is our child (its PID stays ours until reaped),
    /// killed and reaped on drop, also when a test fails.
    struct Sleeper(Child);

    impl Sleeper {
        fn start() -> Self {
            let child = Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .spawn()
                .expect("sleep runs");
            Self(child)
        }

        fn id(&self) -> u32 {
            self.0.id()
        }

        fn signal(&self, sig: Signal) {
            let pid = Pid::from_raw(i32::try_from(self.id()).expect("pid fits"));
            kill(pid, sig).expect("signal the sleeper");
        }

        /// Polls (bounded) until it exits; the signal that killed it, if one did.
        fn killed_by(&mut self) -> Option<i32> {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Some(status) = self.0.try_wait().expect("try_wait") {
                    return status.signal();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            None
        }

        fn running(&mut self) -> bool {
            self.0.try_wait().expect("try_wait").is_none()
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    const SIGKILL: Option<i32> = Some(Signal::SIGKILL as i32);

    #[test]
    fn closing_the_pipe_kills_exactly_the_listed_pids() {
        let (mut a, mut b, mut c) = (Sleeper::start(), Sleeper::start(), Sleeper::start());
        let w = Watchdog::start().expect("watchdog starts");
        assert!(w.pid().is_some(), "running");
        w.add(a.id()).expect("add");
        w.add(b.id()).expect("add");
        w.add(c.id()).expect("add");
        w.add(a.id()).expect("adding twice is harmless");
        w.del(b.id());
        w.del(999_999_999); // never listed: ignored
        let mut expected = vec![a.id(), c.id()];
        expected.sort_unstable();
        assert_eq!(w.listed(), expected);
        // c is frozen: it must be killed all the same.
        c.signal(Signal::SIGSTOP);
        // What the owner's death does: EOF on the pipe with a non-empty list.
        let status = w.close().expect("the watchdog was running");
        assert_eq!(status.code(), Some(0), "it exited by itself: {status}");
        assert_eq!(w.pid(), None);
        assert_eq!(a.killed_by(), SIGKILL, "a was listed");
        assert_eq!(c.killed_by(), SIGKILL, "c was listed (frozen)");
        assert!(b.running(), "b was unlisted");
    }

    #[test]
    fn a_lost_watchdog_is_replaced_with_the_whole_list() {
        let (mut a, mut b) = (Sleeper::start(), Sleeper::start());
        let w = Watchdog::start().expect("watchdog starts");
        w.add(a.id()).expect("add");
        let first = w.pid().expect("running");
        // Someone kills the watchdog: a later line finds a broken pipe. A write may still land
        // in the pipe buffer before the death shows, so retry (bounded) until a new one runs.
        kill(
            Pid::from_raw(i32::try_from(first).expect("pid fits")),
            Signal::SIGKILL,
        )
        .expect("kill the watchdog");
        let deadline = Instant::now() + Duration::from_secs(5);
        w.add(b.id()).expect("add");
        while w.pid() == Some(first) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            w.add(b.id()).expect("add");
        }
        let second = w.pid().expect("a new watchdog runs");
        assert_ne!(second, first);
        let _ = w.close();
        assert_eq!(
            a.killed_by(),
            SIGKILL,
            "a was in the list given to the new one"
        );
        assert_eq!(b.killed_by(), SIGKILL, "b too");
    }

    /// The signals `trap` ignores, as a `SigIgn` mask of `/proc/PID/status`.
    fn ignored_mask(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0)
    }

    #[test]
    fn it_has_its_own_group_and_ignores_termination_signals() {
        let w = Watchdog::start().expect("watchdog starts");
        let pid = w.pid().expect("running");
        let raw = Pid::from_raw(i32::try_from(pid).expect("pid fits"));
        assert_eq!(nix::unistd::getpgid(Some(raw)), Ok(raw), "its own group");
        let sigs = [
            Signal::SIGHUP,
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGTERM,
        ];
        let want = sigs.iter().fold(0u64, |m, s| m | 1 << (*s as i32 - 1));
        // Until the shell has run its `trap` line (bounded).
        let deadline = Instant::now() + Duration::from_secs(5);
        while ignored_mask(pid) & want != want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ignored_mask(pid) & want, want, "trap '' HUP INT QUIT TERM");
        for sig in sigs {
            kill(raw, sig).expect("signal the watchdog");
        }
        // Still there: it ends on EOF by itself, not killed by a signal nor by close().
        let status = w.close().expect("the watchdog was running");
        assert_eq!(status.code(), Some(0), "{status}");
    }

    #[test]
    fn an_empty_list_kills_nothing_and_exits() {
        let mut a = Sleeper::start();
        let w = Watchdog::start().expect("watchdog starts");
        w.add(a.id()).expect("add");
        w.del(a.id());
        // Exit code 0: it ended by itself, close() did not have to kill it.
        let status = w.close().expect("the watchdog was running");
        assert_eq!(status.code(), Some(0), "{status}");
        assert_eq!(w.close(), None, "closing twice is harmless");
        assert!(a.running(), "a was unlisted");
        // A later add starts a new watchdog.
        let b = Sleeper::start();
        w.add(b.id()).expect("add");
        assert!(w.pid().is_some());
        w.del(b.id());
        let status = w.close().expect("the new watchdog was running");
        assert_eq!(status.code(), Some(0), "{status}");
    }
}
