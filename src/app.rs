//! The composition root: the only place that knows every concrete type. `main` and the
//! integration tests both build the application through [`App::build`].

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ractor::{Actor, ActorRef};
use tokio::net::TcpListener;
use tokio::sync::watch;
use warden_actors::clock::{Clock, SystemClock};
use warden_actors::deps::RuntimePorts;
use warden_actors::login_limit::LoginLimitPolicy;
use warden_actors::ports::BusEvent;
use warden_actors::remediation::actor::RunDeps;
use warden_actors::remediation::supervisor::{
    RemediationArgs, RemediationMsg, RemediationSupervisor,
};
use warden_actors::report::{ReportScheduler, SchedulerArgs};
use warden_actors::root::Runtime;
use warden_actors::settings::RuntimeSettings;

use crate::auth::{secrets, AgentTokenCache, TokenService, UserAuthCache};
use crate::cache::CacheStack;
use crate::config::{redact, Config};
use crate::http::state::{AppState, Shared};
use crate::notify::dispatcher::{Notifier, NotifyDeps};
use crate::storage::actor_store::DbActorStore;
use crate::storage::writer::Writer;
use crate::storage::Db;
use crate::telemetry::metrics::HttpMetrics;

/// A built application: bound to its address, storage migrated, ready to serve.
pub struct App {
    listener: TcpListener,
    state: AppState,
    stack: CacheStack,
    grace: Duration,
    writer_task: tokio::task::JoinHandle<()>,
    notifier_task: tokio::task::JoinHandle<()>,
    incidents_task: tokio::task::JoinHandle<()>,
}

impl App {
    /// Connects storage and cache, runs migrations, loads secrets and settings, and
    /// binds the listen address.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let config = Arc::new(config);
        let db = Db::connect(&config).await?;
        db.migrate().await?;
        tracing::info!(backend = db.backend(), url = %redact(&config.database_url()), "database ready");

        let stack = CacheStack::connect(&config).await?;
        let data_dir = &config.storage.data_dir;
        let jwt_secret =
            secrets::load_or_generate(data_dir, "jwt_secret", &config.auth.jwt_secret)?;
        let token_key =
            secrets::load_or_generate(data_dir, "token_key", &config.auth.token_hash_key)?;
        let tokens = TokenService::new(
            &jwt_secret,
            chrono::Duration::minutes(config.auth.access_token_ttl_minutes),
            chrono::Duration::days(config.auth.refresh_token_ttl_days),
        );
        let stored = db.load_settings().await.context("could not load runtime settings")?;
        let runtime_settings = RuntimeSettings::from_stored(&stored);
        let (settings, _) = watch::channel(runtime_settings.clone());
        let overrides =
            db.integration_overrides().await.context("could not load the integration settings")?;
        let (integrations, _) =
            watch::channel(crate::integrations::live::Integrations::new(&config, &overrides));

        let (writer, writer_task) = Writer::start(db.clone());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(DbActorStore { db: db.clone(), writer: writer.clone() });
        let prober: Arc<dyn warden_actors::ports::Prober> =
            Arc::new(crate::probe::NetProber::new().context("could not build the HTTP client")?);
        let ports = RuntimePorts {
            store,
            alerts: Arc::new(crate::storage::alerts::DbAlertStore(db.clone())),
            clock: Arc::clone(&clock),
            prober: Some(prober),
            // The in-process cache would only duplicate the actors' live view.
            shared_cache: (stack.redis_connected == Some(true)).then(|| Arc::clone(&stack.cache)),
        };
        let runtime = Runtime::start(
            ports,
            runtime_settings.heartbeat_timeout_secs,
            runtime_settings.server_side_checks,
            runtime_settings.alert_check_interval_secs,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let hosts = db.all_hosts().await.context("could not load hosts")?;
        let services = db.all_services().await.context("could not load services")?;
        let hosts = hosts.iter().map(|h| (h.record(), h.agent_token_id)).collect();
        let services = services.iter().map(|s| s.record()).collect();
        let (h, s) =
            runtime.start_all(hosts, services).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        db.seed_builtin_rules(clock.now()).await.context("could not seed the built-in rules")?;
        let mut rules = Vec::new();
        for row in db.list_rules(None).await.context("could not load alert rules")? {
            match row.fields.config(row.id) {
                Ok(c) => rules.push(c),
                Err((field, msg)) => {
                    tracing::error!(rule_id = row.id, field, %msg, "skipping an invalid stored rule")
                }
            }
        }
        let r = runtime.start_rules(rules).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        db.seed_builtin_templates(clock.now())
            .await
            .context("could not seed the notification templates")?;
        let live = integrations.subscribe();
        let credentials: crate::notify::transport::FeishuCredentials = Arc::new(move || {
            let f = &live.borrow().feishu;
            (!f.app_id.is_empty() && !f.app_secret.is_empty())
                .then(|| (f.app_id.clone(), f.app_secret.clone()))
        });
        let transports = crate::notify::transport::Transports::new(
            Duration::from_secs(config.notify.timeout_secs),
            &config.feishu.api_base_url,
            credentials,
            Arc::clone(&clock),
        )
        .context("could not build the notification HTTP client")?;
        let notices = runtime.events.take_notices().context("the notice lane was taken twice")?;
        let (notifier, notifier_task) = Notifier::start(
            NotifyDeps {
                db: db.clone(),
                writer: writer.clone(),
                transports: Arc::new(transports),
                clock: Arc::clone(&clock),
                settings: settings.subscribe(),
                metrics: Arc::default(),
                public_url: config.notify.public_url.clone(),
                retry_base: Duration::from_millis(config.notify.retry_base_ms),
                retry_max: Duration::from_secs(config.notify.retry_max_secs),
            },
            notices,
        );
        let agent_commands = Arc::new(crate::remediation::AgentCommands::default());
        let remediation = start_remediation(
            RunDeps {
                store: Arc::new(crate::storage::remediation::DbRemediationStore(db.clone())),
                runner: Arc::new(crate::remediation::ShellRunner {
                    registry: Arc::clone(&runtime.registry),
                    agent: Arc::clone(&agent_commands),
                }),
                clock: Arc::clone(&clock),
                events: runtime.events.clone(),
            },
            settings.subscribe(),
        )
        .await?;
        let plugins = Arc::new(crate::plugins::PluginRunner {
            db: db.clone(),
            registry: Arc::clone(&runtime.registry),
            clock: Arc::clone(&clock),
        });
        let llm = Arc::new(crate::llm::LlmClient::new(Arc::default())?);
        let incidents = crate::incidents::Incidents::new(
            db.clone(),
            Arc::clone(&clock),
            Arc::clone(&plugins),
            Duration::from_secs(config.incidents.diagnosis_delay_secs),
            crate::incidents::DiagnosisEngine {
                llm: Arc::clone(&llm),
                integrations: integrations.subscribe(),
                bounds: crate::diagnosis::Bounds {
                    max_steps: config.llm.diagnosis_max_steps,
                    max_time: Duration::from_secs(config.llm.diagnosis_max_secs),
                },
            },
        );
        let incidents_task = Arc::clone(&incidents).follow(&runtime.events);
        let reports = Arc::new(crate::reports::Reports {
            db: db.clone(),
            clock: Arc::clone(&clock),
            llm: Arc::clone(&llm),
            integrations: integrations.subscribe(),
            settings: settings.subscribe(),
            events: runtime.events.clone(),
            public_url: config.notify.public_url.clone(),
        });
        // Claims due periods before start-up completes (see `warden_actors::report`).
        let (report_scheduler, _) = Actor::spawn(
            None,
            ReportScheduler,
            SchedulerArgs {
                port: Arc::clone(&reports) as Arc<dyn warden_actors::report::ReportPort>,
                clock: Arc::clone(&clock),
                settings: settings.subscribe(),
                every: Duration::from_secs(60),
                enabled: config.reports.schedule,
            },
        )
        .await
        .context("could not start the report scheduler")?;
        tracing::info!(hosts = h, services = s, rules = r, "actors started");

        let listener = TcpListener::bind(config.listen_addr())
            .await
            .with_context(|| format!("could not bind {}", config.server.listen))?;

        let grace = Duration::from_secs(config.server.shutdown_grace_secs);
        let state = AppState::new(Shared {
            login_policy: LoginLimitPolicy {
                max_failures: config.auth.login_max_failures,
                window_secs: config.auth.login_window_secs,
            },
            config,
            db,
            cache: Arc::clone(&stack.cache),
            bus: Arc::clone(&stack.bus),
            redis_connected: stack.redis_connected,
            clock,
            tokens,
            token_key: token_key.into_bytes(),
            users: UserAuthCache::default(),
            agent_tokens: AgentTokenCache::default(),
            settings,
            metrics: HttpMetrics::default(),
            started: Instant::now(),
            runtime: Arc::new(runtime),
            writer,
            notifier,
            remediation,
            agent_commands,
            incidents,
            integrations,
            plugins,
            llm,
            reports,
            report_scheduler,
        });
        Ok(App { listener, state, stack, grace, writer_task, notifier_task, incidents_task })
    }

    /// The bound address (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The shared state, for tests that inspect the store.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight
    /// requests finish (up to `server.shutdown_grace_secs`) and closes the pools.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App { listener, state, stack, grace, writer_task, notifier_task, incidents_task } =
            self;
        tracing::info!(address = %listener.local_addr()?, "warden listening");
        let bus_task = tokio::spawn(follow_bus(state.clone()));
        let settings_task = tokio::spawn(follow_settings(state.clone()));
        let retention_task = tokio::spawn(retention(state.clone()));

        let (stopping_tx, mut stopping_rx) = watch::channel(false);
        let app =
            crate::http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        });
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            res = &mut server => res.context("http server failed")?,
            _ = async {
                let _ = stopping_rx.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => tracing::warn!("in-flight requests did not finish within the grace period"),
        }
        bus_task.abort();
        settings_task.abort();
        incidents_task.abort();
        retention_task.abort();
        // Everything acknowledged is committed already; flush what actors queued. A run
        // stopped mid-way is found on the next start and marked interrupted.
        let _ = state
            .remediation
            .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
        let _ = state
            .report_scheduler
            .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
        state.runtime.stop().await;
        state.notifier.stop().await;
        drop(notifier_task);
        state.writer.flush().await;
        drop(writer_task);
        state.db.close().await;
        stack.close().await;
        tracing::info!("warden stopped");
        Ok(())
    }
}

/// Starts the remediation supervisor and lets it recover the runs the last process left.
async fn start_remediation(
    deps: RunDeps,
    settings: watch::Receiver<RuntimeSettings>,
) -> anyhow::Result<ActorRef<RemediationMsg>> {
    let (actor, _) = Actor::spawn(None, RemediationSupervisor, RemediationArgs { deps, settings })
        .await
        .context("could not start the remediation supervisor")?;
    let recovered = actor
        .call(RemediationMsg::Recover, Some(Duration::from_secs(60)))
        .await
        .context("the remediation supervisor did not answer")?;
    if let ractor::rpc::CallResult::Success(n) = recovered {
        if n > 0 {
            tracing::info!(runs = n, "remediation runs recovered");
        }
    }
    Ok(actor)
}

/// Applies events from other nodes (and this one) to the local caches and settings.
async fn follow_bus(state: AppState) {
    let mut rx = state.bus.subscribe();
    loop {
        match rx.recv().await {
            Ok(BusEvent::UserChanged { user_id }) => state.users.invalidate(user_id),
            Ok(BusEvent::AgentTokenRevoked { token_id }) => {
                state.agent_tokens.invalidate_token(token_id)
            }
            Ok(BusEvent::SettingsChanged) => {
                if let Err(e) = crate::http::v1::settings::reload(&state).await {
                    tracing::warn!(error = %e, "could not reload settings after a change");
                }
                if let Err(e) = crate::http::bot::config::reload(&state).await {
                    tracing::warn!(error = %e, "could not reload the integration settings");
                }
                state.notifier.reload();
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "bus subscriber fell behind; caches expire on their own"
                );
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Tells the actors when runtime settings they own change.
async fn follow_settings(state: AppState) {
    let mut rx = state.settings.subscribe();
    let mut current = rx.borrow().clone();
    while rx.changed().await.is_ok() {
        let new = rx.borrow_and_update().clone();
        if new.heartbeat_timeout_secs != current.heartbeat_timeout_secs {
            tracing::info!(
                heartbeat_timeout = new.heartbeat_timeout_secs,
                "applying the new heartbeat timeout"
            );
            state.runtime.apply_heartbeat_timeout(new.heartbeat_timeout_secs);
        }
        if new.alert_check_interval_secs != current.alert_check_interval_secs {
            tracing::info!(
                alert_check_interval = new.alert_check_interval_secs,
                "applying the new alert check interval"
            );
            state.runtime.apply_alert_check_interval(new.alert_check_interval_secs);
        }
        if new.server_side_checks != current.server_side_checks {
            tracing::info!(
                server_side_checks = new.server_side_checks,
                "applying server-side checks"
            );
            state.runtime.apply_server_side_checks(new.server_side_checks);
        }
        if new.report_timezone != current.report_timezone {
            // SLA windows are local days, weeks and months: the trackers start over.
            tracing::info!(
                report_timezone = new.report_timezone.name(),
                "applying the new report time zone"
            );
            match state.db.list_sla_rules().await {
                Ok(rules) => {
                    for r in rules {
                        crate::http::v1::sla::reload(&state, r.service_id);
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not reload the SLA trackers"),
            }
        }
        current = new;
    }
}

/// How often retention runs (and how long after start the first run waits).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes metrics, checks, database metrics and logs older than
/// `metrics_retention_days`, hourly.
async fn retention(state: AppState) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(60),
        RETENTION_EVERY,
    );
    loop {
        tick.tick().await;
        run_retention(&state).await;
    }
}

/// One retention pass; returns the rows deleted.
pub async fn run_retention(state: &AppState) -> u64 {
    let days = i64::from(state.runtime_settings().metrics_retention_days);
    let cutoff = state.clock.now() - chrono::Duration::days(days);
    match state.db.delete_older_than(cutoff).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(deleted = n, days, "retention removed old rows");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention failed; will retry next hour");
            0
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("received SIGINT, shutting down"),
        _ = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}
