//! Families of problems recognised in log text by keywords (English and Chinese), each
//! with a title and the concrete actions that usually fix it.

use crate::ai::text::mentions;
use crate::ai::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Memory,
    Disk,
    Deadlock,
    Certificate,
    Permission,
    Auth,
    Upstream,
    DbConnection,
    NetConnection,
    Crash,
}

/// Keywords per family: whole words (ASCII, matched at word boundaries) and fragments
/// (matched anywhere; Chinese, and names glued into identifiers like `OutOfMemoryError`).
struct Keywords {
    words: &'static [&'static str],
    fragments: &'static [&'static str],
}

const MEMORY: Keywords = Keywords {
    words: &[
        "oom",
        "oomkilled",
        "out of memory",
        "killed process",
        "cannot allocate memory",
        "memory exhausted",
        "memoryerror",
    ],
    fragments: &["outofmemory", "oom-kill", "内存不足", "内存溢出", "内存耗尽"],
};

const DISK: Keywords = Keywords {
    words: &[
        "no space left",
        "disk full",
        "enospc",
        "disk quota exceeded",
        "filesystem full",
        "file system full",
    ],
    fragments: &["磁盘已满", "磁盘空间不足", "磁盘满", "空间不足"],
};

const DEADLOCK: Keywords = Keywords {
    words: &["deadlock", "deadlocks", "lock wait timeout"],
    fragments: &["死锁", "锁等待超时"],
};

const CERTIFICATE: Keywords = Keywords {
    words: &["certificate", "x509", "x.509", "tls", "ssl", "handshake", "cert"],
    fragments: &["证书", "握手失败"],
};

const PERMISSION: Keywords = Keywords {
    words: &["permission denied", "eacces", "eperm", "operation not permitted", "forbidden"],
    fragments: &["权限不足", "没有权限", "无权限", "权限被拒绝"],
};

const AUTH: Keywords = Keywords {
    words: &[
        "authentication failed",
        "authentication failure",
        "auth failed",
        "unauthorized",
        "unauthenticated",
        "access denied",
        "invalid password",
        "wrong password",
        "invalid credentials",
        "login failed",
        "invalid token",
        "token expired",
        "401",
    ],
    fragments: &["认证失败", "鉴权失败", "密码错误", "登录失败", "身份验证失败"],
};

const UPSTREAM: Keywords = Keywords {
    words: &[
        "502",
        "503",
        "504",
        "5xx",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "internal server error",
        "upstream",
    ],
    fragments: &["上游"],
};

const CONNECTION: Keywords = Keywords {
    words: &[
        "connection refused",
        "connection reset",
        "connection timed out",
        "connection timeout",
        "connect timeout",
        "connection closed",
        "connection lost",
        "timed out",
        "timeout",
        "timeouts",
        "econnrefused",
        "econnreset",
        "etimedout",
        "unreachable",
        "broken pipe",
        "no route to host",
        "could not connect",
        "cannot connect",
        "can't connect",
        "failed to connect",
    ],
    fragments: &[
        "连接超时",
        "连接被拒绝",
        "连接失败",
        "连接重置",
        "连接中断",
        "连接断开",
        "连接异常",
        "无法连接",
        "超时",
    ],
};

/// Words that put a connection problem on a database rather than the network.
const DATABASE: Keywords = Keywords {
    words: &[
        "database",
        "db",
        "mysql",
        "mariadb",
        "postgres",
        "postgresql",
        "pg",
        "sql",
        "redis",
        "mongo",
        "mongodb",
        "oracle",
        "jdbc",
        "pool",
        "3306",
        "5432",
        "6379",
        "27017",
    ],
    fragments: &["hikari", "数据库", "连接池"],
};

const CRASH: Keywords = Keywords {
    words: &[
        "panic",
        "panicked",
        "traceback",
        "segfault",
        "segmentation fault",
        "fatal error",
        "stack trace",
        "stacktrace",
        "core dumped",
        "unhandled",
        "uncaught",
    ],
    fragments: &["exception", "异常", "崩溃", "堆栈", "未捕获"],
};

impl Family {
    /// The family `text` belongs to. Checked from the most specific to the most generic,
    /// so "lock wait timeout" is a deadlock and "ConnectException: Connection refused" a
    /// connection problem, not a crash.
    pub(crate) fn of(text: &str) -> Option<Family> {
        let text = text.to_lowercase();
        let is = |k: &Keywords| mentions(&text, k.words, k.fragments);
        let family = if is(&MEMORY) {
            Family::Memory
        } else if is(&DISK) {
            Family::Disk
        } else if is(&DEADLOCK) {
            Family::Deadlock
        } else if is(&CERTIFICATE) {
            Family::Certificate
        } else if is(&PERMISSION) {
            Family::Permission
        } else if is(&AUTH) {
            Family::Auth
        } else if is(&UPSTREAM) {
            Family::Upstream
        } else if is(&CONNECTION) {
            if is(&DATABASE) {
                Family::DbConnection
            } else {
                Family::NetConnection
            }
        } else if is(&CRASH) {
            Family::Crash
        } else {
            return None;
        };
        Some(family)
    }

    /// Families whose errors make an analysis critical on their own: the process or the
    /// machine is already failing, whatever the line count.
    pub(crate) fn is_critical(self) -> bool {
        matches!(self, Family::Memory | Family::Disk | Family::Crash)
    }

    pub(crate) fn title(self, lang: Lang) -> &'static str {
        match self {
            Family::Memory => lang.pick("内存不足（OOM）", "Out of memory (OOM)"),
            Family::Disk => lang.pick("磁盘空间不足", "Disk full"),
            Family::Deadlock => lang.pick("数据库死锁", "Database deadlocks"),
            Family::Certificate => lang.pick("证书/TLS 错误", "Certificate / TLS errors"),
            Family::Permission => lang.pick("权限不足", "Permission denied"),
            Family::Auth => lang.pick("认证失败", "Authentication failures"),
            Family::Upstream => lang.pick("上游服务异常（5xx）", "Upstream errors (5xx)"),
            Family::DbConnection => lang.pick("数据库连接异常", "Database connection failures"),
            Family::NetConnection => lang.pick("网络连接异常", "Network connection failures"),
            Family::Crash => lang.pick("程序崩溃或未处理异常", "Crashes and unhandled exceptions"),
        }
    }

    pub(crate) fn recommendations(self, lang: Lang) -> &'static [&'static str] {
        match (self, lang) {
            (Family::Memory, Lang::Zh) => &[
                "检查进程和容器的内存限制",
                "排查内存泄漏：观察内存是否随时间持续增长",
                "查看 dmesg 确认是否有进程被 OOM killer 终止",
                "负载正常时考虑扩容内存或降低并发、缓存大小",
            ],
            (Family::Memory, Lang::En) => &[
                "Check the memory limits of the process and its container",
                "Look for a memory leak: memory that keeps growing over time",
                "Check dmesg for processes killed by the OOM killer",
                "If the load is legitimate, add memory or reduce concurrency and cache sizes",
            ],
            (Family::Disk, Lang::Zh) => &[
                "清理磁盘上的大文件和过期日志",
                "配置日志轮转（logrotate）和保留期限",
                "扩容磁盘，或把数据目录迁移到更大的卷",
            ],
            (Family::Disk, Lang::En) => &[
                "Free space: remove large files and old logs",
                "Set up log rotation (logrotate) and a retention period",
                "Grow the disk or move the data directory to a larger volume",
            ],
            (Family::Deadlock, Lang::Zh) => &[
                "分析死锁日志，找出相互等待的事务",
                "统一加锁顺序并缩短事务",
                "为相关查询补充索引，缩小锁的范围",
            ],
            (Family::Deadlock, Lang::En) => &[
                "Read the deadlock report to find the transactions waiting on each other",
                "Take locks in one consistent order and keep transactions short",
                "Add indexes to the queries involved so they lock fewer rows",
            ],
            (Family::Certificate, Lang::Zh) => &[
                "检查证书是否过期、证书链是否完整",
                "确认客户端与服务端的 TLS 版本和加密套件兼容",
                "核对系统时间是否准确",
            ],
            (Family::Certificate, Lang::En) => &[
                "Check whether the certificate has expired and its chain is complete",
                "Make sure client and server agree on TLS versions and cipher suites",
                "Check that the system clock is correct",
            ],
            (Family::Permission, Lang::Zh) => &[
                "检查相关文件和目录的属主与权限",
                "确认服务以正确的用户身份运行",
                "检查 SELinux/AppArmor 策略是否拦截了访问",
            ],
            (Family::Permission, Lang::En) => &[
                "Check the owner and mode of the files and directories involved",
                "Make sure the service runs as the right user",
                "Check whether SELinux or AppArmor blocks the access",
            ],
            (Family::Auth, Lang::Zh) => &[
                "核对服务使用的账号、密码或令牌是否正确、是否过期",
                "检查近期是否轮换过凭据但配置未同步",
                "排查是否存在暴力破解等异常登录来源",
            ],
            (Family::Auth, Lang::En) => &[
                "Check that the account, password or token the service uses is valid and not expired",
                "Check whether credentials were rotated without updating the configuration",
                "Look for suspicious login sources such as brute-force attempts",
            ],
            (Family::Upstream, Lang::Zh) => &[
                "检查上游服务的健康状态和错误日志",
                "核对反向代理（如 nginx）的 upstream 配置和超时设置",
                "查看近期的发布变更，必要时回滚",
            ],
            (Family::Upstream, Lang::En) => &[
                "Check the health and error logs of the upstream service",
                "Review the reverse proxy's (e.g. nginx) upstream and timeout settings",
                "Look at recent deployments and roll back if needed",
            ],
            (Family::DbConnection, Lang::Zh) => &[
                "检查数据库连接池配置",
                "排查网络延迟",
                "确认数据库服务正常运行且未达到最大连接数",
                "检查慢查询是否长时间占用连接",
            ],
            (Family::DbConnection, Lang::En) => &[
                "Check the database connection pool settings",
                "Investigate network latency to the database",
                "Make sure the database is up and below its connection limit",
                "Look for slow queries holding connections",
            ],
            (Family::NetConnection, Lang::Zh) => &[
                "确认目标服务存活且端口在监听",
                "排查网络延迟和丢包（ping、mtr）",
                "检查防火墙和安全组规则",
                "评估连接和读写超时设置是否合理",
            ],
            (Family::NetConnection, Lang::En) => &[
                "Check that the target service is running and its port is listening",
                "Investigate network latency and packet loss (ping, mtr)",
                "Check firewall and security group rules",
                "Review the connect and read timeouts",
            ],
            (Family::Crash, Lang::Zh) => &[
                "根据堆栈信息定位出错的代码",
                "检查最近的发布和配置变更",
                "为出错路径补充错误处理和告警",
            ],
            (Family::Crash, Lang::En) => &[
                "Use the stack trace to find the failing code",
                "Check recent deployments and configuration changes",
                "Add error handling and alerting on the failing path",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_pick_the_family() {
        let cases = [
            ("java.lang.OutOfMemoryError: Java heap space", Family::Memory),
            ("Out of memory: Killed process 1234 (java)", Family::Memory),
            ("写入失败：磁盘空间不足", Family::Disk),
            ("write /data/x: no space left on device", Family::Disk),
            ("Lock wait timeout exceeded; try restarting transaction", Family::Deadlock),
            ("x509: certificate has expired", Family::Certificate),
            ("open /etc/app.conf: permission denied", Family::Permission),
            ("Access denied for user 'app'@'10.0.0.1'", Family::Auth),
            ("upstream timed out while reading response header", Family::Upstream),
            ("GET /api returned 502 Bad Gateway", Family::Upstream),
            ("HikariPool-1 - Connection is not available, request timed out", Family::DbConnection),
            ("连接数据库超时", Family::DbConnection),
            ("dial tcp 10.0.0.5:8080: connect: connection refused", Family::NetConnection),
            ("java.net.ConnectException: Connection refused", Family::NetConnection),
            ("thread 'main' panicked at src/main.rs:10", Family::Crash),
            ("未捕获的异常：NullPointerException", Family::Crash),
        ];
        for (text, family) in cases {
            assert_eq!(Family::of(text), Some(family), "{text}");
        }
        assert_eq!(Family::of("user logged in"), None);
        assert_eq!(Family::of("took 401ms"), None);
    }

    #[test]
    fn every_family_has_two_to_five_actions_in_each_language() {
        let all = [
            Family::Memory,
            Family::Disk,
            Family::Deadlock,
            Family::Certificate,
            Family::Permission,
            Family::Auth,
            Family::Upstream,
            Family::DbConnection,
            Family::NetConnection,
            Family::Crash,
        ];
        for family in all {
            for lang in [Lang::Zh, Lang::En] {
                let n = family.recommendations(lang).len();
                assert!((2..=5).contains(&n), "{family:?} {lang:?}");
                assert!(!family.title(lang).is_empty());
            }
        }
    }
}
