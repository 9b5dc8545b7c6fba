//! The byte stream under a node connection: TCP (or TLS) connect, and a cap on every reply
//! *while it is read*.
//!
//! Why here and not in the driver: redis-rs buffers a whole bulk string before handing it
//! over and has no size option, so a server answering `INFO` with 600 MB cost 1.24 GB of
//! memory before the old after-the-fact check could refuse it. redis-rs does accept any
//! `AsyncRead + AsyncWrite` as the connection's stream, so the cap sits under the driver:
//! [`Capped`] counts the bytes read since the last write (redops sends one command at a
//! time per connection, so those are the pending reply's bytes) and fails the read once they
//! pass the cap. The connection dies, its buffer is freed, the caller gets a typed refusal.
//! One stream for every command keeps a single connection per node and a single TLS setup
//! (shared with the RDB download, which reads its own framing).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::{Addr, Tls};

/// Anything a connection can run over: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A stream that refuses a reply longer than its cap. `tripped` says, after an error, that
/// the cap (and not the network) ended the connection.
pub struct Capped<S> {
    inner: S,
    cap: usize,
    since_write: usize,
    tripped: Arc<AtomicBool>,
}

impl<S> Capped<S> {
    /// Wraps `inner`; `tripped` is set when a reply passes `cap` bytes.
    pub fn new(inner: S, cap: usize, tripped: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            cap,
            since_write: 0,
            tripped,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.since_write > this.cap {
            this.tripped.store(true, Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply over the {} byte limit", this.cap),
            )));
        }
        // Never read more than one byte past the cap: the buffer stays bounded whatever
        // the driver offers to fill.
        let room = this.cap + 1 - this.since_write;
        let before = buf.filled().len();
        let poll = if buf.remaining() > room {
            let mut small = ReadBuf::new(buf.initialize_unfilled_to(room));
            let poll = Pin::new(&mut this.inner).poll_read(cx, &mut small);
            let n = small.filled().len();
            buf.advance(n);
            poll
        } else {
            Pin::new(&mut this.inner).poll_read(cx, buf)
        };
        this.since_write += buf.filled().len() - before;
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            // A new command: what follows is its reply.
            self.since_write = 0;
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a stream could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP connect (or name resolution) failed.
    Io(io::Error),
    /// The TLS setup or handshake failed: the message says why.
    Tls(String),
}

/// A TLS connector for `tls`: the CA file, when given, replaces the system roots (as
/// redis-cli's `--cacert` does).
///
/// # Errors
/// An unreadable or malformed CA file, or a connector the TLS library refuses.
pub fn tls_connector(tls: &Tls) -> Result<tokio_native_tls::TlsConnector, String> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(ca) = &tls.ca_file {
        let pem = crate::config::read_small_file(ca)
            .map_err(|e| format!("cannot read CA file '{}': {e}", ca.display()))?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| format!("CA file '{}': {e}", ca.display()))?;
        builder.disable_built_in_roots(true);
        builder.add_root_certificate(cert);
    }
    if let Some(cc) = &tls.client_cert {
        let read = |p: &std::path::Path, what: &str| {
            crate::config::read_small_file(p)
                .map_err(|e| format!("cannot read {what} '{}': {e}", p.display()))
        };
        let cert = read(&cc.cert_file, "client certificate")?;
        let key = read(&cc.key_file, "client key")?;
        let identity = native_tls::Identity::from_pkcs8(&cert, &key).map_err(|e| {
            format!(
                "client certificate '{}' / key '{}': {e}",
                cc.cert_file.display(),
                cc.key_file.display()
            )
        })?;
        builder.identity(identity);
    }
    Ok(tokio_native_tls::TlsConnector::from(
        builder.build().map_err(|e| e.to_string())?,
    ))
}

/// Connects to `addr` over TCP, then TLS with `tls` when given (the server name checked is
/// the host as written). Not bounded in time: the caller puts its timeout around it.
///
/// # Errors
/// See [`ConnectError`].
pub async fn connect(
    addr: &Addr,
    tls: Option<&tokio_native_tls::TlsConnector>,
) -> Result<Box<dyn Stream>, ConnectError> {
    let host = addr.host.as_str();
    let tcp = TcpStream::connect((host, addr.port))
        .await
        .map_err(ConnectError::Io)?;
    // Small replies must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let Some(connector) = tls else {
        return Ok(Box::new(tcp));
    };
    let stream = connector
        .connect(host, tcp)
        .await
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::Capped;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reply_over_the_cap_fails_and_a_write_resets_the_count() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let tripped = Arc::new(AtomicBool::new(false));
        let mut c = Capped::new(client, 10, tripped.clone());
        c.write_all(b"PING").await.unwrap();
        server.write_all(b"0123456789").await.unwrap();
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < 10 {
            got += c.read(&mut buf).await.unwrap();
        }
        c.write_all(b"INFO").await.unwrap();
        server.write_all(&[b'x'; 1000]).await.unwrap();
        let mut read = 0;
        let err = loop {
            match c.read(&mut buf).await {
                Ok(n) => read += n,
                Err(e) => break e,
            }
        };
        assert_eq!(read, 11, "at most one byte past the cap is read");
        assert_eq!(err.to_string(), "reply over the 10 byte limit");
        assert!(tripped.load(Ordering::Relaxed));
    }
}
