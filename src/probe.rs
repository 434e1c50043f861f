//! Server-side checks (the [`Prober`] port): an HTTP(S) GET or a TCP connect with the
//! service's timeout, so a service stays watched when its agent is gone.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use warden_actors::model::ServiceStatus;
use warden_actors::ports::{ProbeResult, Prober};

/// Probes with one shared HTTP client.
pub struct NetProber {
    client: reqwest::Client,
}

impl NetProber {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(NetProber { client })
    }
}

fn down(error: String, started: Instant) -> ProbeResult {
    ProbeResult {
        status: ServiceStatus::Down,
        response_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        status_code: None,
        error: Some(error),
    }
}

/// `host:port` from a tcp target written as `host:port` or `tcp://host:port`.
fn tcp_address(target: &str) -> Option<&str> {
    let t = target.trim().trim_start_matches("tcp://");
    t.rsplit_once(':').filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()).map(|_| t)
}

#[async_trait]
impl Prober for NetProber {
    async fn probe(&self, kind: &str, target: &str, timeout: Duration) -> Option<ProbeResult> {
        let started = Instant::now();
        match kind {
            "http" | "https" => {
                if !(target.starts_with("http://") || target.starts_with("https://")) {
                    return Some(down(format!("target {target} is not an http(s) URL"), started));
                }
                let res = self.client.get(target).timeout(timeout).send().await;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                Some(match res {
                    Ok(r) => {
                        let code = r.status();
                        let ok = code.is_success() || code.is_redirection();
                        ProbeResult {
                            status: if ok { ServiceStatus::Up } else { ServiceStatus::Down },
                            response_time_ms: Some(ms),
                            status_code: Some(i64::from(code.as_u16())),
                            error: (!ok).then(|| format!("HTTP {}", code.as_u16())),
                        }
                    }
                    Err(e) if e.is_timeout() => {
                        down(format!("no answer within {} s", timeout.as_secs()), started)
                    }
                    Err(e) => down(format!("request failed: {e}"), started),
                })
            }
            "tcp" | "port" => {
                let Some(addr) = tcp_address(target) else {
                    return Some(down(format!("target {target} is not host:port"), started));
                };
                Some(
                    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await
                    {
                        Ok(Ok(_)) => ProbeResult {
                            status: ServiceStatus::Up,
                            response_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
                            status_code: None,
                            error: None,
                        },
                        Ok(Err(e)) => down(format!("connect failed: {e}"), started),
                        Err(_) => {
                            down(format!("no connection within {} s", timeout.as_secs()), started)
                        }
                    },
                )
            }
            // Process, script and database checks only the agent can run.
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_targets_need_a_host_and_port() {
        assert_eq!(tcp_address("127.0.0.1:6379"), Some("127.0.0.1:6379"));
        assert_eq!(tcp_address("tcp://db:5432"), Some("db:5432"));
        assert_eq!(tcp_address("db"), None);
        assert_eq!(tcp_address(":80"), None);
        assert_eq!(tcp_address("db:http"), None);
    }

    #[tokio::test]
    async fn tcp_probe_sees_a_listener_and_its_absence() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let prober = NetProber::new().unwrap();
        let up = prober.probe("tcp", &addr, Duration::from_secs(2)).await.unwrap();
        assert_eq!(up.status, ServiceStatus::Up);
        drop(listener);
        let down = prober.probe("tcp", &addr, Duration::from_secs(2)).await.unwrap();
        assert_eq!(down.status, ServiceStatus::Down);
        assert!(down.error.unwrap().contains("connect failed"));
        assert!(prober.probe("process", "nginx", Duration::from_secs(1)).await.is_none());
    }
}
