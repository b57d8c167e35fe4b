//! Python with the producer library (`clients/python`) installed by pip into a venv, for
//! the tests that drive the daemon from Python: `python_client.rs` makes a fresh venv of
//! its own (installing is part of what it checks), the example producers share one
//! (`shared_venv`), made once per package content and kept in the target directory.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const INSTALL_HINT: &str =
    "the Python tests need python3 with venv and pip: apt-get install python3 python3-venv python3-pip (.ci/run installs them)";

/// `clients/python` of this checkout.
pub fn checkout_client() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python")
}

/// Runs `command` to its end; a failure shows its output, and `hint` when one is given.
pub fn run(command: &mut Command, what: &str, hint: &str) -> Output {
    let output = command.output().unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}; {hint}"));
    assert!(
        output.status.success(),
        "{what} failed ({}) {hint}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Whether a file of the package directory is what a local build or run left beside it.
fn is_build_leftover(name: &str) -> bool {
    name == "build" || name == "__pycache__" || name.ends_with(".egg-info")
}

/// The package's files, without what a local build or run left beside them.
fn copy_package(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_build_leftover(&name) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_package(&entry.path(), &to.join(&*name));
        } else {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}

/// A venv in `dir/venv` with the package installed by pip; returns its python.
pub fn venv_with_client(dir: &Path) -> PathBuf {
    run(Command::new("python3").arg("--version"), "python3", INSTALL_HINT);
    let venv = dir.join("venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv", INSTALL_HINT);
    let python = venv.join("bin/python");
    // Installed from a copy of the checkout's package, so that the build leaves nothing
    // in the checkout.
    let source = dir.join("client-src");
    copy_package(&checkout_client(), &source);
    run(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).arg(&source),
        "pip install clients/python",
        INSTALL_HINT,
    );
    python
}

/// A digest of the package's files (names and contents), to know when a kept venv is stale.
fn package_digest(dir: &Path, hasher: &mut std::collections::hash_map::DefaultHasher) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap()).collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_string();
        if is_build_leftover(&name) {
            continue;
        }
        name.hash(hasher);
        if entry.file_type().unwrap().is_dir() {
            package_digest(&entry.path(), hasher);
        } else {
            std::fs::read(entry.path()).unwrap().hash(hasher);
        }
    }
}

/// One venv with the package for every test of this run that needs it: made on first
/// use under the target directory and reused by later runs while the package's files
/// are unchanged (a stamp beside it holds their digest). A file lock keeps test
/// processes sharing the target directory from building it at the same time. Returns
/// its python.
pub fn shared_venv() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(target).unwrap();
        let lock = std::fs::File::create(target.join("python-client-shared.lock")).unwrap();
        lock.lock().unwrap();
        let dir = target.join("python-client-shared");
        let stamp = dir.join("package.digest");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        package_digest(&checkout_client(), &mut hasher);
        let digest = format!("{:016x}", hasher.finish());
        let python = dir.join("venv/bin/python");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(digest.as_str()) && python.exists() {
            return python;
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let python = venv_with_client(&dir);
        std::fs::write(&stamp, &digest).unwrap();
        python
    })
}
