//! HTTP/1.1 on glommio streams: the request codec, parameters, responses and the connection
//! loop, and a small client for calls to peers. Knows nothing of Nacos; api/ does the routing.

pub mod client;
pub mod codec;
pub mod conn;
pub mod deadline;
pub mod multipart;
pub mod params;
pub mod response;
#[cfg(test)]
pub mod test_peer;
