//! The Tinkerbell workflow a machine template carries as `templateOverride`: the user's
//! `TinkerbellTemplateConfig` when the machine config names one, else EKS Anywhere's default
//! workflow (README 5 "Tinkerbell default workflow").
//!
//! The workflow is a typed value serialised with the wire rules of tink's `Workflow` (JSON names,
//! sorted keys; `global_timeout`, `id`, `name`, `tasks`, `version`, task `actions`, `name`,
//! `worker` and action `image`, `name`, `timeout` always present, everything else only when
//! non-empty). The action contents are Tinkerbell/cloud-init data, not Kubernetes objects; the
//! `{{ ... }}` in them are rendered by the Tinkerbell workflow controller, not by us.

use std::collections::BTreeMap;

use serde::Serialize;

use anywhere_api::Template;

/// The OS family of a machine, as far as the default workflow cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsFamily {
    /// Ubuntu, and any other or empty value: netplan on partition 2.
    Ubuntu,
    /// RedHat: NetworkManager on partition 1, quoted metadata URLs.
    RedHat,
    /// Bottlerocket: bootconfig, user data and network on partition 12.
    Bottlerocket,
}

impl OsFamily {
    /// From a machine config's `osFamily`.
    pub fn from_spec(os_family: Option<&str>) -> OsFamily {
        match os_family {
            Some("bottlerocket") => OsFamily::Bottlerocket,
            Some("redhat") => OsFamily::RedHat,
            _ => OsFamily::Ubuntu,
        }
    }
}

/// A workflow (tink `Workflow`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Workflow {
    /// `version`.
    pub version: String,
    /// `name`.
    pub name: String,
    /// `id`.
    pub id: String,
    /// `global_timeout`.
    pub global_timeout: i64,
    /// `tasks` (`null` when there are none).
    pub tasks: Option<Vec<Task>>,
}

/// A task.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Task {
    /// `name`.
    pub name: String,
    /// `worker`.
    pub worker: String,
    /// `actions` (`null` when there are none).
    pub actions: Option<Vec<Action>>,
    /// `volumes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// `environment`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
}

/// An action.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Action {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `timeout` in seconds.
    pub timeout: i64,
    /// `command`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// `on-timeout`.
    #[serde(rename = "on-timeout", skip_serializing_if = "Vec::is_empty")]
    pub on_timeout: Vec<String>,
    /// `on-failure`.
    #[serde(rename = "on-failure", skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<String>,
    /// `volumes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// `environment`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// `pid`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pid: String,
}

impl Workflow {
    /// A user's `TinkerbellTemplateConfig.spec.template`, with Go's zero values for absent
    /// fields.
    pub fn from_template(t: &Template) -> Workflow {
        Workflow {
            version: t.version.clone().unwrap_or_default(),
            name: t.name.clone().unwrap_or_default(),
            id: t.id.clone().unwrap_or_default(),
            global_timeout: t.global_timeout.unwrap_or_default(),
            tasks: t.tasks.as_ref().filter(|t| !t.is_empty()).map(|tasks| {
                tasks
                    .iter()
                    .map(|task| Task {
                        name: task.name.clone().unwrap_or_default(),
                        worker: task.worker.clone().unwrap_or_default(),
                        actions: task.actions.as_ref().filter(|a| !a.is_empty()).map(|actions| {
                            actions
                                .iter()
                                .map(|a| Action {
                                    name: a.name.clone().unwrap_or_default(),
                                    image: a.image.clone().unwrap_or_default(),
                                    timeout: a.timeout.unwrap_or_default(),
                                    command: a.command.clone().unwrap_or_default(),
                                    on_timeout: a.on_timeout.clone().unwrap_or_default(),
                                    on_failure: a.on_failure.clone().unwrap_or_default(),
                                    volumes: a.volumes.clone().unwrap_or_default(),
                                    environment: a.environment.clone().unwrap_or_default(),
                                    pid: a.pid.clone().unwrap_or_default(),
                                })
                                .collect()
                        }),
                        volumes: task.volumes.clone().unwrap_or_default(),
                        environment: task.environment.clone().unwrap_or_default(),
                    })
                    .collect()
            }),
        }
    }

    /// The workflow as the YAML text of `templateOverride` (sorted keys).
    pub fn to_yaml(&self) -> String {
        let value = serde_json::to_value(self).expect("workflows serialise to JSON");
        anywhere_api::yaml::to_string(&value, anywhere_api::yaml::KeyOrder::Sorted)
    }
}

/// What the default workflow is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultWorkflow<'a> {
    /// The cluster name (workflow and task name).
    pub cluster_name: &'a str,
    /// The OS image to stream to disk.
    pub os_image_url: &'a str,
    /// The admin machine's IP (first metadata URL).
    pub bootstrap_ip: &'a str,
    /// The datacenter's `tinkerbellIP` (second metadata URL).
    pub tinkerbell_ip: &'a str,
    /// OS family.
    pub os_family: OsFamily,
    /// `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` for the image streaming action.
    pub proxy: Option<(String, String, String)>,
}

const IMAGE_TO_DISK: &str = "127.0.0.1/embedded/image2disk";
const WRITE_FILE: &str = "127.0.0.1/embedded/writefile";
const REBOOT: &str = "127.0.0.1/embedded/reboot";
const DEVICE: &str = "{{ index .Hardware.Disks 0 }}";

const NETPLAN: &str = r#"network:
    version: 2
    renderer: networkd
    ethernets:
        id0:
            match:
                macaddress: {{ (index .Hardware.Interfaces 0).DHCP.MAC }}
            addresses:
                - {{ (index .Hardware.Interfaces 0).DHCP.IP.Address }}/{{ netmaskToPrefixLength (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}
            nameservers:
                addresses: [{{ range $i, $ns := (index .Hardware.Interfaces 0).DHCP.NameServers }}{{if $i}}, {{end}}{{$ns}}{{end}}]
            routes:
                - to: default
                  via: {{ (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}
"#;

const NETPLAN_VLAN: &str = r#"network:
    version: 2
    renderer: networkd
    ethernets:
        mainif:
            match:
                macaddress: {{ (index .Hardware.Interfaces 0).DHCP.MAC }}
            set-name: mainif

    vlans:
        vlan{{ (index .Hardware.Interfaces 0).DHCP.VLANID }}:
            id: {{ (index .Hardware.Interfaces 0).DHCP.VLANID }}
            link: mainif
            addresses:
            - {{ (index .Hardware.Interfaces 0).DHCP.IP.Address }}/{{ netmaskToPrefixLength (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}
            nameservers:
                addresses: [{{ range $i, $ns := (index .Hardware.Interfaces 0).DHCP.NameServers }}{{if $i}}, {{end}}{{$ns}}{{end}}]
            {{- if (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}
            routes:
                - to: default
                  via: {{ (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}
            {{- end }}
"#;

const NM_CONNECTION: &str = r#"[connection]
id=static-connection
type=ethernet
autoconnect=yes
autoconnect-priority=10

[ethernet]
mac-address={{ (index .Hardware.Interfaces 0).DHCP.MAC }}

[ipv4]
address1={{ (index .Hardware.Interfaces 0).DHCP.IP.Address }}/{{ netmaskToPrefixLength (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}
dns={{ range $i, $ns := (index .Hardware.Interfaces 0).DHCP.NameServers }}{{if $i}};{{end}}{{$ns}}{{end}};
gateway={{ (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}
method=manual

[ipv6]
addr-gen-mode=default
method=ignore
"#;

const NM_VLAN_CONNECTION: &str = r#"[connection]
id=vlan-connection
type=vlan
autoconnect=yes
autoconnect-priority=10

[ethernet]
mac-address={{ (index .Hardware.Interfaces 0).DHCP.MAC }}

[vlan]
flags=1
id={{ (index .Hardware.Interfaces 0).DHCP.VLANID }}
mac-address={{ (index .Hardware.Interfaces 0).DHCP.MAC }}

[ipv4]
address1={{ (index .Hardware.Interfaces 0).DHCP.IP.Address }}/{{ netmaskToPrefixLength (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}
dns={{ range $i, $ns := (index .Hardware.Interfaces 0).DHCP.NameServers }}{{if $i}};{{end}}{{$ns}}{{end}};
gateway={{ (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}
method=manual

[ipv6]
addr-gen-mode=default
method=ignore
"#;

const VLAN_IF: &str = "{{ if (index .Hardware.Interfaces 0).DHCP.VLANID }}";

fn partition(n: u8) -> String {
    format!("{{{{ formatPartition ( index .Hardware.Disks 0 ) {n} }}}}")
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write_file(name: &str, disk: &str, path: &str, contents: &str, mode: &str, dirmode: &str) -> Action {
    Action {
        name: name.into(),
        image: WRITE_FILE.into(),
        timeout: 90,
        environment: env(&[
            ("CONTENTS", contents),
            ("DEST_DISK", disk),
            ("DEST_PATH", path),
            ("DIRMODE", dirmode),
            ("FS_TYPE", "ext4"),
            ("GID", "0"),
            ("MODE", mode),
            ("UID", "0"),
        ]),
        ..Default::default()
    }
}

fn cloud_init(metadata_urls: &str) -> String {
    format!(
        "datasource:\n  Ec2:\n    metadata_urls: [{metadata_urls}]\n    strict_id: false\nmanage_etc_hosts: localhost\nwarnings:\n  dsid_missing_source: off\n"
    )
}

impl DefaultWorkflow<'_> {
    /// The default workflow: stream the image, write the OS's network and cloud-init settings,
    /// reboot.
    pub fn build(&self) -> Workflow {
        let urls = [self.bootstrap_ip, self.tinkerbell_ip].map(|ip| format!("http://{ip}:7172"));
        let mut stream_env = env(&[
            ("COMPRESSED", "true"),
            ("DEST_DISK", DEVICE),
            ("IMG_URL", self.os_image_url),
        ]);
        if let Some((http, https, no_proxy)) = &self.proxy {
            stream_env.insert("HTTP_PROXY".into(), http.clone());
            stream_env.insert("HTTPS_PROXY".into(), https.clone());
            let locals = format!("{},{}", self.bootstrap_ip, self.tinkerbell_ip);
            let value = if no_proxy.is_empty() {
                locals
            } else {
                format!("{no_proxy},{locals}")
            };
            stream_env.insert("NO_PROXY".into(), value);
        }
        let mut actions = vec![Action {
            name: "stream image to disk".into(),
            image: IMAGE_TO_DISK.into(),
            timeout: 600,
            environment: stream_env,
            ..Default::default()
        }];
        let reboot = Action {
            name: "reboot".into(),
            image: REBOOT.into(),
            timeout: 90,
            pid: "host".into(),
            volumes: vec!["/worker:/worker".into()],
            ..Default::default()
        };
        let disable_network = |disk: &str| {
            write_file(
                "disable cloud-init network capabilities",
                disk,
                "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
                "network: {config: disabled}",
                "0600",
                "0700",
            )
        };
        let tink_cloud_init = |disk: &str, urls: &str| {
            write_file(
                "add cloud-init config",
                disk,
                "/etc/cloud/cloud.cfg.d/10_tinkerbell.cfg",
                &cloud_init(urls),
                "0600",
                "0700",
            )
        };
        let ds_cloud_init = |disk: &str| {
            write_file(
                "add cloud-init ds config",
                disk,
                "/etc/cloud/ds-identify.cfg",
                "datasource: Ec2\n",
                "0600",
                "0700",
            )
        };
        match self.os_family {
            OsFamily::Bottlerocket => {
                let disk = partition(12);
                let mut bootconfig = write_file(
                    "write Bottlerocket bootconfig",
                    &disk,
                    "/bootconfig.data",
                    "",
                    "0644",
                    "0700",
                );
                bootconfig.environment.remove("CONTENTS");
                bootconfig
                    .environment
                    .insert("BOOTCONFIG_CONTENTS".into(), "kernel {}".into());
                bootconfig.pid = "host".into();
                let mut user_data = write_file(
                    "write Bottlerocket user data",
                    &disk,
                    "/user-data.toml",
                    "",
                    "0644",
                    "0700",
                );
                user_data.environment.remove("CONTENTS");
                user_data.environment.insert("HEGEL_URLS".into(), urls.join(","));
                user_data.pid = "host".into();
                let mut network = write_file("write netplan config", &disk, "/net.toml", "", "0644", "0755");
                network.environment.remove("CONTENTS");
                network
                    .environment
                    .insert("STATIC_BOTTLEROCKET".into(), "true".into());
                network.environment.insert("IFNAME".into(), "eno1".into());
                network.pid = "host".into();
                actions.extend([bootconfig, user_data, network, reboot]);
            }
            OsFamily::RedHat => {
                let disk = partition(1);
                let quoted = urls
                    .iter()
                    .map(|u| format!("'{u}'"))
                    .collect::<Vec<_>>()
                    .join(",");
                let nm = format!("{VLAN_IF}{NM_VLAN_CONNECTION}{{{{ else }}}}{NM_CONNECTION}{{{{ end }}}}");
                let mut network = write_file(
                    "write network manager config",
                    &disk,
                    "/etc/NetworkManager/system-connections/static-connection.nmconnection",
                    &nm,
                    "0600",
                    "0755",
                );
                network.pid = "host".into();
                actions.extend([
                    network,
                    disable_network(&disk),
                    tink_cloud_init(&disk, &quoted),
                    ds_cloud_init(&disk),
                    reboot,
                ]);
            }
            OsFamily::Ubuntu => {
                let disk = partition(2);
                let netplan = format!("{VLAN_IF}{NETPLAN_VLAN}{{{{ else }}}}{NETPLAN}{{{{ end }}}}");
                let mut network = write_file(
                    "write netplan config",
                    &disk,
                    "/etc/netplan/config.yaml",
                    &netplan,
                    "0644",
                    "0755",
                );
                network.pid = "host".into();
                actions.extend([
                    network,
                    disable_network(&disk),
                    tink_cloud_init(&disk, &urls.join(",")),
                    ds_cloud_init(&disk),
                    reboot,
                ]);
            }
        }
        Workflow {
            version: "0.1".into(),
            name: self.cluster_name.into(),
            id: String::new(),
            global_timeout: 6000,
            tasks: Some(vec![Task {
                name: self.cluster_name.into(),
                worker: "{{.device_1}}".into(),
                actions: Some(actions),
                volumes: [
                    "/dev:/dev",
                    "/dev/console:/dev/console",
                    "/lib/firmware:/lib/firmware:ro",
                ]
                .map(String::from)
                .to_vec(),
                environment: BTreeMap::new(),
            }]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ubuntu() -> DefaultWorkflow<'static> {
        DefaultWorkflow {
            cluster_name: "test",
            os_image_url: "https://ubuntu.gz",
            bootstrap_ip: "0.0.0.0",
            tinkerbell_ip: "5.6.7.8",
            os_family: OsFamily::Ubuntu,
            proxy: None,
        }
    }

    #[test]
    fn empty_template_keeps_go_zero_values() {
        let yaml = Workflow::from_template(&Template::default()).to_yaml();
        assert_eq!(
            yaml,
            "global_timeout: 0\nid: \"\"\nname: \"\"\ntasks: null\nversion: \"\"\n"
        );
    }

    #[test]
    fn ubuntu_default_writes_partition_two_and_both_metadata_urls() {
        let w = ubuntu().build();
        let actions = w.tasks.as_ref().unwrap()[0].actions.clone().unwrap();
        let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "stream image to disk",
                "write netplan config",
                "disable cloud-init network capabilities",
                "add cloud-init config",
                "add cloud-init ds config",
                "reboot"
            ]
        );
        assert_eq!(
            actions[1].environment["DEST_DISK"],
            "{{ formatPartition ( index .Hardware.Disks 0 ) 2 }}"
        );
        assert!(
            actions[3].environment["CONTENTS"]
                .contains("metadata_urls: [http://0.0.0.0:7172,http://5.6.7.8:7172]")
        );
        assert!(
            actions[1].environment["CONTENTS"]
                .starts_with("{{ if (index .Hardware.Interfaces 0).DHCP.VLANID }}network:")
        );
        assert!(actions[1].environment["CONTENTS"].ends_with("{{ end }}"));
    }

    #[test]
    fn redhat_quotes_urls_and_bottlerocket_uses_partition_twelve() {
        let w = DefaultWorkflow {
            os_family: OsFamily::RedHat,
            ..ubuntu()
        }
        .build();
        let a = w.tasks.unwrap()[0].actions.clone().unwrap();
        assert!(a[3].environment["CONTENTS"].contains("['http://0.0.0.0:7172','http://5.6.7.8:7172']"));
        let w = DefaultWorkflow {
            os_family: OsFamily::Bottlerocket,
            ..ubuntu()
        }
        .build();
        let a = w.tasks.unwrap()[0].actions.clone().unwrap();
        assert_eq!(
            a[2].environment["HEGEL_URLS"],
            "http://0.0.0.0:7172,http://5.6.7.8:7172"
        );
        assert_eq!(
            a[1].environment["DEST_DISK"],
            "{{ formatPartition ( index .Hardware.Disks 0 ) 12 }}"
        );
    }

    #[test]
    fn proxy_goes_to_the_stream_action() {
        let w = DefaultWorkflow {
            proxy: Some(("h".into(), "s".into(), "a,b".into())),
            ..ubuntu()
        }
        .build();
        let a = &w.tasks.unwrap()[0].actions.clone().unwrap()[0];
        assert_eq!(a.environment["NO_PROXY"], "a,b,0.0.0.0,5.6.7.8");
        assert_eq!(a.environment["HTTP_PROXY"], "h");
    }
}
