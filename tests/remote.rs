//! `--data s3://bucket/prefix`: the store in object storage, against a
//! local S3-compatible server (moto, from PyPI) started on loopback by the
//! test. Results must equal those of a local directory store.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{python_with, stderr, testdata, Env};

/// A moto S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start(bucket: &str) -> S3Server {
        let py = python_with("evmon-test-moto", "moto[server]==5.*", "moto.server");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&py)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let made = Command::new(&py)
            .args([
                "-c",
                "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
                &server.endpoint,
                bucket,
            ])
            .status()
            .unwrap();
        assert!(made.success());
        server
    }

    /// `evmon` talking to this server, with a mirror under `cache`.
    fn evmon(&self, env: &Env, cache: &Path) -> assert_cmd::Command {
        let mut c = env.evmon();
        c.env_remove("EVMON_DATA")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("EVMON_CACHE", cache);
        c
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_s3_store_gives_the_same_results_as_a_directory() {
    let server = S3Server::start("fleet-data");
    let env = Env::new();
    let url = "s3://fleet-data/evmon/prod";
    let inputs = [testdata("csv"), testdata("ocpp16"), testdata("ocpp201")];
    // The same inputs into a directory and into the bucket.
    env.ingest(&inputs.iter().map(String::as_str).collect::<Vec<_>>());
    let cache = env.dir.path().join("mirror");
    let out = server
        .evmon(&env, &cache)
        .args(["--data", url, "ingest"])
        .args(&inputs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("published"), "{}", stderr(&out));
    let queries: [&[&str]; 3] = [
        &["sessions", "--since", "2000-01-01", "--until", "2100-01-01"],
        &["anomalies", "--since", "2026-01-01"],
        &[
            "bill",
            "--tariff",
            "examples/tariff.toml",
            "--period",
            "2026-10",
            "--lines",
        ],
    ];
    for q in queries {
        let local = env
            .evmon()
            .args(q)
            .args(["--format", "csv"])
            .output()
            .unwrap();
        // A fresh mirror each time: everything comes from the bucket.
        let fresh = env.dir.path().join(format!("mirror-{}", q[0]));
        let remote = server
            .evmon(&env, &fresh)
            .args(["--data", url])
            .args(q)
            .args(["--format", "csv"])
            .output()
            .unwrap();
        assert!(remote.status.success(), "{q:?}: {}", stderr(&remote));
        assert_eq!(
            String::from_utf8_lossy(&remote.stdout),
            String::from_utf8_lossy(&local.stdout),
            "{q:?}"
        );
        assert!(!local.stdout.is_empty());
    }
    // Re-ingesting into the bucket adds nothing; the store checks clean.
    let again = server
        .evmon(&env, &cache)
        .args(["--data", url, "ingest", "--force"])
        .args(&inputs)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("stored 0 new sessions"),
        "{}",
        stderr(&again)
    );
    server
        .evmon(&env, &cache)
        .args(["--data", url, "check"])
        .assert()
        .success();
}

#[test]
fn a_bad_bucket_url_is_a_clear_error() {
    let env = Env::new();
    let out = env
        .evmon()
        .args(["--data", "s3://", "sessions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("use s3://BUCKET/PREFIX"),
        "{}",
        stderr(&out)
    );
}
