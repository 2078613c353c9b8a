//! `matchgate serve` and `matchgate certs`.
use std::path::Path;
use std::process::ExitCode;

pub const DEFAULT_ORGS: [(&str, &str); 3] = [
    ("gemeente", "00000001001234567000"),
    ("uwv", "00000001003214345000"),
    ("sw-bedrijf", "00000003123456780000"),
];

pub fn certs(out: &Path, orgs: &[String]) -> ExitCode {
    let parsed: Result<Vec<(String, String)>, String> = if orgs.is_empty() {
        Ok(DEFAULT_ORGS
            .iter()
            .map(|(n, o)| (n.to_string(), o.to_string()))
            .collect())
    } else {
        orgs.iter()
            .map(|s| {
                let (n, o) = s
                    .split_once('=')
                    .ok_or_else(|| format!("--org {s}: expected name=OIN"))?;
                if o.len() != 20 || !o.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("--org {s}: the OIN must be 20 digits"));
                }
                Ok((n.to_string(), o.to_string()))
            })
            .collect()
    };
    let orgs = match parsed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("matchgate certs: {e}");
            return ExitCode::from(2);
        }
    };
    let refs: Vec<(&str, &str)> = orgs.iter().map(|(n, o)| (n.as_str(), o.as_str())).collect();
    match node::pki::write_dev_pki(out, &refs) {
        Ok(()) => {
            println!("development PKI written to {} (ca.pem, <name>.pem/.key, expired.*, foreign*) — not for production", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("matchgate certs: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn serve(config: &Path) -> ExitCode {
    let cfg = match node::config::NodeConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("matchgate serve: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("matchgate serve: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async {
        let running = match node::run::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("matchgate serve: {e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "serving: peers on {}, own systems on {} (Ctrl-C stops)",
            running.peer_addr, running.local_addr
        );
        let _ = tokio::signal::ctrl_c().await;
        running.stop().await;
        ExitCode::SUCCESS
    })
}
