//! The executors behind [`CommandRunner`]: `local` runs a command with `sh -c` in its own
//! process group (a timeout kills the whole group), `agent` sends it to the target
//! host's agent over its WebSocket and waits for the agent's `command_result`.
//!
//! Agent protocol (documented in README): Warden sends
//! `{"type":"exec_command","request_id":"…","command":"…","timeout_sec":N}`; the agent
//! may stream `{"type":"command_output","request_id":"…","stream":"stdout"|"stderr","data":"…"}`
//! and ends with `{"type":"command_result","request_id":"…","exit_code":N,"stdout":"…","stderr":"…"}`
//! or, when it will not run the command, `{"type":"command_result","request_id":"…","status":"refused","error":"…"}`.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;
use warden_actors::host::HostMsg;
use warden_actors::ids::HostId;
use warden_actors::ports::{CommandOutcome, CommandRunner};
use warden_actors::registry::Registry;
use warden_actors::remediation::actor::OUTPUT_CAP;

/// Extra time the agent gets beyond the step's timeout to report back.
const AGENT_GRACE: Duration = Duration::from_secs(5);

/// Commands sent to agents and waiting for their result, by request id.
#[derive(Default)]
pub struct AgentCommands {
    pending: Mutex<HashMap<String, Pending>>,
}

struct Pending {
    host: i64,
    stdout: String,
    stderr: String,
    done: Option<oneshot::Sender<CommandOutcome>>,
}

impl AgentCommands {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A message from host `host`'s agent: output or a result for one of our commands.
    /// Returns false when it was not about a pending command of that host.
    pub fn deliver(&self, host: i64, message: &Value) -> bool {
        let Some(id) = message.get("request_id").and_then(Value::as_str) else { return false };
        let mut pending = self.lock();
        let Some(entry) = pending.get_mut(id).filter(|p| p.host == host) else { return false };
        let text =
            |key: &str| message.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        match message.get("type").and_then(Value::as_str) {
            Some("command_output") => {
                let target =
                    if text("stream") == "stderr" { &mut entry.stderr } else { &mut entry.stdout };
                if target.len() < OUTPUT_CAP {
                    target.push_str(&text("data"));
                }
                true
            }
            Some("command_result") => {
                let Some(mut entry) = pending.remove(id) else { return false };
                let outcome = if message.get("status").and_then(Value::as_str) == Some("refused") {
                    CommandOutcome {
                        error: Some(format!("the agent refused the command: {}", text("error"))),
                        ..CommandOutcome::default()
                    }
                } else {
                    let mut stdout = text("stdout");
                    if stdout.is_empty() {
                        stdout = std::mem::take(&mut entry.stdout);
                    }
                    let mut stderr = text("stderr");
                    if stderr.is_empty() {
                        stderr = std::mem::take(&mut entry.stderr);
                    }
                    let exit_code = message
                        .get("exit_code")
                        .and_then(Value::as_i64)
                        .and_then(|c| i32::try_from(c).ok());
                    let error = exit_code.is_none().then(|| {
                        let e = text("error");
                        if e.is_empty() {
                            "the agent reported no exit code".to_string()
                        } else {
                            e
                        }
                    });
                    CommandOutcome { exit_code, stdout, stderr, error }
                };
                if let Some(done) = entry.done.take() {
                    let _ = done.send(outcome);
                }
                true
            }
            _ => false,
        }
    }
}

/// Runs commands for the `local` and `agent` executors.
pub struct ShellRunner {
    pub registry: Arc<Registry>,
    pub agent: Arc<AgentCommands>,
}

#[async_trait]
impl CommandRunner for ShellRunner {
    async fn run(
        &self,
        executor: &str,
        host: Option<HostId>,
        command: &str,
        timeout: Duration,
    ) -> CommandOutcome {
        match executor {
            "local" => run_local(command, timeout).await,
            "agent" => match host {
                Some(host) => self.run_on_agent(host, command, timeout).await,
                None => failed("the alert has no host to run the command on"),
            },
            other => failed(&format!("unknown executor '{other}'")),
        }
    }
}

fn failed(reason: &str) -> CommandOutcome {
    CommandOutcome { error: Some(reason.to_string()), ..CommandOutcome::default() }
}

impl ShellRunner {
    async fn run_on_agent(&self, host: HostId, command: &str, timeout: Duration) -> CommandOutcome {
        let Some(entry) = self.registry.host(host) else {
            return failed("the host is not known to this server");
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (done, result) = oneshot::channel();
        self.agent.lock().insert(
            id.clone(),
            Pending {
                host: host.0,
                stdout: String::new(),
                stderr: String::new(),
                done: Some(done),
            },
        );
        let frame = json!({"type": "exec_command", "request_id": id, "command": command, "timeout_sec": timeout.as_secs()});
        let sent = entry
            .actor
            .call(
                |reply| HostMsg::SendToAgent { text: frame.to_string(), reply },
                Some(Duration::from_secs(5)),
            )
            .await;
        let outcome = match sent {
            Ok(ractor::rpc::CallResult::Success(true)) => {
                match tokio::time::timeout(timeout + AGENT_GRACE, result).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(_)) => failed("the command was dropped"),
                    Err(_) => {
                        let partial = self.agent.lock().remove(&id);
                        CommandOutcome {
                            stdout: partial.as_ref().map(|p| p.stdout.clone()).unwrap_or_default(),
                            stderr: partial.map(|p| p.stderr).unwrap_or_default(),
                            ..failed(&format!(
                                "the agent did not report back within {} s",
                                (timeout + AGENT_GRACE).as_secs()
                            ))
                        }
                    }
                }
            }
            Ok(ractor::rpc::CallResult::Success(false)) => {
                failed("the host's agent is not connected")
            }
            _ => failed("the host actor did not answer"),
        };
        self.agent.lock().remove(&id);
        outcome
    }
}

/// Runs `sh -c command` in a new process group; past `timeout` the whole group is killed.
pub async fn run_local(command: &str, timeout: Duration) -> CommandOutcome {
    let mut child = match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return failed(&format!("could not start sh: {e}")),
    };
    let group = child.id().and_then(|pid| rustix::process::Pid::from_raw(pid as i32));
    let stdout = tokio::spawn(read_capped(child.stdout.take()));
    let stderr = tokio::spawn(read_capped(child.stderr.take()));
    let (exit_code, error) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            (status.code(), status.code().is_none().then(|| "killed by a signal".to_string()))
        }
        Ok(Err(e)) => (None, Some(format!("could not wait for the command: {e}"))),
        Err(_) => {
            if let Some(group) = group {
                // The group, not just `sh`: children it started must not outlive the step.
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.wait().await;
            (
                None,
                Some(format!(
                    "timed out after {} s; the process group was killed",
                    timeout.as_secs()
                )),
            )
        }
    };
    CommandOutcome {
        exit_code,
        stdout: stdout.await.unwrap_or_default(),
        stderr: stderr.await.unwrap_or_default(),
        error,
    }
}

/// Reads a pipe to its end, keeping at most `OUTPUT_CAP` bytes (the rest is drained so
/// the child never blocks on a full pipe).
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut pipe) = pipe else { return String::new() };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut dropped = 0usize;
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                dropped += n.saturating_sub(room);
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n[… {dropped} more bytes not kept]"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_commands_report_exit_code_and_output() {
        let ok = run_local("echo hello; echo oops >&2", Duration::from_secs(10)).await;
        assert_eq!(
            (ok.exit_code, ok.stdout.as_str(), ok.stderr.as_str()),
            (Some(0), "hello\n", "oops\n")
        );
        assert!(ok.success());
        let bad = run_local("exit 3", Duration::from_secs(10)).await;
        assert_eq!(bad.exit_code, Some(3));
        assert!(!bad.success());
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let started = std::time::Instant::now();
        // The background sleep holds stdout open: only killing the group ends it.
        let out = run_local("sleep 30 & sleep 30; echo never", Duration::from_secs(1)).await;
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        assert_eq!(out.exit_code, None);
        assert!(out.error.as_deref().is_some_and(|e| e.contains("timed out")), "{out:?}");
        assert!(!out.stdout.contains("never"));
    }

    #[tokio::test]
    async fn output_is_capped() {
        let out = run_local("head -c 200000 /dev/zero | tr '\\0' a", Duration::from_secs(10)).await;
        assert!(out.stdout.len() < OUTPUT_CAP + 100);
        assert!(out.stdout.contains("more bytes not kept"));
    }

    #[test]
    fn agent_results_reach_the_waiting_command_of_that_host_only() {
        let commands = AgentCommands::default();
        let (done, mut result) = oneshot::channel();
        commands.lock().insert(
            "r1".into(),
            Pending { host: 7, stdout: String::new(), stderr: String::new(), done: Some(done) },
        );
        assert!(!commands
            .deliver(8, &json!({"type": "command_result", "request_id": "r1", "exit_code": 0})));
        assert!(commands
            .deliver(7, &json!({"type": "command_output", "request_id": "r1", "data": "partial"})));
        assert!(commands
            .deliver(7, &json!({"type": "command_result", "request_id": "r1", "exit_code": 0})));
        let outcome = result.try_recv().expect("delivered");
        assert_eq!((outcome.exit_code, outcome.stdout.as_str()), (Some(0), "partial"));
        let (done, mut refused) = oneshot::channel();
        commands.lock().insert(
            "r2".into(),
            Pending { host: 7, stdout: String::new(), stderr: String::new(), done: Some(done) },
        );
        commands.deliver(7, &json!({"type": "command_result", "request_id": "r2", "status": "refused", "error": "not allowed"}));
        let outcome = refused.try_recv().expect("delivered");
        assert_eq!(outcome.error.as_deref(), Some("the agent refused the command: not allowed"));
    }
}
