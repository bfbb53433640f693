//! Harness for the load, fault and shutdown tests: a pouchdb-server of the test's own on a
//! persistent directory that the test stops and restarts, and a TCP proxy in front of
//! CouchDB that can slow down or swallow what the service sends.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// A number read from the environment (for `make soak`), else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// A pouchdb-server on its own port and data directory, stopped when dropped.
pub struct CouchServer {
    pub port: u16,
    dir: PathBuf,
}

impl CouchServer {
    /// Starts a server on a fresh directory (data kept across stop and start).
    pub fn start() -> CouchServer {
        let dir = std::env::temp_dir().join(format!(
            "kazoo-security-faults-{}",
            kazoo_security::domain::ids::new_raw_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A free port can be taken between picking and binding it: try a few.
        for _ in 0..3 {
            let server = CouchServer {
                port: free_port(),
                dir: dir.clone(),
            };
            if server.run_script(&["start", "--port", &server.port.to_string()]) {
                return server;
            }
        }
        panic!("pouchdb-server did not start in {}", dir.display());
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server; its data stays on disk.
    pub fn stop(&self) {
        assert!(self.run_script(&["stop"]), "couchdb.sh stop failed");
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&self) {
        let port = self.port.to_string();
        assert!(
            self.run_script(&["start", "--port", &port]),
            "pouchdb-server did not restart"
        );
    }

    fn run_script(&self, args: &[&str]) -> bool {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/couchdb/couchdb.sh");
        let pidfile = self.dir.join("couchdb.pid");
        let mut command = Command::new("bash");
        command.arg(script).args(args);
        command.arg("--pidfile").arg(&pidfile);
        if args[0] == "start" {
            command.arg("--data").arg(self.dir.join("data"));
            command.arg("--log").arg(self.dir.join("couchdb.log"));
        }
        command.status().is_ok_and(|s| s.success())
    }
}

impl Drop for CouchServer {
    fn drop(&mut self) {
        self.run_script(&["stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the proxy does with bytes the service sends to CouchDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards at once.
    Pass,
    /// Forwards each chunk after this many milliseconds.
    Delay(u64),
    /// Reads and drops everything: CouchDB never answers.
    Swallow,
}

/// A TCP proxy to `target` on 127.0.0.1, switchable between modes while it runs.
pub struct Proxy {
    pub url: String,
    mode: Arc<AtomicU64>,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
}

const SWALLOW: u64 = u64::MAX;

impl Proxy {
    /// Listens on a free port and forwards to `target` (`http://host:port`).
    pub async fn start(target: &str) -> Proxy {
        let target = url::Url::parse(target).unwrap();
        let target = format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port_or_known_default().unwrap()
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            url: format!("http://{}", listener.local_addr().unwrap()),
            mode: Arc::new(AtomicU64::new(0)),
            open: Arc::default(),
            most_open: Arc::default(),
        };
        let (mode, open, most_open) = (
            proxy.mode.clone(),
            proxy.open.clone(),
            proxy.most_open.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (mode, open, most_open) = (mode.clone(), open.clone(), most_open.clone());
                let target = target.clone();
                tokio::spawn(async move {
                    let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most_open.fetch_max(now_open, Ordering::SeqCst);
                    if let Ok(server) = TcpStream::connect(&target).await {
                        relay(client, server, mode).await;
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        proxy
    }

    /// Switches the mode for every open and future connection.
    pub fn set_mode(&self, mode: ProxyMode) {
        let code = match mode {
            ProxyMode::Pass => 0,
            ProxyMode::Delay(ms) => ms,
            ProxyMode::Swallow => SWALLOW,
        };
        self.mode.store(code, Ordering::SeqCst);
    }

    /// The most connections the proxy held open at once since `reset_most_open`.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::SeqCst)
    }

    /// Starts counting `most_open` afresh from the connections open now.
    pub fn reset_most_open(&self) {
        let open = self.open.load(Ordering::SeqCst);
        self.most_open.store(open, Ordering::SeqCst);
    }
}

/// Copies both ways until either side closes; what goes to CouchDB obeys `mode`.
async fn relay(client: TcpStream, server: TcpStream, mode: Arc<AtomicU64>) {
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Some(n) = read_some(&client, &mut buf).await {
            match mode.load(Ordering::SeqCst) {
                SWALLOW => continue,
                0 => {}
                ms => tokio::time::sleep(Duration::from_millis(ms)).await,
            }
            if !write_all(&server, &buf[..n]).await {
                return;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Some(n) = read_some(&server, &mut buf).await {
            if !write_all(&client, &buf[..n]).await {
                return;
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

/// Reads what is there; `None` at end of stream or on an error.
async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    loop {
        stream.readable().await.ok()?;
        match stream.try_read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if stream.writable().await.is_err() {
            return false;
        }
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
    true
}

/// An account that logs every login of its users, failed or not; its API-key token; and one of
/// its plain users.
pub async fn logging_account(app: &super::TestApp) -> (super::Acct, String, super::User) {
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let config = serde_json::json!({"data": {"auth_modules": {"cb_user_auth":
        {"log_successful_attempts": true, "log_failed_attempts": true}}}});
    let answer = app
        .send("POST", &acct.security(), Some(&token), Some(config))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let user = app.user(&acct, false).await;
    (acct, token, user)
}
