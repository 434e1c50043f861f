//! Service topology rules: which group a service belongs to, and the dependency edges
//! Warden infers when nobody has drawn any (nginx upstreams, well-known middleware
//! ports, services sharing a host).
//!
//! Inference is deliberately conservative: an edge is drawn only when an upstream
//! names the backend's address, or when an application and a piece of middleware run
//! on the same host. Cross-host guesses by name alone are left to the suggestion
//! routes, where a person reviews them before they are applied.

use std::collections::BTreeSet;

/// Middleware recognised by its well-known port: (port, group, what it is).
const WELL_KNOWN_PORTS: &[(u16, &str, &str)] = &[
    (5432, "database", "postgresql"),
    (3306, "database", "mysql"),
    (1521, "database", "oracle"),
    (1433, "database", "sqlserver"),
    (27017, "database", "mongodb"),
    (6379, "cache", "redis"),
    (11211, "cache", "memcached"),
    (5672, "mq", "rabbitmq"),
    (9092, "mq", "kafka"),
    (4222, "mq", "nats"),
    (9876, "mq", "rocketmq"),
    (8848, "registry", "nacos"),
    (2181, "registry", "zookeeper"),
    (2379, "registry", "etcd"),
    (8500, "registry", "consul"),
    (8123, "olap", "clickhouse"),
    (9200, "search", "elasticsearch"),
];

/// Name fragments per group, checked in order (the first match wins).
const NAME_GROUPS: &[(&str, &[&str])] = &[
    (
        "database",
        &["postgres", "mysql", "mariadb", "mongo", "oracle", "sqlserver", "mssql", "pgbouncer"],
    ),
    ("cache", &["redis", "memcache"]),
    ("mq", &["rabbitmq", "kafka", "rocketmq", "activemq", "nats"]),
    ("olap", &["clickhouse"]),
    ("search", &["elasticsearch", "opensearch"]),
    ("registry", &["nacos", "zookeeper", "etcd", "consul"]),
    ("proxy", &["nginx", "openresty", "haproxy", "envoy", "traefik"]),
    ("web", &["frontend", "web", "ui", "portal"]),
    ("api", &["backend", "api", "gateway"]),
];

/// Groups whose members other services depend on.
const MIDDLEWARE_GROUPS: &[&str] = &["database", "cache", "mq", "olap", "search", "registry"];

/// What an application's dependency on a middleware group is called.
fn dependency_label(group: &str) -> &'static str {
    match group {
        "database" => "数据依赖",
        "cache" => "缓存依赖",
        "mq" => "消息队列",
        "registry" => "服务注册",
        "search" => "搜索依赖",
        _ => "数据依赖",
    }
}

fn name_has(name: &str, fragment: &str) -> bool {
    // Short fragments ("ui", "api", "web") must stand alone as a word, so "build"
    // does not read as "ui".
    if fragment.len() <= 3 {
        name.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == fragment)
    } else {
        name.contains(fragment)
    }
}

/// The group a service belongs to, from its name, then its check type, then its port.
pub fn group_of(name: &str, kind: &str, port: Option<u16>) -> &'static str {
    let lower = name.to_ascii_lowercase();
    for (group, fragments) in NAME_GROUPS {
        if fragments.iter().any(|f| name_has(&lower, f)) {
            return group;
        }
    }
    if let Some(p) = port {
        if let Some((_, group, _)) = WELL_KNOWN_PORTS.iter().find(|(wp, _, _)| *wp == p) {
            return group;
        }
        if p == 80 || p == 443 {
            return "web";
        }
    }
    match kind.to_ascii_lowercase().as_str() {
        "mysql" | "postgres" | "postgresql" | "oracle" | "mongodb" => "database",
        "redis" => "cache",
        _ => "app",
    }
}

/// Whether a group is middleware that applications depend on.
pub fn is_middleware(group: &str) -> bool {
    MIDDLEWARE_GROUPS.contains(&group)
}

/// Splits `host:port`, `[v6]:port`, `http://host:port/path` into host and port.
pub fn split_address(address: &str) -> (String, Option<u16>) {
    let mut rest = address.trim();
    let mut default_port = None;
    if let Some((scheme, after)) = rest.split_once("://") {
        default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        rest = after;
    }
    let rest = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if let Some(v6) = rest.strip_prefix('[') {
        let (host, tail) = v6.split_once(']').unwrap_or((v6, ""));
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok()).or(default_port);
        return (host.to_ascii_lowercase(), port);
    }
    match rest.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address, no port.
        Some((host, _)) if host.contains(':') => (rest.to_ascii_lowercase(), default_port),
        Some((host, port)) => (host.to_ascii_lowercase(), port.parse().ok().or(default_port)),
        None => (rest.to_ascii_lowercase(), default_port),
    }
}

/// The port a service's check target points at, if any.
pub fn port_of(target: &str) -> Option<u16> {
    split_address(target).1
}

/// A monitored service as topology inference sees it.
#[derive(Debug, Clone)]
pub struct ServiceNode {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub host_id: i64,
    /// The names and addresses the host is known by (hostname, IPs), lowercase.
    pub host_addresses: Vec<String>,
    pub port: Option<u16>,
}

impl ServiceNode {
    pub fn group(&self) -> &'static str {
        group_of(&self.name, &self.kind, self.port)
    }
}

/// An nginx upstream backend, with the host of the server whose nginx declares it.
#[derive(Debug, Clone)]
pub struct UpstreamRef {
    pub host_id: Option<i64>,
    pub upstream_name: String,
    pub backend_address: String,
}

/// An inferred dependency edge between two services.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub source: i64,
    pub target: i64,
    pub kind: &'static str,
    pub description: String,
    /// What the edge was inferred from: `nginx_upstream`, `well_known_port`, `same_host`.
    pub via: &'static str,
}

/// The edges Warden draws when there are no custom dependencies.
pub fn infer_edges(services: &[ServiceNode], upstreams: &[UpstreamRef]) -> Vec<Edge> {
    let mut edges = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |edges: &mut Vec<Edge>, edge: Edge| {
        if edge.source != edge.target && seen.insert((edge.source, edge.target)) {
            edges.push(edge);
        }
    };

    // nginx upstreams: the proxy on the declaring host calls the service listening on
    // the backend address.
    for up in upstreams {
        let Some(host_id) = up.host_id else { continue };
        let Some(proxy) = services.iter().find(|s| s.host_id == host_id && s.group() == "proxy")
        else {
            continue;
        };
        let (host, port) = split_address(&up.backend_address);
        let on_backend = services.iter().filter(|s| s.host_addresses.contains(&host));
        let target = match port {
            Some(p) => on_backend.clone().find(|s| s.port == Some(p)),
            None => None,
        }
        .or_else(|| {
            // Without a port match, only an unambiguous application on that host.
            let apps: Vec<&ServiceNode> =
                on_backend.filter(|s| !is_middleware(s.group()) && s.group() != "proxy").collect();
            (apps.len() == 1).then(|| apps[0])
        });
        if let Some(target) = target {
            push(
                &mut edges,
                Edge {
                    source: proxy.id,
                    target: target.id,
                    kind: "calls",
                    description: format!("nginx upstream {}", up.upstream_name),
                    via: "nginx_upstream",
                },
            );
        }
    }

    // Same host: applications depend on the middleware beside them; web front ends
    // call the APIs beside them.
    for app in services.iter().filter(|s| matches!(s.group(), "api" | "app" | "web")) {
        for other in services.iter().filter(|o| o.host_id == app.host_id && o.id != app.id) {
            let group = other.group();
            if is_middleware(group) {
                let via = if other.port.is_some_and(|p| WELL_KNOWN_PORTS.iter().any(|w| w.0 == p)) {
                    "well_known_port"
                } else {
                    "same_host"
                };
                push(
                    &mut edges,
                    Edge {
                        source: app.id,
                        target: other.id,
                        kind: "depends_on",
                        description: dependency_label(group).to_string(),
                        via,
                    },
                );
            } else if app.group() == "web" && group == "api" {
                push(
                    &mut edges,
                    Edge {
                        source: app.id,
                        target: other.id,
                        kind: "calls",
                        description: "API 调用".to_string(),
                        via: "same_host",
                    },
                );
            }
        }
    }
    edges
}

/// A server as the multi-server view sees it.
#[derive(Debug, Clone)]
pub struct ServerRef {
    pub id: i64,
    pub hostname: String,
    pub ip_address: Option<String>,
}

/// A server-to-server edge derived from an nginx upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEdge {
    pub from_id: i64,
    pub from_server: String,
    /// `None` when the backend is not a known server (shown by its address).
    pub to_id: Option<i64>,
    pub to_server: String,
    pub upstream: String,
}

/// Edges from each server to the servers its nginx upstreams point at, matched by IP
/// address or hostname; one edge per (from, to, upstream).
pub fn server_edges(servers: &[ServerRef], upstreams: &[(i64, String, String)]) -> Vec<ServerEdge> {
    let mut seen = BTreeSet::new();
    let mut edges = Vec::new();
    for (server_id, upstream, backend) in upstreams {
        let Some(from) = servers.iter().find(|s| s.id == *server_id) else { continue };
        let (host, _) = split_address(backend);
        if host.is_empty() {
            continue;
        }
        let to = servers.iter().find(|s| {
            s.ip_address.as_deref().is_some_and(|ip| ip.eq_ignore_ascii_case(&host))
                || s.hostname.eq_ignore_ascii_case(&host)
        });
        let to_server = to.map_or(host.clone(), |t| t.hostname.clone());
        if seen.insert((from.id, to_server.clone(), upstream.clone())) {
            edges.push(ServerEdge {
                from_id: from.id,
                from_server: from.hostname.clone(),
                to_id: to.map(|t| t.id),
                to_server,
                upstream: upstream.clone(),
            });
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(id: i64, name: &str, host_id: i64, addr: &str, port: Option<u16>) -> ServiceNode {
        ServiceNode {
            id,
            name: name.into(),
            kind: "tcp".into(),
            host_id,
            host_addresses: vec![addr.into()],
            port,
        }
    }

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_address("10.0.0.2:8001"), ("10.0.0.2".into(), Some(8001)));
        assert_eq!(split_address("http://Api.local/health"), ("api.local".into(), Some(80)));
        assert_eq!(split_address("https://x:8443/p?q"), ("x".into(), Some(8443)));
        assert_eq!(split_address("[::1]:5432"), ("::1".into(), Some(5432)));
        assert_eq!(split_address("fe80::1"), ("fe80::1".into(), None));
        assert_eq!(split_address("db-1"), ("db-1".into(), None));
        assert_eq!(split_address("redis://u:p@cache:6380/0"), ("cache".into(), Some(6380)));
    }

    #[test]
    fn groups_come_from_name_then_port_then_kind() {
        assert_eq!(group_of("PostgreSQL", "tcp", None), "database");
        assert_eq!(group_of("orders", "tcp", Some(6379)), "cache");
        assert_eq!(group_of("shop-frontend", "http", Some(3000)), "web");
        assert_eq!(group_of("shop-api", "http", Some(8080)), "api");
        assert_eq!(group_of("nginx", "http", Some(80)), "proxy");
        assert_eq!(group_of("build-runner", "tcp", None), "app");
        assert_eq!(group_of("x", "redis", None), "cache");
    }

    #[test]
    fn upstreams_link_the_proxy_to_the_backend_service() {
        let services = vec![
            svc(1, "nginx", 10, "10.0.0.1", Some(80)),
            svc(2, "orders-api", 20, "10.0.0.2", Some(8001)),
            svc(3, "billing-api", 20, "10.0.0.2", Some(8002)),
        ];
        let ups = vec![UpstreamRef {
            host_id: Some(10),
            upstream_name: "orders".into(),
            backend_address: "10.0.0.2:8001".into(),
        }];
        let edges = infer_edges(&services, &ups);
        assert_eq!(edges.len(), 1);
        assert_eq!((edges[0].source, edges[0].target, edges[0].via), (1, 2, "nginx_upstream"));
        assert_eq!(edges[0].kind, "calls");
    }

    #[test]
    fn an_upstream_to_an_unknown_or_ambiguous_backend_draws_nothing() {
        let services = vec![
            svc(1, "nginx", 10, "10.0.0.1", Some(80)),
            svc(2, "orders-api", 20, "10.0.0.2", Some(8001)),
            svc(3, "billing-api", 20, "10.0.0.2", Some(8002)),
        ];
        let ups = vec![
            UpstreamRef {
                host_id: Some(10),
                upstream_name: "a".into(),
                backend_address: "10.9.9.9:1".into(),
            },
            UpstreamRef {
                host_id: Some(10),
                upstream_name: "b".into(),
                backend_address: "10.0.0.2".into(),
            },
            UpstreamRef {
                host_id: None,
                upstream_name: "c".into(),
                backend_address: "10.0.0.2:8001".into(),
            },
        ];
        assert!(infer_edges(&services, &ups).is_empty());
    }

    #[test]
    fn applications_depend_on_middleware_on_their_host() {
        let services = vec![
            svc(1, "shop-frontend", 1, "a", Some(3000)),
            svc(2, "shop-api", 1, "a", Some(8080)),
            svc(3, "pg", 1, "a", Some(5432)),
            svc(4, "redis", 1, "a", None),
            svc(5, "other-api", 2, "b", Some(8080)),
        ];
        let edges = infer_edges(&services, &[]);
        let pairs: Vec<(i64, i64, &str)> =
            edges.iter().map(|e| (e.source, e.target, e.via)).collect();
        assert!(pairs.contains(&(2, 3, "well_known_port")));
        assert!(pairs.contains(&(2, 4, "same_host")));
        assert!(pairs.contains(&(1, 2, "same_host")));
        assert!(pairs.contains(&(1, 3, "well_known_port")));
        assert!(!pairs.iter().any(|p| p.0 == 5 || p.1 == 5), "no edge crosses hosts");
        assert!(!pairs.iter().any(|p| p.0 == 3), "middleware depends on nothing");
        let pg = edges.iter().find(|e| e.target == 3).unwrap();
        assert_eq!((pg.kind, pg.description.as_str()), ("depends_on", "数据依赖"));
    }

    #[test]
    fn server_edges_resolve_backends_by_ip_or_hostname() {
        let servers = vec![
            ServerRef { id: 1, hostname: "web-01".into(), ip_address: Some("10.0.0.1".into()) },
            ServerRef { id: 2, hostname: "app-01".into(), ip_address: Some("10.0.0.2".into()) },
            ServerRef { id: 3, hostname: "app-02".into(), ip_address: None },
        ];
        let ups = vec![
            (1, "backend".to_string(), "10.0.0.2:8001".to_string()),
            (1, "backend".to_string(), "10.0.0.2:8002".to_string()),
            (1, "backend".to_string(), "app-02:8001".to_string()),
            (1, "ext".to_string(), "203.0.113.9:443".to_string()),
            (9, "orphan".to_string(), "10.0.0.1:80".to_string()),
        ];
        let edges = server_edges(&servers, &ups);
        assert_eq!(edges.len(), 3, "{edges:?}");
        assert_eq!((edges[0].to_id, edges[0].to_server.as_str()), (Some(2), "app-01"));
        assert_eq!((edges[1].to_id, edges[1].to_server.as_str()), (Some(3), "app-02"));
        assert_eq!((edges[2].to_id, edges[2].to_server.as_str()), (None, "203.0.113.9"));
    }
}
