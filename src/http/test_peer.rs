//! Tests only: a scripted HTTP peer on 127.0.0.1:0 for the client and the forwarding filter.
//! It records every request it reads (method, path, headers, body) and answers each with the
//! next step of its script; with the script used up it closes the connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

/// What the peer does with the next request it reads.
pub enum Step {
    /// Writes these bytes and waits for the next request on the connection.
    Answer(Vec<u8>),
    /// Writes these bytes and closes the connection.
    AnswerAndClose(Vec<u8>),
    /// Never answers (a peer that hangs).
    Silent,
}

/// A request as the peer read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestPeer {
    pub addr: SocketAddr,
    pub requests: Rc<RefCell<Vec<Recorded>>>,
    /// Connections accepted so far.
    pub accepted: Rc<Cell<usize>>,
}

/// An answer with this status, content type and body.
pub fn answer(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Starts the peer on the current glommio executor.
pub fn start(script: Vec<Step>) -> TestPeer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TestPeer {
        addr: listener.local_addr().unwrap(),
        requests: Rc::default(),
        accepted: Rc::default(),
    };
    let script = Rc::new(RefCell::new(VecDeque::from(script)));
    let (requests, accepted) = (peer.requests.clone(), peer.accepted.clone());
    glommio::spawn_local(async move {
        while let Ok(stream) = listener.accept().await {
            accepted.set(accepted.get() + 1);
            let (script, requests) = (script.clone(), requests.clone());
            glommio::spawn_local(serve(stream, script, requests)).detach();
        }
    })
    .detach();
    peer
}

async fn serve(
    mut stream: TcpStream,
    script: Rc<RefCell<VecDeque<Step>>>,
    requests: Rc<RefCell<Vec<Recorded>>>,
) {
    while let Some(request) = read_request(&mut stream).await {
        requests.borrow_mut().push(request);
        let step = script.borrow_mut().pop_front();
        match step {
            Some(Step::Answer(bytes)) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Some(Step::AnswerAndClose(bytes)) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Some(Step::Silent) => glommio::timer::sleep(Duration::from_secs(30)).await,
            None => return,
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_bytes) = request.parse(&buf).ok()? {
            let headers: Vec<(String, String)> = request
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let mut recorded = Recorded {
                method: request.method?.to_string(),
                path: request.path?.to_string(),
                headers,
                body: Vec::new(),
            };
            let length: usize = recorded
                .header("content-length")
                .map_or(Some(0), |v| v.parse().ok())?;
            while buf.len() < head_bytes + length {
                let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
            recorded.body = buf[head_bytes..head_bytes + length].to_vec();
            return Some(recorded);
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}
