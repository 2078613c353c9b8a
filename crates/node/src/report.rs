//! The transparency report across a federation (`matchgate report --federation`): this node's
//! published figures and each matchgate peer's, asked over `Peer/Transparency` with the node's
//! own certificate, merged by region. A peer's figures arrive already suppressed by that peer;
//! nothing here sees a raw count of another organisation.
use crate::config::{NodeConfig, Protocol};
use crate::error::NodeError;
use crate::pb::{self, peer_client::PeerClient};
use crate::peers::PeerClients;
use std::time::Duration;
use transparency::merge::{FederationReport, MissingPeer};
use transparency::publish::Published;

/// How long a peer may take to count its figures (an aggregate over its whole store).
pub const TRANSPARENCY_DEADLINE: Duration = Duration::from_secs(30);

/// This node's figures (`own`) and every configured peer's, merged; peers that did not answer,
/// or that speak only the VUM REST contracts (which have no such figures), are listed as
/// missing with the reason. `region`: only that labour-market region (`AM03`).
pub async fn federation_report(
    config: &NodeConfig,
    own: Published,
    region: Option<&str>,
) -> Result<FederationReport, NodeError> {
    let mut patient = config.clone();
    patient.peer_deadline_ms = patient
        .peer_deadline_ms
        .max(TRANSPARENCY_DEADLINE.as_millis() as u64);
    let clients = std::sync::Arc::new(PeerClients::new(&patient)?);
    let mut asks = tokio::task::JoinSet::new();
    for (i, peer) in config.peers.iter().cloned().enumerate() {
        let clients = clients.clone();
        let span = tracing::info_span!("peer_call", peer = %peer.oin, service = "transparency");
        asks.spawn(tracing::Instrument::instrument(
            async move { (i, ask(&clients, &peer).await) },
            span,
        ));
    }
    let mut answers: Vec<(usize, Result<Published, String>)> = Vec::new();
    while let Some(done) = asks.join_next().await {
        if let Ok(a) = done {
            answers.push(a);
        }
    }
    answers.sort_by_key(|(i, _)| *i);
    let mut parts = vec![own];
    let mut missing = Vec::new();
    for (i, answer) in answers {
        let peer = &config.peers[i];
        match answer {
            Ok(p) => parts.push(p),
            Err(reason) => missing.push(MissingPeer {
                oin: peer.oin.clone(),
                name: peer.name.clone(),
                reason,
            }),
        }
    }
    Ok(transparency::merge::merge(parts, missing, region))
}

/// One peer's published figures, or why there are none.
async fn ask(clients: &PeerClients, peer: &crate::config::PeerConfig) -> Result<Published, String> {
    if peer.protocol != Protocol::Matchgate {
        return Err(format!(
            "a {} peer: the VUM REST contracts have no transparency figures",
            peer.protocol.name()
        ));
    }
    let tx = uuid::Uuid::now_v7().to_string();
    let (r, _) = clients.outgoing(pb::TransparencyRequest {}, &peer.oin, &tx);
    let ch = clients
        .channel(peer)
        .await
        .map_err(|s| s.message().to_string())?;
    let answer = PeerClient::new(ch)
        .transparency(r)
        .await
        .map_err(|s| format!("{:?}: {}", s.code(), vum::parties::shown(s.message())))?
        .into_inner();
    Published::from_json(&answer.published_json).map_err(|e| e.to_string())
}
