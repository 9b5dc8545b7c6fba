//! A fake RESP server on 127.0.0.1:0 that says what a real server cannot: hostile bytes in
//! INFO, a reply closed half-way, an endless bulk string, a length bomb after `SYNC`.
//!
//! Plain std threads (one per connection), so it serves a test's own async client and the
//! built binary alike. Every connection thread ends when its peer hangs up, when a write
//! fails, or when the server is dropped; streaming replies are bounded by a byte count.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do with one command.
#[derive(Debug, Clone)]
pub enum Act {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Send these bytes, then hang up.
    SendClose(Vec<u8>),
    /// Send `head`, then `total` bytes of filler in chunks, then `tail` (unless the peer left).
    Stream {
        head: Vec<u8>,
        total: u64,
        tail: Vec<u8>,
    },
}

type Handler = dyn Fn(&[Vec<u8>]) -> Act + Send + Sync;

/// One fake server; stops accepting when dropped.
pub struct Fake {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Every command received, as lossy text joined by spaces (AUTH arguments included).
    pub log: Arc<Mutex<Vec<String>>>,
    /// Bytes the streaming replies managed to write.
    pub streamed: Arc<AtomicU64>,
}

impl Fake {
    /// Starts a server answering each command with `handler`.
    pub fn start(handler: impl Fn(&[Vec<u8>]) -> Act + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (st, lg, sm) = (stop.clone(), log.clone(), streamed.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let (h, st, lg, sm) = (handler.clone(), st.clone(), lg.clone(), sm.clone());
                        std::thread::spawn(move || serve(sock, &*h, &st, &lg, &sm));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            stop,
            log,
            streamed,
        }
    }

    /// A server that answers `INFO` with `info` (raw reply bytes) and `+OK` to the rest
    /// (`CONFIG GET` gets an empty array).
    pub fn info(info: Vec<u8>) -> Self {
        Self::start(move |args| match upper(args).as_str() {
            "INFO" => Act::Send(info.clone()),
            "CONFIG" => Act::Send(b"*0\r\n".to_vec()),
            _ => Act::Send(b"+OK\r\n".to_vec()),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr_string(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    pub fn commands(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The command name, upper case.
pub fn upper(args: &[Vec<u8>]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default()
}

/// `bytes` as one RESP bulk string.
pub fn bulk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

fn serve(
    sock: TcpStream,
    handler: &Handler,
    stop: &AtomicBool,
    log: &Mutex<Vec<String>>,
    streamed: &AtomicU64,
) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(30)));
    let Ok(mut out) = sock.try_clone() else {
        return;
    };
    let mut input = BufReader::new(sock);
    while !stop.load(Ordering::Relaxed) {
        let Some(args) = read_command(&mut input) else {
            return;
        };
        if let Ok(mut l) = log.lock() {
            let words: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            l.push(words.join(" "));
        }
        match handler(&args) {
            Act::Send(b) => {
                if out.write_all(&b).is_err() {
                    return;
                }
            }
            Act::SendClose(b) => {
                let _ = out.write_all(&b);
                let _ = out.shutdown(std::net::Shutdown::Both);
                return;
            }
            Act::Stream { head, total, tail } => {
                if out.write_all(&head).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 256 * 1024];
                let mut sent = 0u64;
                while sent < total && !stop.load(Ordering::Relaxed) {
                    let n = usize::try_from((total - sent).min(chunk.len() as u64))
                        .unwrap_or(chunk.len());
                    if out.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    sent += n as u64;
                    streamed.fetch_add(n as u64, Ordering::Relaxed);
                }
                if out.write_all(&tail).is_err() {
                    return;
                }
            }
        }
    }
}

/// One command: a RESP array of bulk strings, or an inline command (`SYNC\r\n`). `None` at
/// end of stream or on anything malformed. Sizes are bounded (tests send small commands).
fn read_command(r: &mut BufReader<TcpStream>) -> Option<Vec<Vec<u8>>> {
    let line = read_line(r)?;
    if let Some(n) = line.strip_prefix(b"*") {
        let n: usize = std::str::from_utf8(n).ok()?.parse().ok()?;
        if n > 64 {
            return None;
        }
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            let head = read_line(r)?;
            let len: usize = std::str::from_utf8(head.strip_prefix(b"$")?)
                .ok()?
                .parse()
                .ok()?;
            if len > 1 << 20 {
                return None;
            }
            let mut buf = vec![0u8; len + 2];
            r.read_exact(&mut buf).ok()?;
            buf.truncate(len);
            args.push(buf);
        }
        Some(args)
    } else {
        Some(
            line.split(|b| *b == b' ')
                .filter(|w| !w.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        )
    }
}

fn read_line(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(64 * 1024)
        .read_until(b'\n', &mut buf)
        .ok()?;
    if n == 0 {
        return None;
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Some(buf)
}
