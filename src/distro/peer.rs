//! `PeerLinks`: one core's own h2 connections to the other members' cluster ports, opened
//! on first use and again after a failure, carrying unary calls with a deadline. Every core
//! has its own, so Distro traffic leaves each core on its own connections.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use h2::client::SendRequest;

use crate::cluster::members::Members;
use crate::cluster::transport;
use crate::distro::record::MemberIndex;
use crate::limits::DISTRO_CALL_TIMEOUT_MS;

struct Link {
    addr: SocketAddr,
    connection: Rc<RefCell<Option<SendRequest<Bytes>>>>,
}

pub struct PeerLinks {
    /// By member index; `None` for this member.
    links: Vec<Option<Link>>,
}

impl PeerLinks {
    pub fn new(members: &Members) -> Rc<PeerLinks> {
        let me = members.self_id;
        let links = members
            .ids()
            .into_iter()
            .map(|id| {
                let addr = members.addr_of(id)?;
                (id != me).then(|| Link {
                    addr,
                    connection: Rc::new(RefCell::new(None)),
                })
            })
            .collect();
        Rc::new(PeerLinks { links })
    }

    /// A call with the default Distro deadline.
    pub async fn call(
        &self,
        member: MemberIndex,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Bytes, String> {
        self.call_within(member, path, body, DISTRO_CALL_TIMEOUT_MS)
            .await
    }

    /// One unary call to `member`; a failure drops the connection, so the next call opens a
    /// new one.
    pub async fn call_within(
        &self,
        member: MemberIndex,
        path: &str,
        body: Vec<u8>,
        timeout_ms: u64,
    ) -> Result<Bytes, String> {
        let Some(Some(link)) = self.links.get(usize::from(member)) else {
            return Err(format!("member {member} is not a peer"));
        };
        let existing = link.connection.borrow().clone();
        let send = match existing {
            Some(send) => send,
            None => {
                let slot = link.connection.clone();
                let opened = within(
                    timeout_ms,
                    transport::open(link.addr, move || {
                        slot.borrow_mut().take();
                    }),
                )
                .await?;
                *link.connection.borrow_mut() = Some(opened.clone());
                opened
            }
        };
        let answer = within(timeout_ms, transport::call(send, path, body)).await;
        if answer.is_err() {
            link.connection.borrow_mut().take();
        }
        answer
    }
}

/// `future`, or an error once `timeout_ms` passed.
pub async fn within<T>(
    timeout_ms: u64,
    future: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let future = std::pin::pin!(future);
    let deadline = std::pin::pin!(glommio::timer::sleep(Duration::from_millis(timeout_ms)));
    match futures::future::select(future, deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(format!("no answer within {timeout_ms} ms")),
    }
}
