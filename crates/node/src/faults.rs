//! Injected faults, for the conformance suite's own tests: a node that breaks one rule of the
//! standard on purpose, so a test can show that the suite catches it (`crates/conformance/tests/
//! faults.rs`). Faults can be injected only in a build with the `faults` feature (the suite's
//! tests turn it on); nothing in `node.toml` turns one on, and without the feature
//! [`Faults::has`] is always false.
use std::sync::atomic::{AtomicU32, Ordering};

/// One rule broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// as a source, select as if `afstand` were 1,000 km
    NoDistanceFilter,
    /// as a source, answer 101 matches where 100 is the cap
    Results101,
    /// on the Bron face, put the jobseeker's e-mail address in each match profile
    PersonalFieldInMatch,
    /// as a source, give the LDR indication to non-SUWI parties
    LdrToNonSuwi,
    /// accept any viaParty
    ViaNotChecked,
    /// take a SUWI claim on the caller's word
    SuwiClaimTrusted,
    /// no cap on details: per result set (Bemiddelaar face) and per selection (as a source)
    NoDetailCap,
    /// as a source, answer in a fixed order (sorted by id)
    FixedOrder,
}

impl Fault {
    /// Every fault, with the test that must catch it and what the node then does wrong.
    pub const ALL: &'static [(Fault, &'static str, &'static str, &'static str)] = &[
        (
            Fault::NoDistanceFilter,
            "no-distance-filter",
            "selects as if afstand were 1,000 km",
            "VUM-SEL-001",
        ),
        (
            Fault::Results101,
            "results-101",
            "answers 101 matches past the cap",
            "VUM-SEL-009",
        ),
        (
            Fault::PersonalFieldInMatch,
            "personal-field-in-match",
            "puts the e-mail address in Bron match profiles",
            "VUM-SEL-012",
        ),
        (
            Fault::LdrToNonSuwi,
            "ldr-to-non-suwi",
            "gives the LDR indication to a non-SUWI party",
            "VUM-DET-003",
        ),
        (
            Fault::ViaNotChecked,
            "via-not-checked",
            "accepts any viaParty",
            "VUM-PTY-004",
        ),
        (
            Fault::SuwiClaimTrusted,
            "suwi-claim-trusted",
            "takes X-VUM-SUWIparty on the caller's word",
            "VUM-PTY-006",
        ),
        (
            Fault::NoDetailCap,
            "no-detail-cap",
            "no cap of 10 details per result set (Bemiddelaar face) or per selection (as a source)",
            "VUM-DET-004",
        ),
        (
            Fault::FixedOrder,
            "fixed-order",
            "answers selections sorted by id",
            "VUM-SEL-010",
        ),
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The faults a node has (none unless injected).
#[derive(Debug, Default)]
pub struct Faults(AtomicU32);

impl Faults {
    /// Whether the node has this fault.
    #[inline]
    pub fn has(&self, f: Fault) -> bool {
        cfg!(feature = "faults") && self.0.load(Ordering::Relaxed) & f.bit() != 0
    }

    /// Give the node this fault (only in a build with the `faults` feature).
    #[cfg(feature = "faults")]
    pub fn inject(&self, f: Fault) {
        self.0.fetch_or(f.bit(), Ordering::Relaxed);
    }
}
