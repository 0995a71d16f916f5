//! TLS for `https://`, `wss://` and `libsql://` urls, and for an embedded replica's sync: which
//! certificates are trusted, and what a failed handshake is called.
//!
//! Trust, as Node users set it up: the system's certificates (`SSL_CERT_FILE` / `SSL_CERT_DIR`
//! when set), else Mozilla's, plus the PEM certificates in the file `NODE_EXTRA_CA_CERTS` names —
//! how a Node process trusts a private CA, and what `@libsql/client` (Node's TLS) honours. Read
//! once per process, when the first TLS connection is made.
//!
//! A handshake that fails is `TLS_FAILED` with the reason (an unknown issuer, a certificate for
//! another name or expired, a server that does not speak TLS): retrying never fixes these, so
//! they must not read as a server that is away (`SERVER_UNREACHABLE`).

use std::sync::{Arc, OnceLock};

use crate::error::{redact, DbError, ErrorCode};

struct Trust {
    config: Arc<rustls::ClientConfig>,
    /// Why `NODE_EXTRA_CA_CERTS` added nothing, when it names a file that could not be used.
    extra_problem: Option<String>,
}

fn trust() -> &'static Trust {
    static TRUST: OnceLock<Trust> = OnceLock::new();
    TRUST.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        if let Ok(certificates) = rustls_native_certs::load_native_certs() {
            roots.add_parsable_certificates(certificates);
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let extra_problem = std::env::var_os("NODE_EXTRA_CA_CERTS").filter(|path| !path.is_empty()).and_then(|path| {
            let path = std::path::PathBuf::from(path);
            let added = std::fs::read(&path).map_err(|err| err.to_string()).and_then(|pem| {
                let certificates = rustls_pemfile::certs(&mut pem.as_slice()).collect::<Result<Vec<_>, _>>().map_err(|err| err.to_string())?;
                Ok(roots.add_parsable_certificates(certificates).0)
            });
            match added {
                Ok(0) => Some(format!("NODE_EXTRA_CA_CERTS ({}) holds no usable certificate", path.display())),
                Ok(_) => None,
                Err(err) => Some(format!("NODE_EXTRA_CA_CERTS ({}) could not be read: {err}", path.display())),
            }
        });
        let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Trust { config: Arc::new(config), extra_problem }
    })
}

/// The TLS settings every connection of this process uses.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    Arc::clone(&trust().config)
}

/// An HTTPS connector (plain HTTP for `http://`) with these settings: our HTTP transport's, and
/// the `libsql` crate's for an embedded replica's replication.
pub fn https_connector(connect_timeout: Option<std::time::Duration>) -> hyper_rustls::HttpsConnector<hyper::client::HttpConnector> {
    let mut http = hyper::client::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config((*client_config()).clone()).https_or_http().enable_http1().wrap_connector(http)
}

/// `TLS_FAILED` when a TLS handshake failed somewhere in `error`'s chain of causes.
pub fn tls_failure(url: &str, error: &(dyn std::error::Error + 'static)) -> Option<DbError> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(rustls_error) = current.downcast_ref::<rustls::Error>() {
            return Some(tls_failed(url, rustls_error));
        }
        next = match current.downcast_ref::<std::io::Error>() {
            // An io::Error's `source()` skips the error it wraps: that one is the next cause.
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// `TLS_FAILED` for a handshake that failed with `error`.
pub fn tls_failed(url: &str, error: &rustls::Error) -> DbError {
    use rustls::CertificateError as Certificate;
    let reason = match error {
        rustls::Error::InvalidCertificate(Certificate::UnknownIssuer) => {
            "its certificate is signed by an issuer this process does not trust (a private CA: name its certificate in \
             NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(Certificate::NotValidForName) => "its certificate is not valid for this host name".to_owned(),
        rustls::Error::InvalidCertificate(Certificate::Expired) => "its certificate has expired".to_owned(),
        rustls::Error::InvalidCertificate(Certificate::NotValidYet) => "its certificate is not valid yet".to_owned(),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "it did not answer in TLS (a plain port? use http:// or ws:// for one)".to_owned()
        }
        other => format!("{other}"),
    };
    let reason = match &trust().extra_problem {
        Some(problem) if matches!(error, rustls::Error::InvalidCertificate(Certificate::UnknownIssuer)) => format!("{reason}; {problem}"),
        _ => reason,
    };
    DbError::libsql(ErrorCode::TlsFailed, redact(&format!("TLS with the libSQL server at {url} failed: {reason}")))
}
