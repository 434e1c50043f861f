//! Reports and SLA: rules and their validation, availability from generated check
//! histories compared with hand-computed values, the status board's error budget,
//! violations recorded by the service actor, reports built from real data, and the
//! scheduler generating each period exactly once across a restart.

use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::peers::ChatPeer;
use crate::support::{wait_until, Backend, TestApp};

crate::backend_tests!(
    sla_rules_are_validated_and_managed,
    availability_is_time_weighted,
    the_status_board_spends_the_error_budget,
    service_actors_record_violations,
    reports_are_built_from_real_data,
);
crate::backend_cases!(the_scheduler_generates_each_period_once_across_a_restart);

fn wall_clock() -> DateTime<Utc> {
    use warden_actors::clock::{Clock, SystemClock};
    SystemClock.now()
}

struct Fleet {
    admin: String,
    agent: String,
    host: i64,
}

async fn fleet(app: &TestApp) -> Fleet {
    let admin = app.admin().await;
    app.set_settings(&admin, json!({"report_timezone": "UTC"})).await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "sla-host").await;
    Fleet { admin, agent, host }
}

async fn service(app: &TestApp, f: &Fleet, name: &str) -> i64 {
    app.register_service(&f.agent, f.host, name, "http", "http://127.0.0.1:9/health").await
}

async fn check(app: &TestApp, f: &Fleet, service: i64, up: bool, at: DateTime<Utc>) {
    let body =
        json!({"service_id": service, "status": if up { "up" } else { "down" }, "checked_at": at});
    let res = app.post("/api/v1/agent/services", body, Some(&f.agent)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn rule(app: &TestApp, f: &Fleet, service: i64, target: f64, window: &str) -> i64 {
    let res = app
        .post(
            "/api/v1/sla/rules",
            json!({"service_id": service, "target_percent": target, "calculation_window": window}),
            Some(&f.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_i64().unwrap()
}

fn day(d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(h, m, 0).unwrap())
}

async fn sla_rules_are_validated_and_managed(app: TestApp) {
    let f = fleet(&app).await;
    let api = service(&app, &f, "backend-api").await;
    let res = app
        .post(
            "/api/v1/sla/rules",
            json!({"service_id": api, "name": "Backend API SLA", "target_percent": 99.9,
                                                   "calculation_window": "monthly"}),
            Some(&f.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        (res.body["service_name"].as_str(), res.body["name"].as_str()),
        (Some("backend-api"), Some("Backend API SLA"))
    );
    let id = res.body["id"].as_i64().unwrap();
    let res = app
        .post(
            "/api/v1/sla/rules",
            json!({"service_id": api, "target_percent": 99.0}),
            Some(&f.admin),
        )
        .await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Service already has an SLA rule"))
    );
    let res = app.post("/api/v1/sla/rules", json!({"service_id": 9999}), Some(&f.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("服务不存在"))
    );
    let other = service(&app, &f, "worker").await;
    for (body, loc) in [
        (json!({"service_id": other, "target_percent": 0}), "target_percent"),
        (json!({"service_id": other, "target_percent": 100.5}), "target_percent"),
        (json!({"service_id": other, "calculation_window": "yearly"}), "calculation_window"),
        (json!({"target_percent": 99}), "service_id"),
    ] {
        let res = app.post("/api/v1/sla/rules", body.clone(), Some(&f.admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.first_loc()[1], loc);
    }
    let res = app.get("/api/v1/sla/rules", Some(&f.admin)).await;
    assert_eq!(res.body.as_array().unwrap().len(), 1);
    assert_eq!(res.body[0]["target_percent"], 99.9);
    let (_, viewer) = app.user_with_role(&f.admin, "viewer@example.com", "viewer").await;
    assert_eq!(app.get("/api/v1/sla/status", Some(&viewer)).await.status, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/api/v1/sla/rules/{id}"), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app.delete(&format!("/api/v1/sla/rules/{id}"), Some(&f.admin)).await;
    assert_eq!(res.body["detail"], "已删除");
    let res = app.delete(&format!("/api/v1/sla/rules/{id}"), Some(&f.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("规则不存在"))
    );
}

async fn availability_is_time_weighted(app: TestApp) {
    let f = fleet(&app).await;
    let api = service(&app, &f, "backend-api").await;
    rule(&app, &f, api, 99.9, "monthly").await;
    let today = wall_clock().date_naive();
    let (d1, d2, d3) = (today - Span::days(3), today - Span::days(2), today - Span::days(1));
    // Day 1: down 06:00–08:24 (144 of 1440 min: 90 %), with a repeated down check that
    // must not count twice. Day 2: down 12:00–12:36 (97.5 %). Day 3: no checks, still up.
    for (at, up) in [
        (day(d1, 0, 0), true),
        (day(d1, 6, 0), false),
        (day(d1, 6, 10), false),
        (day(d1, 8, 24), true),
        (day(d2, 12, 0), false),
        (day(d2, 12, 36), true),
    ] {
        check(&app, &f, api, up, at).await;
    }
    let path = format!("/api/v1/sla/report?service_id={api}&start_date={d1}&end_date={d3}");
    let res = app.get(&path, Some(&f.admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // (3 × 1440 − 180) / (3 × 1440)
    assert_eq!(res.body["overall_availability"], 95.8333, "{}", res.text);
    assert_eq!(res.body["total_downtime_minutes"], 180.0);
    let trend: Vec<f64> = res.body["daily_trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["availability"].as_f64().unwrap())
        .collect();
    assert_eq!(trend, [90.0, 97.5, 100.0]);
    assert_eq!(res.body["daily_trend"][0]["date"], d1.to_string());
    assert_eq!(
        (res.body["total_checks"].as_i64(), res.body["down_checks"].as_i64()),
        (Some(6), Some(3))
    );
    assert_eq!(
        (res.body["period_start"].as_str(), res.body["target_percent"].as_f64()),
        (Some(d1.to_string().as_str()), Some(99.9))
    );
    assert_eq!(res.body["is_met"], false);
    let summary = res.body["summary"].as_str().unwrap();
    assert!(summary.contains("95.8333%") && summary.contains("未达到"), "{summary}");
    // A day before any check is unknown, not 100 %.
    let before = d1 - Span::days(1);
    let res = app
        .get(
            &format!("/api/v1/sla/report?service_id={api}&start_date={before}&end_date={before}"),
            Some(&f.admin),
        )
        .await;
    assert_eq!(res.body["overall_availability"], Value::Null);
    // Bad input.
    for q in [
        "",
        "&start_date=2026-13-01",
        "&start_date=2026-02-10&end_date=2026-02-01",
        "&period=yearly",
    ] {
        let p = if q.is_empty() {
            "/api/v1/sla/report".to_string()
        } else {
            format!("/api/v1/sla/report?service_id={api}{q}")
        };
        assert_eq!(
            app.get(&p, Some(&f.admin)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{p}"
        );
    }
    assert_eq!(
        app.get("/api/v1/sla/report?service_id=9999", Some(&f.admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

fn minutes_in_month(now: DateTime<Utc>) -> f64 {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    let next = if now.month() == 12 {
        NaiveDate::from_ymd_opt(now.year() + 1, 1, 1).unwrap()
    } else {
        NaiveDate::from_ymd_opt(now.year(), now.month() + 1, 1).unwrap()
    };
    (next - first).num_days() as f64 * 1440.0
}

async fn the_status_board_spends_the_error_budget(app: TestApp) {
    let f = fleet(&app).await;
    let api = service(&app, &f, "backend-api").await;
    let id = rule(&app, &f, api, 99.0, "monthly").await;
    let res = app.get("/api/v1/sla/status", Some(&f.admin)).await;
    assert_eq!(
        (res.body[0]["actual_percent"].clone(), res.body[0]["total_checks"].as_i64()),
        (Value::Null, Some(0))
    );
    let now = wall_clock();
    check(&app, &f, api, true, now - Span::minutes(30)).await;
    check(&app, &f, api, false, now - Span::minutes(20)).await;
    check(&app, &f, api, true, now - Span::minutes(10)).await;
    let res = app.get("/api/v1/sla/status", Some(&f.admin)).await;
    let s = &res.body[0];
    assert_eq!(
        (s["rule_id"].as_i64(), s["service_name"].as_str()),
        (Some(id), Some("backend-api")),
        "{}",
        res.text
    );
    assert_eq!((s["total_checks"].as_i64(), s["down_checks"].as_i64()), (Some(3), Some(1)));
    assert_eq!(s["downtime_minutes"], 10.0);
    // 1 % of the month, less the 10 minutes down.
    let budget = (minutes_in_month(now) * 0.01 * 100.0).round() / 100.0;
    assert_eq!(s["error_budget_minutes"].as_f64(), Some(budget));
    assert_eq!(
        s["error_budget_remaining_minutes"].as_f64(),
        Some(((budget - 10.0) * 100.0).round() / 100.0)
    );
    // Down 10 of the ~30 observed minutes: about 66.7 %, which misses 99 %.
    let actual = s["actual_percent"].as_f64().unwrap();
    assert!((60.0..70.0).contains(&actual), "{actual}");
    assert_eq!(s["is_met"], false);
}

async fn service_actors_record_violations(app: TestApp) {
    let f = fleet(&app).await;
    let api = service(&app, &f, "backend-api").await;
    let now = wall_clock();
    // Ten minutes down already this month; 99.99 % of a month allows about 4.3 minutes.
    check(&app, &f, api, false, now - Span::minutes(30)).await;
    check(&app, &f, api, true, now - Span::minutes(20)).await;
    rule(&app, &f, api, 99.99, "monthly").await;
    // Up again: no violation while the service is up.
    check(&app, &f, api, true, wall_clock()).await;
    assert_eq!(app.get("/api/v1/sla/violations", Some(&f.admin)).await.body, json!([]));
    // Down with the budget spent: a violation opens, and closes on recovery.
    check(&app, &f, api, false, wall_clock()).await;
    wait_until("a violation is recorded", || async {
        app.get("/api/v1/sla/violations", Some(&f.admin))
            .await
            .body
            .as_array()
            .is_some_and(|v| v.len() == 1)
    })
    .await;
    check(&app, &f, api, true, wall_clock()).await;
    wait_until("the violation ends", || async {
        !app.get("/api/v1/sla/violations", Some(&f.admin)).await.body[0]["ended_at"].is_null()
    })
    .await;
    let v = app.get("/api/v1/sla/violations", Some(&f.admin)).await.body[0].clone();
    assert_eq!(v["service_name"], "backend-api");
    assert!(v["duration_seconds"].as_i64().unwrap() >= 0);
    assert!(v["description"].as_str().unwrap().contains("超出错误预算"), "{v}");
    let today = wall_clock().date_naive();
    let q = |s: &str| format!("/api/v1/sla/violations?{s}");
    assert_eq!(
        app.get(&q(&format!("start_date={today}&end_date={today}")), Some(&f.admin))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tomorrow = today + Span::days(1);
    assert_eq!(
        app.get(&q(&format!("start_date={tomorrow}")), Some(&f.admin)).await.body,
        json!([])
    );
    assert_eq!(
        app.get(&q("start_date=yesterday"), Some(&f.admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get(&q(&format!("start_date={tomorrow}&end_date={today}")), Some(&f.admin))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // The report lists it.
    let res = app.get(&format!("/api/v1/sla/report?service_id={api}"), Some(&f.admin)).await;
    assert_eq!(res.body["violations"].as_array().unwrap().len(), 1);
    assert_eq!(
        res.body["daily_trend"].as_array().unwrap().len(),
        30,
        "the last 30 days by default"
    );
    // Down again: another violation; deleting the rule ends it.
    check(&app, &f, api, false, wall_clock()).await;
    wait_until("a second violation is recorded", || async {
        app.get("/api/v1/sla/violations", Some(&f.admin))
            .await
            .body
            .as_array()
            .is_some_and(|v| v.len() == 2)
    })
    .await;
    let rule_id =
        app.get("/api/v1/sla/rules", Some(&f.admin)).await.body[0]["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/sla/rules/{rule_id}"), Some(&f.admin)).await;
    let all = app.get("/api/v1/sla/violations", Some(&f.admin)).await.body;
    assert!(all.as_array().unwrap().iter().all(|v| !v["ended_at"].is_null()), "{all}");
}

async fn reports_are_built_from_real_data(app: TestApp) {
    let peer = ChatPeer::start().await;
    let f = fleet(&app).await;
    let res = app
        .post(
            "/api/v1/notification-channels",
            json!({"name": "ops", "channel_type": "webhook",
              "config": {"url": format!("{}/hook/ops", peer.base())}}),
            Some(&f.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/api/v1/agent/metrics",
            json!({"host_id": f.host, "cpu_percent": 80.0, "memory_percent": 50.0}),
            Some(&f.agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let logs: Vec<Value> = (0..4)
        .map(|i| json!({"host_id": f.host, "service": "api", "level": "ERROR", "message": format!("upstream timed out after {i}00 ms")}))
        .collect();
    app.post("/api/v1/agent/logs", json!({"logs": logs}), Some(&f.agent)).await;
    let api = service(&app, &f, "backend-api").await;
    rule(&app, &f, api, 99.0, "daily").await;
    check(&app, &f, api, true, wall_clock() - Span::minutes(5)).await;

    let start = wall_clock() - Span::hours(1);
    let end = wall_clock() + Span::minutes(1);
    let res = app
        .post(
            "/api/v1/reports/generate",
            json!({"report_type": "daily", "period_start": start, "period_end": end}),
            Some(&f.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let r = res.body.clone();
    assert_eq!(
        (r["status"].as_str(), r["engine"].as_str(), r["scheduled"].as_bool()),
        (Some("completed"), Some("rules"), Some(false))
    );
    let body = &r["body"];
    assert_eq!(body["hosts"]["total"], 1);
    assert_eq!(body["hosts"]["availability"][0]["availability_percent"], 100.0);
    assert_eq!(
        body["top_resources"]["cpu"][0],
        json!({"hostname": "sla-host", "average_percent": 80.0})
    );
    assert_eq!(body["log_errors"]["total"], 4);
    assert_eq!(body["log_errors"]["clusters"][0]["count"], 4);
    assert_eq!(body["sla"][0]["service_name"], "backend-api");
    assert_eq!(body["sla"][0]["actual_percent"], 100.0);
    let content = r["content"].as_str().unwrap();
    assert!(content.starts_with(&format!("# {}", r["title"].as_str().unwrap())), "{content}");
    assert!(content.contains("sla-host") && content.contains("backend-api"), "{content}");
    assert!(r["summary"].as_str().unwrap().contains("1 台主机"), "{}", r["summary"]);
    // Announced through the dispatcher.
    let hooks = peer.wait_accepted("webhook", 1, Duration::from_secs(10)).await;
    let sent: Value = serde_json::from_slice(&hooks[0].raw).unwrap();
    assert_eq!(sent["event"], "report_ready", "{sent}");

    // Defaults, bad input, list, detail, delete.
    let res = app
        .post("/api/v1/reports/generate", json!({"report_type": "weekly"}), Some(&f.admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let weekly = res.body["id"].as_i64().unwrap();
    let (ps, pe) =
        (res.body["period_start"].as_str().unwrap(), res.body["period_end"].as_str().unwrap());
    let span =
        DateTime::parse_from_rfc3339(pe).unwrap() - DateTime::parse_from_rfc3339(ps).unwrap();
    assert_eq!(span.num_days(), 7, "the last 7 days");
    for body in [
        json!({"report_type": "monthly"}),
        json!({"report_type": "daily", "period_start": end, "period_end": start}),
        json!({"report_type": "daily", "period_start": start}),
    ] {
        let res = app.post("/api/v1/reports/generate", body.clone(), Some(&f.admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let res = app.get("/api/v1/reports?report_type=weekly", Some(&f.admin)).await;
    assert_eq!(
        (res.body["total"].as_i64(), res.body["items"][0]["id"].as_i64()),
        (Some(1), Some(weekly))
    );
    assert_eq!(app.get("/api/v1/reports", Some(&f.admin)).await.body["total"], 2);
    assert!(res.body["items"][0].get("content").is_none());
    assert_eq!(
        app.get("/api/v1/reports?report_type=yearly", Some(&f.admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, operator) = app.user_with_role(&f.admin, "op@example.com", "operator").await;
    assert_eq!(
        app.delete(&format!("/api/v1/reports/{weekly}"), Some(&operator)).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app.delete(&format!("/api/v1/reports/{weekly}"), Some(&f.admin)).await;
    assert_eq!(res.body["detail"], "报告已删除");
    let res = app.get(&format!("/api/v1/reports/{weekly}"), Some(&f.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("报告不存在"))
    );
}

async fn scheduled(app: &TestApp, admin: &str) -> Vec<Value> {
    let res = app.get("/api/v1/reports?page_size=100", Some(admin)).await;
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scheduled"] == true)
        .cloned()
        .collect()
}

async fn the_scheduler_generates_each_period_once_across_a_restart(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("WARDEN_REPORTS__SCHEDULE", "true")]).await
    else {
        return;
    };
    let admin = app.admin().await;
    // At start-up the scheduler claimed yesterday's daily and last week's weekly report.
    wait_until("the scheduled reports are generated", || async {
        let s = scheduled(&app, &admin).await;
        s.len() == 2 && s.iter().all(|r| r["status"] == "completed")
    })
    .await;
    let before = scheduled(&app, &admin).await;
    let kinds: Vec<&str> = before.iter().filter_map(|r| r["report_type"].as_str()).collect();
    assert!(kinds.contains(&"daily") && kinds.contains(&"weekly"), "{kinds:?}");
    let app = app.restart().await;
    // Claims happen before the restarted server answers: nothing new was claimed.
    let after = scheduled(&app, &admin).await;
    let ids = |v: &[Value]| v.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before));
}
