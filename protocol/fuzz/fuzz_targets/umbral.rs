//! Umbral objects from untrusted bytes (capsule, wrapped key, public key, kfrag, cfrag):
//! decoding and verification never panic and never accept forgeries.
#![no_main]
use std::sync::OnceLock;

use dashledger_protocol::wrap::{self, KfragSigner, UmbralPublicKey, UmbralSecretKey, WrappedKey};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    owner: UmbralSecretKey,
    requester: UmbralSecretKey,
    signer: KfragSigner,
    wrapped: WrappedKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let owner = UmbralSecretKey::from_be_bytes(&[0x11; 32]).unwrap();
        let requester = UmbralSecretKey::from_be_bytes(&[0x22; 32]).unwrap();
        let signer = KfragSigner::from_secret_bytes(&[0x33; 32]).unwrap();
        let key = wrap::SessionKey::from_bytes([0x44; 32]);
        let wrapped = wrap::wrap(&owner.public_key(), &key).unwrap();
        Fixture {
            owner,
            requester,
            signer,
            wrapped,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let _ = UmbralPublicKey::from_bytes(data);
    if let Ok(w) = WrappedKey::from_bytes(data) {
        let _ = wrap::unwrap_own(&f.owner, &w, &Default::default());
    }
    let (o, r, s) = (
        f.owner.public_key(),
        f.requester.public_key(),
        f.signer.verifying_key(),
    );
    assert!(wrap::verify_kfrag(data, &s, &o, &r).is_err());
    assert!(wrap::verify_cfrag(data, &f.wrapped, &s, &o, &r).is_err());
});
