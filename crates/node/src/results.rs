//! Result sets: what a node remembers of the selections it made and answered. As the asking
//! side, each federated selection's vumIDs (which peer, which source id), written by one
//! background task in order; as a source, which records recent selections returned to which
//! peer, in memory for a check without a store round trip, in the store for after a restart.
use std::collections::HashMap;
use store::{now_ms, Store};
use vum::Kind;

/// The most (peer, record) pairs the source keeps in memory for the detail check; the oldest
/// selections go first. About 60 bytes a pair.
pub const MAX_SERVED: usize = 1_000_000;

/// What recent selections returned to whom, in memory: a detail request is checked here without a
/// store round trip. A pair not found here (after a restart, or pushed out by newer selections) is
/// looked up in the store.
#[derive(Default)]
pub(crate) struct Served {
    /// served key → (selection, created ms)
    keys: HashMap<u128, (u64, i64)>,
    /// selections oldest first: (selection, created ms, its keys)
    sets: std::collections::VecDeque<(u64, i64, Vec<u128>)>,
    /// details used per selection
    used: HashMap<u64, i64>,
    next: u64,
    len: usize,
}

/// What the in-memory index says of a detail request.
pub(crate) enum ServedCheck {
    Granted,
    Exhausted,
    /// not in memory: ask the store
    Unknown,
}

impl Served {
    pub(crate) fn remember(&mut self, keys: Vec<u128>, now: i64, since: i64) {
        let set = self.next;
        self.next += 1;
        for k in &keys {
            self.keys.insert(*k, (set, now));
        }
        self.len += keys.len();
        self.used.insert(set, 0);
        self.sets.push_back((set, now, keys));
        while self.len > MAX_SERVED || self.sets.front().is_some_and(|(_, at, _)| *at < since) {
            let Some((old, _, keys)) = self.sets.pop_front() else {
                break;
            };
            for k in &keys {
                if self.keys.get(k).is_some_and(|(s, _)| *s == old) {
                    self.keys.remove(k);
                }
            }
            self.len -= keys.len();
            self.used.remove(&old);
        }
    }

    pub(crate) fn check(&mut self, key: &u128, since: i64, max: i64) -> ServedCheck {
        let Some(&(set, at)) = self.keys.get(key) else {
            return ServedCheck::Unknown;
        };
        if at < since {
            return ServedCheck::Unknown;
        }
        let used = self.used.entry(set).or_insert(0);
        if *used >= max {
            return ServedCheck::Exhausted;
        }
        *used += 1;
        ServedCheck::Granted
    }
}

/// Work for the result-set writer. A federated selection answers without waiting for its result
/// set to be written; a detail request first waits (a barrier through the same queue) until every
/// result set before it is, so it always finds the vumIDs it was given.
pub(crate) enum ResultJob {
    Remember {
        vraag_id: String,
        kind: Kind,
        ids: Vec<store::exchange::ResultId>,
        at: i64,
    },
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// The result-set writer's queue and the source's in-memory served index.
pub(crate) struct ResultSets {
    /// result sets to persist, written in order by one background task (see [`ResultJob`])
    queue: tokio::sync::mpsc::Sender<ResultJob>,
    /// as a source: which records recent selections returned to which peer, and the details
    /// counted against each selection (the store keeps the same sets for after a restart)
    pub(crate) served: std::sync::Mutex<Served>,
    /// keys the in-memory served index (two SipHash functions with this process's random keys:
    /// a detail check costs no HMAC; the stored sets keep the HMAC key that survives restarts)
    served_hash: (
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    ),
}

impl ResultSets {
    /// Start the writer on `store`.
    pub(crate) fn start(store: Store) -> ResultSets {
        let (queue, mut jobs) = tokio::sync::mpsc::channel::<ResultJob>(1024);
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                match job {
                    ResultJob::Remember {
                        vraag_id,
                        kind,
                        ids,
                        at,
                    } => {
                        if let Err(e) = store.remember_result_set(&vraag_id, kind, &ids, at).await {
                            tracing::error!(error = %e, %vraag_id, "result set not stored");
                        }
                    }
                    ResultJob::Barrier(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        ResultSets {
            queue,
            served: std::sync::Mutex::new(Served::default()),
            served_hash: Default::default(),
        }
    }

    /// Queue a result set for the store.
    pub(crate) async fn remember(
        &self,
        vraag_id: &str,
        kind: Kind,
        ids: Vec<store::exchange::ResultId>,
    ) {
        let job = ResultJob::Remember {
            vraag_id: vraag_id.to_string(),
            kind,
            ids,
            at: now_ms(),
        };
        if self.queue.send(job).await.is_err() {
            tracing::error!(%vraag_id, "result-set writer gone");
        }
    }

    /// Wait until every result set queued before now is in the store.
    pub(crate) async fn written(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.queue.send(ResultJob::Barrier(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The in-memory key of (kind, peer, record).
    pub(crate) fn served_fast_key(&self, kind: Kind, peer_oin: &str, id: &str) -> u128 {
        use std::hash::BuildHasher;
        let half =
            |b: &std::collections::hash_map::RandomState| b.hash_one((kind.name(), peer_oin, id));
        (u128::from(half(&self.served_hash.0)) << 64) | u128::from(half(&self.served_hash.1))
    }
}

#[cfg(test)]
mod tests {
    use super::{Served, ServedCheck, MAX_SERVED};

    fn key(i: usize) -> u128 {
        i as u128
    }

    #[test]
    fn details_are_counted_per_selection_within_the_window() {
        let mut s = Served::default();
        s.remember((0..5).map(key).collect(), 1_000, 0);
        for _ in 0..3 {
            assert!(matches!(s.check(&key(1), 0, 3), ServedCheck::Granted));
        }
        // the fourth detail of that selection is refused, whatever record it asks
        assert!(matches!(s.check(&key(2), 0, 3), ServedCheck::Exhausted));
        // a record never returned is not in memory (the store is asked)
        assert!(matches!(s.check(&key(99), 0, 3), ServedCheck::Unknown));
        // outside the window
        assert!(matches!(s.check(&key(3), 2_000, 3), ServedCheck::Unknown));
        // a newer selection of the same record counts on its own
        s.remember(vec![key(2)], 3_000, 0);
        assert!(matches!(s.check(&key(2), 0, 3), ServedCheck::Granted));
    }

    #[test]
    fn memory_is_bounded_oldest_selections_first() {
        let mut s = Served::default();
        let per = 1000;
        for set in 0..(MAX_SERVED / per + 5) {
            s.remember(
                (set * per..(set + 1) * per).map(key).collect(),
                set as i64,
                0,
            );
        }
        assert!(s.len <= MAX_SERVED && s.keys.len() <= MAX_SERVED);
        assert!(matches!(s.check(&key(0), 0, 10), ServedCheck::Unknown));
        assert!(matches!(
            s.check(&key(MAX_SERVED), 0, 10),
            ServedCheck::Granted
        ));
    }
}
