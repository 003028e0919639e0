//! The contracts' state numbers as enums — one vocabulary for the agent, the cloud, the
//! requester and the verifier instead of bare `0`, `1`, `4` at each call site.
//!
//! ```
//! use dashledger_protocol::status::RequestStatus;
//! assert_eq!(RequestStatus::from_code(4), Some(RequestStatus::Completed));
//! assert_eq!(RequestStatus::Completed.to_string(), "Completed");
//! assert_eq!(RequestStatus::name_of(42), "status 42");
//! ```

use std::fmt;

use crate::bindings::REQUEST_STATUS_NAMES;

/// A Request Contract's `status()` (docs/contracts.md, "The request game").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RequestStatus {
    /// Opened with a reward, waiting for the owner.
    Open = 0,
    /// The owner answered with a kfrag and a deposit.
    Responded = 1,
    /// The owner declined.
    Declined = 2,
    /// The requester cancelled after the owner stayed silent.
    Cancelled = 3,
    /// The requester confirmed.
    Completed = 4,
    /// The requester disputed the kfrag.
    Disputed = 5,
    /// The owner claimed after the requester stayed silent.
    Claimed = 6,
    /// The verifier found the kfrag valid.
    ResolvedForOwner = 7,
    /// The verifier found the kfrag invalid.
    ResolvedForRequester = 8,
    /// The verifier did not rule in time.
    DisputeExpired = 9,
}

impl RequestStatus {
    /// Every status, in the contract's order.
    pub const ALL: [Self; 10] = [
        Self::Open,
        Self::Responded,
        Self::Declined,
        Self::Cancelled,
        Self::Completed,
        Self::Disputed,
        Self::Claimed,
        Self::ResolvedForOwner,
        Self::ResolvedForRequester,
        Self::DisputeExpired,
    ];

    /// The contract's number.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The status of a contract number; `None` for a number the contract does not use.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The status's name (`Open`, `Responded`, …), as the cloud's API writes it.
    pub fn name(self) -> &'static str {
        REQUEST_STATUS_NAMES[usize::from(self.code())]
    }

    /// The name of a contract number, or `status N` for one the contract does not use.
    pub fn name_of(code: u8) -> String {
        Self::from_code(code).map_or_else(|| format!("status {code}"), |s| s.name().to_owned())
    }

    /// Whether `code` is this status.
    pub const fn is(self, code: u8) -> bool {
        self.code() == code
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An Evidence Contract's `status()`. The current contracts store only Pending and Rejected
/// (listed in the SearchContract = verified); Verified is what contracts before issue 15 stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EvidenceStatus {
    /// Created, not yet judged (or verified: see the listing).
    Pending = 0,
    /// Verified (older contracts).
    Verified = 1,
    /// Rejected by the verifier with a reason.
    Rejected = 2,
}

impl EvidenceStatus {
    /// The contract's number.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The status of a contract number.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Pending),
            1 => Some(Self::Verified),
            2 => Some(Self::Rejected),
            _ => None,
        }
    }

    /// The status's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Verified => "Verified",
            Self::Rejected => "Rejected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_names() {
        for (i, s) in RequestStatus::ALL.iter().enumerate() {
            assert_eq!(usize::from(s.code()), i);
            assert_eq!(RequestStatus::from_code(s.code()), Some(*s));
            assert_eq!(s.name(), REQUEST_STATUS_NAMES[i]);
            assert_eq!(
                format!("{s:?}"),
                s.name(),
                "the variant is named as the contract's state"
            );
        }
        assert_eq!(RequestStatus::from_code(10), None);
        for c in 0..3 {
            assert_eq!(
                EvidenceStatus::from_code(c).map(EvidenceStatus::code),
                Some(c)
            );
        }
        assert_eq!(EvidenceStatus::from_code(3), None);
    }
}
