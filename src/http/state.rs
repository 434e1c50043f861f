//! The state every handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use warden_actors::clock::Clock;
use warden_actors::login_limit::LoginLimitPolicy;
use warden_actors::ports::{Cache, EventBus};
use warden_actors::root::Runtime;
use warden_actors::settings::RuntimeSettings;

use crate::auth::{AgentTokenCache, TokenService, UserAuthCache};
use crate::config::Config;
use crate::storage::writer::Writer;
use crate::storage::Db;
use crate::telemetry::metrics::HttpMetrics;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
pub struct Shared {
    pub config: Arc<Config>,
    pub db: Db,
    pub cache: Arc<dyn Cache>,
    pub bus: Arc<dyn EventBus>,
    /// `None`: Redis not configured; `Some(false)`: configured, unreachable at start.
    pub redis_connected: Option<bool>,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenService,
    /// Key of the agent-token hash.
    pub token_key: Vec<u8>,
    pub users: UserAuthCache,
    pub agent_tokens: AgentTokenCache,
    pub login_policy: LoginLimitPolicy,
    /// The current runtime settings; owners subscribe to changes.
    pub settings: watch::Sender<RuntimeSettings>,
    pub metrics: HttpMetrics,
    pub started: Instant,
    /// The supervision tree: registry of host/service actors and the event stream.
    pub runtime: Arc<Runtime>,
    /// The group-commit writer for metrics, checks, logs.
    pub writer: Writer,
    /// The notification dispatcher's handle.
    pub notifier: crate::notify::dispatcher::Notifier,
    /// Creates remediation runs and routes approvals to their actors.
    pub remediation: ractor::ActorRef<warden_actors::remediation::supervisor::RemediationMsg>,
    /// Integration settings `PUT /api/config` changes live (LLM, Feishu, security).
    pub integrations: watch::Sender<crate::integrations::live::Integrations>,
    /// Runs the diagnostic plugins (diagnosis calls them; usage is recorded).
    pub plugins: Arc<crate::plugins::PluginRunner>,
    /// Incidents: intake, timelines and the `/api/events` stream.
    pub incidents: Arc<crate::incidents::Incidents>,
    /// The LLM client (used only when `integrations` has an API key).
    pub llm: Arc<crate::llm::LlmClient>,
    /// Builds operations reports (on demand and for the scheduler).
    pub reports: Arc<crate::reports::Reports>,
    /// The report scheduler (stopped at shutdown).
    pub report_scheduler: ractor::ActorRef<warden_actors::report::SchedulerMsg>,
    /// Commands sent to agents, waiting for their `command_result`.
    pub agent_commands: Arc<crate::remediation::AgentCommands>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    /// The current runtime settings.
    pub fn runtime_settings(&self) -> RuntimeSettings {
        self.settings.borrow().clone()
    }

    /// The live Feishu settings (file configuration with `PUT /api/config` overrides).
    pub fn feishu(&self) -> crate::config::FeishuConfig {
        self.integrations.borrow().feishu.clone()
    }
}
