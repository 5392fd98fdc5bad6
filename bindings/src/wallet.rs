//! Where the signing key comes from: a raw private key, an encrypted JSON keystore (by path, or by
//! account name in foundry's `~/.foundry/keystores/`), or a BIP-39 mnemonic.
//!
//! Keystores are Web3 Secret Storage v3 files (scrypt n=8192 r=8 p=1, AES-128-CTR), written by
//! the same code as `cast wallet import` / `cast wallet new` (alloy's `eth-keystore`): the file
//! name is the account name, no extension, so `--account NAME` finds keystores made by `cast`
//! and `cast --account NAME` finds the ones made here. Keystores written here also carry geth's
//! plain `"address"` field (which `cast` ignores), so their address is known without the
//! password; they are written owner-only (0600) and never overwrite an existing file.
//!
//! Secrets ([`Secret`]: private keys, mnemonics, passwords) are zeroed on drop and never appear in
//! `Debug`, `Display` or error messages.

use std::{
    fmt,
    io::{self, ErrorKind},
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{Address, B256, hex},
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
};
use zeroize::Zeroizing;

/// Environment variable read by [`PasswordSource::Env`].
pub const PASSWORD_ENV: &str = "SHIFTPAY_KEYSTORE_PASSWORD";

/// A secret string (private key, mnemonic or password): zeroed on drop, redacted when printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret string.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself: pass it on, never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a keystore's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Ask on the terminal with echo off (fails when there is no terminal).
    Prompt,
    /// The first line of a file (a trailing newline is not part of the password).
    File(PathBuf),
    /// The environment variable [`PASSWORD_ENV`] (`SHIFTPAY_KEYSTORE_PASSWORD`).
    Env,
    /// A password already in hand (tests, a caller that read it elsewhere).
    Literal(Secret),
}

/// Where the signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerSource {
    /// A hex private key (`0x` optional).
    PrivateKey(Secret),
    /// An encrypted JSON keystore file.
    Keystore {
        /// Path of the keystore file.
        path: PathBuf,
        /// Where its password comes from.
        password: PasswordSource,
    },
    /// A keystore by account name in [`foundry_keystore_dir`] (what `cast --account NAME` reads).
    Account {
        /// Account name (the keystore's file name).
        name: String,
        /// Where its password comes from.
        password: PasswordSource,
    },
    /// A BIP-39 English mnemonic (or the path of a file holding it), derived at
    /// `m/44'/60'/0'/0/{index}` like `cast --mnemonic ... --mnemonic-index N`.
    Mnemonic {
        /// The phrase, or a path to a file that holds it.
        phrase: Secret,
        /// Account index in the derivation path.
        index: u32,
    },
}

/// A keystore found by [`list_keystores`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreEntry {
    /// Account name: the file name.
    pub name: String,
    /// Full path of the file.
    pub path: PathBuf,
    /// The address when the file states it (geth and ShiftPay keystores do; `cast`'s do not, the
    /// address is then known only after decrypting).
    pub address: Option<Address>,
}

/// Why a signer could not be loaded or a keystore written.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The password does not decrypt the keystore (its MAC does not match).
    #[error("wrong password for keystore {name}")]
    WrongPassword {
        /// Account name or path of the keystore.
        name: String,
    },
    /// No keystore at that path or with that account name.
    #[error("no keystore at {}", path.display())]
    KeystoreNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Refusing to overwrite an existing keystore.
    #[error("a keystore already exists at {}", path.display())]
    KeystoreExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file is not a valid encrypted JSON keystore.
    #[error("{} is not a valid encrypted JSON keystore: {reason}", path.display())]
    InvalidKeystore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An account name that is not a plain file name.
    #[error("account name {0:?} must be a plain file name (no path separators, not empty)")]
    InvalidAccountName(String),
    /// The private key is not 32 bytes of hex, or not a valid secp256k1 key.
    #[error("the private key is not a valid secp256k1 key (expected 64 hex digits, 0x optional)")]
    InvalidPrivateKey,
    /// The mnemonic is not a valid BIP-39 English phrase (or the index is out of range).
    #[error("the mnemonic is not a valid BIP-39 English phrase, or the index is out of range")]
    InvalidMnemonic,
    /// `SHIFTPAY_KEYSTORE_PASSWORD` was asked for but is not set.
    #[error("the keystore password was to come from {PASSWORD_ENV}, which is not set")]
    PasswordEnvMissing,
    /// The password prompt failed (no terminal, input closed...).
    #[error("cannot prompt for the password of keystore {name}: {source}")]
    Prompt {
        /// Account name or path of the keystore.
        name: String,
        /// Why the prompt failed.
        #[source]
        source: io::Error,
    },
    /// A file could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The home directory is unknown, so the keystore directory is too.
    #[error("cannot find the home directory (HOME is not set), so not the keystore directory")]
    NoHomeDir,
}

/// Foundry's keystore directory, `$HOME/.foundry/keystores` (what `cast` uses; foundry has no
/// environment variable to move it).
pub fn foundry_keystore_dir() -> Result<PathBuf, WalletError> {
    std::env::home_dir()
        .filter(|home| !home.as_os_str().is_empty())
        .map(|home| home.join(".foundry").join("keystores"))
        .ok_or(WalletError::NoHomeDir)
}

/// Reads a secret from the terminal with echo off (`rpassword`, through `/dev/tty`).
pub fn prompt_hidden(prompt: &str) -> io::Result<Secret> {
    rpassword::prompt_password(prompt).map(Secret::from)
}

/// Loads the signer, prompting on the terminal (with echo off) when the password source is
/// [`PasswordSource::Prompt`].
pub fn load_signer(source: &SignerSource) -> Result<PrivateKeySigner, WalletError> {
    load_signer_with(source, &mut |prompt| rpassword::prompt_password(prompt))
}

/// [`load_signer`] with a custom prompt (`prompt(text) -> password`), for tests and GUIs.
pub fn load_signer_with(
    source: &SignerSource,
    prompt: &mut dyn FnMut(&str) -> io::Result<String>,
) -> Result<PrivateKeySigner, WalletError> {
    match source {
        SignerSource::PrivateKey(key) => parse_private_key(key.expose()),
        SignerSource::Keystore { path, password } => {
            let name = path.display().to_string();
            decrypt(path, &name, password, prompt)
        }
        SignerSource::Account { name, password } => {
            check_account_name(name)?;
            let path = foundry_keystore_dir()?.join(name);
            decrypt(&path, name, password, prompt)
        }
        SignerSource::Mnemonic { phrase, index } => {
            let phrase = read_mnemonic(phrase)?;
            MnemonicBuilder::<English>::default()
                .phrase(phrase.expose())
                .index(*index)
                .and_then(|builder| builder.build())
                .map_err(|_| WalletError::InvalidMnemonic)
        }
    }
}

/// Parses a hex private key (`0x` optional, surrounding whitespace ignored).
pub fn parse_private_key(key: &str) -> Result<PrivateKeySigner, WalletError> {
    let key = key.trim();
    let digits = key.strip_prefix("0x").unwrap_or(key);
    if digits.len() != 64 {
        return Err(WalletError::InvalidPrivateKey);
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, bytes.as_mut_slice())
        .map_err(|_| WalletError::InvalidPrivateKey)?;
    PrivateKeySigner::from_bytes(&B256::from(*bytes)).map_err(|_| WalletError::InvalidPrivateKey)
}

/// A mnemonic given as a phrase, or as the path of a file holding it (like `cast --mnemonic`).
fn read_mnemonic(phrase: &Secret) -> Result<Secret, WalletError> {
    let text = phrase.expose().trim();
    // A phrase has spaces; a single token that names a file is read from it.
    if !text.contains(char::is_whitespace) && Path::new(text).is_file() {
        let path = PathBuf::from(text);
        let content = Zeroizing::new(
            std::fs::read_to_string(&path).map_err(|source| WalletError::Io { path, source })?,
        );
        return Ok(Secret::new(content.trim()));
    }
    Ok(Secret::new(text))
}

fn read_password(
    source: &PasswordSource,
    name: &str,
    prompt: &mut dyn FnMut(&str) -> io::Result<String>,
) -> Result<Secret, WalletError> {
    match source {
        PasswordSource::Literal(password) => Ok(password.clone()),
        PasswordSource::Env => std::env::var(PASSWORD_ENV)
            .map(Secret::from)
            .map_err(|_| WalletError::PasswordEnvMissing),
        PasswordSource::File(path) => {
            let content = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|source| WalletError::Io { path: path.clone(), source })?,
            );
            Ok(Secret::new(content.lines().next().unwrap_or_default()))
        }
        PasswordSource::Prompt => prompt(&format!("Password for keystore {name}: "))
            .map(Secret::from)
            .map_err(|source| WalletError::Prompt { name: name.to_owned(), source }),
    }
}

fn decrypt(
    path: &Path,
    name: &str,
    password: &PasswordSource,
    prompt: &mut dyn FnMut(&str) -> io::Result<String>,
) -> Result<PrivateKeySigner, WalletError> {
    // Check the file before asking for a password that would be typed for nothing.
    if !path.is_file() {
        return Err(WalletError::KeystoreNotFound { path: path.to_owned() });
    }
    let password = read_password(password, name, prompt)?;
    decrypt_keystore(path, name, &password)
}

/// Decrypts the keystore at `path` with `password`; `name` names it in errors.
pub fn decrypt_keystore(
    path: &Path,
    name: &str,
    password: &Secret,
) -> Result<PrivateKeySigner, WalletError> {
    use alloy::signers::local::LocalSignerError;
    use eth_keystore::KeystoreError;
    PrivateKeySigner::decrypt_keystore(path, password.expose()).map_err(|err| match err {
        LocalSignerError::EthKeystoreError(KeystoreError::MacMismatch) => {
            WalletError::WrongPassword { name: name.to_owned() }
        }
        LocalSignerError::EthKeystoreError(KeystoreError::StdIo(reason)) => {
            if path.exists() {
                WalletError::InvalidKeystore { path: path.to_owned(), reason }
            } else {
                WalletError::KeystoreNotFound { path: path.to_owned() }
            }
        }
        LocalSignerError::EthKeystoreError(KeystoreError::SerdeJson(reason)) => {
            WalletError::InvalidKeystore { path: path.to_owned(), reason }
        }
        other => WalletError::InvalidKeystore { path: path.to_owned(), reason: other.to_string() },
    })
}

/// Checks that `name` can be a keystore file name: one path segment, not empty, no `\`, not
/// `.`/`..`, not ending in `.touchid` (reserved by `cast` for Touch ID sidecars).
pub fn check_account_name(name: &str) -> Result<(), WalletError> {
    let file_name = Path::new(name).file_name().and_then(|s| s.to_str());
    if name.is_empty()
        || name.contains('\\')
        || file_name != Some(name)
        || name.ends_with(".touchid")
    {
        return Err(WalletError::InvalidAccountName(name.to_owned()));
    }
    Ok(())
}

/// Creates a keystore for a new random key as `dir/name` (creating `dir`), returning its
/// address. Fails with [`WalletError::KeystoreExists`] rather than overwrite a file.
pub fn new_keystore(dir: &Path, name: &str, password: &Secret) -> Result<Address, WalletError> {
    let signer = PrivateKeySigner::random();
    import_keystore(dir, name, &signer, password)
}

/// Encrypts `signer`'s key into `dir/name` (creating `dir`), like `cast wallet import NAME`,
/// returning its address. Never overwrites: an existing file is
/// [`WalletError::KeystoreExists`].
///
/// The file is written in a private temporary directory inside `dir`, made readable by its owner
/// only (0600 on Unix), then linked into place, so a crash never leaves a partial keystore and a
/// concurrent writer of the same name loses instead of clobbering.
pub fn import_keystore(
    dir: &Path,
    name: &str,
    signer: &PrivateKeySigner,
    password: &Secret,
) -> Result<Address, WalletError> {
    check_account_name(name)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WalletError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(name);
    if target.exists() {
        return Err(WalletError::KeystoreExists { path: target });
    }
    let staging =
        tempfile::Builder::new().prefix(".shiftpay-keystore-").tempdir_in(dir).map_err(io(dir))?;
    let key = Zeroizing::new(signer.to_bytes().0);
    let mut rng = rand::thread_rng();
    PrivateKeySigner::encrypt_keystore(
        staging.path(),
        &mut rng,
        key.as_slice(),
        password.expose(),
        Some(name),
    )
    .map_err(|err| WalletError::Io {
        path: staging.path().to_owned(),
        source: io::Error::other(err.to_string()),
    })?;
    let staged = staging.path().join(name);
    add_address_field(&staged, signer.address())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(io(&staged))?;
    }
    std::fs::hard_link(&staged, &target).map_err(|source| match source.kind() {
        ErrorKind::AlreadyExists => WalletError::KeystoreExists { path: target.clone() },
        _ => WalletError::Io { path: target.clone(), source },
    })?;
    Ok(signer.address())
}

/// Adds geth's `"address"` field (lowercase hex, no `0x`) so that the address is known without
/// the password (`wallet list`, a dry run's sender); readers that do not know it ignore it.
fn add_address_field(path: &Path, address: Address) -> Result<(), WalletError> {
    let io = |source| WalletError::Io { path: path.to_owned(), source };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mut json: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        WalletError::InvalidKeystore { path: path.to_owned(), reason: err.to_string() }
    })?;
    json["address"] = hex::encode(address).into();
    std::fs::write(path, json.to_string()).map_err(io)
}

/// The keystores in `dir`, sorted by name: every regular file except hidden ones and `cast`'s
/// `.touchid` sidecars (what `cast wallet list` shows). A missing directory is an empty list.
pub fn list_keystores(dir: &Path) -> Result<Vec<KeystoreEntry>, WalletError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(WalletError::Io { path: dir.to_owned(), source }),
    };
    let mut keystores = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| WalletError::Io { path: dir.to_owned(), source })?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if !path.is_file() || name.starts_with('.') || name.ends_with(".touchid") {
            continue;
        }
        let address = keystore_address(&path);
        keystores.push(KeystoreEntry { name, path, address });
    }
    keystores.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keystores)
}

/// The `address` field of a keystore file, when it has one (geth's and ShiftPay's do; `cast`'s
/// do not). Read without the password: it is not authenticated by the keystore's MAC.
pub fn keystore_address(path: &Path) -> Option<Address> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("address")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // anvil's first account: public test key.
    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: Address =
        alloy::primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    const MNEMONIC: &str = "test test test test test test test test test test test junk";

    fn no_prompt(_: &str) -> io::Result<String> {
        Err(io::Error::other("no terminal"))
    }

    #[test]
    fn private_key_with_and_without_prefix() {
        assert_eq!(parse_private_key(KEY).unwrap().address(), ADDRESS);
        assert_eq!(parse_private_key(&format!(" 0x{KEY}\n")).unwrap().address(), ADDRESS);
        assert!(matches!(parse_private_key("0x1234"), Err(WalletError::InvalidPrivateKey)));
        let zero = "0".repeat(64);
        assert!(matches!(parse_private_key(&zero), Err(WalletError::InvalidPrivateKey)));
    }

    #[test]
    fn mnemonic_indices_match_anvil_accounts() {
        let source = |index| SignerSource::Mnemonic { phrase: MNEMONIC.into(), index };
        assert_eq!(load_signer_with(&source(0), &mut no_prompt).unwrap().address(), ADDRESS);
        assert_eq!(
            load_signer_with(&source(1), &mut no_prompt).unwrap().address(),
            alloy::primitives::address!("70997970C51812dc3A010C7d01b50e0d17dc79C8")
        );
        let bad = SignerSource::Mnemonic { phrase: "not a mnemonic at all".into(), index: 0 };
        assert!(matches!(
            load_signer_with(&bad, &mut no_prompt),
            Err(WalletError::InvalidMnemonic)
        ));
    }

    #[test]
    fn mnemonic_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phrase.txt");
        std::fs::write(&path, format!("{MNEMONIC}\n")).unwrap();
        let source = SignerSource::Mnemonic { phrase: path.to_str().unwrap().into(), index: 0 };
        assert_eq!(load_signer_with(&source, &mut no_prompt).unwrap().address(), ADDRESS);
    }

    #[test]
    fn keystore_roundtrip_and_password_sources() {
        let dir = tempfile::tempdir().unwrap();
        let signer = parse_private_key(KEY).unwrap();
        let address = import_keystore(dir.path(), "alice", &signer, &"pw".into()).unwrap();
        assert_eq!(address, ADDRESS);
        let path = dir.path().join("alice");
        assert_eq!(keystore_address(&path), Some(ADDRESS), "the address is readable unlocked");

        let load = |password| SignerSource::Keystore { path: path.clone(), password };
        let literal = load(PasswordSource::Literal("pw".into()));
        assert_eq!(load_signer_with(&literal, &mut no_prompt).unwrap().address(), ADDRESS);

        let file = dir.path().join("pw.txt");
        std::fs::write(&file, "pw\n").unwrap();
        let from_file = load(PasswordSource::File(file));
        assert_eq!(load_signer_with(&from_file, &mut no_prompt).unwrap().address(), ADDRESS);

        let mut asked = String::new();
        let mut prompt = |text: &str| {
            asked = text.to_owned();
            Ok("pw".to_owned())
        };
        let prompted = load(PasswordSource::Prompt);
        assert_eq!(load_signer_with(&prompted, &mut prompt).unwrap().address(), ADDRESS);
        assert!(asked.contains("alice"), "{asked}");

        let err = load_signer_with(&load(PasswordSource::Prompt), &mut no_prompt).unwrap_err();
        assert!(matches!(err, WalletError::Prompt { .. }), "{err}");
    }

    #[test]
    fn wrong_password_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let address = new_keystore(dir.path(), "bob", &"right".into()).unwrap();
        let path = dir.path().join("bob");
        assert_eq!(decrypt_keystore(&path, "bob", &"right".into()).unwrap().address(), address);
        let err = decrypt_keystore(&path, "bob", &"wrong".into()).unwrap_err();
        assert!(matches!(err, WalletError::WrongPassword { .. }));
        assert_eq!(err.to_string(), "wrong password for keystore bob");
    }

    #[test]
    fn never_overwrites_and_rejects_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        new_keystore(dir.path(), "carol", &"pw".into()).unwrap();
        let err = new_keystore(dir.path(), "carol", &"pw".into()).unwrap_err();
        assert!(matches!(err, WalletError::KeystoreExists { .. }), "{err}");
        for bad in ["", "a/b", "..", "x\\y", "k.touchid"] {
            let err = new_keystore(dir.path(), bad, &"pw".into()).unwrap_err();
            assert!(matches!(err, WalletError::InvalidAccountName(_)), "{bad}: {err}");
        }
        // No staging directory left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["carol"]);
    }

    #[cfg(unix)]
    #[test]
    fn keystore_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        new_keystore(dir.path(), "dave", &"pw".into()).unwrap();
        let mode = std::fs::metadata(dir.path().join("dave")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn lists_keystores_sorted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_keystores(&dir.path().join("missing")).unwrap().is_empty());
        new_keystore(dir.path(), "zed", &"pw".into()).unwrap();
        new_keystore(dir.path(), "amy", &"pw".into()).unwrap();
        std::fs::write(dir.path().join("amy.touchid"), "{}").unwrap();
        let names: Vec<_> =
            list_keystores(dir.path()).unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["amy", "zed"]);
    }

    #[test]
    fn secrets_are_redacted() {
        let source = SignerSource::PrivateKey(Secret::new(KEY));
        let shown = format!("{source:?} {}", Secret::new(KEY));
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("redacted"));
        let mnemonic = SignerSource::Mnemonic { phrase: MNEMONIC.into(), index: 0 };
        assert!(!format!("{mnemonic:?}").contains("junk"));
        let password = PasswordSource::Literal("hunter2".into());
        assert!(!format!("{password:?}").contains("hunter2"));
        // Errors never carry the key either.
        let err = parse_private_key(&format!("{KEY}00")).unwrap_err();
        assert!(!err.to_string().contains(KEY));
    }

    #[test]
    fn missing_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let source = SignerSource::Keystore {
            path: dir.path().join("nope"),
            password: PasswordSource::Literal("pw".into()),
        };
        let err = load_signer_with(&source, &mut no_prompt).unwrap_err();
        assert!(matches!(err, WalletError::KeystoreNotFound { .. }), "{err}");
    }
}
