//! `cargo xtask contracts build|check`: compiles `contracts/` with foundry-compilers and keeps the
//! committed artifacts under `bindings/artifacts/` (deployable contracts), `tests/artifacts/`
//! (test-only contracts) and `bindings/artifacts/devnet/` (the local devnet's test stablecoin,
//! never deployed on a live chain) in step with the sources.
//!
//! The compiler settings below are the single source of truth; `foundry.toml` repeats them for
//! `forge build` and must stay identical (the README says how to compare the two).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    str::FromStr,
};

use eyre::{Context, bail, eyre};
use foundry_compilers::{
    ConfigurableArtifacts, ProjectBuilder, ProjectPathsConfig,
    artifacts::{
        BytecodeHash, ConfigurableContractArtifact, EvmVersion, Optimizer, Remapping, Settings,
        SettingsMetadata,
        output_selection::{ContractOutputSelection, OutputSelection},
    },
    solc::{Solc, SolcCompiler, SolcLanguage, SolcSettings},
};
use serde::Serialize;

/// Pinned compiler version: the npm `solc` package in package.json must match it.
pub(crate) const SOLC_VERSION: &str = "0.8.30";
/// The EVM level every target chain supports (no transient storage, no blobs): one bytecode for
/// Rootstock, BOB, Citrea, Botanix and Merlin (Core targets paris, which lacks PUSH0).
pub(crate) const EVM_VERSION: EvmVersion = EvmVersion::Shanghai;
/// Optimizer runs: contracts are called far more often than they are deployed.
pub(crate) const OPTIMIZER_RUNS: usize = 1000;
/// Import remapping to the npm-installed OpenZeppelin contracts.
const REMAPPINGS: &[&str] = &["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"];

/// Where each kind of contract source lives and where its committed artifacts go.
struct ArtifactSet {
    /// Source folder, relative to the repository root. Only its top-level `.sol` files are exported:
    /// sub-folders hold interfaces, libraries and types, which are not deployed on their own.
    sources: &'static str,
    /// Artifact folder, relative to the repository root.
    artifacts: &'static str,
}

const ARTIFACT_SETS: &[ArtifactSet] = &[
    ArtifactSet { sources: "contracts/src", artifacts: "bindings/artifacts" },
    ArtifactSet { sources: "contracts/test", artifacts: "tests/artifacts" },
    // The devnet's test stablecoin: embedded by `bindings` (`shiftpay devnet up` deploys it on
    // the local devnet), but outside contracts/src so that Slither and the deploy command never
    // treat it as a ShiftPay contract.
    ArtifactSet { sources: "contracts/devnet", artifacts: "bindings/artifacts/devnet" },
];

/// Every `.sol` file under the artifact sets' source folders (sub-folders included), sorted.
fn source_files(root: &Path) -> eyre::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> eyre::Result<()> {
        for entry in fs::read_dir(dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "sol") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for set in ARTIFACT_SETS {
        let dir = root.join(set.sources);
        if dir.exists() {
            walk(&dir, &mut files)?;
        }
    }
    files.sort();
    Ok(files)
}

/// One committed artifact: what a binding, a deployer or an explorer verification needs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact<'a> {
    contract_name: &'a str,
    source_name: String,
    compiler: CompilerInfo<'a>,
    abi: &'a serde_json::Value,
    bytecode: String,
    deployed_bytecode: String,
    metadata: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CompilerInfo<'a> {
    version: String,
    settings: &'a serde_json::Value,
}

/// Root of the repository (the parent of this crate's folder).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

/// The solc executable: `$SOLC` when set (a native binary), else the solc-js wrapper.
fn solc_path(root: &Path) -> PathBuf {
    std::env::var_os("SOLC").map(PathBuf::from).unwrap_or_else(|| root.join("tools/solc"))
}

fn compiler_settings() -> eyre::Result<Settings> {
    Ok(Settings {
        optimizer: Optimizer { enabled: Some(true), runs: Some(OPTIMIZER_RUNS), details: None },
        evm_version: Some(EVM_VERSION),
        via_ir: None,
        metadata: Some(SettingsMetadata {
            use_literal_content: None,
            bytecode_hash: Some(BytecodeHash::Ipfs),
            cbor_metadata: Some(true),
        }),
        remappings: remappings()?,
        output_selection: OutputSelection::common_output_selection(
            ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers", "metadata"]
                .map(String::from),
        ),
        ..Settings::default()
    })
}

fn remappings() -> eyre::Result<Vec<Remapping>> {
    REMAPPINGS
        .iter()
        .map(|r| Remapping::from_str(r).map_err(|e| eyre!("bad remapping {r}: {e}")))
        .collect()
}

/// Compiles every source under `contracts/` and returns the artifact files it should produce,
/// keyed by their path relative to the repository root.
fn compile(root: &Path) -> eyre::Result<BTreeMap<PathBuf, String>> {
    let solc_path = solc_path(root);
    if !solc_path.exists() {
        bail!("solc not found at {} (set SOLC to a native solc binary)", solc_path.display());
    }
    if std::env::var_os("SOLC").is_none() && !root.join("node_modules/solc/solc.js").exists() {
        bail!(
            "solc-js is not installed: run `npm ci` in {} first (or `make deps`)",
            root.display()
        );
    }
    let solc = Solc::new(&solc_path)
        .with_context(|| format!("running {} --version", solc_path.display()))?;
    let version = &solc.version;
    if format!("{}.{}.{}", version.major, version.minor, version.patch) != SOLC_VERSION {
        bail!(
            "{} is solc {}, but the contracts are pinned to {SOLC_VERSION}",
            solc_path.display(),
            solc.version
        );
    }

    let scratch = root.join("target/xtask-contracts");
    let paths = ProjectPathsConfig::builder()
        .root(root)
        .sources(root.join("contracts/src"))
        .tests(root.join("contracts/test"))
        .scripts(root.join("contracts/script"))
        .artifacts(scratch.join("out"))
        .cache(scratch.join("cache/solidity-files-cache.json"))
        .build_infos(scratch.join("out/build-info"))
        .libs([root.join("node_modules")])
        .remappings(remappings()?)
        .build_with_root::<SolcLanguage>(root);
    let project = ProjectBuilder::<SolcCompiler, ConfigurableArtifacts>::new(
        ConfigurableArtifacts::new([ContractOutputSelection::Metadata], []),
    )
    .paths(paths)
    .settings(SolcSettings { settings: compiler_settings()?, ..Default::default() })
    .set_cached(false)
    .no_artifacts()
    .offline()
    .build(SolcCompiler::Specific(solc))
    .wrap_err("configuring the contracts project")?;

    eprintln!("compiling contracts with solc {SOLC_VERSION} ({})", solc_path.display());
    // contracts/src and contracts/test are the project's sources and tests; contracts/devnet is
    // a third folder, so the files are named explicitly.
    let output = project.compile_files(source_files(root)?).wrap_err("compiling contracts")?;
    if output.has_compiler_errors() {
        bail!("solc reported errors:\n{output}");
    }
    if output.has_compiler_warnings() {
        eprintln!("{output}");
    }

    let mut files = BTreeMap::new();
    for (id, artifact) in output.artifact_ids() {
        let source = id.source.strip_prefix(root).unwrap_or(&id.source).to_owned();
        let Some(set) =
            ARTIFACT_SETS.iter().find(|set| source.parent() == Some(Path::new(set.sources)))
        else {
            continue;
        };
        let Some(json) = render_artifact(&id.name, &source, artifact)? else { continue };
        files.insert(Path::new(set.artifacts).join(format!("{}.json", id.name)), json);
    }
    if files.is_empty() {
        bail!(
            "no deployable contracts found under contracts/src, contracts/test or contracts/devnet"
        );
    }
    Ok(files)
}

/// Renders the committed JSON of one contract, or `None` for interfaces and abstract contracts
/// (no creation code).
fn render_artifact(
    name: &str,
    source: &Path,
    artifact: &ConfigurableContractArtifact,
) -> eyre::Result<Option<String>> {
    let Some(bytecode) = artifact.bytecode.as_ref().and_then(|b| b.object.as_bytes()) else {
        bail!(
            "{name}: bytecode has unlinked libraries; ShiftPay contracts use internal libraries only"
        );
    };
    if bytecode.is_empty() {
        return Ok(None);
    }
    let deployed = artifact
        .deployed_bytecode
        .as_ref()
        .and_then(|d| d.bytecode.as_ref())
        .and_then(|b| b.object.as_bytes())
        .ok_or_else(|| eyre!("{name}: missing deployed bytecode"))?;
    let raw_metadata =
        artifact.raw_metadata.as_deref().ok_or_else(|| eyre!("{name}: missing metadata"))?;
    let metadata: serde_json::Value = serde_json::from_str(raw_metadata)?;
    let settings = &metadata["settings"];
    let version = metadata["compiler"]["version"].as_str().unwrap_or_default().to_owned();
    let abi = serde_json::to_value(artifact.abi.as_ref().ok_or_else(|| eyre!("{name}: no abi"))?)?;
    let rendered = Artifact {
        contract_name: name,
        source_name: source.to_string_lossy().replace('\\', "/"),
        compiler: CompilerInfo { version, settings },
        abi: &abi,
        bytecode: alloy_hex(bytecode),
        deployed_bytecode: alloy_hex(deployed),
        metadata: raw_metadata,
    };
    let mut json = serde_json::to_string_pretty(&rendered)?;
    json.push('\n');
    Ok(Some(json))
}

fn alloy_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Existing committed artifact files, relative to the root.
fn committed_artifacts(root: &Path) -> eyre::Result<BTreeMap<PathBuf, String>> {
    let mut files = BTreeMap::new();
    for set in ARTIFACT_SETS {
        let dir = root.join(set.artifacts);
        if !dir.exists() {
            continue;
        }
        for entry in fs::read_dir(&dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let relative = path.strip_prefix(root)?.to_owned();
                files.insert(relative, fs::read_to_string(&path)?);
            }
        }
    }
    Ok(files)
}

/// `contracts build`: compiles and rewrites the committed artifacts, removing orphans.
pub(crate) fn build(root: &Path) -> eyre::Result<()> {
    let fresh = compile(root)?;
    let committed = committed_artifacts(root)?;
    for stale in committed.keys().filter(|path| !fresh.contains_key(*path)) {
        fs::remove_file(root.join(stale))?;
        eprintln!("removed  {}", stale.display());
    }
    for (path, json) in &fresh {
        let changed = committed.get(path) != Some(json);
        if changed {
            let full = root.join(path);
            fs::create_dir_all(full.parent().expect("artifact path has a folder"))?;
            fs::write(&full, json)?;
        }
        eprintln!("{} {}", if changed { "wrote   " } else { "current " }, path.display());
    }
    Ok(())
}

/// `contracts check`: recompiles and fails, naming each contract, when the committed artifacts
/// differ from what the sources compile to.
pub(crate) fn check(root: &Path) -> eyre::Result<()> {
    let problems = stale_contracts(root)?;
    if problems.is_empty() {
        eprintln!("contracts check: committed artifacts match the sources");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    bail!(
        "{} committed contract artifact(s) out of date; run `cargo xtask contracts build` and commit bindings/artifacts (with devnet/) and tests/artifacts",
        problems.len()
    )
}

/// One line per committed artifact that differs from what the sources compile to, each starting
/// with `contract <Name>:`.
fn stale_contracts(root: &Path) -> eyre::Result<Vec<String>> {
    let fresh = compile(root)?;
    let committed = committed_artifacts(root)?;
    let mut problems = Vec::new();
    for (path, json) in &fresh {
        let name = contract_name(path);
        match committed.get(path) {
            None => {
                problems.push(format!("contract {name}: no committed artifact {}", path.display()))
            }
            Some(old) if old != json => problems.push(format!(
                "contract {name}: {} is stale ({})",
                path.display(),
                what_differs(old, json)
            )),
            Some(_) => {}
        }
    }
    for path in committed.keys().filter(|path| !fresh.contains_key(*path)) {
        problems.push(format!(
            "contract {}: {} has no source any more",
            contract_name(path),
            path.display()
        ));
    }
    Ok(problems)
}

fn contract_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Names the first top-level artifact field that differs, for the error message.
fn what_differs(old: &str, new: &str) -> String {
    let (Ok(old), Ok(new)) = (
        serde_json::from_str::<serde_json::Value>(old),
        serde_json::from_str::<serde_json::Value>(new),
    ) else {
        return "committed file is not valid JSON".to_owned();
    };
    let fields = ["abi", "bytecode", "deployedBytecode", "compiler", "metadata", "sourceName"];
    let differing: Vec<_> = fields.iter().filter(|f| old[**f] != new[**f]).copied().collect();
    if differing.is_empty() {
        "formatting differs".to_owned()
    } else {
        format!("{} differ", differing.join(", "))
    }
}

/// `contracts forge-check`: runs `forge build` with the repository's foundry.toml and fails unless
/// every committed artifact's creation and runtime bytecode equals forge's, byte for byte.
pub(crate) fn forge_check(root: &Path) -> eyre::Result<()> {
    let forge = root.join("node_modules/.bin/forge");
    if !forge.exists() {
        bail!("forge is not installed ({} missing): run `npm ci`", forge.display());
    }
    eprintln!("running forge build (foundry.toml) to compare bytecode");
    // foundry.toml names contracts/src and contracts/test; the devnet folder is passed as a path
    // (with the other two, since paths replace the default set).
    let status = std::process::Command::new(&forge)
        .args(["build", "--force", "--root"])
        .arg(root)
        .args(ARTIFACT_SETS.iter().map(|set| root.join(set.sources)))
        .stdout(std::process::Stdio::null())
        .status()
        .wrap_err("running forge build")?;
    if !status.success() {
        bail!("forge build failed ({status})");
    }
    let committed = committed_artifacts(root)?;
    let mut mismatches = Vec::new();
    for (path, json) in &committed {
        let ours: serde_json::Value = serde_json::from_str(json)?;
        let name = contract_name(path);
        let source = ours["sourceName"].as_str().unwrap_or_default();
        let file = Path::new(source)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let forge_path = root.join("target/forge/out").join(&file).join(format!("{name}.json"));
        let forge_json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&forge_path).wrap_err_with(|| {
                format!("forge wrote no artifact for {name} at {}", forge_path.display())
            })?)?;
        for (ours_key, forge_key) in
            [("bytecode", "bytecode"), ("deployedBytecode", "deployedBytecode")]
        {
            if ours[ours_key].as_str() != forge_json[forge_key]["object"].as_str() {
                mismatches.push(format!(
                    "contract {name}: {ours_key} differs between forge and the Rust pipeline"
                ));
            }
        }
    }
    if mismatches.is_empty() {
        eprintln!(
            "forge-check: {} contracts compile to identical bytecode with forge",
            committed.len()
        );
        return Ok(());
    }
    for mismatch in &mismatches {
        eprintln!("error: {mismatch}");
    }
    bail!(
        "forge and the Rust pipeline disagree; keep foundry.toml and xtask/src/contracts.rs in step"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throw-away copy of the contract sources and committed artifacts, sharing node_modules.
    fn copy_of_repo() -> PathBuf {
        let root = repo_root();
        let copy = std::env::temp_dir().join(format!("shiftpay-xtask-{}", std::process::id()));
        let _ = fs::remove_dir_all(&copy);
        for dir in ["contracts", "bindings/artifacts", "tests/artifacts", "tools"] {
            copy_dir(&root.join(dir), &copy.join(dir));
        }
        std::os::unix::fs::symlink(root.join("node_modules"), copy.join("node_modules")).unwrap();
        copy
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    #[test]
    fn one_changed_byte_fails_the_check_naming_the_contract() {
        if !repo_root().join("node_modules/solc/solc.js").exists()
            && std::env::var_os("SOLC").is_none()
        {
            panic!("solc-js missing: run `npm ci` (make test does)");
        }
        let copy = copy_of_repo();
        build(&copy).expect("the copy builds");
        check(&copy).expect("freshly built artifacts pass the check");

        // One byte in a comment: same logic, but the metadata hash (and so the bytecode) changes.
        let source = copy.join("contracts/test/MockERC20.sol");
        let text = fs::read_to_string(&source).unwrap();
        fs::write(&source, text.replacen("Test token", "Test tokan", 1)).unwrap();
        let message = format!("{:#}", check(&copy).unwrap_err());
        assert!(message.contains("out of date"), "{message}");

        let report = stale_contracts(&copy).unwrap();
        assert!(report.iter().any(|line| line.starts_with("contract MockERC20:")), "{report:?}");
        // Only the contracts whose metadata holds the edited file's hash are named: those of the
        // file and those that import it (NonZeroApprovalERC20 extends MockERC20).
        let same_file =
            ["MockERC20", "FeeOnTransferERC20", "FalseReturningERC20", "NonZeroApprovalERC20"];
        assert!(
            report.iter().all(|line| same_file
                .iter()
                .any(|name| line.starts_with(&format!("contract {name}:")))),
            "{report:?}"
        );
        fs::remove_dir_all(&copy).unwrap();
    }
}
