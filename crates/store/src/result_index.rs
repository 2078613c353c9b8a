//! Result sets packed and looked up in memory. A result set is stored as one row whose `ids`
//! column is a [`Pack`]: per peer, the ids handed out and the records they stand for. A detail
//! request finds its id in a [`ResultIndex`] that each store handle loads from those rows in
//! `seq` order (catching up before every lookup, so a set written by another process or replica
//! is found too). The index holds at most [`MAX_HELD_IDS`] ids; sets pushed out of memory for room
//! are searched in the store, newest first.
//!
//! Why: one row per id cost a wide federated selection about 40,000 row writes on the asking node
//! and one per returned record on every source; this is one row per selection on each side.
use crate::exchange::ResultId;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

/// The most ids a store handle keeps in memory for detail lookups (about 150 bytes each, with
/// the map's growth and the source ids counted).
pub const MAX_HELD_IDS: usize = 1_000_000;

/// A result set's ids as stored in `result_sets.ids`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Pack {
    #[prost(message, repeated, tag = "1")]
    pub(crate) peers: Vec<PackPeer>,
}

/// One peer's part of a [`Pack`]: `keys[i]` (the id handed out) stands for `source_ids[i]`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PackPeer {
    #[prost(string, tag = "1")]
    pub(crate) oin: String,
    #[prost(string, repeated, tag = "2")]
    pub(crate) keys: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub(crate) source_ids: Vec<String>,
}

impl Pack {
    /// The ids grouped by peer, each peer's in the order given.
    pub(crate) fn of(ids: &[ResultId]) -> Pack {
        let mut at: HashMap<&str, usize> = HashMap::new();
        let mut pack = Pack::default();
        for id in ids {
            let i = *at.entry(id.peer_oin.as_str()).or_insert_with(|| {
                pack.peers.push(PackPeer {
                    oin: id.peer_oin.clone(),
                    ..PackPeer::default()
                });
                pack.peers.len() - 1
            });
            pack.peers[i].keys.push(id.vum_id.clone());
            pack.peers[i].source_ids.push(id.source_id.clone());
        }
        pack
    }

    /// The peer and source id `key` stands for in this set.
    pub(crate) fn find(&self, key: &str) -> Option<(&str, &str)> {
        self.peers.iter().find_map(|p| {
            let i = p.keys.iter().rposition(|k| k == key)?;
            Some((p.oin.as_str(), p.source_ids.get(i)?.as_str()))
        })
    }
}

/// A result set held in memory.
struct Held {
    seq: i64,
    vraag_id: String,
    kind: String,
    created_ms: i64,
    /// per peer: its OIN and the source ids, in pack order
    peers: Vec<(String, Vec<String>)>,
    /// the keys this set put in the index (to take them out again)
    keys: Vec<u128>,
}

/// What the index knows of one id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) vraag_id: String,
    pub(crate) kind: String,
    pub(crate) created_ms: i64,
    pub(crate) peer_oin: String,
    pub(crate) source_id: String,
}

/// The ids of the result sets loaded so far, newest set winning for an id in several.
pub(crate) struct ResultIndex {
    /// two SipHash functions with this process's random keys: 128 bits a key
    hash: (RandomState, RandomState),
    /// key → (set seq, peer index, position)
    keys: HashMap<u128, (i64, u32, u32)>,
    /// held sets, in seq order
    sets: VecDeque<Held>,
    len: usize,
    /// the highest seq loaded (or skipped as too old or damaged)
    pub(crate) last_seq: i64,
    /// sets at or below this seq were let go for room while still young enough to count
    pub(crate) dropped_upto: i64,
    /// the most ids held
    pub(crate) cap: usize,
}

impl Default for ResultIndex {
    fn default() -> Self {
        ResultIndex {
            hash: Default::default(),
            keys: HashMap::new(),
            sets: VecDeque::new(),
            len: 0,
            last_seq: 0,
            dropped_upto: 0,
            cap: MAX_HELD_IDS,
        }
    }
}

impl ResultIndex {
    fn key(&self, id: &str) -> u128 {
        (u128::from(self.hash.0.hash_one(id)) << 64) | u128::from(self.hash.1.hash_one(id))
    }

    /// Hold a set loaded from the store (sets come in seq order). A set created before `horizon`
    /// is only counted as seen; sets older than `horizon` leave memory, and the oldest leave when
    /// more than `cap` ids are held.
    pub(crate) fn hold(
        &mut self,
        seq: i64,
        vraag_id: String,
        kind: String,
        created_ms: i64,
        pack: Pack,
        horizon: i64,
    ) {
        self.last_seq = self.last_seq.max(seq);
        // an empty set (a selection nobody answered) can match nothing: not held
        if created_ms >= horizon && pack.peers.iter().any(|p| !p.keys.is_empty()) {
            let mut held = Held {
                seq,
                vraag_id,
                kind,
                created_ms,
                peers: Vec::with_capacity(pack.peers.len()),
                keys: Vec::new(),
            };
            for (p, peer) in pack.peers.into_iter().enumerate() {
                let n = peer.keys.len().min(peer.source_ids.len());
                for (i, k) in peer.keys.iter().take(n).enumerate() {
                    let key = self.key(k);
                    // u32 is plenty: a set holds at most a few hundred thousand ids
                    let (Ok(p), Ok(i)) = (u32::try_from(p), u32::try_from(i)) else {
                        break;
                    };
                    self.keys.insert(key, (seq, p, i));
                    held.keys.push(key);
                }
                held.peers.push((peer.oin, peer.source_ids));
            }
            self.len += held.keys.len();
            self.sets.push_back(held);
        }
        while self.sets.front().is_some_and(|s| s.created_ms < horizon) {
            self.let_go();
        }
        while self.len > self.cap {
            let Some(seq) = self.let_go() else { break };
            self.dropped_upto = self.dropped_upto.max(seq);
        }
    }

    /// Take the oldest set out of memory; its seq.
    fn let_go(&mut self) -> Option<i64> {
        let old = self.sets.pop_front()?;
        for k in &old.keys {
            if self.keys.get(k).is_some_and(|(s, _, _)| *s == old.seq) {
                self.keys.remove(k);
            }
        }
        self.len -= old.keys.len();
        Some(old.seq)
    }

    /// The newest held set's entry for `id`.
    pub(crate) fn find(&self, id: &str) -> Option<Found> {
        let &(seq, p, i) = self.keys.get(&self.key(id))?;
        let at = self.sets.binary_search_by_key(&seq, |s| s.seq).ok()?;
        let set = &self.sets[at];
        let (oin, sources) = set.peers.get(p as usize)?;
        Some(Found {
            vraag_id: set.vraag_id.clone(),
            kind: set.kind.clone(),
            created_ms: set.created_ms,
            peer_oin: oin.clone(),
            source_id: sources.get(i as usize)?.clone(),
        })
    }

    /// Ids held (for tests).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(peer: &str, from: usize, n: usize) -> Vec<ResultId> {
        (from..from + n)
            .map(|i| ResultId {
                vum_id: format!("v{i}"),
                peer_oin: peer.into(),
                source_id: format!("{peer}-src{i}"),
            })
            .collect()
    }

    #[test]
    fn a_pack_groups_by_peer_and_finds_each_id() {
        let mut all = ids("a", 0, 3);
        all.extend(ids("b", 3, 2));
        all.push(ResultId {
            vum_id: "v9".into(),
            peer_oin: "a".into(),
            source_id: "a-late".into(),
        });
        let pack = Pack::of(&all);
        assert_eq!(pack.peers.len(), 2);
        assert_eq!(pack.peers[0].keys, ["v0", "v1", "v2", "v9"]);
        assert_eq!(pack.find("v4"), Some(("b", "b-src4")));
        assert_eq!(pack.find("v9"), Some(("a", "a-late")));
        assert_eq!(pack.find("v7"), None);
        let bytes = prost::Message::encode_to_vec(&pack);
        assert_eq!(<Pack as prost::Message>::decode(&bytes[..]).unwrap(), pack);
    }

    #[test]
    fn the_newest_set_wins_old_sets_leave_and_memory_is_capped() {
        let mut x = ResultIndex {
            cap: 10,
            ..ResultIndex::default()
        };
        x.hold(
            1,
            "s1".into(),
            "werkzoekende".into(),
            100,
            Pack::of(&ids("a", 0, 4)),
            0,
        );
        x.hold(
            2,
            "s2".into(),
            "werkzoekende".into(),
            200,
            Pack::of(&ids("b", 2, 4)),
            0,
        );
        // v2 and v3 are in both: the newer set has them
        assert_eq!(x.find("v3").unwrap().vraag_id, "s2");
        assert_eq!(x.find("v3").unwrap().source_id, "b-src3");
        assert_eq!(x.find("v0").unwrap().vraag_id, "s1");
        assert_eq!(x.held(), 8);
        // a third set of 4 pushes the first out for room: remembered as dropped
        x.hold(
            3,
            "s3".into(),
            "vacature".into(),
            300,
            Pack::of(&ids("c", 10, 4)),
            0,
        );
        assert_eq!((x.held(), x.dropped_upto, x.last_seq), (8, 1, 3));
        assert_eq!(x.find("v0"), None);
        assert_eq!(x.find("v3").unwrap().vraag_id, "s2");
        // sets before the horizon leave without counting as dropped, and are not held when loaded
        x.hold(
            4,
            "s4".into(),
            "vacature".into(),
            50,
            Pack::of(&ids("d", 20, 1)),
            250,
        );
        assert_eq!((x.held(), x.dropped_upto, x.last_seq), (4, 1, 4));
        assert_eq!(x.find("v3"), None);
        assert_eq!(x.find("v20"), None);
        assert_eq!(x.find("v10").unwrap().kind, "vacature");
    }
}
