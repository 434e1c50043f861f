//! Rules that classify what agents report: a service's category, a database's health,
//! and the dashboard's health score.

/// Names that mark a service as middleware (data stores, brokers, proxies).
const MIDDLEWARE: &[&str] = &[
    "redis",
    "mysql",
    "mariadb",
    "postgres",
    "postgresql",
    "pgbouncer",
    "mongo",
    "mongodb",
    "oracle",
    "sqlserver",
    "mssql",
    "elasticsearch",
    "opensearch",
    "kafka",
    "rabbitmq",
    "activemq",
    "rocketmq",
    "nats",
    "zookeeper",
    "etcd",
    "consul",
    "memcached",
    "nginx",
    "haproxy",
    "envoy",
    "traefik",
    "apache",
    "httpd",
    "tomcat",
    "clickhouse",
    "influxdb",
    "cassandra",
    "minio",
];

/// Names that mark a service as infrastructure (the machine's own plumbing).
const INFRASTRUCTURE: &[&str] = &[
    "node_exporter",
    "node-exporter",
    "exporter",
    "dns",
    "bind9",
    "named",
    "coredns",
    "dnsmasq",
    "ntp",
    "chrony",
    "chronyd",
    "sshd",
    "ssh",
    "docker",
    "containerd",
    "kubelet",
    "kube-proxy",
    "systemd",
    "cron",
    "rsyslog",
    "syslog",
    "prometheus",
    "grafana",
    "telegraf",
    "filebeat",
    "fluentd",
    "vector",
    "keepalived",
];

/// The category of a service from its name, check type and target: `middleware`,
/// `infrastructure` or `business` (everything else). A word matches when it appears as
/// a whole token of the name or target (split on anything not alphanumeric, `_` or
/// `-`), or as the check type; well-known ports count too (3306, 5432, 6379, 9092,
/// 5672, 27017, 11211, 9200 → middleware; 53, 123, 9100, 22 → infrastructure).
pub fn service_category(name: &str, kind: &str, target: &str) -> &'static str {
    let text = format!("{name} {target}").to_ascii_lowercase();
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|t| !t.is_empty())
        .collect();
    let kind = kind.to_ascii_lowercase();
    let has = |words: &[&str]| {
        words.iter().any(|w| {
            kind == *w
                || tokens.iter().any(|t| {
                    t == w || t.starts_with(&format!("{w}-")) || t.ends_with(&format!("-{w}"))
                })
        })
    };
    let port = |ports: &[&str]| tokens.iter().any(|t| ports.contains(t));
    if has(INFRASTRUCTURE) || port(&["53", "123", "9100", "22"]) {
        "infrastructure"
    } else if has(MIDDLEWARE)
        || port(&["3306", "5432", "6379", "9092", "5672", "27017", "11211", "9200"])
    {
        "middleware"
    } else {
        "business"
    }
}

/// A database's health from its latest report: `critical` when connections use over
/// 90 % of the maximum or the tablespace is over 90 % full, `warning` over 75 % / 80 %,
/// otherwise `healthy`.
pub fn database_status(
    connections_total: Option<f64>,
    connections_max: Option<f64>,
    tablespace_pct: Option<f64>,
) -> &'static str {
    let conn_ratio = match (connections_total, connections_max) {
        (Some(total), Some(max)) if max > 0.0 => total / max,
        _ => 0.0,
    };
    let space = tablespace_pct.unwrap_or(0.0);
    if conn_ratio > 0.9 || space > 90.0 {
        "critical"
    } else if conn_ratio > 0.75 || space > 80.0 {
        "warning"
    } else {
        "healthy"
    }
}

/// Inputs of the dashboard health score.
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthInputs {
    pub hosts_total: u64,
    pub hosts_offline: u64,
    pub services_total: u64,
    pub services_down: u64,
    pub alerts_firing: u64,
    pub avg_cpu: Option<f64>,
    pub avg_mem: Option<f64>,
}

/// The dashboard health score, 0–100:
/// `100 − 30·offline/hosts − 30·down/services − 20·min(1, firing/hosts)
///  − 10·over(cpu, 80) − 10·over(mem, 85)`, where `over(x, t) = clamp((x − t)/(100 − t), 0, 1)`,
/// rounded. Nothing monitored scores 100.
pub fn health_score(i: HealthInputs) -> u8 {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let over = |x: Option<f64>, t: f64| x.map_or(0.0, |x| ((x - t) / (100.0 - t)).clamp(0.0, 1.0));
    let score = 100.0
        - 30.0 * ratio(i.hosts_offline, i.hosts_total)
        - 30.0 * ratio(i.services_down, i.services_total)
        - 20.0 * ratio(i.alerts_firing, i.hosts_total.max(1)).min(1.0)
        - 10.0 * over(i.avg_cpu, 80.0)
        - 10.0 * over(i.avg_mem, 85.0);
    score.round().clamp(0.0, 100.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_classified_by_name_type_and_target() {
        assert_eq!(service_category("redis", "tcp", "127.0.0.1:6379"), "middleware");
        assert_eq!(service_category("orders-db", "tcp", "db.internal:5432"), "middleware");
        assert_eq!(
            service_category("checkout", "http", "http://shop.internal/api/health"),
            "business"
        );
        assert_eq!(service_category("edge", "http", "http://localhost/nginx-status"), "middleware");
        assert_eq!(service_category("nginx", "http", "http://localhost:80"), "middleware");
        assert_eq!(
            service_category("node_exporter", "http", "http://localhost:9100/metrics"),
            "infrastructure"
        );
        assert_eq!(service_category("resolver", "dns", "8.8.8.8"), "infrastructure");
        assert_eq!(
            service_category("backend-api", "http", "http://localhost:8001/health"),
            "business"
        );
        assert_eq!(service_category("kafka-broker", "tcp", "k1:9092"), "middleware");
    }

    #[test]
    fn database_status_follows_connections_and_space() {
        assert_eq!(database_status(Some(10.0), Some(100.0), Some(40.0)), "healthy");
        assert_eq!(database_status(Some(80.0), Some(100.0), None), "warning");
        assert_eq!(database_status(Some(95.0), Some(100.0), None), "critical");
        assert_eq!(database_status(None, None, Some(85.0)), "warning");
        assert_eq!(database_status(Some(5.0), Some(0.0), Some(91.0)), "critical");
    }

    #[test]
    fn health_score_follows_the_documented_formula() {
        assert_eq!(health_score(HealthInputs::default()), 100);
        let i = HealthInputs {
            hosts_total: 4,
            hosts_offline: 1,
            services_total: 10,
            services_down: 5,
            ..Default::default()
        };
        assert_eq!(health_score(i), 78); // 100 − 7.5 − 15 = 77.5, rounded
        let hot = HealthInputs { avg_cpu: Some(100.0), avg_mem: Some(100.0), ..Default::default() };
        assert_eq!(health_score(hot), 80);
        let all_down = HealthInputs {
            hosts_total: 1,
            hosts_offline: 1,
            services_total: 1,
            services_down: 1,
            alerts_firing: 9,
            avg_cpu: Some(100.0),
            avg_mem: Some(100.0),
        };
        assert_eq!(health_score(all_down), 0);
    }
}
