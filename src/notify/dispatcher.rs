//! The NotificationDispatcher: takes notices off the lossless lane, picks channels,
//! renders each channel's template, writes the outbox rows (before any send) and hands
//! them to the channel workers it supervises. Pending rows are sent again after a
//! restart.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use warden_actors::clock::Clock;
use warden_actors::model::{AlertEvent, AlertEventKind, LiveEvent, NotifyKind, NotifyRequest};
use warden_actors::notify::retry::RetryPolicy;
use warden_actors::settings::RuntimeSettings;

use super::channel::{ChannelConfig, ChannelType};
use super::message::{kind, Message};
use super::template;
use super::transport::{feishu_card, Transports};
use super::worker::{ChannelWorker, WorkerArgs, WorkerMsg};
use crate::storage::notifications::{AlertContext, NotificationRow, TemplateRow};
use crate::storage::writer::{NewNotification, NotificationDone, Writer};
use crate::storage::Db;
use crate::telemetry::metrics::NotifyMetrics;

/// What the dispatcher needs from the rest of Warden.
#[derive(Clone)]
pub struct NotifyDeps {
    pub db: Db,
    pub writer: Writer,
    pub transports: Arc<Transports>,
    pub clock: Arc<dyn Clock>,
    pub settings: watch::Receiver<RuntimeSettings>,
    pub metrics: Arc<NotifyMetrics>,
    pub public_url: String,
    pub retry_base: std::time::Duration,
    pub retry_max: std::time::Duration,
}

impl NotifyDeps {
    fn policy(&self) -> RetryPolicy {
        let retries = self.settings.borrow().webhook_retry_count;
        RetryPolicy { max_retries: retries, base: self.retry_base, max: self.retry_max }
    }
}

/// The handle the HTTP facade holds: tells the dispatcher about channel and template
/// changes, and sends test messages.
pub struct Notifier {
    control: mpsc::UnboundedSender<Control>,
    pub transports: Arc<Transports>,
    pub metrics: Arc<NotifyMetrics>,
}

impl Notifier {
    /// Starts the dispatcher on `notices` (the broadcaster's lossless lane). A
    /// dispatcher that dies is started again, and picks up the pending outbox rows.
    pub fn start(
        deps: NotifyDeps,
        notices: mpsc::UnboundedReceiver<LiveEvent>,
    ) -> (Notifier, tokio::task::JoinHandle<()>) {
        let (control, rx) = mpsc::unbounded_channel();
        let notifier = Notifier {
            control,
            transports: Arc::clone(&deps.transports),
            metrics: Arc::clone(&deps.metrics),
        };
        let task = tokio::spawn(serve(deps, notices, rx));
        (notifier, task)
    }

    /// Channels or templates changed: the dispatcher reloads them.
    pub fn reload(&self) {
        let _ = self.control.send(Control::Reload);
    }

    /// Stops the dispatcher and its workers (attempts in flight finish on their own).
    pub async fn stop(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.control.send(Control::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

enum Control {
    Reload,
    Stop(tokio::sync::oneshot::Sender<()>),
}

async fn serve(
    deps: NotifyDeps,
    mut notices: mpsc::UnboundedReceiver<LiveEvent>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    // Started at once, not on the first notice: it has pending outbox rows to send.
    let mut dispatcher = match Actor::spawn(None, Dispatcher, deps.clone()).await {
        Ok((actor, _)) => Some(actor),
        Err(e) => {
            tracing::error!(error = %e, "could not start the notification dispatcher; will retry");
            None
        }
    };
    let mut stopped = None;
    loop {
        // Control first: a channel created (and its reload requested) before an event
        // was published must be known when that event is dispatched.
        let mut msg = tokio::select! {
            biased;
            Some(c) = control.recv() => match c {
                Control::Reload => DispatcherMsg::Reload,
                Control::Stop(done) => {
                    stopped = Some(done);
                    break;
                }
            },
            Some(event) = notices.recv() => DispatcherMsg::Event(Box::new(event)),
            else => break,
        };
        loop {
            if dispatcher.is_none() {
                match Actor::spawn(None, Dispatcher, deps.clone()).await {
                    Ok((actor, _)) => dispatcher = Some(actor),
                    Err(e) => {
                        tracing::error!(error = %e, "could not start the notification dispatcher; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            let Some(actor) = &dispatcher else { continue };
            match actor.cast(msg) {
                Ok(()) => break,
                Err(ractor::MessagingErr::SendErr(back)) => {
                    tracing::error!("the notification dispatcher stopped; starting it again");
                    dispatcher = None;
                    msg = back;
                }
                Err(_) => {
                    dispatcher = None;
                    break;
                }
            }
        }
    }
    if let Some(actor) = dispatcher {
        let _ = actor.stop_and_wait(None, Some(std::time::Duration::from_secs(5))).await;
    }
    if let Some(done) = stopped {
        let _ = done.send(());
    }
}

pub enum DispatcherMsg {
    Event(Box<LiveEvent>),
    Reload,
}

/// A channel as the dispatcher knows it.
#[derive(Clone)]
struct ChannelEntry {
    id: i64,
    kind: ChannelType,
    enabled: bool,
    config: Arc<ChannelConfig>,
    worker: ActorRef<WorkerMsg>,
}

/// What message building reads: the channels (with their workers) and templates.
#[derive(Clone, Default)]
struct Catalog {
    channels: HashMap<i64, ChannelEntry>,
    templates: Vec<TemplateRow>,
}

pub struct Dispatcher;

pub struct DispatcherState {
    deps: NotifyDeps,
    catalog: Arc<Catalog>,
    policy: RetryPolicy,
}

impl Actor for Dispatcher {
    type Msg = DispatcherMsg;
    type State = DispatcherState;
    type Arguments = NotifyDeps;

    async fn pre_start(
        &self,
        me: ActorRef<DispatcherMsg>,
        deps: NotifyDeps,
    ) -> Result<DispatcherState, ActorProcessingErr> {
        let policy = deps.policy();
        let mut state = DispatcherState { deps, catalog: Arc::default(), policy };
        reload(&me, &mut state).await?;
        let pending = state.deps.db.pending_notifications().await?;
        if !pending.is_empty() {
            tracing::info!(count = pending.len(), "sending notifications left pending");
        }
        for row in pending {
            requeue(&state, row);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        me: ActorRef<DispatcherMsg>,
        msg: DispatcherMsg,
        state: &mut DispatcherState,
    ) -> Result<(), ActorProcessingErr> {
        let policy = state.deps.policy();
        if policy != state.policy {
            state.policy = policy;
            for c in state.catalog.channels.values() {
                let _ = c.worker.cast(WorkerMsg::Configure(Arc::clone(&c.config), policy));
            }
        }
        match msg {
            DispatcherMsg::Reload => reload(&me, state).await?,
            DispatcherMsg::Event(event) => {
                let deps = state.deps.clone();
                let catalog = Arc::clone(&state.catalog);
                // Building reads the store and waits for the outbox commit; the next
                // event need not wait for that.
                tokio::spawn(async move {
                    if let Err(e) = dispatch(&deps, &catalog, *event).await {
                        tracing::error!(error = %e, "could not queue a notification");
                    }
                });
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<DispatcherMsg>,
        state: &mut DispatcherState,
    ) -> Result<(), ActorProcessingErr> {
        for c in state.catalog.channels.values() {
            c.worker.stop(None);
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<DispatcherMsg>,
        event: SupervisionEvent,
        state: &mut DispatcherState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(dead, error) = event {
            let Some(id) = state
                .catalog
                .channels
                .values()
                .find(|c| c.worker.get_id() == dead.get_id())
                .map(|c| c.id)
            else {
                return Ok(());
            };
            tracing::error!(channel_id = id, %error, "a channel worker failed; restarting it");
            let mut catalog = (*state.catalog).clone();
            catalog.channels.remove(&id);
            state.catalog = Arc::new(catalog);
            reload(&me, state).await?;
            // Its queue died with it: take its pending rows from the outbox again.
            for row in state.deps.db.pending_notifications().await? {
                if row.channel_id == id {
                    requeue(state, row);
                }
            }
        }
        Ok(())
    }
}

/// Loads channels and templates; starts workers for new channels, reconfigures changed
/// ones, stops removed ones.
async fn reload(
    me: &ActorRef<DispatcherMsg>,
    state: &mut DispatcherState,
) -> Result<(), ActorProcessingErr> {
    let rows = state.deps.db.list_channels().await?;
    let templates = state.deps.db.list_templates().await?;
    let mut channels = HashMap::with_capacity(rows.len());
    let app = state.deps.transports.feishu_app_configured();
    for row in rows {
        let Some(kind) = ChannelType::parse(&row.channel_type) else { continue };
        let value: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        let config = match ChannelConfig::parse(kind, &value, app) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!(channel_id = row.id, field = %e.field, message = %e.message, "skipping a channel with an invalid configuration");
                continue;
            }
        };
        let worker = match state.catalog.channels.get(&row.id) {
            Some(old) if old.kind == kind => {
                if old.config != config {
                    let _ =
                        old.worker.cast(WorkerMsg::Configure(Arc::clone(&config), state.policy));
                }
                old.worker.clone()
            }
            old => {
                if let Some(old) = old {
                    old.worker.stop(None);
                }
                let args = WorkerArgs {
                    channel_id: row.id,
                    channel_type: kind,
                    config: Arc::clone(&config),
                    policy: state.policy,
                    transports: Arc::clone(&state.deps.transports),
                    writer: state.deps.writer.clone(),
                    clock: Arc::clone(&state.deps.clock),
                    metrics: Arc::clone(&state.deps.metrics),
                };
                Actor::spawn_linked(None, ChannelWorker, args, me.get_cell()).await?.0
            }
        };
        channels.insert(
            row.id,
            ChannelEntry { id: row.id, kind, enabled: row.is_enabled, config, worker },
        );
    }
    for (id, old) in &state.catalog.channels {
        if !channels.contains_key(id) {
            old.worker.stop(None);
        }
    }
    state.catalog = Arc::new(Catalog { channels, templates });
    Ok(())
}

/// Hands a pending outbox row to its channel's worker, or fails it when the channel is
/// gone or the row unreadable.
fn requeue(state: &DispatcherState, row: NotificationRow) {
    let message = serde_json::from_str::<Message>(&row.payload);
    match (state.catalog.channels.get(&row.channel_id), message) {
        (Some(channel), Ok(message)) => {
            let _ = channel.worker.cast(WorkerMsg::Push(row.id, Box::new(message)));
        }
        (channel, _) => {
            let error =
                if channel.is_none() { "the channel was deleted" } else { "unreadable outbox row" };
            fail_row(&state.deps, row.id, error);
        }
    }
}

fn fail_row(deps: &NotifyDeps, id: i64, error: &str) {
    let done = NotificationDone {
        id,
        status: "failed",
        response_code: None,
        error: Some(error.to_string()),
        retries: 0,
        external_id: None,
        sent_at: deps.clock.now(),
    };
    let writer = deps.writer.clone();
    tokio::spawn(async move {
        let _ = writer.notification_done(done).await;
    });
}

/// Turns one notice into outbox rows and queues them.
async fn dispatch(deps: &NotifyDeps, catalog: &Catalog, event: LiveEvent) -> anyhow::Result<()> {
    let notice = match event {
        LiveEvent::Alert(a) => match alert_notice(deps, &a).await? {
            Some(n) => n,
            None => return Ok(()),
        },
        LiveEvent::Notify(req) => request_notice(deps, *req).await?,
        LiveEvent::ApprovalDecided { run_id, approved, by, at } => {
            return update_cards(deps, catalog, run_id, approved, &by, at).await;
        }
        _ => return Ok(()),
    };
    let locale = deps.settings.borrow().locale.clone();
    let now = deps.clock.now();
    let mut rows = Vec::new();
    let mut queued = Vec::new();
    for channel in select_channels(catalog, notice.channel_ids.as_deref()) {
        let message = render(&notice, channel.kind, &catalog.templates, &locale);
        rows.push(NewNotification {
            channel_id: channel.id,
            alert_id: message.alert_id,
            run_id: message.run_id,
            kind: message.kind.clone(),
            payload: serde_json::to_string(&message)?,
            created_at: now,
        });
        queued.push((channel.worker.clone(), message));
    }
    if rows.is_empty() {
        return Ok(());
    }
    // Stored before any attempt: from here on a crash or restart cannot lose it.
    let ids = deps.writer.notifications(rows).await?;
    for (id, (worker, message)) in ids.into_iter().zip(queued) {
        let _ = worker.cast(WorkerMsg::Push(id, Box::new(message)));
    }
    Ok(())
}

/// A notice before rendering: its kind, variables and channel choice.
struct Notice {
    kind: &'static str,
    alert_id: Option<i64>,
    run_id: Option<i64>,
    severity: Option<String>,
    status: Option<String>,
    vars: Map<String, Value>,
    channel_ids: Option<Vec<i64>>,
}

async fn alert_notice(deps: &NotifyDeps, a: &AlertEvent) -> anyhow::Result<Option<Notice>> {
    let (kind, status) = match a.kind {
        AlertEventKind::NotifyFired => (kind::ALERT_FIRED, "firing"),
        AlertEventKind::NotifyRepeat => (kind::ALERT_REPEAT, "firing"),
        AlertEventKind::NotifyResolved => (kind::ALERT_RESOLVED, "resolved"),
        AlertEventKind::Acknowledged => (kind::ALERT_ACKNOWLEDGED, "acknowledged"),
        AlertEventKind::Fired | AlertEventKind::Resolved => return Ok(None),
    };
    let Some(ctx) = deps.db.alert_context(a.alert_id.0).await? else {
        tracing::warn!(alert_id = a.alert_id.0, "no such alert; notification skipped");
        return Ok(None);
    };
    let mut vars = alert_vars(deps, &ctx);
    vars.insert("status".into(), json!(status));
    vars.insert("event".into(), json!(kind));
    Ok(Some(Notice {
        kind,
        alert_id: Some(ctx.id),
        run_id: None,
        severity: Some(ctx.severity.clone()),
        status: Some(status.into()),
        vars,
        channel_ids: channel_ids(&ctx),
    }))
}

fn channel_ids(ctx: &AlertContext) -> Option<Vec<i64>> {
    ctx.notification_channel_ids
        .as_deref()
        .and_then(|s| serde_json::from_str::<Vec<i64>>(s).ok())
        .filter(|ids| !ids.is_empty())
}

fn alert_vars(deps: &NotifyDeps, ctx: &AlertContext) -> Map<String, Value> {
    let time = |t: DateTime<Utc>| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut v = Map::new();
    v.insert("alert_id".into(), json!(ctx.id));
    v.insert("severity".into(), json!(ctx.severity));
    v.insert("title".into(), json!(ctx.title));
    v.insert("message".into(), json!(ctx.message));
    v.insert("hostname".into(), json!(ctx.hostname));
    v.insert("ip".into(), json!(ctx.ip_address));
    v.insert("metric".into(), json!(ctx.metric));
    v.insert("metric_value".into(), json!(ctx.metric_value));
    v.insert("threshold".into(), json!(ctx.threshold));
    v.insert("status".into(), json!(ctx.status));
    v.insert("fired_at".into(), time(ctx.fired_at));
    v.insert("resolved_at".into(), ctx.resolved_at.map(time).unwrap_or(Value::Null));
    v.insert("rule_name".into(), json!(ctx.rule_name));
    if !deps.public_url.is_empty() {
        v.insert(
            "url".into(),
            json!(format!("{}/alerts/{}", deps.public_url.trim_end_matches('/'), ctx.id)),
        );
    }
    v
}

async fn request_notice(deps: &NotifyDeps, req: NotifyRequest) -> anyhow::Result<Notice> {
    let kind = match req.kind {
        NotifyKind::ApprovalRequested => kind::APPROVAL_REQUESTED,
        NotifyKind::RemediationFinished => kind::REMEDIATION_FINISHED,
        NotifyKind::ReportReady => kind::REPORT_READY,
    };
    let ctx = match req.alert_id {
        Some(id) => deps.db.alert_context(id).await?,
        None => None,
    };
    let mut vars = ctx.as_ref().map(|c| alert_vars(deps, c)).unwrap_or_default();
    // The request's own variables win over the alert's.
    vars.extend(req.vars);
    if let Some(run_id) = req.run_id {
        vars.insert("run_id".into(), json!(run_id));
        if kind == kind::APPROVAL_REQUESTED && !vars.contains_key("how_to_approve") {
            let locale = deps.settings.borrow().locale.clone();
            vars.insert("how_to_approve".into(), json!(how_to_approve(&locale, run_id)));
        }
    }
    vars.insert("event".into(), json!(kind));
    let text = |key: &str| vars.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Notice {
        kind,
        alert_id: req.alert_id,
        run_id: req.run_id,
        severity: text("severity"),
        status: text("status"),
        channel_ids: req.channel_ids.or_else(|| ctx.as_ref().and_then(channel_ids)),
        vars,
    })
}

/// For channels that cannot call back: how to decide an approval.
fn how_to_approve(locale: &str, run_id: i64) -> String {
    if locale == "en" {
        format!(
            "Approve with POST /api/v1/remediations/{run_id}/approve (reject: /reject), or with the buttons of the Feishu app card."
        )
    } else {
        format!("审批方式:POST /api/v1/remediations/{run_id}/approve(拒绝:/reject),或点击飞书应用卡片上的按钮。")
    }
}

/// The channels a notice goes to: the ones named (enabled only), else every enabled one.
fn select_channels<'a>(catalog: &'a Catalog, ids: Option<&[i64]>) -> Vec<&'a ChannelEntry> {
    let mut chosen: Vec<&ChannelEntry> = match ids {
        Some(ids) => {
            ids.iter().filter_map(|id| catalog.channels.get(id)).filter(|c| c.enabled).collect()
        }
        None => catalog.channels.values().filter(|c| c.enabled).collect(),
    };
    chosen.sort_by_key(|c| c.id);
    chosen.dedup_by_key(|c| c.id);
    chosen
}

/// The template for a channel type and message kind: a default the user marked (for
/// the type, then for "all"), else the built-in one in the configured locale.
fn pick<'a>(
    templates: &'a [TemplateRow],
    channel_type: &str,
    tkind: &str,
    locale: &str,
) -> Option<&'a TemplateRow> {
    let marked = |ct: &str| {
        templates.iter().find(|t| t.is_default && t.kind == tkind && t.channel_type == ct)
    };
    let builtin = |ct: &str, loc: &str| {
        templates.iter().find(|t| {
            t.is_builtin
                && t.kind == tkind
                && t.channel_type == ct
                && t.locale.as_deref() == Some(loc)
        })
    };
    marked(channel_type)
        .or_else(|| marked("all"))
        .or_else(|| builtin(channel_type, locale))
        .or_else(|| builtin("all", locale))
        .or_else(|| builtin(channel_type, "zh-CN"))
        .or_else(|| builtin("all", "zh-CN"))
}

fn render(
    notice: &Notice,
    channel: ChannelType,
    templates: &[TemplateRow],
    locale: &str,
) -> Message {
    let vars = Value::Object(notice.vars.clone());
    let tkind = kind::template_kind(notice.kind);
    let (title, body) = match pick(templates, channel.as_str(), tkind, locale) {
        Some(t) => (
            t.title_template.as_deref().map(|src| template::render(src, &vars)),
            template::render(&t.body_template, &vars),
        ),
        None => (None, serde_json::to_string_pretty(&vars).unwrap_or_default()),
    };
    let title = title
        .filter(|t| !t.trim().is_empty())
        .or_else(|| notice.vars.get("title").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| notice.kind.to_string());
    Message {
        kind: notice.kind.to_string(),
        title: title.trim().to_string(),
        body: body.trim().to_string(),
        severity: notice.severity.clone(),
        status: notice.status.clone(),
        alert_id: notice.alert_id,
        run_id: notice.run_id,
        vars: notice.vars.clone(),
    }
}

/// A decided approval: the Feishu app cards that asked for it lose their buttons and
/// show the decision.
async fn update_cards(
    deps: &NotifyDeps,
    catalog: &Catalog,
    run_id: i64,
    approved: bool,
    by: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let decision = if approved {
        format!("✅ Approved by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC"))
    } else {
        format!("❌ Rejected by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC"))
    };
    for row in deps.db.sent_approval_cards(run_id).await? {
        let is_app = catalog
            .channels
            .get(&row.channel_id)
            .is_some_and(|c| matches!(*c.config, ChannelConfig::FeishuApp { .. }));
        let (Some(message_id), true) = (row.external_id.as_deref(), is_app) else { continue };
        let Ok(message) = serde_json::from_str::<Message>(&row.payload) else { continue };
        let card = feishu_card(&message, false, Some(&decision));
        let outcome = deps.transports.feishu_update_card(message_id, &card).await;
        if let Some(error) = outcome.error {
            tracing::warn!(run_id, notification_id = row.id, %error, "could not update an approval card");
        }
    }
    Ok(())
}

/// A test message for `POST /notification-channels/{id}/test`, rendered like a real
/// alert notification.
pub fn test_message(
    channel: ChannelType,
    templates: &[TemplateRow],
    locale: &str,
    now: DateTime<Utc>,
) -> Message {
    let mut vars = Map::new();
    let (title, message) = if locale == "en" {
        ("Warden test notification", "This is a test message: the channel works.")
    } else {
        ("Warden 测试通知", "这是一条测试消息,收到即表示通知渠道配置正确。")
    };
    vars.insert("title".into(), json!(title));
    vars.insert("message".into(), json!(message));
    vars.insert("severity".into(), json!("info"));
    vars.insert("status".into(), json!("firing"));
    vars.insert("hostname".into(), json!("warden"));
    vars.insert("fired_at".into(), json!(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    vars.insert("event".into(), json!(kind::TEST));
    let notice = Notice {
        kind: kind::TEST,
        alert_id: None,
        run_id: None,
        severity: Some("info".into()),
        status: Some("firing".into()),
        vars,
        channel_ids: None,
    };
    render(&notice, channel, templates, locale)
}
