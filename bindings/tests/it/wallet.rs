//! `wallet`: keystores interoperate with foundry's `cast wallet` both ways.

use std::path::Path;

use shiftpay_bindings::wallet::{
    PasswordSource, Secret, SignerSource, WalletError, list_keystores, load_signer, new_keystore,
};

use crate::common::{cast, dev_address};

const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn keystores(home: &Path) -> std::path::PathBuf {
    home.join(".foundry").join("keystores")
}

fn keystore(path: std::path::PathBuf, password: &str) -> SignerSource {
    SignerSource::Keystore { path, password: PasswordSource::Literal(Secret::new(password)) }
}

#[test]
fn cast_keystore_loads_here() {
    let home = tempfile::tempdir().unwrap();
    let out = cast(
        home.path(),
        &["wallet", "import", "alice", "--private-key", KEY0, "--unsafe-password", "pw-1"],
    );
    assert!(out.contains("alice"), "{out}");
    let path = keystores(home.path()).join("alice");
    assert!(path.is_file(), "cast writes ~/.foundry/keystores/NAME");

    let signer = load_signer(&keystore(path.clone(), "pw-1")).unwrap();
    assert_eq!(signer.address(), dev_address(0));

    let err = load_signer(&keystore(path.clone(), "nope")).unwrap_err();
    assert!(matches!(err, WalletError::WrongPassword { .. }), "{err}");
    assert_eq!(err.to_string(), format!("wrong password for keystore {}", path.display()));

    // Listed, with no address (cast's keystores do not state it).
    let listed = list_keystores(&keystores(home.path())).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].name.as_str(), listed[0].address), ("alice", None));
}

#[test]
fn keystore_made_here_is_used_by_cast() {
    let home = tempfile::tempdir().unwrap();
    let dir = keystores(home.path());
    let address = new_keystore(&dir, "bob", &Secret::new("s3cret")).unwrap();

    let listed = cast(home.path(), &["wallet", "list"]);
    assert!(listed.contains("bob"), "{listed}");
    let shown =
        cast(home.path(), &["wallet", "address", "--account", "bob", "--password", "s3cret"]);
    assert_eq!(shown.parse::<alloy::primitives::Address>().unwrap(), address);
    // cast decrypts it to the same key.
    let key =
        cast(home.path(), &["wallet", "decrypt-keystore", "bob", "--unsafe-password", "s3cret"]);
    let key = key.rsplit(' ').next().unwrap();
    let again = load_signer(&SignerSource::PrivateKey(Secret::new(key))).unwrap();
    assert_eq!(again.address(), address);
    // And the address is readable without the password here.
    assert_eq!(list_keystores(&dir).unwrap()[0].address, Some(address));
}
