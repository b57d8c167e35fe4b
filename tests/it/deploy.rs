//! The deployment files hold together: the systemd unit passes `systemd-analyze verify`
//! (where the machine has it) without a warning; the compose file starts the four
//! services and mounts only files that exist; the Prometheus configuration loads the
//! rules file where compose mounts it; the dashboard's data source is the one
//! provisioned; the Dockerfile copies only what exists; and the image's configuration
//! is valid. No container engine runs here, so the images themselves are not built.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn yaml(path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(deploy(path)).unwrap()).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `systemd-analyze verify` of `unit` with its binary at `binary`, with the generated
/// man page findable: exit status and output.
fn verify_unit(unit_text: &str, binary: &str) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("hypertick.service");
    std::fs::write(&unit, unit_text.replace("/usr/local/bin/hypertick", binary)).unwrap();
    std::fs::create_dir_all(dir.path().join("man/man1")).unwrap();
    let page = Command::new(binary).arg("manpage").output().unwrap().stdout;
    std::fs::write(dir.path().join("man/man1/hypertick.1"), page).unwrap();
    let output = Command::new("systemd-analyze").arg("verify").arg(&unit).env("MANPATH", dir.path().join("man")).output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Some((output.status.success(), text))
}

#[test]
fn the_systemd_unit_verifies_cleanly() {
    let unit = std::fs::read_to_string(deploy("systemd/hypertick.service")).unwrap();
    for hardening in
        ["DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=hypertick", "CapabilityBoundingSet="]
    {
        assert!(unit.contains(hardening), "the unit sets {hardening}");
    }
    let binary = env!("CARGO_BIN_EXE_hypertick");
    let Some((ok, output)) = verify_unit(&unit, binary) else {
        println!("NOTICE: systemd-analyze is not installed; deploy/systemd/hypertick.service was not verified");
        return;
    };
    assert!(ok && output.trim().is_empty(), "systemd-analyze verify:\n{output}");
    // The check is real: a misspelled setting is reported.
    let (_, broken) = verify_unit(&unit.replace("ProtectSystem=strict", "ProtectSystem=strictly"), binary).unwrap();
    assert!(broken.contains("ProtectSystem") || broken.contains("protect system"), "a bad value is reported: {broken}");
}

#[test]
fn the_compose_file_mounts_what_exists_and_wires_the_services() {
    let compose = yaml("compose.yaml");
    let services = compose["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(|key| key.as_str()).collect();
    assert_eq!(names, ["timescaledb", "hypertick", "prometheus", "grafana"]);
    assert!(compose["services"]["timescaledb"]["image"].as_str().unwrap().starts_with("timescale/timescaledb:"));
    let mut mounts = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let volume = volume.as_str().unwrap();
            if let Some(relative) = volume.strip_prefix("./") {
                let source = relative.split(':').next().unwrap();
                assert!(deploy(source).exists(), "{name} mounts ./{source}, which does not exist in deploy/");
                mounts.push(volume.to_string());
            }
        }
        for port in service["ports"].as_sequence().into_iter().flatten() {
            assert!(port.as_str().unwrap().starts_with("127.0.0.1:"), "{name} publishes {port:?} on the host's loopback only");
        }
    }
    // Prometheus scrapes hypertick and loads the rules from where compose mounts them.
    let prometheus = yaml("prometheus/config/prometheus.yml");
    let rules = prometheus["rule_files"][0].as_str().unwrap();
    assert!(mounts.iter().any(|mount| mount.ends_with(&format!(":{rules}:ro"))), "{rules} is mounted: {mounts:?}");
    assert_eq!(prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0], "hypertick:9187");
    // The dashboard's data source variable defaults to the provisioned data source.
    let datasource = yaml("grafana/provisioning/datasources/prometheus.yml");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/hypertick.json")).unwrap()).unwrap();
    let variable = &dashboard["templating"]["list"][0];
    assert_eq!(variable["current"]["value"].as_str(), datasource["datasources"][0]["uid"].as_str());
}

#[test]
fn the_dockerfile_copies_what_exists_and_the_image_configuration_is_valid() {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    assert!(dockerfile.contains("USER hypertick"), "the image runs as a user of its own");
    assert!(dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")) >= 2, "multi-stage");
    for line in dockerfile.lines().filter(|line| line.starts_with("COPY ") && !line.contains("--from=")) {
        let source = line.split_whitespace().nth(1).unwrap();
        if source != "." {
            assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists(), "{line}: {source} does not exist");
        }
    }
    let text = std::fs::read_to_string(deploy("hypertick.toml")).unwrap();
    let environment = vec![
        ("DATABASE_URL".to_string(), "postgres://hypertick@timescaledb:5432/hypertick?sslmode=disable".to_string()),
        ("HYPERTICK_SERVER_TOKEN".to_string(), "token".to_string()),
    ];
    let config = hypertick::app::load_config_str(&text, environment).expect("deploy/hypertick.toml is valid");
    assert_eq!(config.spool.expect("a spool").dir, Path::new("/var/lib/hypertick/spool"));
}
