//! The vacancy feed's wire message as the node sends it: `matchgate.v1.FeedEvent` with the
//! vacature as bytes. A length-delimited field holds an embedded message and a byte string alike,
//! so a client decodes these bytes as the `vum.v3.vacatures.Vacature` message the proto declares
//! (`raw_feed_events_decode_as_feed_events` holds this).
use prost::Message;

/// One event of the vacancy feed, the vacature left encoded (see the module docs).
#[derive(Clone, PartialEq, Message)]
pub struct RawFeedEvent {
    /// the event's position in the feed (the cursor after it)
    #[prost(int64, tag = "1")]
    pub seq: i64,
    /// the vacature's record id
    #[prost(string, tag = "2")]
    pub id: String,
    /// a tombstone: the vacature is no longer shared
    #[prost(bool, tag = "3")]
    pub deleted: bool,
    /// the protobuf encoding of the vacature (absent for a tombstone)
    #[prost(bytes = "vec", optional, tag = "4")]
    pub vacature: Option<Vec<u8>>,
}

/// The server side of the services, generated with `FeedEvent` = [`RawFeedEvent`].
pub mod server {
    include!(concat!(env!("OUT_DIR"), "/raw/matchgate.v1.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_feed_events_decode_as_feed_events() {
        let vacs = crate::shared_json("vum/testdata/vacatures-93.json");
        for (i, v) in vacs.as_array().unwrap().iter().enumerate() {
            let typed: vum_proto::vacatures::Vacature = serde_json::from_value(v.clone()).unwrap();
            let raw = RawFeedEvent {
                seq: i as i64 + 1,
                id: format!("id{i}"),
                deleted: false,
                vacature: Some(typed.encode_to_vec()),
            };
            let back = crate::pb::FeedEvent::decode(raw.encode_to_vec().as_slice()).unwrap();
            assert_eq!(back.seq, i as i64 + 1);
            assert_eq!(back.id, format!("id{i}"));
            assert_eq!(back.vacature.as_ref(), Some(&typed));
        }
        let tomb = RawFeedEvent {
            seq: 7,
            id: "x".into(),
            deleted: true,
            vacature: None,
        };
        let back = crate::pb::FeedEvent::decode(tomb.encode_to_vec().as_slice()).unwrap();
        assert!(back.deleted && back.vacature.is_none());
    }
}
