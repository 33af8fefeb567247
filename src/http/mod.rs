//! HTTP/1.1 on glommio streams: the request codec, parameters, responses and the connection
//! loop. Knows nothing of Nacos; api/ does the routing.

pub mod codec;
pub mod conn;
pub mod deadline;
pub mod params;
pub mod response;
