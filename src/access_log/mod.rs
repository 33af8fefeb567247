//! The access log (off unless `--access-log` is given): one line per HTTP request and per
//! gRPC request. Each core appends lines to its own buffer (no lock, no syscall per request)
//! and hands full buffers, and every `ACCESS_LOG_FLUSH_MS` whatever it has, to one writer
//! thread over a bounded channel. The writer thread owns the file (opened in append mode) and
//! does the blocking writes: glommio's file I/O wants aligned DMA buffers and would still put
//! the write on a core, while a plain `write(2)` on a core could stall every connection it
//! serves behind a slow disk. When the writer falls behind, buffers are dropped and counted,
//! never waited for.
//!
//! A line is `<unix ms> <http|grpc> <remote ip> <method|GRPC> <path|type> <status>
//! <response body bytes> <latency µs>`. Only the path is written, never the query string or
//! the body, so tokens, passwords and user names in parameters never reach the log.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use crate::limits::{
    ACCESS_LOG_BUFFER_BYTES_MAX, ACCESS_LOG_CHUNKS_QUEUED_MAX, ACCESS_LOG_PATH_BYTES_MAX,
};

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    /// `-` is standard output, anything else a file path.
    pub fn parse(text: &str) -> Target {
        if text == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(text))
        }
    }
}

/// The sending end every core gets a clone of.
pub type ChunkSender = SyncSender<Vec<u8>>;

/// Opens the target (append, created if missing) and starts the writer thread.
pub fn start_writer(target: &Target) -> Result<ChunkSender, String> {
    let sink: Box<dyn Write + Send> = match target {
        Target::Stdout => Box::new(std::io::stdout()),
        Target::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the access log {}: {e}", path.display()))?,
        ),
    };
    let (sender, receiver) = sync_channel(ACCESS_LOG_CHUNKS_QUEUED_MAX);
    std::thread::Builder::new()
        .name("nacore-access-log".to_string())
        .spawn(move || write_chunks(receiver, sink))
        .map_err(|e| format!("cannot start the access log writer: {e}"))?;
    Ok(sender)
}

/// The writer thread: writes each chunk as it comes, until every core's sender is gone.
fn write_chunks(receiver: Receiver<Vec<u8>>, mut sink: Box<dyn Write + Send>) {
    while let Ok(chunk) = receiver.recv() {
        debug_assert!(!chunk.is_empty());
        let written = sink.write_all(&chunk).and_then(|()| sink.flush());
        if let Err(error) = written {
            tracing::warn!(%error, "cannot write the access log");
        }
    }
}

/// One core's side of the log: its buffer and its sender.
pub struct AccessLog {
    buffer: RefCell<Vec<u8>>,
    sender: ChunkSender,
    /// Lines dropped since the last `take_dropped`.
    dropped: Cell<u64>,
}

impl AccessLog {
    pub fn new(sender: ChunkSender) -> AccessLog {
        AccessLog {
            buffer: RefCell::new(Vec::with_capacity(ACCESS_LOG_BUFFER_BYTES_MAX)),
            sender,
            dropped: Cell::new(0),
        }
    }

    /// Logs an HTTP request by its path only (no query string).
    pub fn http(&self, entry: Entry) {
        self.line("http", entry);
    }

    /// Logs a gRPC request; `path` is its payload type.
    pub fn grpc(&self, entry: Entry) {
        self.line("grpc", entry);
    }

    fn line(&self, protocol: &str, entry: Entry) {
        let full = {
            let mut buffer = self.buffer.borrow_mut();
            let _ = write!(buffer, "{} {protocol} ", wall_clock_ms());
            match entry.remote {
                Some(ip) => {
                    let _ = write!(buffer, "{ip} ");
                }
                None => buffer.extend_from_slice(b"- "),
            }
            push_token(&mut buffer, entry.method);
            push_token(&mut buffer, entry.path);
            let _ = writeln!(
                buffer,
                "{} {} {}",
                entry.status, entry.body_bytes, entry.latency_us
            );
            buffer.len() >= ACCESS_LOG_BUFFER_BYTES_MAX
        };
        if full {
            self.flush();
        }
    }

    /// Hands the buffered lines to the writer thread, or drops them if it is behind.
    pub fn flush(&self) {
        let chunk = {
            let mut buffer = self.buffer.borrow_mut();
            if buffer.is_empty() {
                return;
            }
            std::mem::replace(
                &mut *buffer,
                Vec::with_capacity(ACCESS_LOG_BUFFER_BYTES_MAX),
            )
        };
        match self.sender.try_send(chunk) {
            Ok(()) => {}
            Err(TrySendError::Full(chunk)) | Err(TrySendError::Disconnected(chunk)) => {
                let lines = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.dropped.set(self.dropped.get() + lines);
            }
        }
    }

    /// Lines dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.replace(0)
    }
}

/// One request, as the log sees it.
pub struct Entry<'a> {
    pub remote: Option<IpAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub body_bytes: usize,
    pub latency_us: u64,
}

/// Appends a client-supplied token and a space: visible ASCII only (anything else, spaces
/// included, becomes `?`, so a line keeps its fields) and at most `ACCESS_LOG_PATH_BYTES_MAX`.
fn push_token(buffer: &mut Vec<u8>, token: &str) {
    let bytes = token.as_bytes();
    let kept = &bytes[..bytes.len().min(ACCESS_LOG_PATH_BYTES_MAX)];
    if kept.is_empty() {
        buffer.push(b'-');
    }
    for &byte in kept {
        buffer.push(if byte.is_ascii_graphic() { byte } else { b'?' });
    }
    buffer.push(b' ');
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line has its eight fields; client bytes that would split a field are replaced; a
    /// flush hands the lines over; a writer that is gone makes them count as dropped.
    #[test]
    fn lines_and_flush() {
        let (sender, receiver) = sync_channel(1);
        let log = AccessLog::new(sender);
        log.http(Entry {
            remote: Some("10.0.0.1".parse().unwrap()),
            method: "GET",
            path: "/nacos/v1/a b\n",
            status: 200,
            body_bytes: 12,
            latency_us: 345,
        });
        log.flush();
        let chunk = String::from_utf8(receiver.recv().unwrap()).unwrap();
        let fields: Vec<&str> = chunk.trim_end().split(' ').collect();
        assert_eq!(fields.len(), 8, "{chunk}");
        assert_eq!(
            &fields[1..],
            [
                "http",
                "10.0.0.1",
                "GET",
                "/nacos/v1/a?b?",
                "200",
                "12",
                "345"
            ]
        );
        drop(receiver);
        log.grpc(Entry {
            remote: None,
            method: "GRPC",
            path: "",
            status: 500,
            body_bytes: 0,
            latency_us: 1,
        });
        log.flush();
        assert_eq!(log.take_dropped(), 1);
        assert_eq!(log.take_dropped(), 0);
    }
}
