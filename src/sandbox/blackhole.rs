//! A loopback port that accepts TCP connections and never answers (REDIS.md §5 #11): to a
//! client it looks like a frozen server. It holds what it accepts without reading, lives for a
//! bounded time, and stops (closing every connection) on drop.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default lifetime: long enough for any test or benchmark, short enough that a leaked one
/// goes away by itself.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// At most this many connections are held; past it the listener stops accepting and the
/// kernel's backlog makes further clients hang just the same.
const MAX_HELD: usize = 4096;

/// A listener on 127.0.0.1 that accepts and never answers.
#[derive(Debug)]
pub struct Blackhole {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    /// Starts one on a free port for [`DEFAULT_LIFETIME`].
    ///
    /// # Errors
    /// When the port cannot be bound or the thread not started.
    pub fn start() -> std::io::Result<Self> {
        Self::start_for(DEFAULT_LIFETIME)
    }

    /// Starts one that closes by itself after `lifetime`.
    ///
    /// # Errors
    /// When the port cannot be bound or the thread not started.
    pub fn start_for(lifetime: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("blackhole-{port}"))
            .spawn(move || hold(&listener, &flag, lifetime))?;
        Ok(Self {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// Closes the listener and every held connection.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hold(listener: &TcpListener, stop: &AtomicBool, lifetime: Duration) {
    let end = Instant::now() + lifetime;
    let mut held: Vec<TcpStream> = Vec::new();
    while !stop.load(Ordering::SeqCst) && Instant::now() < end {
        if held.len() < MAX_HELD {
            // Nonblocking: WouldBlock (nothing waiting) and transient errors both mean "sleep".
            if let Ok((conn, _)) = listener.accept() {
                held.push(conn);
                continue;
            }
        }
        // Clients complete their handshake in the kernel backlog whether or not this has
        // accepted yet, so a slow cadence costs nothing and keeps idle CPU near zero.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn accepts_and_never_answers() {
        let hole = Blackhole::start_for(Duration::from_secs(30)).expect("start");
        let mut c = TcpStream::connect(("127.0.0.1", hole.port)).expect("connect succeeds");
        c.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let mut buf = [0u8; 16];
        let err = c.read(&mut buf).expect_err("no reply ever comes");
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
    }

    #[test]
    fn drop_closes_the_port() {
        let hole = Blackhole::start_for(Duration::from_secs(30)).expect("start");
        let port = hole.port;
        drop(hole);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
