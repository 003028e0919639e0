//! Chain checking over one device's evidence records.
//!
//! Records of a device form a hash chain: record `n + 1` carries in `prev_hash` the
//! `segment_hash` of record `n`, and record 0 carries the zero hash. The checker reports every
//! deviation as a typed [`Finding`]; it never fails on bad chains (only on records of another
//! device). Use [`ChainChecker`] incrementally (the cloud keeps its [`ChainTip`]) or
//! [`check_batch`] over a stored set.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};

use crate::{
    error::{Error, Result},
    record::EvidenceRecord,
};

/// Something wrong with a device's chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Finding {
    /// Sequence numbers `from..=to` are missing.
    Gap {
        /// First missing sequence number.
        from: u32,
        /// Last missing sequence number.
        to: u32,
    },
    /// Two different records carry the same sequence number.
    Fork {
        /// The contested sequence number.
        seq: u32,
        /// [`EvidenceRecord::id`] of the record seen first.
        first: B256,
        /// [`EvidenceRecord::id`] of the conflicting record.
        second: B256,
    },
    /// Record `seq`'s previous-segment hash is not the segment hash of record `seq - 1`
    /// (or not zero for `seq == 0`).
    Break {
        /// The record whose `prev_hash` is wrong.
        seq: u32,
        /// `segment_hash` of record `seq - 1` (zero for `seq == 0`).
        expected_prev: B256,
        /// The record's `prev_hash`.
        got_prev: B256,
    },
    /// Record `seq` arrived after record `after` although `seq < after`.
    Reordered {
        /// The late record.
        seq: u32,
        /// The highest sequence number seen before it.
        after: u32,
    },
}

/// What the cloud must persist per device to resume incremental checking.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChainTip {
    /// Highest sequence number accepted so far.
    pub seq: u32,
    /// Its segment hash (the expected `prev_hash` of `seq + 1`).
    pub segment_hash: B256,
    /// Its [`EvidenceRecord::id`] (to tell a re-sent duplicate from a fork).
    pub record_id: B256,
}

impl ChainTip {
    /// The tip after accepting `record`.
    pub fn of(record: &EvidenceRecord) -> Self {
        Self {
            seq: record.seq,
            segment_hash: record.segment_hash,
            record_id: record.id(),
        }
    }
}

/// Incremental checker for one device (state: the tip).
#[derive(Clone, Debug)]
pub struct ChainChecker {
    device: Address,
    tip: Option<ChainTip>,
}

impl ChainChecker {
    /// A checker for a device from which nothing has been received yet.
    pub const fn new(device: Address) -> Self {
        Self { device, tip: None }
    }

    /// A checker resuming from a persisted tip.
    pub const fn resume(device: Address, tip: ChainTip) -> Self {
        Self {
            device,
            tip: Some(tip),
        }
    }

    /// The current tip (persist it after each [`push`](Self::push)).
    pub const fn tip(&self) -> Option<ChainTip> {
        self.tip
    }

    /// Feeds the next received record; returns the findings it causes (empty when it extends
    /// the chain cleanly, or is an exact duplicate of the tip).
    ///
    /// * `seq == tip + 1`: checks `prev_hash` (→ [`Finding::Break`]); advances.
    /// * `seq > tip + 1`: [`Finding::Gap`] for the missing numbers; advances.
    /// * `seq == tip` with other bytes: [`Finding::Fork`]; does not advance.
    /// * `seq < tip`: [`Finding::Reordered`] (a fork with an older record can only be seen with
    ///   the stored records: use [`check_batch`]); does not advance.
    ///
    /// The first record ever seen is checked against the genesis rule (`seq 0` has a zero
    /// `prev_hash`; a first `seq > 0` reports the gap `0..seq-1`).
    pub fn push(&mut self, record: &EvidenceRecord) -> Result<Vec<Finding>> {
        if record.device.address() != self.device {
            return Err(Error::ForeignRecord {
                expected: self.device,
                got: record.device.address(),
            });
        }
        let mut findings = Vec::new();
        match self.tip {
            None => {
                if record.seq == 0 {
                    if record.prev_hash != B256::ZERO {
                        findings.push(Finding::Break {
                            seq: 0,
                            expected_prev: B256::ZERO,
                            got_prev: record.prev_hash,
                        });
                    }
                } else {
                    findings.push(Finding::Gap {
                        from: 0,
                        to: record.seq - 1,
                    });
                }
                self.tip = Some(ChainTip::of(record));
            }
            Some(tip) if record.seq == tip.seq => {
                let id = record.id();
                if id != tip.record_id {
                    findings.push(Finding::Fork {
                        seq: record.seq,
                        first: tip.record_id,
                        second: id,
                    });
                }
            }
            Some(tip) if record.seq < tip.seq => {
                findings.push(Finding::Reordered {
                    seq: record.seq,
                    after: tip.seq,
                });
            }
            Some(tip) => {
                if record.seq == tip.seq + 1 {
                    if record.prev_hash != tip.segment_hash {
                        findings.push(Finding::Break {
                            seq: record.seq,
                            expected_prev: tip.segment_hash,
                            got_prev: record.prev_hash,
                        });
                    }
                } else {
                    findings.push(Finding::Gap {
                        from: tip.seq + 1,
                        to: record.seq - 1,
                    });
                }
                self.tip = Some(ChainTip::of(record));
            }
        }
        Ok(findings)
    }
}

/// Checks a whole set of one device's records, given in arrival order.
///
/// Reports, in this order: [`Finding::Reordered`] (arrival order not increasing), then per
/// sequence number ascending [`Finding::Fork`] / [`Finding::Gap`] / [`Finding::Break`]. Exact
/// duplicates are ignored. Gaps before the lowest number are reported (chains start at 0);
/// nothing can be said after the highest. Breaks are checked against the first-received record
/// of each number.
pub fn check_batch(records: &[EvidenceRecord]) -> Result<Vec<Finding>> {
    let Some(first) = records.first() else {
        return Ok(Vec::new());
    };
    let (findings, by_seq) = scan_arrivals(records, first.device.address())?;
    // Forks were pushed in arrival order; sort everything after the reorder findings by seq.
    let (mut reorders, mut forks): (Vec<_>, Vec<_>) = findings
        .into_iter()
        .partition(|f| matches!(f, Finding::Reordered { .. }));
    let mut per_seq = gaps_and_breaks(&by_seq);
    per_seq.append(&mut forks);
    per_seq.sort_by_key(|f| match f {
        Finding::Gap { from, .. } => (*from, 0u8),
        Finding::Fork { seq, .. } => (*seq, 1),
        Finding::Break { seq, .. } => (*seq, 2),
        Finding::Reordered { seq, .. } => (*seq, 3),
    });
    reorders.append(&mut per_seq);
    Ok(reorders)
}

/// The first-received record of each sequence number, with its id.
type FirstBySeq<'a> = BTreeMap<u32, (B256, &'a EvidenceRecord)>;

/// Goes through the records in arrival order: checks that each is `device`'s, reports
/// [`Finding::Reordered`] and [`Finding::Fork`] (in arrival order) and keeps the first-received
/// record of each sequence number.
fn scan_arrivals(
    records: &[EvidenceRecord],
    device: Address,
) -> Result<(Vec<Finding>, FirstBySeq<'_>)> {
    let mut findings = Vec::new();
    let mut by_seq: FirstBySeq<'_> = BTreeMap::new();
    let mut max_seen: Option<u32> = None;
    for r in records {
        if r.device.address() != device {
            return Err(Error::ForeignRecord {
                expected: device,
                got: r.device.address(),
            });
        }
        if let Some(m) = max_seen
            && r.seq < m
        {
            findings.push(Finding::Reordered {
                seq: r.seq,
                after: m,
            });
        }
        max_seen = Some(max_seen.map_or(r.seq, |m| m.max(r.seq)));
        let id = r.id();
        match by_seq.get(&r.seq) {
            Some((first_id, _)) if *first_id != id => {
                findings.push(Finding::Fork {
                    seq: r.seq,
                    first: *first_id,
                    second: id,
                });
            }
            Some(_) => {}
            None => {
                by_seq.insert(r.seq, (id, r));
            }
        }
    }
    Ok((findings, by_seq))
}

/// [`Finding::Gap`] and [`Finding::Break`] along the first-received records, by ascending
/// sequence number (gaps before the lowest number included; chains start at 0).
fn gaps_and_breaks(by_seq: &FirstBySeq<'_>) -> Vec<Finding> {
    let mut per_seq: Vec<Finding> = Vec::new();
    let mut prev: Option<&EvidenceRecord> = None;
    for (&seq, &(_, r)) in by_seq {
        let expected_prev = match prev {
            None if seq == 0 => Some(B256::ZERO),
            None => {
                per_seq.push(Finding::Gap {
                    from: 0,
                    to: seq - 1,
                });
                None
            }
            Some(p) if p.seq + 1 == seq => Some(p.segment_hash),
            Some(p) => {
                per_seq.push(Finding::Gap {
                    from: p.seq + 1,
                    to: seq - 1,
                });
                None
            }
        };
        if let Some(expected_prev) = expected_prev
            && r.prev_hash != expected_prev
        {
            per_seq.push(Finding::Break {
                seq,
                expected_prev,
                got_prev: r.prev_hash,
            });
        }
        prev = Some(r);
    }
    per_seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        hash::keccak256,
        record::{DeviceId, SegmentTime},
    };

    fn chain(n: u32) -> Vec<EvidenceRecord> {
        let device = DeviceId::from_address(Address::repeat_byte(0x11));
        let mut prev = B256::ZERO;
        (0..n)
            .map(|seq| {
                let h = keccak256(seq.to_be_bytes());
                let r = EvidenceRecord {
                    seq,
                    device,
                    start: SegmentTime::from_unix(1_795_446_900 + 60 * u64::from(seq)).unwrap(),
                    prev_hash: prev,
                    segment_hash: h,
                };
                prev = h;
                r
            })
            .collect()
    }

    fn incremental(records: &[EvidenceRecord]) -> Vec<Finding> {
        let mut c = ChainChecker::new(records[0].device.address());
        records.iter().flat_map(|r| c.push(r).unwrap()).collect()
    }

    #[test]
    fn clean_chain_has_no_findings() {
        let c = chain(10);
        assert!(check_batch(&c).unwrap().is_empty());
        assert!(incremental(&c).is_empty());
    }

    #[test]
    fn gap_break_fork_reorder() {
        let mut c = chain(10);
        c.remove(4); // gap 4..=4
        c[6].prev_hash = B256::repeat_byte(9); // record seq 7 breaks
        let mut forked = c[1];
        forked.segment_hash = B256::repeat_byte(1);
        let late = c[2];
        let mut input = c.clone();
        input.push(forked); // fork at 1, also reordered after 9
        input.push(late); // exact duplicate, but reordered
        let got = check_batch(&input).unwrap();
        assert_eq!(
            got,
            vec![
                Finding::Reordered { seq: 1, after: 9 },
                Finding::Reordered { seq: 2, after: 9 },
                Finding::Fork {
                    seq: 1,
                    first: c[1].id(),
                    second: forked.id()
                },
                Finding::Gap { from: 4, to: 4 },
                Finding::Break {
                    seq: 7,
                    expected_prev: c[5].segment_hash,
                    got_prev: B256::repeat_byte(9)
                },
            ]
        );
        let inc = incremental(&input);
        assert_eq!(
            inc,
            vec![
                Finding::Gap { from: 4, to: 4 },
                Finding::Break {
                    seq: 7,
                    expected_prev: c[5].segment_hash,
                    got_prev: B256::repeat_byte(9)
                },
                Finding::Reordered { seq: 1, after: 9 },
                Finding::Reordered { seq: 2, after: 9 },
            ]
        );
    }

    #[test]
    fn tip_fork_duplicate_and_resume() {
        let c = chain(3);
        let mut k = ChainChecker::new(c[0].device.address());
        k.push(&c[0]).unwrap();
        k.push(&c[1]).unwrap();
        assert!(k.push(&c[1]).unwrap().is_empty());
        let mut f = c[1];
        f.segment_hash = B256::repeat_byte(3);
        assert_eq!(
            k.push(&f).unwrap(),
            vec![Finding::Fork {
                seq: 1,
                first: c[1].id(),
                second: f.id()
            }]
        );
        let mut resumed = ChainChecker::resume(c[0].device.address(), k.tip().unwrap());
        assert!(resumed.push(&c[2]).unwrap().is_empty());
        let mut other = c[2];
        other.device = DeviceId::from_address(Address::repeat_byte(2));
        assert!(matches!(
            resumed.push(&other),
            Err(Error::ForeignRecord { .. })
        ));
    }

    #[test]
    fn genesis_rules() {
        let c = chain(3);
        assert_eq!(
            check_batch(&c[1..]).unwrap(),
            vec![Finding::Gap { from: 0, to: 0 }]
        );
        let mut g = c[0];
        g.prev_hash = B256::repeat_byte(5);
        assert_eq!(
            incremental(&[g]),
            vec![Finding::Break {
                seq: 0,
                expected_prev: B256::ZERO,
                got_prev: B256::repeat_byte(5)
            }]
        );
    }
}
