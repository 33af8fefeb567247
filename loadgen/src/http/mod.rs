//! A minimal HTTP/1.1 client for load generation: request encoding, I/O-free response parsing
//! (httparse), and one keep-alive connection over a glommio `TcpStream` with one request in
//! flight at a time.

pub mod client;
pub mod request;
pub mod response;
