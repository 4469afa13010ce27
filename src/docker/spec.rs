//! The container a sandbox is: a pure function from the launch
//! configuration to the Docker create body, so every hardening flag is
//! checked by a unit test without an engine.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};

use super::config::{LaunchConfig, Network};
use super::{LABEL_CREATED, LABEL_MANAGED, LABEL_OWNER, LABEL_SESSION, OWNER_DETACHED};

/// The server's port inside the container.
pub(super) const SERVER_PORT: &str = "7000/tcp";
/// Where the token file is copied (an anonymous volume; the root is read-only).
pub(super) const TOKEN_DIR: &str = "/run/toolwire";
/// Where the host directory with the Unix socket is mounted in `none` mode.
/// The tools file's name in [`TOKEN_DIR`] (server-only, like the token).
pub(super) const TOOLS_FILE_NAME: &str = "tools.yaml";
/// Directory of the Unix socket (a bind mount) for `Network::None`.
pub(super) const SOCKET_DIR: &str = "/run/toolwire-sock";
/// The socket's file name in that directory.
pub(super) const SOCKET_NAME: &str = "tw.sock";
/// The uid:gid the server runs as.
pub(super) const USER: &str = "0:0";

/// The user tools run as (`--tool-user`): not the server's, so no tool can
/// signal, trace or replace it.
pub(super) const TOOL_USER: &str = "1000:1000";

/// The tool user's uid and gid, owner of the sandbox's own workspace.
const TOOL_UID: u32 = 1000;

/// The only capabilities the server keeps: to start tools as [`TOOL_USER`]
/// (SETUID, SETGID) and to kill their process groups (KILL). Tools lose
/// every capability when they change uid.
pub(super) const SERVER_CAPABILITIES: [&str; 3] = ["SETUID", "SETGID", "KILL"];

/// Who launches, and when: the labels that let `reap` find orphans.
#[derive(Debug, Clone)]
pub(super) struct Identity<'a> {
    /// The owner label value (`<host>/<pid>/<start time>`).
    pub(super) owner: &'a str,
    /// Creation time, Unix seconds.
    pub(super) created_unix: u64,
}

/// The create body of one sandbox container: no capabilities, no new
/// privileges, a read-only root, uid 1000, pids/memory/CPU limits, a
/// size-limited /tmp, an init process, and either a port published on
/// 127.0.0.1 only (`Bridge`) or no network and a Unix socket in
/// `socket_dir` (`None`).
pub(super) fn container_body(
    config: &LaunchConfig,
    image: &str,
    who: &Identity<'_>,
    socket_dir: Option<&Path>,
) -> ContainerCreateBody {
    let labels = HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (
            LABEL_OWNER.to_owned(),
            if config.detached {
                OWNER_DETACHED.to_owned()
            } else {
                who.owner.to_owned()
            },
        ),
        (LABEL_SESSION.to_owned(), config.session.clone()),
        (LABEL_CREATED.to_owned(), who.created_unix.to_string()),
    ]);
    let volumes = HashMap::from([(TOKEN_DIR.to_owned(), HashMap::new())]);
    let mut binds = Vec::new();
    let mut tmpfs = HashMap::from([(
        "/tmp".to_owned(),
        format!("rw,nosuid,nodev,size={}", config.tmp_size),
    )]);
    // The sandbox's own workspace is a tmpfs of a fixed size: the storage
    // drivers have no quota on most hosts, and a tmpfs needs no privilege
    // the engine does not have. Its pages are charged to the container's
    // memory cgroup, so the limit grows by its size: a full workspace fails
    // writes with ENOSPC instead of OOM-killing the server.
    let mut memory = config.memory_bytes;
    match &config.workspace {
        Some(dir) => binds.push(format!("{}:/workspace", dir.display())),
        None => {
            tmpfs.insert(
                "/workspace".to_owned(),
                format!(
                    "rw,nosuid,nodev,size={},uid={TOOL_UID},gid={TOOL_UID},mode=0755",
                    config.workspace_limit_bytes
                ),
            );
            memory = memory.saturating_add(config.workspace_limit_bytes);
        }
    }
    let mut cmd = vec![
        "--workdir".to_owned(),
        "/workspace".to_owned(),
        "--token-file".to_owned(),
        format!("{TOKEN_DIR}/token"),
        "--tool-user".to_owned(),
        TOOL_USER.to_owned(),
    ];
    let mut host = HostConfig {
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(
            SERVER_CAPABILITIES
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
        ),
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(tmpfs),
        pids_limit: Some(config.pids_limit),
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some((config.cpus * 1e9) as i64),
        init: Some(true),
        ..HostConfig::default()
    };
    let mut exposed = None;
    match (config.network, socket_dir) {
        (Network::None, Some(dir)) => {
            host.network_mode = Some("none".into());
            binds.push(format!("{}:{SOCKET_DIR}", dir.display()));
            cmd.extend(["--unix".to_owned(), format!("{SOCKET_DIR}/{SOCKET_NAME}")]);
        }
        (Network::None, None) => {
            // No socket directory: nothing could reach the server; the launch
            // always passes one for this mode.
            host.network_mode = Some("none".into());
        }
        (Network::Bridge, _) => {
            host.network_mode = Some("bridge".into());
            host.port_bindings = Some(HashMap::from([(
                SERVER_PORT.to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )]));
            exposed = Some(HashMap::from([(SERVER_PORT.to_owned(), HashMap::new())]));
            cmd.extend(["--listen".to_owned(), "0.0.0.0:7000".to_owned()]);
        }
    }
    if !binds.is_empty() {
        host.binds = Some(binds);
    }
    if config.detached {
        // Nobody watches a detached sandbox's exit: Docker removes it.
        host.auto_remove = Some(true);
    }
    if config.tools_file.is_some() {
        cmd.extend([
            "--tools-file".to_owned(),
            format!("{TOKEN_DIR}/{TOOLS_FILE_NAME}"),
        ]);
    }
    if let Some(idle) = config.idle_timeout {
        let secs = idle.as_secs().max(1);
        cmd.extend(["--idle-timeout-secs".to_owned(), secs.to_string()]);
    }
    cmd.extend(config.server_args.iter().cloned());
    ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(cmd),
        user: Some(USER.into()),
        labels: Some(labels),
        volumes: Some(volumes),
        exposed_ports: exposed,
        env: Some(vec!["RUST_LOG=info".into()]),
        host_config: Some(host),
        ..ContainerCreateBody::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Identity<'static> = Identity {
        owner: "host/42/7",
        created_unix: 1_700_000_000,
    };

    fn bridge() -> ContainerCreateBody {
        container_body(&LaunchConfig::default(), "img:tag", &WHO, None)
    }

    fn host(body: &ContainerCreateBody) -> &HostConfig {
        body.host_config.as_ref().expect("a host config")
    }

    #[test]
    fn every_capability_is_dropped_and_no_privilege_can_be_gained() {
        let body = bridge();
        assert_eq!(host(&body).cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host(&body).cap_add,
            Some(vec![
                "SETUID".to_owned(),
                "SETGID".to_owned(),
                "KILL".to_owned()
            ])
        );
        assert_eq!(
            host(&body).security_opt,
            Some(vec!["no-new-privileges".to_owned()])
        );
        assert_eq!(host(&body).privileged, None);
    }

    #[test]
    fn the_root_is_read_only_and_tools_run_as_uid_1000_apart_from_the_server() {
        let body = bridge();
        assert_eq!(host(&body).readonly_rootfs, Some(true));
        assert_eq!(body.user.as_deref(), Some("0:0"));
        let cmd = body.cmd.expect("cmd");
        let at = cmd
            .iter()
            .position(|a| a == "--tool-user")
            .expect("--tool-user");
        assert_eq!(cmd[at + 1], "1000:1000");
    }

    #[test]
    fn pids_memory_swap_and_cpu_are_limited() {
        let config = LaunchConfig::default()
            .pids_limit(64)
            .memory_bytes(256 << 20)
            .workspace("/home/me/project");
        let body = container_body(&config, "img", &WHO, None);
        assert_eq!(host(&body).pids_limit, Some(64));
        assert_eq!(host(&body).memory, Some(256 << 20));
        assert_eq!(host(&body).memory_swap, Some(256 << 20), "no swap");
        assert_eq!(host(&body).nano_cpus, Some(1_000_000_000));
    }

    #[test]
    fn the_own_workspace_is_a_sized_tmpfs_of_the_tool_user_whose_size_the_memory_limit_adds() {
        let config = LaunchConfig::default()
            .memory_bytes(256 << 20)
            .workspace_limit_bytes(64 << 20);
        let body = container_body(&config, "img", &WHO, None);
        let tmpfs = host(&body).tmpfs.as_ref().expect("tmpfs");
        assert_eq!(
            tmpfs["/workspace"],
            format!(
                "rw,nosuid,nodev,size={},uid=1000,gid=1000,mode=0755",
                64 << 20
            )
        );
        assert_eq!(host(&body).memory, Some((256 << 20) + (64 << 20)));
        assert_eq!(host(&body).memory_swap, Some((256 << 20) + (64 << 20)));
        assert!(!body.volumes.expect("volumes").contains_key("/workspace"));
    }

    #[test]
    fn tmp_is_a_sized_tmpfs_without_suid_or_devices() {
        let body = bridge();
        let tmpfs = host(&body).tmpfs.as_ref().expect("tmpfs");
        assert_eq!(tmpfs["/tmp"], "rw,nosuid,nodev,size=256m");
    }

    #[test]
    fn an_init_process_reaps_orphans() {
        assert_eq!(host(&bridge()).init, Some(true));
    }

    #[test]
    fn bridge_publishes_the_port_on_loopback_only() {
        let body = bridge();
        assert_eq!(host(&body).network_mode.as_deref(), Some("bridge"));
        let bindings = host(&body).port_bindings.as_ref().expect("bindings");
        let binding = &bindings[SERVER_PORT].as_ref().expect("a binding")[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some(""), "an ephemeral port");
        let cmd = body.cmd.expect("cmd");
        assert!(cmd.windows(2).any(|w| w == ["--listen", "0.0.0.0:7000"]));
    }

    #[test]
    fn no_network_has_no_port_and_serves_a_unix_socket() {
        let config = LaunchConfig::default().network(Network::None);
        let body = container_body(&config, "img", &WHO, Some(Path::new("/tmp/sock")));
        assert_eq!(host(&body).network_mode.as_deref(), Some("none"));
        assert_eq!(host(&body).port_bindings, None);
        assert_eq!(body.exposed_ports, None);
        assert_eq!(
            host(&body).binds,
            Some(vec![format!("/tmp/sock:{SOCKET_DIR}")])
        );
        let cmd = body.cmd.expect("cmd");
        assert!(cmd.windows(2).any(|w| w[0] == "--unix"));
    }

    #[test]
    fn the_token_reaches_the_server_as_a_file_never_env_or_argv() {
        let body = bridge();
        let env = body.env.expect("env");
        assert_eq!(env, vec!["RUST_LOG=info".to_owned()]);
        let cmd = body.cmd.expect("cmd");
        assert!(
            cmd.windows(2)
                .any(|w| w == ["--token-file", "/run/toolwire/token"])
        );
        assert!(body.volumes.expect("volumes").contains_key(TOKEN_DIR));
    }

    #[test]
    fn labels_name_the_owner_so_orphans_are_reaped() {
        let labels = bridge().labels.expect("labels");
        assert_eq!(labels[LABEL_MANAGED], "true");
        assert_eq!(labels[LABEL_OWNER], "host/42/7");
        assert_eq!(labels[LABEL_SESSION], "session");
        assert_eq!(labels[LABEL_CREATED], "1700000000");
    }

    #[test]
    fn a_detached_sandbox_is_owned_by_no_process_and_removed_by_docker_when_it_exits() {
        let config = LaunchConfig::default().detached(true);
        let body = container_body(&config, "img", &WHO, None);
        assert_eq!(body.labels.expect("labels")[LABEL_OWNER], OWNER_DETACHED);
        assert_eq!(body.host_config.expect("host").auto_remove, Some(true));
        assert_eq!(bridge().host_config.expect("host").auto_remove, None);
    }

    #[test]
    fn an_idle_timeout_reaches_the_server_in_whole_seconds() {
        let config = LaunchConfig::default().idle_timeout(std::time::Duration::from_millis(2500));
        let body = container_body(&config, "img", &WHO, None);
        let cmd = body.cmd.expect("a command");
        let at = cmd
            .iter()
            .position(|a| a == "--idle-timeout-secs")
            .expect("the flag");
        assert_eq!(cmd[at + 1], "2");
        let cmd = bridge().cmd.expect("a command");
        assert!(!cmd.contains(&"--idle-timeout-secs".to_owned()));
    }

    #[test]
    fn a_host_workspace_is_bound_and_server_args_come_last() {
        let config = LaunchConfig::default()
            .workspace("/home/me/project")
            .server_args(vec!["--extra".into()]);
        let body = container_body(&config, "img", &WHO, None);
        assert_eq!(
            host(&body).binds,
            Some(vec!["/home/me/project:/workspace".to_owned()])
        );
        assert!(!body.volumes.expect("volumes").contains_key("/workspace"));
        assert_eq!(
            body.cmd.expect("cmd").last().map(String::as_str),
            Some("--extra")
        );
    }
}
