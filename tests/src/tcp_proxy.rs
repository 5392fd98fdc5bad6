//! A TCP proxy to simulate a database (or any TCP server) that becomes unreachable: clients
//! connect to [`TcpProxy::addr`], each connection is relayed byte for byte to the upstream
//! address, and [`TcpProxy::set_down`]`(true)` both cuts every open connection (shut down in
//! both directions, so the client sees its socket closed mid-session) and refuses new ones (they
//! are accepted and closed at once, before a byte is relayed) until `set_down(false)`.
//!
//! It runs on plain threads (one acceptor, two per connection), so sync and async tests use it
//! alike; dropping it stops the acceptor and cuts every connection.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// State shared by the acceptor and the handle.
#[derive(Default)]
struct Shared {
    down: AtomicBool,
    stopping: AtomicBool,
    /// Both sockets of every open relay (cut on `set_down(true)` and on drop).
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Connections relayed / refused so far.
    relayed: AtomicU64,
    refused: AtomicU64,
}

impl Shared {
    fn cut_all(&self) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(PoisonError::into_inner));
        for (client, upstream) in open {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
        }
    }
}

/// A running proxy on `127.0.0.1` (a port the OS picked) in front of one upstream address.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free local port and relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("tcp-proxy".into())
            .spawn(move || accept_loop(&listener, upstream, &state))?;
        Ok(Self { addr, shared, acceptor: Some(acceptor) })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Down: cuts every open connection and refuses new ones. Up: relays again.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            self.shared.cut_all();
        }
    }

    /// Whether it is down.
    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }

    /// How many connections were relayed, and how many refused while down.
    pub fn connections(&self) -> (u64, u64) {
        (self.shared.relayed.load(Ordering::SeqCst), self.shared.refused.load(Ordering::SeqCst))
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking `accept`.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.shared.cut_all();
    }
}

fn accept_loop(listener: &TcpListener, upstream: SocketAddr, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if shared.down.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client_read), Ok(server_read), Ok(client_keep), Ok(server_keep)) =
            (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
        else {
            continue;
        };
        {
            let mut open = shared.open.lock().unwrap_or_else(PoisonError::into_inner);
            // Down may have been set since the check above: do not relay then.
            if shared.down.load(Ordering::SeqCst) {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                continue;
            }
            open.retain(|(c, _)| c.peer_addr().is_ok());
            open.push((client_keep, server_keep));
        }
        shared.relayed.fetch_add(1, Ordering::SeqCst);
        pipe(client_read, server);
        pipe(server_read, client);
    }
}

/// Copies `from` into `to` on a thread of its own until either side closes, then closes both
/// directions of `to` (so the other pipe ends too).
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::thread::Builder::new().name("tcp-proxy-pipe".into()).spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// An echo server on a free port (one thread per connection).
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut read = stream.try_clone().unwrap();
                    let mut write = stream;
                    let _ = io::copy(&mut read, &mut write);
                });
            }
        });
        addr
    }

    fn roundtrip(stream: &mut TcpStream, text: &[u8]) -> io::Result<Vec<u8>> {
        stream.write_all(text)?;
        let mut buf = vec![0; text.len()];
        stream.read_exact(&mut buf)?;
        Ok(buf)
    }

    #[test]
    fn relays_cuts_open_connections_and_refuses_new_ones_while_down() {
        let proxy = TcpProxy::start(echo()).unwrap();
        let timeout = Some(Duration::from_secs(5));
        let mut open = TcpStream::connect(proxy.addr()).unwrap();
        open.set_read_timeout(timeout).unwrap();
        assert_eq!(roundtrip(&mut open, b"hello").unwrap(), b"hello");

        proxy.set_down(true);
        assert!(proxy.is_down());
        // The open connection is cut: EOF or an error, never the echo.
        let mut buf = [0u8; 4];
        let _ = open.write_all(b"ping");
        assert!(matches!(open.read(&mut buf), Ok(0) | Err(_)), "the open connection survived");
        // A new one is accepted and closed at once.
        let mut refused = TcpStream::connect(proxy.addr()).unwrap();
        refused.set_read_timeout(timeout).unwrap();
        assert!(roundtrip(&mut refused, b"ping").is_err());
        assert_eq!(proxy.connections(), (1, 1));

        proxy.set_down(false);
        let mut again = TcpStream::connect(proxy.addr()).unwrap();
        again.set_read_timeout(timeout).unwrap();
        assert_eq!(roundtrip(&mut again, b"back").unwrap(), b"back");
        assert_eq!(proxy.connections(), (2, 1));
    }
}
